/**
 * The root README as a new user follows it with only Node and npm: every pnpm command in it is
 * written `npx -y pnpm@10.34.9 …` (no bare `pnpm`), the demo's `next:` hint too; the built CLI
 * runs as `npx synthline` from the clone (or says how to build it); and the shell completion it
 * documents is what `synthline --completions bash` prints.
 */
import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { repoRoot, synthline } from "./support.js"

const readme = readFileSync(join(repoRoot, "README.md"), "utf8")
const pinned = "npx -y pnpm@10.34.9"

/** The commands of the README's shell blocks, one per `&&`, `;` or `|` part. */
const shellCommands = (text: string): Array<string> =>
  [...text.matchAll(/```(?:sh|bash|shell)\n([\s\S]*?)```/g)].flatMap((m) =>
    m[1]!
      .split("\n")
      .map((line) => line.replace(/\s+#.*$/, ""))
      .flatMap((line) => line.split(/&&|;|\|/))
      .map((c) => c.trim().replace(/^\(+/, ""))
      .filter((c) => c !== "")
  )

/** The inline code spans outside shell blocks. */
const codeSpans = (text: string): Array<string> =>
  [...text.replace(/```[\s\S]*?```/g, "").matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!.trim())

const run = (cmd: string, args: ReadonlyArray<string>): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d))
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

describe("the README, as written", () => {
  it("writes every pnpm command as npx -y pnpm@10.34.9, in shell blocks, code spans and the demo's next: hint", () => {
    const commands = shellCommands(readme)
    expect(commands.length).toBeGreaterThan(10)
    expect(commands.filter((c) => /^pnpm\b/.test(c))).toEqual([])
    expect(codeSpans(readme).filter((c) => /^pnpm\b/.test(c))).toEqual([])
    expect(commands.some((c) => c.startsWith(`${pinned} install`))).toBe(true)
    const demo = readFileSync(join(repoRoot, "scripts/demo.ts"), "utf8")
    const next = demo.split("\n").filter((l) => l.includes("next:"))
    expect(next.length).toBeGreaterThan(0)
    for (const line of next) expect(line.replaceAll(pinned, "")).not.toMatch(/(^|[\s"'`·])pnpm\s/)
  })

  it("npx synthline runs the clone's built CLI, or says how to build it", async () => {
    expect(readme).toContain("npx synthline validate examples/quickstart.pipeline.yaml")
    const r = await run("npx", ["--no-install", "synthline", "--version"])
    if (r.code === 0) expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/)
    else expect(r.stderr).toContain(`run \`${pinned} build\` at the root of the clone`)
  }, 60_000)

  it("documents the shell completion that synthline --completions bash prints", async () => {
    expect(readme).toContain("source <(synthline --completions bash)")
    expect(readme).toContain("synthline --completions bash > ~/.local/share/bash-completion/completions/synthline")
    const r = await synthline(["--completions", "bash"])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/complete .*synthline/)
  }, 60_000)
})

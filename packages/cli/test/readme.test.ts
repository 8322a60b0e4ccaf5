/**
 * The root README and the docs site's guide as a new user follows them with only Node and npm:
 * every pnpm command in them is written `npx -y pnpm@10.34.9 …` (no bare `pnpm`), the demo's
 * `next:` hint too; the README's Commands table has a row for every command `synthline --help`
 * lists, and none more; the built CLI runs as `npx synthline` from the clone (or says how to
 * build it); and the shell completion it documents is what `synthline --completions bash` prints.
 */
import { spawn } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { repoRoot, synthline } from "./support.js"

const readme = readFileSync(join(repoRoot, "README.md"), "utf8")
const pinned = "npx -y pnpm@10.34.9"

/** The docs site's hand-written pages: the guide and the home page (not the generated reference). */
const docsPages: ReadonlyArray<{ readonly file: string; readonly text: string }> = [
  "apps/docs/index.md",
  ...readdirSync(join(repoRoot, "apps/docs/guide"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => `apps/docs/guide/${f}`)
].map((file) => ({ file, text: readFileSync(join(repoRoot, file), "utf8") }))

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

/** The inline code spans outside shell blocks, one per `&&`, `;` or `|` part. */
const codeSpans = (text: string): Array<string> =>
  [...text.replace(/```[\s\S]*?```/g, "").matchAll(/`([^`\n]+)`/g)].flatMap((m) =>
    m[1]!
      .split(/&&|;|\|/)
      .map((c) => c.trim())
      .filter((c) => c !== "")
  )

/** Whether a command runs bare `pnpm` (after any `NAME=value` environment assignments). */
const barePnpm = (command: string): boolean => /^(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*pnpm\b/.test(command)

/** The bare pnpm commands of a markdown text, in shell blocks and in code spans. */
const barePnpmCommands = (text: string): Array<string> => [...shellCommands(text), ...codeSpans(text)].filter(barePnpm)

/** The commands `synthline --help` lists under `Commands:`. */
const helpCommands = (help: string): Array<string> => {
  const section = help.split(/^Commands:\n/m)[1]?.split(/\n\s*\n/)[0] ?? ""
  return [...section.matchAll(/^ {2}([a-z][a-z-]*) {2,}/gm)].map((m) => m[1]!)
}

/** The commands of the README's Commands table, one per row. */
const tableCommands = (text: string): Array<string> => {
  const section = text.split(/^## Commands\n/m)[1]?.split(/^## /m)[0] ?? ""
  return [...section.matchAll(/^\| `synthline ([a-z][a-z-]*)\b/gm)].map((m) => m[1]!)
}

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
  it("its changeset command runs on the Node versions the repo supports (engines: node >= 20)", async () => {
    expect(readme).toContain("`npx -y pnpm@10.34.9 changeset`")
    // @changesets/cli 3 needs Node 22.11 and stopped with "enableCompileCache is not a function" on Node 20.
    const r = await run(process.execPath, [join(repoRoot, "node_modules/@changesets/cli/bin.js"), "--version"])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
  })

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

  it("has a Commands table row for every command synthline --help lists, and for no other", async () => {
    const r = await synthline(["--help"], { NO_COLOR: "1" })
    expect(r.code).toBe(0)
    const listed = helpCommands(r.stdout)
    expect(listed).toEqual(expect.arrayContaining(["run", "validate", "head", "estimate", "submit", "status", "report"]))
    const table = tableCommands(readme)
    expect(new Set(table).size).toBe(table.length)
    expect([...table].sort()).toEqual([...listed].sort())
  }, 60_000)

  it("links the editor support page where it documents synthline schema", () => {
    const row = readme.split("\n").find((l) => l.startsWith("| `synthline schema"))
    expect(row).toContain("(apps/docs/guide/editor.md)")
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

describe("the docs site's guide, as written", () => {
  it("finds bare pnpm commands wherever they hide", () => {
    const text = [
      "```sh",
      "pnpm demo",
      "SYNTHLINE_MODEL=$PWD/m.gguf pnpm demo",
      "cd x && pnpm test",
      `${pinned} bench --only x   # not pnpm bench`,
      "```",
      "Run `pnpm synthline validate FILE`, or `cd y && pnpm build`; pnpm's `ignoredBuiltDependencies`."
    ].join("\n")
    expect(barePnpmCommands(text)).toEqual(["pnpm demo", "SYNTHLINE_MODEL=$PWD/m.gguf pnpm demo", "pnpm test", "pnpm synthline validate FILE", "pnpm build"])
  })

  it("has the guide pages", () => {
    expect(docsPages.map((p) => p.file)).toEqual(expect.arrayContaining(["apps/docs/guide/getting-started.md", "apps/docs/guide/troubleshooting.md"]))
  })

  it.each(docsPages)("$file writes every pnpm command as npx -y pnpm@10.34.9, in shell blocks and code spans", ({ text }) => {
    expect(barePnpmCommands(text)).toEqual([])
  })

  it("runs the CLI from a clone as the README does", () => {
    const start = docsPages.find((p) => p.file === "apps/docs/guide/getting-started.md")!.text
    expect(shellCommands(start)).toEqual(expect.arrayContaining([`${pinned} synthline validate examples/quickstart.pipeline.yaml`, `${pinned} build`, "npx synthline validate examples/quickstart.pipeline.yaml"]))
  })
})

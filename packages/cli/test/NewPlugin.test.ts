import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import * as Sample from "@synthline/core/Sample"
import { Effect, Either } from "effect"
import { spawn } from "node:child_process"
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { names, scaffold } from "../src/NewPlugin.js"
import { repoRoot, synthline, tempDir } from "./support.js"

const work = tempDir("new-plugin")
const pluginDir = join(work, "acme")

/** Runs a command to completion and returns its exit code and output. */
const exec = (cmd: string, args: ReadonlyArray<string>, cwd: string, env: Record<string, string> = {}) =>
  new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => (output += d))
    child.stderr.setEncoding("utf8").on("data", (d: string) => (output += d))
    child.on("close", (code) => resolve({ code, output }))
  })

describe("NewPlugin.names", () => {
  it("derives package and plugin names", () => {
    expect(names("acme")).toEqual(Either.right({ packageName: "synthline-plugin-acme", pluginName: "acme", folder: "synthline-plugin-acme" }))
    expect(names("synthline-plugin-acme")).toEqual(Either.right({ packageName: "synthline-plugin-acme", pluginName: "acme", folder: "synthline-plugin-acme" }))
    expect(names("@acme/synthline-plugin-keywords")).toEqual(
      Either.right({ packageName: "@acme/synthline-plugin-keywords", pluginName: "keywords", folder: "synthline-plugin-keywords" })
    )
    expect(names("@acme/plugin-pii2")).toEqual(Either.right({ packageName: "@acme/plugin-pii2", pluginName: "pii2", folder: "plugin-pii2" }))
    expect(Either.isLeft(names("Acme"))).toBe(true)
    expect(Either.isLeft(names("synthline-plugin-9x"))).toBe(true)
  })
})

describe("synthline new-plugin", () => {
  it("scaffolds a package with exports, a peer dependency on core, a stage, a test, a README and a changeset", async () => {
    const r = await synthline(["new-plugin", "acme", "--dir", pluginDir])
    expect(r.stderr).toBe("")
    expect(r.code).toBe(0)
    expect(r.stdout).toContain("created synthline-plugin-acme (plugin acme, stage acme/min-length)")
    for (const f of ["package.json", "tsconfig.json", "tsconfig.build.json", "src/index.ts", "src/MinLength.ts", "test/MinLength.test.ts", "README.md", ".changeset/initial-release.md", "example.pipeline.yaml"]) {
      expect(existsSync(join(pluginDir, f)), f).toBe(true)
    }
    const pkg = JSON.parse(readFileSync(join(pluginDir, "package.json"), "utf8"))
    const core = JSON.parse(readFileSync(join(repoRoot, "packages/core/package.json"), "utf8"))
    expect(pkg.name).toBe("synthline-plugin-acme")
    expect(pkg.peerDependencies["@synthline/core"]).toBe(`^${core.version}`)
    expect(pkg.exports["."]).toEqual({ types: "./dist/index.d.ts", default: "./dist/index.js" })
    expect(readFileSync(join(pluginDir, ".changeset/initial-release.md"), "utf8")).toContain('"synthline-plugin-acme": minor')
  })

  it("refuses a folder that is not empty and an invalid name, with exit code 2", async () => {
    const again = await synthline(["new-plugin", "acme", "--dir", pluginDir])
    expect(again.code).toBe(2)
    expect(again.stderr).toContain("is not empty")
    const bad = await Effect.runPromise(Effect.flip(scaffold("ACME", { dir: join(work, "bad") })).pipe(Effect.provide(NodeContext.layer)))
    expect(bad.exitCode).toBe(2)
    expect(bad.message).toContain("invalid plugin name")
    expect(existsSync(join(work, "bad"))).toBe(false)
  })

  it("the scaffold typechecks and its own test passes", async () => {
    const tsc = await exec(join(repoRoot, "node_modules/.bin/tsc"), ["-p", "tsconfig.json", "--noEmit", "--customConditions", "@synthline/source"], pluginDir)
    expect(tsc.output).toBe("")
    expect(tsc.code).toBe(0)
    const vitest = await exec(
      join(repoRoot, "node_modules/.bin/vitest"),
      ["run", "--root", pluginDir, "--config", join(import.meta.dirname, "scaffold.vitest.config.ts")],
      pluginDir,
      { NODE_OPTIONS: "--conditions=@synthline/source", NO_COLOR: "1", FORCE_COLOR: "0" }
    )
    expect(vitest.output).toMatch(/Tests\s+3 passed/)
    expect(vitest.code).toBe(0)
  })

  it("a pipeline file loads the scaffolded stage from its sources: validate, then run", async () => {
    await Effect.runPromise(
      Sample.generate({ rows: 400, out: join(work, "data"), format: "jsonl", shards: 1, seed: 2 }).pipe(Effect.provide(NodeContext.layer))
    )
    const file = join(work, "acme.pipeline.yaml")
    writeFileSync(
      file,
      `name: acme
plugins: ["./acme/src/index.ts"]
source: { type: jsonl, path: "data/data/*.jsonl*" }
stages:
  - use: core/first-turn
  - use: acme/min-length
    min_chars: 40
sink: { type: jsonl, path: out, compression: none }
`
    )
    const valid = await synthline(["validate", file])
    expect(valid.stderr).toBe("")
    expect(valid.code).toBe(0)
    const run = await synthline(["run", file, "--max-errors", "1000"])
    expect(run.code).toBe(0)
    const manifest = JSON.parse(readFileSync(join(work, "out/manifest.json"), "utf8"))
    const stage = manifest.stages.find((s: { id: string }) => s.id === "acme/min-length")
    expect(stage.rows_in).toBe(400)
    expect(stage.dropped["too-short"]).toBeGreaterThan(0)
    expect(stage.rows_out).toBe(manifest.outputs.main.rows)
    const out = readdirSync(join(work, "out")).filter((f) => f.endsWith(".jsonl"))
    const first = JSON.parse(readFileSync(join(work, "out", out[0]!), "utf8").split("\n")[0]!)
    expect(first.instruction_chars).toBeGreaterThanOrEqual(40)
  })
})

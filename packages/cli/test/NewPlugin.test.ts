import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import * as Sample from "@synthline/sample/Sample"
import { Effect, Either } from "effect"
import { spawn } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { detect, fileSpec, files, inWorkspace, names, scaffold, summary, workspaceGlobs } from "../src/NewPlugin.js"
import { repoRoot, synthline, tempDir } from "./support.js"

const work = tempDir("new-plugin")
const pluginDir = join(work, "acme")
/** A workspace like the synthline clone's (its `pnpm-workspace.yaml`), whose `plugins/*` are package folders. */
const fakeClone = join(work, "clone")
mkdirSync(fakeClone)
writeFileSync(join(fakeClone, "pnpm-workspace.yaml"), 'packages:\n  - "packages/*"\n  # team plugins\n  - plugins/*   # ours\n\nonlyBuiltDependencies:\n  - esbuild\n')
const versions = { core: "0.4.1", cli: "0.4.2", effect: "^3.22.4" }
const acme = Either.getOrThrow(names("acme"))
const packageJson = (deps: Parameters<typeof files>[2]) => JSON.parse(files(acme, versions, deps).find((f) => f.path === "package.json")!.content)
const readme = (deps: Parameters<typeof files>[2]) => files(acme, versions, deps).find((f) => f.path === "README.md")!.content

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

describe("NewPlugin dependency modes", () => {
  it("reads the workspace globs and tells package folders of the workspace from other folders", () => {
    expect(workspaceGlobs(readFileSync(join(fakeClone, "pnpm-workspace.yaml"), "utf8"))).toEqual(["packages/*", "plugins/*"])
    expect(workspaceGlobs(readFileSync(join(repoRoot, "pnpm-workspace.yaml"), "utf8"))).toEqual(["packages/*", "apps/*"])
    expect(inWorkspace(fakeClone, join(fakeClone, "plugins/mlteam"))).toBe(true)
    expect(inWorkspace(fakeClone, join(fakeClone, "packages/mlteam"))).toBe(true)
    expect(inWorkspace(fakeClone, join(fakeClone, "plugins/team/mlteam"))).toBe(false)
    expect(inWorkspace(fakeClone, join(fakeClone, "examples/mlteam"))).toBe(false)
    expect(inWorkspace(fakeClone, join(work, "mlteam"))).toBe(false)
  })

  it("picks workspace:* in the workspace, tarballs from a clone elsewhere, npm ranges from an installed CLI", () => {
    const inside = join(fakeClone, "plugins/mlteam")
    const outside = join(work, "plugins/mlteam")
    expect(detect(inside, "auto", fakeClone)).toEqual(Either.right({ _tag: "workspace", root: fakeClone }))
    expect(detect(inside, "workspace", fakeClone)).toEqual(Either.right({ _tag: "workspace", root: fakeClone }))
    expect(detect(outside, "auto", fakeClone)).toEqual(Either.right({ _tag: "clone", root: fakeClone }))
    expect(detect(outside, "auto", undefined)).toEqual(Either.right({ _tag: "npm" }))
    expect(detect(inside, "npm", fakeClone)).toEqual(Either.right({ _tag: "npm" }))
    const notThere = detect(outside, "workspace", fakeClone)
    expect(Either.isLeft(notThere) && notThere.left).toContain("is not a package folder of the workspace")
    expect(Either.isLeft(notThere) && notThere.left).toContain("packages/*, plugins/*")
    const installed = detect(outside, "workspace", undefined)
    expect(Either.isLeft(installed) && installed.left).toContain("--workspace needs the CLI of a synthline clone")
  })

  it("writes each mode's dependencies into package.json and says in the README which applies", () => {
    expect(packageJson({ _tag: "workspace", root: fakeClone })).toMatchObject({
      peerDependencies: { "@synthline/core": "workspace:^" },
      devDependencies: { "@synthline/core": "workspace:*", "@synthline/cli": "workspace:*" }
    })
    expect(readme({ _tag: "workspace", root: fakeClone })).toContain("as `workspace:*`: run `npx -y pnpm@10.34.9 install`")
    const core = "file:../synthline/.synthline/packs/synthline-core-0.4.1.tgz"
    const cli = "file:../synthline/.synthline/packs/synthline-cli-0.4.2.tgz"
    expect(packageJson({ _tag: "clone", root: "/src/synthline", core, cli })).toMatchObject({
      peerDependencies: { "@synthline/core": "^0.4.1" },
      devDependencies: { "@synthline/core": core, "@synthline/cli": cli }
    })
    expect(readme({ _tag: "clone", root: "/src/synthline", core, cli })).toContain("(cd /src/synthline/packages/core && npx -y pnpm@10.34.9 pack --pack-destination ../../.synthline/packs)")
    expect(packageJson({ _tag: "npm" })).toMatchObject({
      peerDependencies: { "@synthline/core": "^0.4.1" },
      devDependencies: { "@synthline/core": "^0.4.1", "@synthline/cli": "^0.4.2" }
    })
    expect(readme({ _tag: "npm" })).toContain("come from\nnpm as version ranges")
    // Only the workspace scaffold resolves core to its sources.
    expect(files(acme, versions, { _tag: "workspace", root: fakeClone }).map((f) => f.path)).toContain("vitest.config.ts")
    expect(files(acme, versions, { _tag: "npm" }).map((f) => f.path)).not.toContain("vitest.config.ts")
  })

  it("points at tarballs relative to a nearby clone, absolute to a far one", () => {
    expect(fileSpec("/src/plugins/mlteam", "/src/synthline/.synthline/packs/synthline-core-0.1.0.tgz")).toBe("file:../../synthline/.synthline/packs/synthline-core-0.1.0.tgz")
    expect(fileSpec("/home/me/work/team/plugins/mlteam", "/opt/synthline/.synthline/packs/c.tgz")).toBe("file:/opt/synthline/.synthline/packs/c.tgz")
  })

  it("prints which mode applies and the next steps of that mode", () => {
    const base = { dir: "/w/plugins/mlteam", names: acme, files: ["package.json"] }
    expect(summary({ ...base, deps: { _tag: "workspace", root: "/w" } })).toContain(
      "next: cd /w && npx -y pnpm@10.34.9 install && cd /w/plugins/mlteam && npx -y pnpm@10.34.9 test"
    )
    const clone = summary({ ...base, deps: { _tag: "clone", root: "/s", core: "file:/s/c.tgz", cli: "file:/s/l.tgz" } })
    expect(clone).toContain("dependencies: tarballs packed from the clone at /s")
    expect(clone).toContain("next: cd /w/plugins/mlteam && npm install && npm test")
    expect(summary({ ...base, deps: { _tag: "npm" } })).toContain("from npm (version ranges)")
  })

  it("refuses --workspace for a folder the workspace does not list, with exit code 2", async () => {
    const r = await synthline(["new-plugin", "acme", "--dir", join(work, "elsewhere"), "--workspace"])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("is not a package folder of the workspace")
    expect(existsSync(join(work, "elsewhere"))).toBe(false)
  })
})

describe("synthline new-plugin", () => {
  it("scaffolds a package with exports, a peer dependency on core, a stage, a test, a README and a changeset", async () => {
    const r = await synthline(["new-plugin", "acme", "--dir", pluginDir, "--npm"])
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
    const again = await synthline(["new-plugin", "acme", "--dir", pluginDir, "--npm"])
    expect(again.code).toBe(2)
    expect(again.stderr).toContain("is not empty")
    const bad = await Effect.runPromise(Effect.flip(scaffold("ACME", { dir: join(work, "bad") })).pipe(Effect.provide(NodeContext.layer)))
    expect(bad.exitCode).toBe(2)
    expect(bad.message).toContain("invalid plugin name")
    expect(existsSync(join(work, "bad"))).toBe(false)
  })

  it("a scaffold in a workspace typechecks and its own test passes on core's sources, with its own configs", async () => {
    // Scaffolded in a package folder of a workspace; its @synthline/core resolves (as pnpm's
    // link would) to this workspace's, whose sources its tsconfig and vitest.config.ts pick.
    const dir = join(fakeClone, "plugins/acme")
    const done = await Effect.runPromise(scaffold("acme", { dir, clone: fakeClone }).pipe(Effect.provide(NodeContext.layer)))
    expect(done.deps).toEqual({ _tag: "workspace", root: fakeClone })
    const tsc = await exec(join(repoRoot, "node_modules/.bin/tsc"), ["-p", "tsconfig.json", "--noEmit"], dir)
    expect(tsc.output).toBe("")
    expect(tsc.code).toBe(0)
    const vitest = await exec(join(repoRoot, "node_modules/.bin/vitest"), ["run"], dir, { NO_COLOR: "1", FORCE_COLOR: "0" })
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

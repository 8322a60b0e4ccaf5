/**
 * The module hooks of the bundled `validate` (bin/hooks.mjs) compile local TypeScript plugins
 * themselves, so an unchanged plugin loads from the cache without tsx: a real Node process
 * registers the hooks the way bin/synthline.js does and imports TypeScript files through them.
 */
import { spawn } from "node:child_process"
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { beforeEach, describe, expect, it } from "vitest"
import { repoRoot, tempDir } from "./support.js"

const hooks = pathToFileURL(join(repoRoot, "packages/cli/bin/hooks.mjs")).href
const tsxApi = pathToFileURL(join(repoRoot, "packages/cli/bin/tsx-api.mjs")).href

let work: string
let cache: string
let dist: string
beforeEach(() => {
  work = tempDir("hooks")
  cache = join(work, "cache")
  dist = join(work, "dist")
  mkdirSync(join(work, "plugin"))
  mkdirSync(dist)
  writeFileSync(join(work, "plugin/util.ts"), "export const greet = (name: string): string => \"hello \" + name\n")
  writeFileSync(
    join(work, "plugin/main.ts"),
    [
      'import type { Config } from "./types.js"',
      'import { greet } from "./util.js"',
      "const config: Config = { name: 'ts' }",
      "export const text: string = greet(config.name)",
      ""
    ].join("\n")
  )
  writeFileSync(join(work, "plugin/types.ts"), "export interface Config { readonly name: string }\n")
  // Stands in for the bundle: a module in dist/ that imports tsx's API as core's Registry does.
  writeFileSync(join(dist, "registry.mjs"), 'export const api = () => import("tsx/esm/api")\n')
})

/** Registers the hooks as bin/synthline.js does, runs `body` (a module's code) and returns what it printed. */
const run = (body: string, cacheDir = cache): Promise<{ code: number | null; stdout: string; stderr: string }> => {
  const data = { shared: {}, dist: pathToFileURL(`${dist}/`).href, tsxApi, cache: cacheDir }
  const script = join(work, `main-${Math.random().toString(36).slice(2)}.mjs`)
  writeFileSync(
    script,
    `import { register } from "node:module"\nregister(${JSON.stringify(hooks)}, { data: ${JSON.stringify(data)} })\n${body}\n`
  )
  const child = spawn(process.execPath, [script], { cwd: work, stdio: ["ignore", "pipe", "pipe"] })
  let stdout = ""
  let stderr = ""
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d))
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })))
}

const importMain = () => `const m = await import(${JSON.stringify(pathToFileURL(join(work, "plugin/main.ts")).href)})\nconsole.log(m.text)`

describe("validate's TypeScript hooks", () => {
  it("compile a plugin and its ./x.js imports of TypeScript files, then load them from the cache", async () => {
    const first = await run(importMain())
    expect(first.stderr).toBe("")
    expect(first.stdout).toBe("hello ts\n")
    // One compiled file per TypeScript module with code (types.ts is imported for a type only).
    const compiled = readdirSync(cache)
    expect(compiled).toHaveLength(2)
    // The second run reads the cache: what is there is what runs.
    for (const f of compiled) {
      const file = join(cache, f)
      writeFileSync(file, readFileSync(file, "utf8").replace("hello ", "cached "))
    }
    expect((await run(importMain())).stdout).toBe("cached ts\n")
    // An edited file is compiled again.
    writeFileSync(join(work, "plugin/util.ts"), "export const greet = (name: string): string => \"hi \" + name\n")
    expect((await run(importMain())).stdout).toBe("hi ts\n")
  }, 60_000)

  it("a syntax error names the file and its line", async () => {
    writeFileSync(join(work, "plugin/util.ts"), "export const greet = (name: string) => {\n  return name +\n")
    const r = await run(`try { ${importMain()} } catch (e) { console.log(e.message) }`)
    // One line, as synthline shows a plugin's load error: file:line:column and esbuild's words.
    expect(r.stdout).toBe(`${join(work, "plugin/util.ts")}:3:1: Unexpected end of file\n`)
  }, 60_000)

  it("the bundle's import of tsx's API gets the stand-in; any other importer gets tsx", async () => {
    const r = await run(
      [
        `const fromBundle = await (await import(${JSON.stringify(pathToFileURL(join(dist, "registry.mjs")).href)})).api()`,
        `const standIn = await import(${JSON.stringify(tsxApi)})`,
        'const tsx = await import("tsx/esm/api")',
        "console.log(fromBundle.register === standIn.register, tsx.register === standIn.register, typeof fromBundle.tsImport)"
      ].join("\n")
    )
    expect(r.stderr).toBe("")
    expect(r.stdout).toBe("true false function\n")
  }, 60_000)

  it("a cache folder that others can write to is not used", async () => {
    const open = join(work, "open")
    mkdirSync(open)
    chmodSync(open, 0o777)
    const r = await run(importMain(), open)
    expect(r.stdout).toBe("hello ts\n")
    expect(readdirSync(open)).toEqual([])
  }, 60_000)
})

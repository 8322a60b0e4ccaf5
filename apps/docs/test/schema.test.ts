/**
 * What the editor-support page promises (guide/editor.md): every `examples/*.pipeline.yaml`, as
 * written, is valid against the JSON Schema that `synthline schema --plugin …` prints for the
 * plugins the file lists, checked by Ajv the way a YAML language server checks it; and the same
 * schema rejects a misspelled option, an unknown key and a stage no loaded plugin has.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv"
import { spawn } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { parse } from "yaml"
import { repoRoot } from "../scripts/workspace.js"

const examples = join(repoRoot, "examples")
const files = readdirSync(examples)
  .filter((f) => f.endsWith(".pipeline.yaml"))
  .sort()

/** `synthline schema` with these plugins, run from source in `examples/` (relative plugin paths resolve there). */
const schemaFor = (plugins: ReadonlyArray<string>): Promise<unknown> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--conditions=@synthline/source", join(repoRoot, "packages/cli/src/bin.ts"), "schema", ...plugins.flatMap((p) => ["--plugin", p])],
      { cwd: examples, stdio: ["ignore", "pipe", "pipe"] }
    )
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d))
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
    child.on("close", (code) => {
      if (code === 0) resolve(JSON.parse(stdout))
      else reject(new Error(`synthline schema ${plugins.map((p) => `--plugin ${p}`).join(" ")} failed (${code}): ${stderr}`))
    })
  })

const isObj = (u: unknown): u is { readonly [key: string]: unknown } => typeof u === "object" && u !== null && !Array.isArray(u)

/** A file as an editor sees it: the YAML as written, `${VAR}` placeholders and all. */
const read = (file: string): { readonly [key: string]: unknown } => {
  const doc: unknown = parse(readFileSync(join(examples, file), "utf8"))
  if (!isObj(doc)) throw new Error(`${file}: not a mapping`)
  return doc
}

const pluginsOf = (doc: { readonly [key: string]: unknown }): ReadonlyArray<string> =>
  Array.isArray(doc.plugins) ? doc.plugins.map(String) : []

const explain = (errors: ReadonlyArray<ErrorObject> | null | undefined): ReadonlyArray<string> =>
  (errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`)

/** A validator per example file, from the schema for its plugins. */
const validators = new Map<string, ValidateFunction>()

beforeAll(async () => {
  expect(files.length).toBeGreaterThanOrEqual(4)
  const sets = new Map<string, ReadonlyArray<string>>()
  for (const f of files) sets.set(JSON.stringify(pluginsOf(read(f))), pluginsOf(read(f)))
  // Two CLI processes at a time (each loads its plugins from source).
  const schemas = new Map<string, unknown>()
  const keys = [...sets.keys()]
  const worker = async () => {
    for (let k = keys.shift(); k !== undefined; k = keys.shift()) schemas.set(k, await schemaFor(sets.get(k)!))
  }
  await Promise.all([worker(), worker()])
  // A keyword Ajv does not know is an error, not silently ignored (strictSchema). strictTypes is
  // a style rule (`maximum` in an allOf branch without its own `type`), off: the schema is valid.
  const ajv = new Ajv({ allErrors: true, strictSchema: true, strictNumbers: true, strictTypes: false, strictTuples: false })
  const compiled = new Map([...schemas].map(([k, s]) => [k, ajv.compile(isObj(s) ? s : {})]))
  for (const f of files) validators.set(f, compiled.get(JSON.stringify(pluginsOf(read(f))))!)
}, 180_000)

describe("examples/*.pipeline.yaml against `synthline schema`", () => {
  it.each(files)("%s is valid against the schema of the plugins it lists", (file) => {
    const validate = validators.get(file)!
    const doc = read(file)
    expect(validate(doc), `${file}:\n${explain(validate.errors).join("\n")}`).toBe(true)
    // The schema knew the file's stages (not a schema that accepts anything).
    const uses = Array.isArray(doc.stages) ? doc.stages.map((s: unknown) => (isObj(s) ? s.use : undefined)) : []
    expect(uses.length).toBeGreaterThan(0)
    expect(validate({ ...doc, stages: [{ use: "nowhere/no-stage" }] })).toBe(false)
  })

  it("rejects what an editor should underline: a misspelled option, an unknown key, a wrong source type", () => {
    const file = "quickstart.pipeline.yaml"
    const validate = validators.get(file)!
    const doc = read(file)
    const stages = Array.isArray(doc.stages) ? doc.stages : []
    const select = stages.findIndex((s: unknown) => isObj(s) && s.use === "core/select")
    expect(select).toBeGreaterThanOrEqual(0)
    const misspelled = stages.map((s: unknown, i: number) => (i === select && isObj(s) ? { use: s.use, language: s.languages } : s))
    expect(validate({ ...doc, stages: misspelled })).toBe(false)
    expect(explain(validate.errors)).toContainEqual(expect.stringContaining(`/stages/${select} must NOT have additional properties {"additionalProperty":"language"}`))
    expect(validate({ ...doc, sinks: doc.sink })).toBe(false)
    expect(explain(validate.errors)).toContainEqual(expect.stringContaining('{"additionalProperty":"sinks"}'))
    expect(validate({ ...doc, source: { ...(isObj(doc.source) ? doc.source : {}), type: "parquett" } })).toBe(false)
  })
})

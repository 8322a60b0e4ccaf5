/**
 * The release package is loaded only where it is used: a pipeline without `encrypt:` runs
 * without importing `openpgp` (nor @synthline/release), one with it loads both by itself (no
 * `plugins:` entry). The modules a CLI process loads are recorded by a module resolve hook.
 */
import { spawn } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Ajv } from "ajv"
import { describe, expect, it } from "vitest"
import { cliArgs, type CliResult, repoRoot, synthline, tempDir } from "./support.js"

const work = tempDir("release")
const hooks = join(work, "hooks.mjs")
writeFileSync(
  hooks,
  `import { appendFileSync } from "node:fs"
let log
export function initialize(data) { log = data.log }
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context)
  appendFileSync(log, r.url + "\\n")
  return r
}
`
)
const preload = join(work, "preload.mjs")
writeFileSync(
  preload,
  `import { register } from "node:module"
register(${JSON.stringify(`file://${hooks}`)}, import.meta.url, { data: { log: process.env.MODULE_LOG } })
`
)

mkdirSync(join(work, "data"))
writeFileSync(
  join(work, "data/train.jsonl"),
  Array.from({ length: 40 }, (_, i) => `${JSON.stringify({ conversation_id: `c${i}`, conversation: [{ role: "user", content: `q${i}` }] })}\n`).join("")
)

/** Runs the CLI with the recording hook; returns its result and every module URL it resolved. */
const traced = (name: string, args: ReadonlyArray<string>): Promise<CliResult & { readonly modules: ReadonlyArray<string> }> => {
  const log = join(work, `${name}.modules`)
  const [cmd, argv] = cliArgs(args)
  const child = spawn(cmd, ["--import", preload, ...argv], { cwd: repoRoot, env: { ...process.env, MODULE_LOG: log }, stdio: ["ignore", "pipe", "pipe"] })
  let stdout = ""
  let stderr = ""
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d))
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
  return new Promise((resolve) =>
    child.on("close", (code) =>
      resolve({ code, stdout, stderr, modules: existsSync(log) ? readFileSync(log, "utf8").split("\n").filter((l) => l !== "") : [] })
    )
  )
}

const pipeline = (name: string, sink: string, unitRows = 1000): string => {
  const file = join(work, `${name}.pipeline.yaml`)
  writeFileSync(
    file,
    `name: ${name}\nsource: { type: jsonl, path: data/*.jsonl, validate: none, unit_rows: ${unitRows} }\nstages:\n  - use: core/first-turn\nsink: ${sink}\n`
  )
  return file
}

const openpgp = (modules: ReadonlyArray<string>) => modules.filter((m) => /\/openpgp\//.test(m))
const release = (modules: ReadonlyArray<string>) => modules.filter((m) => /\/release\/src\//.test(m))

describe("release loading", () => {
  it("a pipeline without encrypt loads neither openpgp nor @synthline/release; one with encrypt loads both by itself", async () => {
    const plain = await traced("plain", ["run", pipeline("plain", "{ type: jsonl, path: out-plain }")])
    expect(plain.code, plain.stderr).toBe(0)
    // The hook saw the run's modules (core's sinks among them) ...
    expect(plain.modules.some((m) => m.endsWith("/core/src/io/sinks.ts"))).toBe(true)
    // ... and no OpenPGP code.
    expect(openpgp(plain.modules)).toEqual([])
    expect(release(plain.modules)).toEqual([])

    // In worker threads too: they decode the file again and find the package where the runner did.
    const enc = await traced("enc", ["run", pipeline("enc", "{ type: jsonl, path: out-enc, encrypt: source-key, shard_rows: 15 }", 10), "--workers", "2"])
    expect(enc.code, enc.stderr).toBe(0)
    expect(readdirSync(join(work, "out-enc")).filter((f) => f.startsWith("part-")).sort()).toEqual([
      "part-00000.jsonl.gz.gpg",
      "part-00001.jsonl.gz.gpg",
      "part-00002.jsonl.gz.gpg"
    ])
    expect(release(enc.modules).length).toBeGreaterThan(0)
    expect(openpgp(enc.modules).length).toBeGreaterThan(0)
  })

  it("validate of a pipeline with encrypt loads the release plugin but not openpgp (nothing is encrypted)", async () => {
    const r = await traced("validate", ["validate", pipeline("enc-validate", "{ type: jsonl, path: out-v, encrypt: source-key }")])
    expect(r.code, r.stderr).toBe(0)
    expect(release(r.modules).length).toBeGreaterThan(0)
    expect(openpgp(r.modules)).toEqual([])
  })

  it("synthline schema (for editors) accepts encrypt on a jsonl sink without a plugins: entry, and only its values", async () => {
    const r = await synthline(["schema"])
    expect(r.code, r.stderr).toBe(0)
    const validate = new Ajv({ strict: false, allErrors: true }).compile(JSON.parse(r.stdout))
    const file = (sink: object) => ({ name: "x", source: { type: "jsonl", path: "data/*.jsonl" }, stages: [], sink })
    expect(validate(file({ type: "jsonl", path: "out", encrypt: "source-key", source_key_from: "data" })), JSON.stringify(validate.errors)).toBe(true)
    expect(validate(file({ type: "jsonl", path: "out", encrypt: "rot13" }))).toBe(false)
  })
})

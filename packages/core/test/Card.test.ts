import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { gunzipSync } from "node:zlib"
import { glob } from "tinyglobby"
import * as YAML from "yaml"
import * as CoreStages from "../src/stages/core.js"
import * as DatasetCard from "../src/Card.js"
import * as Pipeline from "../src/Pipeline.js"
import * as Registry from "../src/Registry.js"
import * as Runner from "../src/Runner.js"
import * as Lmsys from "./support/lmsys.js"
import * as Sinks from "../src/io/sinks.js"
import * as Sources from "../src/io/sources.js"
import * as Stage from "../src/Stage.js"

const tmpRoot = join(import.meta.dirname, ".tmp")
mkdirSync(tmpRoot, { recursive: true })
const dir = mkdtempSync(join(tmpRoot, "card-"))
mkdirSync(join(dir, "in"))
const records = Lmsys.records(21, 400)
writeFileSync(join(dir, "in/a.jsonl"), `${records.map((r) => JSON.stringify(r)).join("\n")}\n`)

const Annotation = Schema.Struct({
  response_token_length: Schema.Int,
  judgement: Schema.String,
  repetition_flag: Schema.Boolean,
  preference_score: Schema.Number
})

/** A judge-like stage: declares the Schema of its annotations; `extra` is undeclared (inferred). */
const score = Stage.make({
  id: "test/score",
  description: "adds scoring annotations and an undeclared field",
  config: Schema.Struct({}),
  requires: ["conversation_id"],
  provides: ["synthesized_response_scoring_annotations", "extra"],
  fields: { synthesized_response_scoring_annotations: Schema.Array(Annotation) },
  make: (_config, ctx) =>
    Effect.succeed(
      Stage.mapChunks((row: { readonly conversation_id: string }) => {
        const h = Number.parseInt(row.conversation_id.slice(0, 6), 16)
        if (h % 7 === 0) return void ctx.drop(row, "unlucky")
        return {
          ...row,
          synthesized_response_scoring_annotations: [0, 1].map((i) => ({
            response_token_length: 10 + i,
            judgement: "ok [[x]]",
            repetition_flag: false,
            preference_score: i === 0 && h % 5 === 0 ? -1 : (h + i) % 11
          })),
          extra: { n: h % 2 === 0 ? h : h + 0.5, tags: ["a"], empty: null }
        }
      })
    )
})

/** A pipeline-file environment reference, `${NAME}`, as text. */
const envRef = (name: string): string => `\${${name}}`

const pipelineText = `# the recipe
name: card
source: { type: jsonl, path: "in/*.jsonl" }
models:
  judge: { model: some/judge, endpoints: ["\${VLLM_URL}/v1"], api_key: sk-literal-secret-123, auth_key: "\${DEEPL_AUTH_KEY}" }
proxy: https://user:hunter2@proxy.example/
`

const frontMatterOf = (text: string): { readonly [key: string]: unknown } => {
  const m = /^---\n([\s\S]*?)\n---\n/.exec(text)
  expect(m).not.toBeNull()
  return YAML.parse(m![1]!)
}

const rowsIn = (d: string): Array<Record<string, unknown>> =>
  readdirSync(d)
    .filter((f) => f.endsWith(".jsonl.gz"))
    .sort()
    .flatMap((f) => gunzipSync(readFileSync(join(d, f))).toString("utf8").split("\n").filter((l) => l !== ""))
    .map((l) => JSON.parse(l))

/** Whether a JSON value fits a Hugging Face feature type. */
const fits = (v: unknown, t: DatasetCard.FeatureType): boolean => {
  if (v === null) return true
  if ("dtype" in t) {
    switch (t.dtype) {
      case "string":
        return typeof v === "string"
      case "int64":
        return Number.isInteger(v)
      case "float64":
        return typeof v === "number"
      case "bool":
        return typeof v === "boolean"
      case "null":
        return false
      default:
        return false
    }
  }
  if ("list" in t) return Array.isArray(v) && v.every((x) => fits(x, { struct: t.list }))
  if ("sequence" in t) {
    const inner = typeof t.sequence === "string" ? { dtype: t.sequence } : t.sequence
    return Array.isArray(v) && v.every((x) => fits(x, inner))
  }
  if (typeof v !== "object" || Array.isArray(v)) return false
  const o: { readonly [k: string]: unknown } = Object.fromEntries(Object.entries(v))
  return Object.keys(o).every((k) => t.struct.some((f) => f.name === k)) && t.struct.every((f) => fits(o[f.name] ?? null, f))
}

describe("DatasetCard", () => {
  it.effect("every output folder gets a card whose YAML, data_files, features and sizes match what was written", () =>
    Effect.gen(function* () {
      const file = join(dir, "card.pipeline.yaml")
      writeFileSync(file, pipelineText)
      const registry = yield* Registry.fromPlugins([])
      const composed = Pipeline.from(Sources.jsonl, { path: "in/*.jsonl" }).pipe(
        Pipeline.through(CoreStages.select, { languages: ["English", "Japanese", "Portuguese"] }),
        Pipeline.through(score, {}, { route: "unlucky" }),
        Pipeline.to(Sinks.jsonl, { path: "out", shard_rows: 100 }, {
          name: "card",
          seed: 1,
          baseDir: dir,
          registry,
          branches: {
            unlucky: { def: Sinks.jsonl, config: Schema.decodeUnknownSync(Sinks.jsonl.config)({ path: "out-unlucky" }) }
          }
        })
      )
      const result = yield* Runner.run({ ...composed, file })
      const out = join(dir, "out")
      const rows = rowsIn(out)
      expect(rows.length).toBeGreaterThan(150)

      for (const [folder, written, branch] of [
        [out, rows, undefined],
        [join(dir, "out-unlucky"), rowsIn(join(dir, "out-unlucky")), "unlucky"]
      ] as const) {
        const card = readFileSync(join(folder, "README.md"), "utf8")
        const fm = frontMatterOf(card)
        // data_files globs match exactly the part files written
        const configs = fm.configs as Array<{ config_name: string; data_files: Array<{ split: string; path: string }> }>
        expect(configs[0]!.config_name).toBe("default")
        const matched = (yield* Effect.promise(() => glob(configs[0]!.data_files.map((d) => d.path), { cwd: folder }))).sort()
        const parts = readdirSync(folder).filter((f) => /^part-\d+\.jsonl\.gz$/.test(f)).sort()
        expect(parts.length).toBeGreaterThan(0)
        expect(matched).toEqual(parts)
        // features: the row fields in order, each value fitting its type
        const info = fm.dataset_info as {
          features: Array<DatasetCard.Feature>
          splits: Array<{ name: string; num_examples: number }>
        }
        expect(info.features.map((f) => f.name)).toEqual(Object.keys(written[0]!))
        for (const row of written) {
          for (const f of info.features) expect(fits(row[f.name] ?? null, f), `${f.name} of ${JSON.stringify(row[f.name])}`).toBe(true)
        }
        expect(info.splits).toEqual([{ name: "train", num_examples: written.length }])
        if (branch === undefined) expect(card).toContain("# card\n")
        else expect(card).toContain(`# card (${branch})`)
      }

      const card = readFileSync(join(out, "README.md"), "utf8")
      const features = (frontMatterOf(card).dataset_info as { features: Array<DatasetCard.Feature> }).features
      const byName = (n: string) => features.find((f) => f.name === n)
      // Declared Schemas: LMSYS record and the stage's `fields`; inferred: `extra`.
      expect(byName("turn")).toEqual({ name: "turn", dtype: "int64" })
      expect(byName("conversation")).toEqual({ name: "conversation", list: [{ name: "role", dtype: "string" }, { name: "content", dtype: "string" }] })
      expect(byName("synthesized_response_scoring_annotations")).toEqual({
        name: "synthesized_response_scoring_annotations",
        list: [
          { name: "response_token_length", dtype: "int64" },
          { name: "judgement", dtype: "string" },
          { name: "repetition_flag", dtype: "bool" },
          { name: "preference_score", dtype: "float64" }
        ]
      })
      expect(byName("extra")).toEqual({
        name: "extra",
        struct: [
          { name: "n", dtype: "float64" },
          { name: "tags", sequence: "string" },
          { name: "empty", dtype: "null" }
        ]
      })

      // The recipe verbatim: env references kept, literal secrets masked.
      expect(card).toContain(`${envRef("VLLM_URL")}/v1`)
      expect(card).toContain(`auth_key: "${envRef("DEEPL_AUTH_KEY")}"`)
      expect(card).toContain("# the recipe")
      expect(card).not.toContain("sk-literal-secret-123")
      expect(card).not.toContain("hunter2")
      expect(card).toContain("api_key: <redacted>")

      // Statistics: languages, drops and routes by reason; no plugin profiler, so no section of one.
      for (const lang of new Set(rows.map((r) => r.language as string))) {
        const n = rows.filter((r) => r.language === lang).length
        expect(card).toMatch(new RegExp(`\\| ${lang} \\| ${n} \\|`))
      }
      const select = result.manifest.stages[0]!
      expect(card).toContain(`| core/select | language | ${select.dropped.language} |`)
      const routed = result.manifest.stages[1]!
      expect(routed.routed).toBeGreaterThan(0)
      expect(routed.routed_reasons).toEqual({ unlucky: routed.routed })
      expect(card).toContain(`| test/score | routed to a branch (unlucky) | ${routed.routed} |`)
      expect(card).not.toContain("### Preference scores")
      expect(result.manifest.outputs.main.profile).not.toHaveProperty("preference_scores")
      expect(card).toContain("No model was called.")

      // Core knows no release detail: what a card says about encrypted files comes from a plugin's
      // profiler (`files`), above the file list, and only for the outputs it names.
      expect(card).not.toMatch(/OpenPGP|gpg/)
      const gpg = { ...result.manifest.outputs.main, files: result.manifest.outputs.main.files.map((f) => ({ ...f, path: `${f.path}.gpg` })) }
      const note = DatasetCard.profiler<{}>({ key: "note", empty: () => ({}), observe: () => false, files: (fs) => (fs.some((f) => f.path.endsWith(".gpg")) ? "Encrypted: see the release notes." : undefined) })
      const noted = DatasetCard.render({ manifest: result.manifest, output: gpg, profilers: [note] })
      expect(noted.indexOf("Encrypted: see the release notes.\n\n## Files")).toBeGreaterThan(0)
      expect(DatasetCard.render({ manifest: result.manifest, output: result.manifest.outputs.main, profilers: [note] })).not.toContain("Encrypted")
    }).pipe(Effect.provide(NodeContext.layer)), 30_000)

  it("maps shapes to Hugging Face types and globs part files per extension", () => {
    expect(DatasetCard.featureType({ t: "list", of: { t: "list", of: { t: "int" } } })).toEqual({ sequence: { sequence: "int64" } })
    expect(DatasetCard.featureType({ t: "mixed" })).toEqual({ dtype: "string" })
    const f = (path: string) => ({ path, rows: 1, bytes: 1, sha256: "" })
    expect(DatasetCard.dataFileGlobs([f("part-00000.jsonl.gz"), f("part-00001-of-00003-00000.jsonl.gz"), f("part-00000.parquet")])).toEqual([
      "part-*.jsonl.gz",
      "part-*.parquet"
    ])
    expect(DatasetCard.redactPipelineText(`token: abc\nkey_file: ${envRef("K")}\nurl: http://u:p@h/`)).toBe(
      `token: <redacted>\nkey_file: ${envRef("K")}\nurl: http://u:<redacted>@h/`
    )
  })

  it("masks secrets by the parsed document, whatever the scalar style; references, comments and other options stay as written", () => {
    const text = `# models (keys below)
models:
  a:
    api_key:
      sk-next-line-secret-1
  b:
    api_key: >-
      sk-folded-secret-2
    max_tokens: 100
  c:
    endpoints: ["https://api.example/v1?api_key=sk-query-secret-3&region=${envRef("REGION")}", "http://bob:pw-secret-4@h:8000/v1"]
    extra_body:
      headers:
        Authorization: Bearer sk-header-secret-5
        x-api-key: 'sk-header-secret-6'
        X-Trace: keep-me
    api_key: "${envRef("OPENAI_API_KEY")}"
    token: "Bearer ${envRef("TOKEN")}"
  d: { api_key: [sk-flow-secret-7], concurrency: 4 }
  e:
    api_key: |
      sk-literal-secret-8
stages:
  - use: pii/redact
    salt: literal-salt-9
  - use: synth/generate
    system: "a prompt that quotes sk-planted-10 as it is"
sink: { type: jsonl, path: out, encrypt: source-key, source_key_from: ../dataset }
`
    const out = DatasetCard.redactPipelineText(text, ["sk-planted-10"])
    for (let i = 1; i <= 10; i++) expect(out).not.toMatch(new RegExp(`secret-${i}\\b|salt-${i}\\b|planted-${i}\\b`))
    const parsed = YAML.parse(out)
    expect(parsed.models.a.api_key).toBe("<redacted>")
    expect(parsed.models.b).toEqual({ api_key: "<redacted>", max_tokens: 100 })
    expect(parsed.models.c.endpoints).toEqual([
      `https://api.example/v1?api_key=<redacted>&region=${envRef("REGION")}`,
      "http://bob:<redacted>@h:8000/v1"
    ])
    expect(parsed.models.c.extra_body.headers).toEqual({ Authorization: "<redacted>", "x-api-key": "<redacted>", "X-Trace": "keep-me" })
    expect(parsed.models.c.api_key).toBe(envRef("OPENAI_API_KEY"))
    expect(parsed.models.c.token).toBe(`Bearer ${envRef("TOKEN")}`)
    expect(parsed.models.d).toEqual({ api_key: ["<redacted>"], concurrency: 4 })
    expect(parsed.models.e.api_key.trim()).toBe("<redacted>")
    expect(parsed.stages[0].salt).toBe("<redacted>")
    expect(parsed.stages[1].system).toBe("<redacted>")
    expect(parsed.sink).toEqual({ type: "jsonl", path: "out", encrypt: "source-key", source_key_from: "../dataset" })
    expect(out).toContain("# models (keys below)")
  })
})

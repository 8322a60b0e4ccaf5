/**
 * The main sink's `where:` in a pipeline composed in TypeScript (`Pipeline.to(sink, options,
 * { where })`): it writes only the selected rows, the manifest and the card say which and how
 * many it set aside, the fingerprint is that of the same pipeline written as a file, and a bad
 * condition throws at build time.
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Schema } from "effect"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as CoreStages from "../src/stages/core.js"
import * as Pipeline from "../src/Pipeline.js"
import * as Registry from "../src/Registry.js"
import * as Runner from "../src/Runner.js"
import * as Sinks from "../src/io/sinks.js"
import * as Sources from "../src/io/sources.js"
import * as Lmsys from "./support/lmsys.js"

const dir = mkdtempSync(join(tmpdir(), "synthline-main-where-"))
mkdirSync(join(dir, "in"))
const records = Lmsys.records(23, 240)
writeFileSync(join(dir, "in/a.jsonl"), `${records.slice(0, 120).map((r) => JSON.stringify(r)).join("\n")}\n`)
writeFileSync(join(dir, "in/b.jsonl"), `${records.slice(120).map((r) => JSON.stringify(r)).join("\n")}\n`)

const lines = (d: string): Array<Record<string, unknown>> =>
  readdirSync(d)
    .filter((f) => f.endsWith(".jsonl"))
    .sort()
    .flatMap((f) => readFileSync(join(d, f), "utf8").split("\n").filter((l) => l !== ""))
    .map((l) => JSON.parse(l))

const composed = (registry: Registry.Registry, out: string, where: Pipeline.ToOptions["where"]) =>
  Pipeline.from(Sources.jsonl, { path: "in/*.jsonl" }).pipe(
    Pipeline.through(CoreStages.select, { languages: ["English", "Japanese"] }),
    Pipeline.through(CoreStages.firstTurn, {}),
    Pipeline.to(Sinks.jsonl, { path: out, compression: "none" }, {
      name: "main-where",
      seed: 3,
      baseDir: dir,
      registry,
      where,
      outputs: {
        all: { def: Sinks.jsonl, config: Schema.decodeUnknownSync(Sinks.jsonl.config)({ path: `${out}-all`, compression: "none" }) }
      }
    })
  )

describe("Pipeline.to with the main sink's where", () => {
  it.effect("a TypeScript-built pipeline writes only the selected rows to the main sink; the output without where gets them all", () =>
    Effect.gen(function* () {
      const registry = yield* Registry.fromPlugins([])
      const pipeline = composed(registry, "out", { language: "Japanese" })
      expect(pipeline.sinkSelection?.where?.text).toBe('language == "Japanese"')
      const result = yield* Runner.run(pipeline, { maxErrors: 0 })

      const reaching = records.filter((r) => r.language === "English" || r.language === "Japanese")
      const japanese = reaching.filter((r) => r.language === "Japanese")
      expect(japanese.length).toBeGreaterThan(0)
      expect(japanese.length).toBeLessThan(reaching.length)
      const main = lines(join(dir, "out"))
      expect(main.map((r) => r.conversation_id)).toEqual(japanese.map((r) => r.conversation_id))
      expect(main.every((r) => r.language === "Japanese")).toBe(true)
      expect(lines(join(dir, "out-all")).map((r) => r.conversation_id)).toEqual(reaching.map((r) => r.conversation_id))

      const m = result.manifest
      expect(m.outputs.main).toMatchObject({ rows: japanese.length, where: 'language == "Japanese"', dropped: { where: reaching.length - japanese.length } })
      expect(JSON.parse(readFileSync(join(dir, "out", "manifest.json"), "utf8")).outputs.main.dropped).toEqual({ where: reaching.length - japanese.length })
      const card = readFileSync(join(dir, "out", "README.md"), "utf8")
      expect(card).toContain(
        `the rows that reach the end of the pipeline where \`language == "Japanese"\` (${reaching.length - japanese.length} other rows set aside). ${japanese.length} rows in`
      )
      // The output that takes every row says so, and the main card of a run without where says neither.
      expect(readFileSync(join(dir, "out-all", "README.md"), "utf8")).toContain("the output `all`, every row that reaches the end of the pipeline")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("has the fingerprint of the same pipeline written as a file; another where is another fingerprint; a bad one throws", () =>
    Effect.gen(function* () {
      const registry = yield* Registry.fromPlugins([])
      const file = `name: main-where
seed: 3
source: { type: jsonl, path: "in/*.jsonl" }
stages:
  - use: core/select
    languages: [English, Japanese]
  - use: core/first-turn
sink: { type: jsonl, path: fp, compression: none, where: 'language == "Japanese"' }
outputs:
  all: { type: jsonl, path: fp-all, compression: none }
`
      const fromFile = yield* Pipeline.decode(join(dir, "main-where.yaml"), file, { env: {} }).pipe(Effect.either)
      if (Either.isLeft(fromFile)) return expect.fail(fromFile.left.message)
      const code = composed(registry, "fp", 'language == "Japanese"')
      expect(code.fingerprint).toBe(fromFile.right.fingerprint)
      expect(composed(registry, "fp", { language: "Japanese" }).fingerprint).toBe(code.fingerprint)
      expect(composed(registry, "fp", { language: "English" }).fingerprint).not.toBe(code.fingerprint)
      expect(composed(registry, "fp", undefined).fingerprint).not.toBe(code.fingerprint)
      expect(composed(registry, "fp", undefined).sinkSelection).toBeUndefined()
      expect(() => composed(registry, "fp", "language ==")).toThrow(/pipeline main-where \(composed in code\): sink: where: /)
    }))
})

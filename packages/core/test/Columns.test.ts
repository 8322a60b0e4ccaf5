/**
 * The source columns a pipeline reads: a pipeline that narrows its rows (`core/fields` with
 * `keep`) reads only the parquet columns its stages name, and writes the same bytes as when it
 * reads them all. Shown with a file whose `model` column is corrupt in one row group: the
 * narrowed pipeline never reads it and loses nothing, while the same pipeline without `keep`
 * loses that row group.
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Schema } from "effect"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Sinks from "../src/io/sinks.js"
import * as Sources from "../src/io/sources.js"
import * as Pipeline from "../src/Pipeline.js"
import * as Registry from "../src/Registry.js"
import * as Runner from "../src/Runner.js"
import * as Stage from "../src/Stage.js"
import * as CoreStages from "../src/stages/core.js"
import { writeLmsysParquet } from "./support/io.js"
import * as Lmsys from "./support/lmsys.js"
import { footer } from "./support/parquetFiles.js"

/** A stage that says nothing of what else it reads (`reads` not declared), as an older team plugin's. */
const undeclared = Stage.make({
  id: "team/tag",
  description: "adds a tag",
  config: Schema.Struct({}),
  requires: ["conversation"],
  provides: ["tag"],
  make: () => Effect.succeed(Stage.mapChunks((row) => ({ ...row, tag: "x" })))
})

const columnsOf = (validate: "none" | "lmsys", stages: ReadonlyArray<{ stage: Stage.AnyStage; config: unknown; route?: string }>) =>
  Pipeline.sourceColumns({ source: { config: { path: "x", validate } }, stages })

const decoded = <C>(stage: Stage.Stage<C>, options: unknown): { stage: Stage.AnyStage; config: C } => ({
  stage,
  config: Schema.decodeUnknownSync(stage.config)(options)
})

describe("the source columns a pipeline needs", () => {
  it("are every column unless a stage narrows the rows", () => {
    expect(columnsOf("none", [])).toBeUndefined()
    expect(columnsOf("none", [decoded(CoreStages.select, { languages: ["English"] }), decoded(CoreStages.firstTurn, {})])).toBeUndefined()
  })

  it("are what the stages before the narrowing name, with conversation_id, and nothing the stages after it add", () => {
    const stages = [
      decoded(CoreStages.select, { languages: ["English"] }),
      decoded(CoreStages.firstTurn, {}),
      decoded(CoreStages.fields, { keep: ["conversation", "turn"] }),
      decoded(CoreStages.dedup, { field: "conversation.0.content" })
    ]
    // first-turn reads openai_moderation when rows have it (it trims and checks it).
    expect(columnsOf("none", stages)).toEqual(["conversation", "conversation_id", "language", "openai_moderation", "turn"])
    // A rename's source is read under its own name.
    expect(columnsOf("none", [decoded(CoreStages.fields, { keep: ["model"], rename: { model: "m" } })])).toEqual(["conversation_id", "model"])
    expect(columnsOf("none", [decoded(CoreStages.fields, { rename: { model: "m" } }), decoded(CoreStages.fields, { keep: ["m"] })])).toEqual([
      "conversation_id",
      "m",
      "model"
    ])
  })

  it("are every column when a source checks LMSYS records, a stage before the narrowing routes rows, or one does not declare its reads", () => {
    const keep = decoded(CoreStages.fields, { keep: ["conversation"] })
    expect(columnsOf("lmsys", [keep])).toBeUndefined()
    expect(columnsOf("none", [{ ...decoded(CoreStages.select, { languages: ["English"] }), route: "other" }, keep])).toBeUndefined()
    expect(columnsOf("none", [decoded(undeclared, {}), keep])).toBeUndefined()
    // After the narrowing, such a stage changes nothing: the rows it sees hold only what was kept.
    expect(columnsOf("none", [keep, decoded(undeclared, {})])).toEqual(["conversation", "conversation_id"])
  })
})

describe("a narrowed pipeline reads only its columns", () => {
  const base = mkdtempSync(join(tmpdir(), "synthline-columns-"))
  writeLmsysParquet(join(base, "s/data/train-00000-of-00001.parquet"), Lmsys.records(5, 600), 100)
  mkdirSync(join(base, "good"))
  mkdirSync(join(base, "bad"))
  writeFileSync(join(base, "good/train.parquet"), readFileSync(join(base, "s/data/train-00000-of-00001.parquet")))

  /** The file with the first page header of `model` in row group 2 flipped. */
  const corruptModel = async (): Promise<void> => {
    const file = join(base, "bad/train.parquet")
    const bytes = readFileSync(join(base, "good/train.parquet"))
    const meta = await footer(join(base, "good/train.parquet"))
    const chunk = meta.row_groups[2]!.columns.find((c) => c.meta_data?.path_in_schema.join(".") === "model")!
    const at = Number(chunk.meta_data!.data_page_offset)
    bytes[at] = bytes[at]! ^ 0xff
    writeFileSync(file, bytes)
  }

  const run = (input: string, out: string, keep: boolean) =>
    Effect.gen(function* () {
      const registry = yield* Registry.fromPlugins([])
      const read = Pipeline.from(Sources.parquet, { path: `${input}/*.parquet`, validate: "none" }).pipe(
        Pipeline.through(CoreStages.select, { languages: ["English", "Japanese"] }),
        Pipeline.through(CoreStages.firstTurn, {})
      )
      const sink = Pipeline.to(Sinks.jsonl, { path: out, compression: "none" }, { name: "columns", seed: 1, baseDir: base, registry })
      const narrowed = keep
        ? read.pipe(Pipeline.through(CoreStages.fields, { keep: ["conversation_id", "conversation", "language"] }), sink)
        : read.pipe(sink)
      const result = yield* Effect.either(Runner.run(narrowed, { maxErrors: 1000 }))
      const text = readdirSync(join(base, out))
        .filter((f) => f.endsWith(".jsonl"))
        .sort()
        .map((f) => readFileSync(join(base, out, f), "utf8"))
        .join("")
      return { result, text, manifest: JSON.parse(readFileSync(join(base, out, "manifest.json"), "utf8")) }
    })

  it.effect("the same bytes as reading every column; a corrupt column it does not read loses no row", () =>
    Effect.gen(function* () {
      yield* Effect.promise(corruptModel)
      const all = yield* run("good", "all", false)
      expect(Either.isRight(all.result)).toBe(true)
      // The same rows narrowed after the fact, in the order and form the sink writes them.
      const expected = all.text
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => {
          const r = JSON.parse(l)
          return `${JSON.stringify({ conversation_id: r.conversation_id, conversation: r.conversation, language: r.language })}\n`
        })
        .join("")
      const narrowed = yield* run("good", "narrowed", true)
      expect(narrowed.text).toBe(expected)
      expect(narrowed.text.length).toBeGreaterThan(0)

      const corrupt = yield* run("bad", "corrupt-narrowed", true)
      expect(Either.isRight(corrupt.result)).toBe(true)
      expect(corrupt.text).toBe(expected)
      expect(corrupt.manifest.source.lost ?? []).toEqual([])

      // Without keep the pipeline needs `model`: the row group with the corrupt page is lost.
      const wide = yield* run("bad", "corrupt-all", false)
      expect(wide.manifest.source.lost).toEqual([expect.objectContaining({ file: "bad/train.parquet", row_group: 2, rows: 100 })])
    }).pipe(Effect.provide(NodeContext.layer))
  )
})

/** The stage contract: requires and provides under a config, field schemas, and per-chunk row transforms. */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Schema, Stream } from "effect"
import * as Stage from "../src/Stage.js"
import { runStage } from "../src/Testing.js"

/** A stage whose requires, provides and field schemas follow its options. */
const tagger = Stage.make({
  id: "test/tagger",
  description: "copies one field into another and tags rows with a short one",
  config: Schema.Struct({
    from: Schema.String,
    to: Schema.optionalWith(Schema.String, { default: () => "copy" }),
    min: Schema.optionalWith(Schema.Int, { default: () => 0 })
  }),
  requires: (c) => [c.from],
  provides: (c) => [c.to],
  fields: (c) => ({ [c.to]: Schema.String }),
  make: (config, ctx) =>
    Effect.succeed(
      Stage.mapChunks((row: { readonly [k: string]: unknown }) => {
        const value = row[config.from]
        if (typeof value !== "string") return void ctx.reject(row, `${config.from} is not text`)
        if (value.length < config.min) return void ctx.drop(row, "short")
        return { ...row, [config.to]: value }
      })
    )
})

const fixed = Stage.make({
  id: "test/fixed",
  description: "declares fixed fields",
  config: Stage.NoConfig,
  requires: ["conversation.0.content"],
  provides: ["answer"],
  make: () => Effect.succeed((rows) => rows)
})

describe("Stage", () => {
  it("requires, provides and field schemas are read under the decoded config, or as declared", () => {
    const config = Schema.decodeUnknownSync(tagger.config)({ from: "model" })
    expect(config).toEqual({ from: "model", to: "copy", min: 0 })
    expect(Stage.requiredFields(tagger, config)).toEqual(["model"])
    expect(Stage.providedFields(tagger, { ...config, to: "model_copy" })).toEqual(["model_copy"])
    expect(Object.keys(Stage.fieldSchemas(tagger, { ...config, to: "x" }))).toEqual(["x"])
    expect(Stage.requiredFields(fixed, {})).toEqual(["conversation.0.content"])
    expect(Stage.providedFields(fixed, {})).toEqual(["answer"])
    expect(Stage.fieldSchemas(fixed, {})).toEqual({})
  })

  it("mapChunks keeps the rows' order and leaves out those the stage dropped or rejected, with their reasons", () =>
    Effect.gen(function* () {
      const rows = [{ model: "vicuna-13b" }, { model: "gpt" }, { model: 7 }, { model: "claude-1" }]
      const r = yield* runStage(tagger, { from: "model", min: 4 }, rows)
      expect(r.rows).toEqual([
        { model: "vicuna-13b", copy: "vicuna-13b" },
        { model: "claude-1", copy: "claude-1" }
      ])
      expect(r.dropped).toEqual([{ row: { model: "gpt" }, reason: "short" }])
      expect(r.rejected).toEqual([{ row: { model: 7 }, error: "model is not text" }])
    }).pipe(Effect.runPromise))

  it("mapChunks works chunk by chunk: one output chunk per input chunk, never larger", () =>
    Effect.gen(function* () {
      const transform = Stage.mapChunks((row: { readonly n: number }) => (row.n % 3 === 0 ? undefined : { n: row.n * 10 }))
      const input = Stream.fromIterable(Array.from({ length: 10 }, (_, n) => ({ n }))).pipe(Stream.rechunk(4))
      const chunks = yield* Stream.runCollect(Stream.mapChunks(transform(input), (c) => Chunk.of(Chunk.toReadonlyArray(c))))
      expect(Chunk.toReadonlyArray(chunks).map((c) => c.map((r) => r.n))).toEqual([
        [10, 20],
        [40, 50, 70],
        [80]
      ])
    }).pipe(Effect.runPromise))
})

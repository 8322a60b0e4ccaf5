/** `core/sample`: a deterministic fraction of the rows, by seed and conversation_id. */
import { Effect, Schema } from "effect"
import { seededUnit } from "../internal/hash.js"
import { doc, make, mapChunks } from "../internal/stage.js"
import type { Row } from "../Row.js"
import type { Stage } from "../Stage.js"
import { rejectField } from "./shared.js"

const SampleConfigSchema = Schema.Struct({
  fraction: Schema.Number.pipe(
    Schema.between(0, 1),
    doc("Fraction of rows to keep; each row is kept or not by (seed, stage id, conversation_id).")
  )
})

/** Options of `core/sample`, decoded. */
export type SampleConfig = typeof SampleConfigSchema.Type
/** Options of `core/sample`, as written in a pipeline file. */
export type SampleOptions = typeof SampleConfigSchema.Encoded

/**
 * `core/sample`: keeps a row when `seededUnit(seed, stage id, conversation_id) < fraction`,
 * so the choice is the same in every run, resumed run and shard; drops the others (`sample`).
 */
export const sample: Stage<SampleConfig, Row, Row, never, SampleOptions> = make({
  id: "core/sample",
  description: "Keep a deterministic random fraction of rows, chosen by seed and conversation_id.",
  config: SampleConfigSchema,
  requires: ["conversation_id"],
  reads: [],
  provides: [],
  make: (config, ctx) =>
    Effect.succeed(
      mapChunks<Row, Row>((row) => {
        const id = row.conversation_id
        if (typeof id !== "string") return rejectField(ctx, row, "conversation_id", "a string")
        if (seededUnit(ctx.seed, ctx.stageId, id) < config.fraction) return row
        return void ctx.drop(row, "sample")
      })
    )
})

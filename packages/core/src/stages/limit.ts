/** `core/limit`: the first N rows of the stream; stateful and journaled. */
import { Chunk, Effect, Schema, Stream } from "effect"
import { StageError } from "../Errors.js"
import { doc, make } from "../internal/stage.js"
import type { Row } from "../Row.js"
import type { Stage } from "../Stage.js"
import { deciderOf, PositiveInt } from "./shared.js"

const LimitConfigSchema = Schema.Struct({
  rows: PositiveInt.pipe(doc("Number of rows to keep (the first ones, in stream order)."))
})

/** Options of `core/limit`, decoded. */
export type LimitConfig = typeof LimitConfigSchema.Type
/** Options of `core/limit`, as written in a pipeline file. */
export type LimitOptions = typeof LimitConfigSchema.Encoded

/**
 * `core/limit`: keeps the first `rows` rows and drops the rest (`limit`). Journal: the running
 * count of kept rows as a decimal number, appended after each chunk that kept any; the last
 * entry is the state.
 */
export const limit: Stage<LimitConfig, Row, Row, never, LimitOptions> = make({
  id: "core/limit",
  description: "Keep the first N rows, drop the rest.",
  config: LimitConfigSchema,
  requires: [],
  reads: [],
  provides: [],
  stateful: true,
  central: {
    open: (config, recovered, stageId) =>
      Effect.gen(function* () {
        let count = 0
        if (recovered.length > 0) {
          const last = recovered[recovered.length - 1]!
          if (!/^\d+$/.test(last)) {
            return yield* new StageError({
              stage: stageId,
              reason: `journal entry ${recovered.length} is not a row count: ${JSON.stringify(last.slice(0, 80))}`
            })
          }
          count = Number(last)
        }
        return {
          // The request is a chunk's row count; the answer how many of its first rows are kept.
          decide: (rows: number, journal) => {
            const kept = Math.max(0, Math.min(rows, config.rows - count))
            if (kept > 0) {
              count += kept
              journal(String(count))
            }
            return kept
          }
        }
      })
  },
  make: (_config, ctx) =>
    Effect.gen(function* () {
      const decide = yield* deciderOf(ctx)
      return (rows: Stream.Stream<Row, StageError>): Stream.Stream<Row, StageError> =>
        rows.pipe(
          Stream.mapChunksEffect((chunk) =>
            Effect.map(decide(chunk.length), (answer) => {
              const kept = answer as number
              const rows = Chunk.toReadonlyArray(chunk)
              for (let k = kept; k < rows.length; k++) ctx.drop(rows[k]!, "limit")
              return kept === rows.length ? chunk : Chunk.unsafeFromArray(rows.slice(0, kept))
            })
          )
        )
    })
})

/** `core/select`: keeps rows by language, model, number of turns and redacted flag. */
import { Effect, Schema } from "effect"
import { doc, make, mapChunks } from "../internal/stage.js"
import type { Row } from "../Row.js"
import type { Stage } from "../Stage.js"
import { NonEmptyStrings, PositiveInt, rejectField } from "./shared.js"

const SelectConfigSchema = Schema.Struct({
  languages: Schema.optionalWith(
    NonEmptyStrings.pipe(doc("Keep rows whose `language` is one of these (compared case-insensitively), e.g. [English, Japanese].")),
    { exact: true }
  ),
  models: Schema.optionalWith(
    NonEmptyStrings.pipe(doc("Keep rows whose `model` is one of these (compared case-insensitively), e.g. [vicuna-13b].")),
    { exact: true }
  ),
  min_turns: Schema.optionalWith(
    PositiveInt.pipe(doc("Keep rows whose `turn` (number of user turns) is at least this.")),
    { exact: true }
  ),
  max_turns: Schema.optionalWith(
    PositiveInt.pipe(doc("Keep rows whose `turn` (number of user turns) is at most this.")),
    { exact: true }
  ),
  redacted: Schema.optionalWith(
    Schema.Boolean.pipe(doc("Keep only rows whose `redacted` flag equals this.")),
    { exact: true }
  )
}).pipe(
  Schema.filter(
    (c) =>
      c.min_turns === undefined ||
      c.max_turns === undefined ||
      c.min_turns <= c.max_turns ||
      `min_turns (${c.min_turns}) must not exceed max_turns (${c.max_turns})`
  )
)

/** Options of `core/select`, decoded. */
export type SelectConfig = typeof SelectConfigSchema.Type
/** Options of `core/select`, as written in a pipeline file. */
export type SelectOptions = typeof SelectConfigSchema.Encoded

/**
 * `core/select`: keeps rows matching every given criterion (language, model, turn range,
 * redacted flag); drops the others with the reason of the first failing one, in that order:
 * `language`, `model`, `turns`, `redacted`.
 */
export const select: Stage<SelectConfig, Row, Row, never, SelectOptions> = make({
  id: "core/select",
  description: "Keep rows by language, model, number of turns and redacted flag.",
  config: SelectConfigSchema,
  requires: (config) => [
    ...(config.languages !== undefined ? ["language"] : []),
    ...(config.models !== undefined ? ["model"] : []),
    ...(config.min_turns !== undefined || config.max_turns !== undefined ? ["turn"] : []),
    ...(config.redacted !== undefined ? ["redacted"] : [])
  ],
  reads: [],
  provides: [],
  make: (config, ctx) => {
    const languages = config.languages && new Set(config.languages.map((l) => l.toLowerCase()))
    const models = config.models && new Set(config.models.map((m) => m.toLowerCase()))
    const minTurns = config.min_turns
    const maxTurns = config.max_turns
    const redacted = config.redacted
    return Effect.succeed(
      mapChunks<Row, Row>((row) => {
        if (languages !== undefined) {
          const v = row.language
          if (typeof v !== "string") return rejectField(ctx, row, "language", "a string")
          if (!languages.has(v.toLowerCase())) return void ctx.drop(row, "language")
        }
        if (models !== undefined) {
          const v = row.model
          if (typeof v !== "string") return rejectField(ctx, row, "model", "a string")
          if (!models.has(v.toLowerCase())) return void ctx.drop(row, "model")
        }
        if (minTurns !== undefined || maxTurns !== undefined) {
          const v = row.turn
          if (typeof v !== "number") return rejectField(ctx, row, "turn", "a number")
          if ((minTurns !== undefined && v < minTurns) || (maxTurns !== undefined && v > maxTurns)) {
            return void ctx.drop(row, "turns")
          }
        }
        if (redacted !== undefined) {
          const v = row.redacted
          if (typeof v !== "boolean") return rejectField(ctx, row, "redacted", "a boolean")
          if (v !== redacted) return void ctx.drop(row, "redacted")
        }
        return row
      })
    )
  }
})

/**
 * `synth/flag-empty`: writes `empty_user_instruction_ja` (configurable) — true when the
 * instruction (default `translated_conversation.0.content`) is missing, empty or only
 * whitespace. `synth/generate` sends no request for flagged rows.
 */
import type { Row } from "@synthline/core/Row"
import { doc, make, mapChunks, type Stage } from "@synthline/core/Stage"
import { Effect, Schema } from "effect"
import { stringAt, top } from "./internal/shared.js"

const FlagEmptyConfigSchema = Schema.Struct({
  field: Schema.optionalWith(Schema.String.pipe(doc("Dotted path of the instruction.")), {
    default: () => "translated_conversation.0.content"
  }),
  output: Schema.optionalWith(Schema.String.pipe(doc("Field that receives the flag.")), {
    default: () => "empty_user_instruction_ja"
  })
})

/** Options of `synth/flag-empty`. */
export type FlagEmptyConfig = typeof FlagEmptyConfigSchema.Type

/** `synth/flag-empty` */
export const flagEmpty: Stage<FlagEmptyConfig, Row, Row, never, typeof FlagEmptyConfigSchema.Encoded> = make({
  id: "synth/flag-empty",
  description: "Flags rows whose instruction is missing, empty or whitespace-only (empty_user_instruction_ja).",
  config: FlagEmptyConfigSchema,
  requires: (c) => [top(c.field)],
  provides: (c) => [c.output],
  fields: (c) => ({ [c.output]: Schema.Boolean }),
  make: (config) =>
    Effect.succeed(
      mapChunks<Row, Row>((row) => {
        const text = stringAt(row, config.field)
        return { ...row, [config.output]: text === undefined || text.trim() === "" }
      })
    )
})

/**
 * The `sft` sink: supervised fine-tuning files, one `{"messages":[{"role":"user",...},
 * {"role":"assistant",...}]}` object per line. It is core's `jsonl` sink (part files, gzip,
 * rotation every `shard_rows`, temporary names, commit checkpoints, byte-identical resume) with
 * each row turned into its messages before it is written. The user turn comes from `user`
 * (default `translated_conversation.0.content`), the answer from `assistant` (default
 * `best_response.content`, written by `synth/select-best`); with `multiturn`, rows holding a
 * `synthesized_multiturn_conversation` write that conversation instead. Sink options that
 * rewrite finished parts (`encrypt: source-key` from @synthline/release) apply as to `jsonl`.
 *
 * With `pick: best` the sink chooses the answer itself, as `synth/select-best` does (highest
 * `preference_score`, ties: the earlier; the same exclusions), and leaves out rows without an
 * eligible answer: that is how one pipeline writes the dataset and its SFT export side by side
 * (`outputs:`), the dataset keeping every row.
 */
import type { Row } from "@synthline/core/Row"
import * as Sink from "@synthline/core/Sink"
import { doc } from "@synthline/core/Stage"
import { Schema } from "effect"
import { bestOf, eligibleAnswers, exclusionFields } from "./internal/answers.js"
import { openRecords } from "./internal/export.js"
import { stringAt } from "./internal/shared.js"

const sftFields = {
  ...Sink.JsonlConfig.fields,
  compression: Schema.optionalWith(
    Schema.Literal("gzip", "none").pipe(doc("gzip writes .jsonl.gz parts; none (the default here) writes .jsonl.")),
    { default: () => "none" as const }),
  user: Schema.optionalWith(Schema.String.pipe(doc("Dotted path of the user turn.")), {
    default: () => "translated_conversation.0.content"
  }),
  assistant: Schema.optionalWith(Schema.String.pipe(doc("Dotted path of the assistant turn.")), {
    default: () => "best_response.content"
  }),
  system: Schema.optional(Schema.String.pipe(doc("A system message put first in every conversation."))),
  multiturn: Schema.optionalWith(
    Schema.Boolean.pipe(doc("Write synthesized_multiturn_conversation instead when a row has one.")),
    { default: () => false }
  ),
  pick: Schema.optional(
    Schema.Literal("best").pipe(
      doc("best: choose the answer here, as synth/select-best does (with its exclusions below), instead of reading `assistant`; rows without an eligible answer are left out.")
    )
  ),
  ...exclusionFields({ templates: false, pii: false })
}

/**
 * Options of the `sft` sink: core `jsonl` options (compression default `none`) plus `user`, `assistant`, `system`, `multiturn`, and `pick: best` with the
 * exclusions of `synth/select-best` (`responses`, `annotations`, `min_score`,
 * `exclude_repetition`, `exclude_templates`, `exclude_pii`).
 */
export const SftConfig: Schema.Struct<typeof sftFields> = Schema.Struct(sftFields)

/** Decoded options of the `sft` sink. */
export type SftConfig = typeof SftConfig.Type

const isMessages = Schema.is(Schema.Array(Schema.Struct({ role: Schema.String, content: Schema.String })))

/**
 * The `{ messages }` object of a row, `undefined` when `pick: best` leaves the row out, or a
 * string saying what is missing.
 */
export const toMessages = (
  row: Row,
  config: SftConfig
): { readonly messages: ReadonlyArray<{ role: string; content: string }> } | undefined | string => {
  const head = config.system !== undefined ? [{ role: "system", content: config.system }] : []
  let assistant: string | undefined
  if (config.pick === "best") {
    const eligible = eligibleAnswers(row, config)
    if (typeof eligible === "string") return eligible
    if (!Array.isArray(eligible)) return undefined
    const best = bestOf(eligible)
    if (best === undefined) return undefined
    assistant = best.content
  }
  const multi = row.synthesized_multiturn_conversation
  if (config.multiturn && isMessages(multi)) return { messages: [...head, ...multi] }
  const user = stringAt(row, config.user)
  if (user === undefined) return `field ${config.user} is not a string`
  assistant ??= stringAt(row, config.assistant)
  if (assistant === undefined) return `field ${config.assistant} is not a string`
  return { messages: [...head, { role: "user", content: user }, { role: "assistant", content: assistant }] }
}

/** The `sft` sink. */
export const sft: Sink.SinkDefinition<SftConfig> = Sink.make<SftConfig>({
  type: "sft",
  description: 'SFT JSON lines: {"messages":[user, assistant]} per row (from select-best, or pick: best), rotated and resumable like jsonl',
  config: SftConfig,
  encoders: true,
  open: (config, options) => openRecords("sft", config, options, (row) => toMessages(row, config)),
  records: (config) => (row) => toMessages(row, config)
})

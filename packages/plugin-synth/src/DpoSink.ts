/**
 * The `dpo` sink: preference pairs for DPO in TRL's conversational preference format, one
 * `{"prompt":[user], "chosen":[assistant], "rejected":[assistant], "score_chosen", "score_rejected"}`
 * object per line (plus `conversation_id` when the row has one). For each instruction with at
 * least two eligible scored answers, chosen is the best (highest `preference_score`, ties: the
 * earlier), rejected the worst (lowest, ties: the later), and the pair is written only when
 * their scores differ by at least `min_margin` (default 2). Eligible means what the SFT export
 * means: rows that are template instructions or hold personal data are left out, and so are
 * repetition-flagged and unscored answers (see `synth/select-best`). It writes part files like
 * core's `jsonl` sink (rotation, gzip, resume, sink options such as `encrypt: source-key`).
 */
import type { Row } from "@synthline/core/Row"
import * as Sink from "@synthline/core/Sink"
import { doc } from "@synthline/core/Stage"
import { Schema } from "effect"
import { bestOf, eligibleAnswers, exclusionFields, worstOf } from "./internal/answers.js"
import { openRecords } from "./internal/export.js"
import { stringAt } from "./internal/shared.js"

const dpoFields = {
  ...Sink.JsonlConfig.fields,
  compression: Schema.optionalWith(
    Schema.Literal("gzip", "none").pipe(doc("gzip writes .jsonl.gz parts; none (the default here) writes .jsonl.")),
    { default: () => "none" as const }
  ),
  prompt: Schema.optionalWith(Schema.String.pipe(doc("Dotted path of the instruction (the user turn).")), {
    default: () => "translated_conversation.0.content"
  }),
  system: Schema.optional(Schema.String.pipe(doc("A system message put before the user turn of every prompt."))),
  min_margin: Schema.optionalWith(
    Schema.Number.pipe(
      Schema.nonNegative(),
      doc("Smallest preference_score difference between chosen and rejected; pairs closer than this are left out.")
    ),
    { default: () => 2 }
  ),
  ...exclusionFields({ templates: true, pii: true })
}

/**
 * Options of the `dpo` sink: core `jsonl` options (compression default `none`), `prompt`,
 * `system`, `min_margin` (default 2) and the exclusions of the SFT export (`responses`,
 * `annotations`, `min_score`, `exclude_repetition`, and here by default `exclude_templates`
 * and `exclude_pii`).
 */
export const DpoConfig: Schema.Struct<typeof dpoFields> = Schema.Struct(dpoFields)

/** Decoded options of the `dpo` sink. */
export type DpoConfig = typeof DpoConfig.Type

/** A message of a TRL conversational dataset. */
export interface Message {
  readonly role: string
  readonly content: string
}

/** One preference pair, as the `dpo` sink writes it. */
export type Pair = {
  readonly prompt: ReadonlyArray<Message>
  readonly chosen: ReadonlyArray<Message>
  readonly rejected: ReadonlyArray<Message>
  readonly score_chosen: number
  readonly score_rejected: number
  readonly conversation_id?: string
}

/**
 * The preference pair of a row; `undefined` when the row has none (left out by an exclusion,
 * fewer than two eligible answers, or a margin below `min_margin`); a text when the row's
 * fields are not what the judge writes.
 */
export const toPair = (row: Row, config: DpoConfig): Pair | undefined | string => {
  const eligible = eligibleAnswers(row, config)
  if (typeof eligible === "string") return eligible
  if (!Array.isArray(eligible) || eligible.length < 2) return undefined
  const best = bestOf(eligible)
  const worst = worstOf(eligible)
  if (best === undefined || worst === undefined || best.index === worst.index) return undefined
  if (best.score - worst.score < config.min_margin) return undefined
  const user = stringAt(row, config.prompt)
  if (user === undefined) return `field ${config.prompt} is not a string`
  const head: Array<Message> = config.system !== undefined ? [{ role: "system", content: config.system }] : []
  return {
    prompt: [...head, { role: "user", content: user }],
    chosen: [{ role: "assistant", content: best.content }],
    rejected: [{ role: "assistant", content: worst.content }],
    score_chosen: best.score,
    score_rejected: worst.score,
    ...(typeof row.conversation_id === "string" ? { conversation_id: row.conversation_id } : {})
  }
}

/** The `dpo` sink. */
export const dpo: Sink.SinkDefinition<DpoConfig> = Sink.make<DpoConfig>({
  type: "dpo",
  description:
    "DPO preference pairs in TRL's conversational format ({prompt, chosen, rejected, score_chosen, score_rejected}): best vs worst answer, at least min_margin apart",
  config: DpoConfig,
  encoders: true,
  open: (config, options) => openRecords("dpo", config, options, (row) => toPair(row, config)),
  records: (config) => (row) => toPair(row, config)
})

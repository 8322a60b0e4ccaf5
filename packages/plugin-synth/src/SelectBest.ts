/**
 * `synth/select-best`: picks the best synthesized answer of each row by `preference_score`
 * (ties: the earlier answer), leaving out repetition-flagged answers and, optionally, answers
 * below `min_score`; with the options of the published SFT conversion, rows that are template
 * instructions (`is_template_instruction` set) or hold personal data (`has_pii` from `pii/scan`)
 * are dropped. The choice goes to `best_response` (`{ role: "assistant", content, index,
 * preference_score }`), which the `sft` sink writes. A row without an eligible answer is dropped
 * with reason `no_eligible_answer`.
 */
import type { Row } from "@synthline/core/Row"
import { make, mapChunks, type Stage } from "@synthline/core/Stage"
import { Effect, Schema } from "effect"
import { doc } from "./internal/shared.js"

const SelectBestConfigSchema = Schema.Struct({
  responses: Schema.optionalWith(Schema.String.annotations(doc("Field holding the answers.")), {
    default: () => "synthesized_assistant_responses"
  }),
  annotations: Schema.optionalWith(Schema.String.annotations(doc("Field holding the scoring annotations.")), {
    default: () => "synthesized_response_scoring_annotations"
  }),
  output: Schema.optionalWith(Schema.String.annotations(doc("Field the chosen answer is written to.")), {
    default: () => "best_response"
  }),
  min_score: Schema.optional(Schema.Number.annotations(doc("Answers scoring below this are not eligible."))),
  exclude_repetition: Schema.optionalWith(Schema.Boolean.annotations(doc("Leave out repetition-flagged answers.")), {
    default: () => true
  }),
  exclude_templates: Schema.optionalWith(
    Schema.Boolean.annotations(doc("Drop rows whose `is_template_instruction` is set (reason `template_instruction`).")),
    { default: () => false }
  ),
  exclude_pii: Schema.optionalWith(
    Schema.Boolean.annotations(doc("Drop rows whose `has_pii` is true (reason `has_pii`; needs pii/scan earlier).")),
    { default: () => false }
  )
})

/** Options of `synth/select-best`. */
export type SelectBestConfig = typeof SelectBestConfigSchema.Type

/** The chosen answer. */
export interface BestResponse {
  readonly role: "assistant"
  readonly content: string
  readonly index: number
  readonly preference_score: number
}

/** The index of the best eligible answer, or -1. */
export const pickBest = (
  answers: ReadonlyArray<{ readonly content: string }>,
  annotations: ReadonlyArray<{ readonly preference_score: number; readonly repetition_flag: boolean }>,
  options: { readonly minScore?: number | undefined; readonly excludeRepetition: boolean }
): number => {
  let best = -1
  for (let i = 0; i < answers.length; i++) {
    const a = annotations[i]
    if (a === undefined || a.preference_score < 0) continue
    if (options.excludeRepetition && a.repetition_flag) continue
    if (options.minScore !== undefined && a.preference_score < options.minScore) continue
    if (best === -1 || a.preference_score > annotations[best]!.preference_score) best = i
  }
  return best
}

const Answers = Schema.Array(Schema.Struct({ content: Schema.String }))
const Annotations = Schema.Array(Schema.Struct({ preference_score: Schema.Number, repetition_flag: Schema.Boolean }))
const isAnswers = Schema.is(Answers)
const isAnnotations = Schema.is(Annotations)

/** `synth/select-best` */
export const selectBest: Stage<SelectBestConfig, Row, Row, never, typeof SelectBestConfigSchema.Encoded> = make({
  id: "synth/select-best",
  description: "Keeps the highest-scoring synthesized answer (ties: the earlier); drops template or PII rows when asked.",
  config: SelectBestConfigSchema,
  requires: (c) => [
    c.responses,
    c.annotations,
    ...(c.exclude_templates ? ["is_template_instruction"] : []),
    ...(c.exclude_pii ? ["has_pii"] : [])
  ],
  provides: (c) => [c.output],
  make: (config, ctx) =>
    Effect.succeed(
      mapChunks<Row, Row>((row) => {
        if (config.exclude_templates) {
          const t = row.is_template_instruction
          if (t !== null && t !== undefined && t !== false) return void ctx.drop(row, "template_instruction")
        }
        if (config.exclude_pii && row.has_pii === true) return void ctx.drop(row, "has_pii")
        const answers = row[config.responses]
        const annotations = row[config.annotations]
        if (!isAnswers(answers)) return void ctx.reject(row, `${ctx.stageId}: field ${config.responses} is not a list of messages`)
        if (!isAnnotations(annotations) || annotations.length !== answers.length) {
          return void ctx.reject(row, `${ctx.stageId}: field ${config.annotations} is not one annotation per answer`)
        }
        const i = pickBest(answers, annotations, { minScore: config.min_score, excludeRepetition: config.exclude_repetition })
        if (i < 0) return void ctx.drop(row, "no_eligible_answer")
        const best: BestResponse = {
          role: "assistant",
          content: answers[i]!.content,
          index: i,
          preference_score: annotations[i]!.preference_score
        }
        return { ...row, [config.output]: best }
      })
    )
})

/**
 * `synth/select-best`: picks the best synthesized answer of each row by `preference_score`
 * (ties: the earlier answer) among the answers every export of scored answers takes (see
 * `internal/answers.ts`, shared with the `sft` sink's `pick: best` and the `dpo` sink): not
 * unscored, not repetition-flagged, not flagged by `synth/check-answers`, optionally not below
 * `min_score`; with the options of the published SFT conversion, rows that are template
 * instructions (`is_template_instruction` set) or hold personal data (`has_pii` from `pii/scan`)
 * are dropped. The choice goes to `best_response` (`{ role: "assistant", content, index,
 * preference_score }`), which the `sft` sink writes. A row without an eligible answer is dropped
 * with reason `no_eligible_answer`.
 */
import type { Row } from "@synthline/core/Row"
import { doc, make, mapChunks, type Stage } from "@synthline/core/Stage"
import { Effect, Schema } from "effect"
import { bestOf, eligibleAnswers, exclusionFields } from "./internal/answers.js"

const SelectBestConfigSchema = Schema.Struct({
  ...exclusionFields({ templates: false, pii: false }),
  output: Schema.optionalWith(Schema.String.pipe(doc("Field the chosen answer is written to.")), {
    default: () => "best_response"
  })
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

/** The index of the best eligible answer (unflagged answers; no check results), or -1. */
export const pickBest = (
  answers: ReadonlyArray<{ readonly content: string }>,
  annotations: ReadonlyArray<{ readonly preference_score: number; readonly repetition_flag: boolean }>,
  options: { readonly minScore?: number | undefined; readonly excludeRepetition: boolean }
): number => {
  const eligible = eligibleAnswers(
    { answers, annotations },
    {
      responses: "answers",
      annotations: "annotations",
      min_score: options.minScore,
      exclude_repetition: options.excludeRepetition,
      exclude_templates: false,
      exclude_pii: false,
      checks: "checks",
      exclude_flagged: false
    }
  )
  return Array.isArray(eligible) ? (bestOf(eligible)?.index ?? -1) : -1
}

/** `synth/select-best` */
export const selectBest: Stage<SelectBestConfig, Row, Row, never, typeof SelectBestConfigSchema.Encoded> = make({
  id: "synth/select-best",
  description: "Keeps the highest-scoring synthesized answer (ties: the earlier) that no check flagged; drops template or PII rows when asked.",
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
        const eligible = eligibleAnswers(row, config)
        if (typeof eligible === "string") return void ctx.reject(row, `${ctx.stageId}: ${eligible}`)
        if ("excluded" in eligible) return void ctx.drop(row, eligible.excluded)
        const best = bestOf(eligible)
        if (best === undefined) return void ctx.drop(row, "no_eligible_answer")
        const chosen: BestResponse = { role: "assistant", content: best.content, index: best.index, preference_score: best.score }
        return { ...row, [config.output]: chosen }
      })
    )
})

/**
 * The exclusions every export of scored answers honours (`synth/select-best`, the `sft` sink's
 * `pick: best`, the `dpo` sink): rows that are template instructions or hold personal data are
 * left out, and so are answers flagged for repetition, answers `synth/check-answers` flagged
 * (wrong language, repetition, cut off, empty), answers the judge could not score
 * (`preference_score` -1) and, optionally, answers below a minimum score.
 */
import type { Row } from "@synthline/core/Row"
import { doc } from "@synthline/core/Stage"
import { Schema } from "effect"

/** The options of the exclusions, with the defaults of the published exports. */
export const exclusionFields = (defaults: { readonly templates: boolean; readonly pii: boolean }) => ({
  responses: Schema.optionalWith(Schema.String.pipe(doc("Field holding the answers.")), {
    default: () => "synthesized_assistant_responses"
  }),
  annotations: Schema.optionalWith(Schema.String.pipe(doc("Field holding the scoring annotations.")), {
    default: () => "synthesized_response_scoring_annotations"
  }),
  min_score: Schema.optional(Schema.Number.pipe(doc("Answers scoring below this are not eligible."))),
  exclude_repetition: Schema.optionalWith(Schema.Boolean.pipe(doc("Leave out repetition-flagged answers.")), {
    default: () => true
  }),
  exclude_templates: Schema.optionalWith(
    Schema.Boolean.pipe(doc("Leave out rows whose `is_template_instruction` is set.")),
    { default: () => defaults.templates }
  ),
  exclude_pii: Schema.optionalWith(Schema.Boolean.pipe(doc("Leave out rows whose `has_pii` is true (from pii/scan).")), {
    default: () => defaults.pii
  }),
  checks: Schema.optionalWith(
    Schema.String.pipe(
      doc("Field of synth/check-answers' per-answer checks; answers with a flag there are not eligible (no effect when the row has no such field).")
    ),
    { default: () => "synthesized_response_checks" }
  ),
  exclude_flagged: Schema.optionalWith(Schema.Boolean.pipe(doc("Leave out answers synth/check-answers flagged.")), {
    default: () => true
  })
})

/** Decoded exclusion options. */
export interface Exclusions {
  readonly responses: string
  readonly annotations: string
  readonly min_score?: number | undefined
  readonly exclude_repetition: boolean
  readonly exclude_templates: boolean
  readonly exclude_pii: boolean
  readonly checks: string
  readonly exclude_flagged: boolean
}

/** One answer that may be exported, with its score. */
export interface Eligible {
  readonly index: number
  readonly content: string
  readonly score: number
}

const isAnswers = Schema.is(Schema.Array(Schema.Struct({ content: Schema.String })))
const isChecks = Schema.is(Schema.Array(Schema.Struct({ flags: Schema.Array(Schema.String) })))
const isAnnotations = Schema.is(Schema.Array(Schema.Struct({ preference_score: Schema.Number, repetition_flag: Schema.Boolean })))

/**
 * The row's eligible answers in answer order; `{ excluded }` when the whole row is left out
 * (template, personal data); a text when the fields are not what the judge writes.
 */
export const eligibleAnswers = (row: Row, o: Exclusions): ReadonlyArray<Eligible> | { readonly excluded: string } | string => {
  if (o.exclude_templates) {
    const t = row.is_template_instruction
    if (t !== null && t !== undefined && t !== false) return { excluded: "template_instruction" }
  }
  if (o.exclude_pii && row.has_pii === true) return { excluded: "has_pii" }
  const answers = row[o.responses]
  const annotations = row[o.annotations]
  if (!isAnswers(answers)) return `field ${o.responses} is not a list of messages`
  if (!isAnnotations(annotations) || annotations.length !== answers.length) return `field ${o.annotations} is not one annotation per answer`
  const checks = o.exclude_flagged ? row[o.checks] : undefined
  if (checks !== undefined && checks !== null && (!isChecks(checks) || checks.length !== answers.length)) {
    return `field ${o.checks} is not one check per answer`
  }
  const out: Array<Eligible> = []
  for (const [i, a] of annotations.entries()) {
    if (a.preference_score < 0) continue
    if (checks !== undefined && checks !== null && checks[i]!.flags.length > 0) continue
    if (o.exclude_repetition && a.repetition_flag) continue
    if (o.min_score !== undefined && a.preference_score < o.min_score) continue
    out.push({ index: i, content: answers[i]!.content, score: a.preference_score })
  }
  return out
}

/** The highest-scoring answer (ties: the earlier), or undefined when there is none. */
export const bestOf = (answers: ReadonlyArray<Eligible>): Eligible | undefined =>
  answers.reduce<Eligible | undefined>((best, a) => (best === undefined || a.score > best.score ? a : best), undefined)

/** The lowest-scoring answer (ties: the later), or undefined when there is none. */
export const worstOf = (answers: ReadonlyArray<Eligible>): Eligible | undefined =>
  answers.reduce<Eligible | undefined>((worst, a) => (worst === undefined || a.score <= worst.score ? a : worst), undefined)

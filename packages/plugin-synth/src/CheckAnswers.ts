/**
 * `synth/check-answers`: checks every answer in `synthesized_assistant_responses` and writes
 * `synthesized_response_checks`, one per answer: `{ flags, language, other_script_share,
 * repeated_ngram_ratio }`. The checks:
 * - `language`: the answer's language (identified by the `eld` library, code blocks and inline
 *   code left out) is not the instruction's target language (`language: auto` identifies the
 *   instruction's, or name one: `ja`), or more than `max_other_script` of its letters are in
 *   another script than the target language's;
 * - `repetition`: the share of character n-grams (`ngram` characters, whitespace collapsed) that
 *   occur more than once is over `max_repetition` (runaway loops score near 1); this is in
 *   addition to `synth/judge`'s token-length `repetition_flag`;
 * - `truncated`: the generating call ended with `finish_reason: length` (kept only with
 *   `synth/generate`'s `on_length: keep`, which then writes `synthesized_response_finish_reasons`);
 * - `empty`: the answer is empty or whitespace.
 * With `drop`, answers flagged with any of the kinds named are removed before judging (with their
 * token lengths and finish reasons), so the judge is not asked about them.
 */
import type { Row } from "@synthline/core/Row"
import { doc, make, mapChunks, type Stage } from "@synthline/core/Stage"
import { Effect, Schema } from "effect"
import { type AnswerCheck, AnswerChecks, CheckKind, finishReasonsField, tokenLengthsField } from "./Fields.js"
import { stringAt, top } from "./internal/shared.js"

const Kind = CheckKind

const CheckAnswersConfigSchema = Schema.Struct({
  instruction: Schema.optionalWith(Schema.String.pipe(doc("Dotted path of the instruction text.")), {
    default: () => "translated_conversation.0.content"
  }),
  responses: Schema.optionalWith(Schema.String.pipe(doc("Field holding the answers.")), {
    default: () => "synthesized_assistant_responses"
  }),
  output: Schema.optionalWith(Schema.String.pipe(doc("Field the checks are written to, one per answer.")), {
    default: () => "synthesized_response_checks"
  }),
  checks: Schema.optionalWith(Schema.Array(Kind).pipe(doc("Which checks run.")), {
    default: () => ["language", "repetition", "truncated", "empty"] as const
  }),
  language: Schema.optionalWith(
    Schema.String.pipe(
      Schema.pattern(/^(auto|[a-z]{2})$/),
      doc("Target language of the answers as an ISO 639-1 code (ja, en), or auto: the language identified in the instruction.")
    ),
    { default: () => "auto" }
  ),
  max_other_script: Schema.optionalWith(
    Schema.Number.pipe(
      Schema.between(0, 1),
      doc("The language flag is also set when more than this share of the answer's letters are in another script.")
    ),
    { default: () => 0.5 }
  ),
  ngram: Schema.optionalWith(Schema.Int.pipe(Schema.between(2, 200), doc("Length in characters of the n-grams of the repetition check.")), {
    default: () => 10
  }),
  max_repetition: Schema.optionalWith(
    Schema.Number.pipe(Schema.between(0, 1), doc("The repetition flag is set when the share of repeated n-grams is over this.")),
    { default: () => 0.3 }
  ),
  drop: Schema.optionalWith(Schema.Array(Kind).pipe(doc("Answers flagged with any of these kinds are removed before judging.")), {
    default: () => []
  })
})

/** Options of `synth/check-answers`. */
export type CheckAnswersConfig = typeof CheckAnswersConfigSchema.Type

/** A language identifier: an ISO 639-1 code, or "" when the text says too little. */
export type Identify = (text: string) => string

// Fenced code blocks and inline code: programs are not prose in any language.
const CODE = /```[\s\S]*?(?:```|$)|`[^`\n]*`/g

/** The prose of an answer: code blocks and inline code removed. */
export const prose = (text: string): string => text.replace(CODE, " ")

const LETTER = /\p{L}/u
const scripts: { readonly [lang: string]: RegExp } = {
  ja: /[\p{scx=Hira}\p{scx=Kana}\p{scx=Hani}]/u,
  zh: /\p{scx=Hani}/u,
  ko: /[\p{scx=Hang}\p{scx=Hani}]/u,
  ru: /\p{scx=Cyrl}/u,
  uk: /\p{scx=Cyrl}/u,
  bg: /\p{scx=Cyrl}/u,
  el: /\p{scx=Grek}/u,
  ar: /\p{scx=Arab}/u,
  fa: /\p{scx=Arab}/u,
  he: /\p{scx=Hebr}/u,
  hi: /\p{scx=Deva}/u,
  th: /\p{scx=Thai}/u
}
const LATIN = /\p{scx=Latn}/u

/** The share of the letters in `text` that are not in the script of `lang` (Latin for languages not listed); 0 without letters. */
export const otherScriptShare = (text: string, lang: string): number => {
  const own = scripts[lang] ?? LATIN
  let letters = 0
  let other = 0
  for (const ch of text) {
    if (!LETTER.test(ch)) continue
    letters++
    if (!own.test(ch)) other++
  }
  return letters === 0 ? 0 : other / letters
}

/** The share of the character n-grams of `text` (whitespace collapsed) that occur more than once; 0 when it has fewer than two. */
export const repeatedNgramRatio = (text: string, n: number): number => {
  const chars = Array.from(text.replace(/\s+/g, " ").trim())
  const total = chars.length - n + 1
  if (total < 2) return 0
  const counts = new Map<string, number>()
  for (let i = 0; i < total; i++) {
    const g = chars.slice(i, i + n).join("")
    counts.set(g, (counts.get(g) ?? 0) + 1)
  }
  let repeated = 0
  for (const c of counts.values()) if (c > 1) repeated += c
  return repeated / total
}

const round4 = (x: number): number => Math.round(x * 10000) / 10000

/** Checks one answer against the target language `target` ("" when unknown: no language check). */
export const checkAnswer = (
  answer: string,
  finishReason: unknown,
  target: string,
  config: Pick<CheckAnswersConfig, "checks" | "max_other_script" | "ngram" | "max_repetition">,
  identify: Identify
): AnswerCheck => {
  const on = new Set<CheckKind>(config.checks)
  const flags: Array<CheckKind> = []
  const text = prose(answer)
  const language = on.has("language") ? identify(text) : ""
  const share = on.has("language") && target !== "" ? otherScriptShare(text, target) : 0
  const ratio = on.has("repetition") ? repeatedNgramRatio(answer, config.ngram) : 0
  const blank = answer.trim() === ""
  if (on.has("empty") && blank) flags.push("empty")
  if (on.has("language") && target !== "" && !blank && ((language !== "" && language !== target) || share > config.max_other_script)) flags.push("language")
  if (on.has("repetition") && ratio > config.max_repetition) flags.push("repetition")
  if (on.has("truncated") && finishReason === "length") flags.push("truncated")
  return { flags, language, other_script_share: round4(share), repeated_ngram_ratio: round4(ratio) }
}

const AnswerList = Schema.Array(Schema.Struct({ content: Schema.String }))
const isAnswerList = Schema.is(AnswerList)

/** The `eld` identifier (its large n-gram database, loaded when the stage is made). */
export const eldIdentify: Effect.Effect<Identify> = Effect.promise(() => import("eld/large")).pipe(
  Effect.map(({ eld }): Identify => (text) => eld.detect(text).language)
)

/** `synth/check-answers` */
export const checkAnswers: Stage<CheckAnswersConfig, Row, Row, never, typeof CheckAnswersConfigSchema.Encoded> = make({
  id: "synth/check-answers",
  description: "Flags answers in the wrong language, with runaway repetition, cut off at max_tokens or empty (synthesized_response_checks); can drop them before judging.",
  config: CheckAnswersConfigSchema,
  requires: (c) => [top(c.instruction), c.responses],
  provides: (c) => (c.drop.length > 0 ? [c.output, c.responses] : [c.output]),
  fields: (c) => ({ [c.output]: AnswerChecks }),
  make: (config) =>
    Effect.gen(function* () {
      const identify = yield* eldIdentify
      const drop = new Set<CheckKind>(config.drop)
      return mapChunks<Row, Row>((row) => {
        const answers = row[config.responses]
        if (!isAnswerList(answers)) return { ...row, [config.output]: [] }
        const instruction = stringAt(row, config.instruction) ?? ""
        const target = config.language === "auto" ? identify(prose(instruction)) : config.language
        const reasons: unknown = row[finishReasonsField]
        const checks = answers.map((a, i) => checkAnswer(a.content, Array.isArray(reasons) ? reasons[i] : undefined, target, config, identify))
        if (drop.size === 0) return { ...row, [config.output]: checks }
        const keep = checks.map((c) => !c.flags.some((f) => drop.has(f)))
        const aligned = (v: unknown): unknown => (Array.isArray(v) && v.length === answers.length ? v.filter((_, i) => keep[i]) : v)
        const out: { [key: string]: unknown } = { ...row, [config.responses]: answers.filter((_, i) => keep[i]), [config.output]: checks.filter((_, i) => keep[i]) }
        if (tokenLengthsField in row) out[tokenLengthsField] = aligned(row[tokenLengthsField])
        if (finishReasonsField in row) out[finishReasonsField] = aligned(row[finishReasonsField])
        return out
      })
    })
})

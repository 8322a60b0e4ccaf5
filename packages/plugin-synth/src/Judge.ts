/**
 * `synth/judge`: scores every answer in `synthesized_assistant_responses` with a judge model
 * (temperature 0) and writes `synthesized_response_scoring_annotations`, one per answer:
 * `{ response_token_length, judgement, repetition_flag, preference_score }`. The shipped prompt
 * asks for reasoning first, then a 0–10 score as `[[x]]`; with `structured: true` it asks for a
 * JSON object `{ reasoning, score }` through a JSON schema (`response_format` `json_schema`), which
 * a constrained-decoding provider (llama-cpp grammars, vLLM guided decoding) always keeps to, so
 * the score always parses. See {@link parseScore} for how the score is read. `response_token_length` is the answer's completion tokens as reported by the
 * generating call (the side field `synthesized_response_token_lengths` written by
 * `synth/generate`, removed here); without it, a rough count (characters / 4) is used.
 *
 * With `models: [a, b, ...]` (two or more judges) every judge scores every answer; the annotation
 * keeps the published fields (`judgement`: the first judge's, `preference_score`: the mean) and adds
 * `judge_scores` (`[{ model, score, judgement }]`), `preference_score_spread` and
 * `judge_disagreement` (spread over `max_spread`). The dataset's profile then counts score pairs per
 * judge pair, so the manifest and the card report agreement (Spearman correlation, share within ±1).
 */
import type { Row } from "@synthline/core/Row"
import { doc, make, type Stage } from "@synthline/core/Stage"
import type { ChatRequest, Message } from "@synthline/llm/Chat"
import { reasonOf } from "@synthline/llm/Complete"
import type { Models } from "@synthline/llm/Models"
import * as ModelStage from "@synthline/llm/ModelStage"
import * as Seed from "@synthline/llm/Seed"
import * as Template from "@synthline/llm/Template"
import { Effect, Either, Schema } from "effect"
import { finishReasonsField, type MultiJudgeAnnotation, MultiJudgeAnnotations, type ScoringAnnotation, ScoringAnnotations, tokenLengthsField } from "./Fields.js"
import { extraOption, keyOf, Rejected, seedOption, stringAt, top } from "./internal/shared.js"

/** The shipped judge system prompt. */
export const defaultJudgeSystem: string =
  "You are an impartial judge. You evaluate how well an AI assistant's answer serves the user's instruction: helpfulness, correctness, depth, clarity, and whether it is written in the language of the instruction. Penalize repetition, hallucination and answers that ignore the instruction."

/** The shipped judge prompt (`{{instruction}}` and `{{response}}` are filled in). */
export const defaultJudgePrompt: string = `[Instruction]
{{instruction}}

[The start of the assistant's answer]
{{response}}
[The end of the assistant's answer]

First explain your evaluation in a few sentences. Then rate the answer on a scale of 0 to 10 and write the rating strictly in this format: "[[rating]]", for example "Rating: [[7]]".`

/** The shipped judge prompt with `structured: true`: the same task, answered as a JSON object. */
export const defaultStructuredJudgePrompt: string = `[Instruction]
{{instruction}}

[The start of the assistant's answer]
{{response}}
[The end of the assistant's answer]

First explain your evaluation in a few sentences. Then rate the answer on a scale of 0 to 10. Answer with a JSON object only: {"reasoning": "<your evaluation>", "score": <an integer from 0 to 10>}.`

/**
 * The JSON schema of a structured judgement: the reasoning first (so the model explains before it
 * scores), then an integer score 0..10; `maxReasoningChars` caps the reasoning's length.
 */
export const judgementSchema = (maxReasoningChars?: number): { readonly [key: string]: unknown } => ({
  type: "object",
  properties: {
    reasoning: maxReasoningChars === undefined ? { type: "string" } : { type: "string", maxLength: maxReasoningChars },
    score: { type: "integer", minimum: 0, maximum: 10 }
  },
  required: ["reasoning", "score"],
  additionalProperties: false
})

const NUMBER = "(-?\\d+(?:\\.\\d+)?)"
const BRACKETS = new RegExp(`\\[\\[\\s*${NUMBER}\\s*\\]\\]`, "g")
// `x/10`, the number possibly in markdown bold (`**8**/10`); the `10` must end there: not followed by
// a digit (`8/100`) nor by a decimal point and a digit (`8/10.5`). A full stop, a closing
// parenthesis or bold, a Japanese full stop and the end of the text all end it.
const OUT_OF_TEN = new RegExp(`${NUMBER}\\s*(?:\\*\\*|__)?\\s*/\\s*10(?!\\d|\\.\\d)`, "g")
const JSON_SCORE = new RegExp(`"score"\\s*:\\s*"?${NUMBER}`, "g")

const lastMatch = (text: string, re: RegExp): number | undefined => {
  let last: string | undefined
  for (const m of text.matchAll(re)) last = m[1]
  return last === undefined ? undefined : Number(last)
}

/** Brings a raw score into 0..10: above 10 and up to 100 is divided by 10; above 100 or negative gives -1. */
export const normalizeScore = (raw: number): number =>
  !Number.isFinite(raw) || raw < 0 || raw > 100 ? -1 : raw > 10 ? raw / 10 : raw

/** The `score` of a judgement that is a whole JSON object (a number, or a number in a string), else undefined. */
const jsonScore = (judgement: string): number | undefined => {
  const text = judgement.trim()
  if (!text.startsWith("{")) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof parsed !== "object" || parsed === null || !("score" in parsed)) return undefined
  const score: unknown = parsed.score
  if (typeof score === "number") return score
  return typeof score === "string" && /^\s*-?\d+(?:\.\d+)?\s*$/.test(score) ? Number(score) : undefined
}

/**
 * The score in a judgement: when the whole judgement is a JSON object with a `"score"` (a
 * structured judgement), that score, whatever its reasoning text says; else the last `[[x]]`;
 * else the last `x/10` (ended by anything but a digit or a decimal point followed by a digit, so
 * `8/10.`, `(8/10)`, `8/10。` and markdown bold around the score or its number are read, `8/100` and
 * `8/10.5` are not);
 * else a JSON `"score"` inside the text; then {@link normalizeScore}. The text rules read
 * full-width digits, slash, brackets and decimal point (`８／１０`) as their ASCII forms (NFKC).
 * Nothing found gives -1.
 */
export const parseScore = (judgement: string): number => {
  // The text rules read full-width forms too (８／１０, ［［８］］, ７．５): NFKC folds them to ASCII.
  const text = judgement.normalize("NFKC")
  const raw = jsonScore(judgement) ?? lastMatch(text, BRACKETS) ?? lastMatch(text, OUT_OF_TEN) ?? lastMatch(text, JSON_SCORE)
  return raw === undefined ? -1 : normalizeScore(raw)
}

const JudgeConfigSchema = Schema.Struct({
  model: Schema.optional(Schema.String.pipe(doc("A model name from the models section (the judge)."))),
  models: Schema.optional(
    Schema.Array(Schema.String).pipe(
      Schema.minItems(2),
      doc("Two or more judges (model names from the models section) instead of model: each scores every answer; the annotation's preference_score is their mean, with judge_scores, preference_score_spread and judge_disagreement beside it.")
    )
  ),
  max_spread: Schema.optionalWith(
    Schema.Number.pipe(
      Schema.nonNegative(),
      doc("With models: judge_disagreement is true when the valid scores of one answer lie further apart than this.")
    ),
    { default: () => 3 }
  ),
  instruction: Schema.optionalWith(Schema.String.pipe(doc("Dotted path of the instruction text.")), {
    default: () => "translated_conversation.0.content"
  }),
  responses: Schema.optionalWith(Schema.String.pipe(doc("Field holding the answers.")), {
    default: () => "synthesized_assistant_responses"
  }),
  output: Schema.optionalWith(Schema.String.pipe(doc("Field the annotations are written to.")), {
    default: () => "synthesized_response_scoring_annotations"
  }),
  system: Schema.optionalWith(Schema.String.pipe(doc("Judge system prompt.")), { default: () => defaultJudgeSystem }),
  prompt: Schema.optional(
    Schema.String.pipe(
      doc("Judge prompt template with {{instruction}} and {{response}}. Default: the shipped prompt asking for [[x]], or with structured: true for a JSON object.")
    )
  ),
  structured: Schema.optionalWith(
    Schema.Boolean.pipe(
      doc('Ask for a JSON object {"reasoning": string, "score": integer 0..10} through a JSON schema (response_format json_schema, strict), so a provider with constrained decoding (llama-cpp grammars, vLLM guided decoding) always returns a parseable score; the judgement stored is that JSON text and its score is read first.')
    ),
    { default: () => false }
  ),
  max_reasoning_chars: Schema.optional(
    Schema.Int.pipe(
      Schema.positive(),
      doc("With structured: true, the longest reasoning the schema allows (maxLength), so a small model cannot run on inside the string until max_tokens; enforced by llama-cpp grammars, check that an HTTP server's structured output supports maxLength.")
    )
  ),
  repetition_tokens: Schema.optionalWith(
    Schema.Int.pipe(Schema.nonNegative(), doc("repetition_flag is true when the answer's completion tokens exceed this.")),
    { default: () => 2000 }
  ),
  temperature: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 2), doc("Judge sampling temperature.")), { default: () => 0 }),
  max_tokens: Schema.optionalWith(Schema.Int.pipe(Schema.positive(), doc("Most tokens in one judgement; a judgement cut off here scores -1.")), { default: () => 1024 }),
  seed: seedOption,
  extra: extraOption("Extra request body fields for the judge (merged over the model's extra_body).")
}).pipe(
  Schema.filter((c) => c.structured || c.max_reasoning_chars === undefined || "max_reasoning_chars needs structured: true"),
  Schema.filter((c) => (c.model === undefined) !== (c.models === undefined) || "name the judge with model, or two or more judges with models (not both)"),
  Schema.filter((c) => c.models === undefined || new Set(c.models).size === c.models.length || "models names a judge twice")
)

/** Options of `synth/judge`. */
export type JudgeConfig = typeof JudgeConfigSchema.Type

const AnswerList = Schema.Array(Schema.Union(Schema.String, Schema.Struct({ content: Schema.String })))
const isAnswerList = Schema.is(AnswerList)

const answerTexts = (u: unknown): ReadonlyArray<string> | undefined =>
  isAnswerList(u) ? u.map((m) => (typeof m === "string" ? m : m.content)) : undefined

/**
 * Joins the judges' annotations of one answer: `judgement` is the first judge's, `preference_score`
 * the mean of the valid (≥ 0) scores rounded to 3 decimals (-1 when none is valid),
 * `preference_score_spread` the largest minus the smallest valid score (0 with fewer than two), and
 * `judge_disagreement` whether the spread is over `maxSpread`.
 */
export const combine = (
  verdicts: ReadonlyArray<ScoringAnnotation & { readonly model: string }>,
  maxSpread: number
): MultiJudgeAnnotation => {
  const valid = verdicts.map((v) => v.preference_score).filter((x) => x >= 0)
  const mean = valid.length === 0 ? -1 : Math.round((valid.reduce((a, b) => a + b, 0) / valid.length) * 1000) / 1000
  const spread = valid.length < 2 ? 0 : Math.max(...valid) - Math.min(...valid)
  const first = verdicts[0]!
  return {
    response_token_length: first.response_token_length,
    judgement: first.judgement,
    repetition_flag: first.repetition_flag,
    preference_score: mean,
    judge_scores: verdicts.map((v) => ({ model: v.model, score: v.preference_score, judgement: v.judgement })),
    preference_score_spread: spread,
    judge_disagreement: spread > maxSpread
  }
}

const allAnswers = (ps: ReadonlyArray<ModelStage.Answers | Effect.Effect<ModelStage.Answers>>): ReadonlyArray<ModelStage.Answers> | Effect.Effect<ReadonlyArray<ModelStage.Answers>> =>
  ps.some(Effect.isEffect)
    ? Effect.all(
        ps.map((p) => (Effect.isEffect(p) ? p : Effect.succeed(p))),
        { concurrency: "unbounded" }
      )
    : ps.filter((p): p is ModelStage.Answers => !Effect.isEffect(p))

/** `synth/judge` */
export const judge: Stage<JudgeConfig, Row, Row, Models, typeof JudgeConfigSchema.Encoded> = make({
  id: "synth/judge",
  description: "Scores every synthesized answer 0–10 with a judge model into synthesized_response_scoring_annotations.",
  config: JudgeConfigSchema,
  requires: (c) => [top(c.instruction), c.responses],
  provides: (c) => [c.output],
  fields: (c) => ({ [c.output]: c.models === undefined ? ScoringAnnotations : MultiJudgeAnnotations }),
  removes: () => [tokenLengthsField, finishReasonsField],
  make: (config, ctx) =>
    ModelStage.make(ctx, config.models ?? [config.model ?? ""], (judges) => {
      const names = config.models ?? [config.model ?? ""]
      const prompt = Template.parse(config.prompt ?? (config.structured ? defaultStructuredJudgePrompt : defaultJudgePrompt))
      const format = config.structured
        ? { type: "json_schema", json_schema: { name: "judgement", schema: judgementSchema(config.max_reasoning_chars), strict: true } }
        : undefined
      const system = Template.parse(config.system)

      const request = (instruction: string, response: string, key: string, i: number): ModelStage.Ask => {
        const fill = { instruction, response }
        const s = system.render(fill)
        const u = prompt.render(fill)
        const messages: Array<Message> = []
        if ("text" in s && s.text !== "") messages.push({ role: "system", content: s.text })
        messages.push({ role: "user", content: "text" in u ? u.text : `${instruction}\n\n${response}` })
        const base: ChatRequest = {
          messages,
          temperature: config.temperature,
          max_tokens: config.max_tokens,
          response_format: format,
          extra: config.extra
        }
        return { request: config.seed ? { ...base, seed: Seed.forRequest(ctx.seed, ctx.stageId, key, i) } : base, options: { sampleIndex: i } }
      }

      const one = (row: Row): ModelStage.Pending => {
        const answers = answerTexts(row[config.responses])
        if (answers === undefined) return new Rejected(row, `field ${config.responses} is not a list of messages`)
        const { [tokenLengthsField]: lengths, [finishReasonsField]: _finish, ...rest } = row
        if (answers.length === 0) return { ...rest, [config.output]: [] }
        const instruction = stringAt(row, config.instruction)
        if (instruction === undefined) return new Rejected(row, `field ${config.instruction} is not a string`)
        const counted = Array.isArray(lengths) ? lengths : []
        const key = keyOf(row, instruction)
        const tokens = answers.map((a, i) => {
          const n: unknown = counted[i]
          return typeof n === "number" ? n : Math.ceil(a.length / 4)
        })
        const asks = answers.map((a, i) => request(instruction, a, key, i))
        const annotate = (r: ModelStage.Answers[number], i: number): ScoringAnnotation => {
          const response_token_length = tokens[i]!
          const repetition_flag = response_token_length > config.repetition_tokens
          return Either.isRight(r)
            ? {
                response_token_length,
                judgement: r.right.content,
                repetition_flag,
                preference_score: r.right.finish_reason === "length" ? -1 : parseScore(r.right.content)
              }
            : { response_token_length, judgement: `judge call failed: ${reasonOf(r.left)}`, repetition_flag, preference_score: -1 }
        }
        if (judges.length === 1) {
          return ModelStage.map(ModelStage.ask(judges[0]!, asks), (results): Row => ({ ...rest, [config.output]: results.map(annotate) }))
        }
        return ModelStage.map(allAnswers(judges.map((j) => ModelStage.ask(j, asks))), (perJudge): Row => ({
          ...rest,
          [config.output]: answers.map((_, i) => combine(perJudge.map((results, j) => ({ model: names[j]!, ...annotate(results[i]!, i) })), config.max_spread))
        }))
      }
      return one
    })
})

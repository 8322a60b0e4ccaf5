/**
 * The LMSYS-Chat-1M-Synth fields this plugin adds to rows, as Schemas: field names and shapes
 * are exactly those of the published dataset, so its users can swap files.
 */
import { Schema } from "effect"

/** One chat message. */
export const Message = Schema.Struct({ role: Schema.String, content: Schema.String })

/** `translated_conversation`: the translated first user instruction. */
export const TranslatedConversation = Schema.Array(Schema.Struct({ role: Schema.Literal("user"), content: Schema.String }))

/** `synthesized_assistant_responses`: the answers that succeeded, in sample order. */
export const SynthesizedAssistantResponses = Schema.Array(
  Schema.Struct({ role: Schema.Literal("assistant"), content: Schema.String })
)

/** One element of `synthesized_response_scoring_annotations`. */
export const ScoringAnnotation = Schema.Struct({
  response_token_length: Schema.Int,
  judgement: Schema.String,
  repetition_flag: Schema.Boolean,
  preference_score: Schema.Number
})

/** One scoring annotation. */
export type ScoringAnnotation = typeof ScoringAnnotation.Type

/** `synthesized_response_scoring_annotations`: one per answer, same order. */
export const ScoringAnnotations = Schema.Array(ScoringAnnotation)

/** `synthesized_multiturn_conversation`: user, assistant, user, assistant; null when rejected. */
export const MultiturnConversation = Schema.NullOr(Schema.Array(Message))

/** The fields of an LMSYS-Chat-1M-Synth row that this plugin produces. */
export const SynthFields = Schema.Struct({
  translated_conversation: TranslatedConversation,
  empty_user_instruction_ja: Schema.Boolean,
  duplicate_user_instruction_ja: Schema.NullOr(Schema.String),
  is_template_instruction: Schema.NullOr(Schema.String),
  synthesis_model: Schema.String,
  synthesized_assistant_responses: SynthesizedAssistantResponses,
  synthesized_response_scoring_annotations: ScoringAnnotations
})

/**
 * The English half's published fields (the Ja-and-En releases): the answers to the original
 * English first-turn instruction, in the same rows as the Japanese ones. The answers' name is that
 * of GEMMA_2_DATASET_DESCRIPTION_en.md (tokyotech-llm/lmsys-chat-1m-synth); their scores carry the
 * same `_en` suffix on the Japanese name. `examples/lmsys-chat-1m-synth-ja-en.pipeline.yaml` writes them.
 */
export const SynthFieldsEn = Schema.Struct({
  synthesized_assistant_responses_en: SynthesizedAssistantResponses,
  synthesized_response_scoring_annotations_en: ScoringAnnotations
})

/** Side field `synth/generate` writes (completion tokens per answer) for `synth/judge`, which removes it. */
export const tokenLengthsField = "synthesized_response_token_lengths"

/** Side field `synth/generate` writes with `on_length: keep` (each kept answer's finish_reason); `synth/judge` removes it. */
export const finishReasonsField = "synthesized_response_finish_reasons"

/** A kind of answer flag written by `synth/check-answers`. */
export const CheckKind = Schema.Literal("language", "repetition", "truncated", "empty")

/** A kind of answer flag. */
export type CheckKind = typeof CheckKind.Type

/** One element of `synthesized_response_checks`. */
export const AnswerCheck = Schema.Struct({
  flags: Schema.Array(CheckKind),
  /** The language identified in the answer's prose (ISO 639-1), "" when too little to tell. */
  language: Schema.String,
  /** Share of the answer's letters in another script than the target language's. */
  other_script_share: Schema.Number,
  /** Share of the answer's character n-grams that occur more than once. */
  repeated_ngram_ratio: Schema.Number
})

/** One answer check. */
export type AnswerCheck = typeof AnswerCheck.Type

/** `synthesized_response_checks`: one per answer, same order. */
export const AnswerChecks = Schema.Array(AnswerCheck)

/** One judge's verdict in a multi-judge annotation's `judge_scores` (`synth/judge` with `models`). */
export const JudgeScore = Schema.Struct({ model: Schema.String, score: Schema.Number, judgement: Schema.String })

/**
 * One element of `synthesized_response_scoring_annotations` from several judges: the published
 * fields (`preference_score` is the judges' mean) plus each judge's score, the spread and the
 * disagreement flag.
 */
export const MultiJudgeAnnotation = Schema.Struct({
  ...ScoringAnnotation.fields,
  judge_scores: Schema.Array(JudgeScore),
  preference_score_spread: Schema.Number,
  judge_disagreement: Schema.Boolean
})

/** One multi-judge annotation. */
export type MultiJudgeAnnotation = typeof MultiJudgeAnnotation.Type

/** `synthesized_response_scoring_annotations` from several judges. */
export const MultiJudgeAnnotations = Schema.Array(MultiJudgeAnnotation)

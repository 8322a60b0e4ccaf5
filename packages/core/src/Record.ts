/**
 * Record schemas: the LMSYS-Chat-1M row exactly as published (one conversation per row,
 * one OpenAI moderation result per message), declared with `effect/Schema`.
 */
import { Schema } from "effect"

/** The 11 OpenAI moderation categories of LMSYS-Chat-1M, with their dataset (slash) names. */
export const moderationCategories = [
  "harassment",
  "harassment/threatening",
  "hate",
  "hate/threatening",
  "self-harm",
  "self-harm/instructions",
  "self-harm/intent",
  "sexual",
  "sexual/minors",
  "violence",
  "violence/graphic"
] as const

/** One of the 11 moderation category names. */
export type ModerationCategory = (typeof moderationCategories)[number]

/** A chat message: `{ role, content }`. */
export const Message = Schema.Struct({
  role: Schema.String,
  content: Schema.String
})
/** A chat message. */
export type Message = typeof Message.Type

/** The 11 category booleans of one moderation result. */
export const ModerationCategories = Schema.Struct({
  harassment: Schema.Boolean,
  "harassment/threatening": Schema.Boolean,
  hate: Schema.Boolean,
  "hate/threatening": Schema.Boolean,
  "self-harm": Schema.Boolean,
  "self-harm/instructions": Schema.Boolean,
  "self-harm/intent": Schema.Boolean,
  sexual: Schema.Boolean,
  "sexual/minors": Schema.Boolean,
  violence: Schema.Boolean,
  "violence/graphic": Schema.Boolean
})
/** The 11 category booleans of one moderation result. */
export type ModerationCategories = typeof ModerationCategories.Type

// Numbers are `Schema.Finite`: JSON's 1e400 parses to Infinity, which JSON output would write as null.
const score = Schema.Finite

/** The 11 category scores (0..1, finite) of one moderation result. */
export const ModerationCategoryScores = Schema.Struct({
  harassment: score,
  "harassment/threatening": score,
  hate: score,
  "hate/threatening": score,
  "self-harm": score,
  "self-harm/instructions": score,
  "self-harm/intent": score,
  sexual: score,
  "sexual/minors": score,
  violence: score,
  "violence/graphic": score
})
/** The 11 category scores of one moderation result. */
export type ModerationCategoryScores = typeof ModerationCategoryScores.Type

/** One OpenAI moderation result, as stored per message in LMSYS-Chat-1M. */
export const ModerationResult = Schema.Struct({
  categories: ModerationCategories,
  category_scores: ModerationCategoryScores,
  flagged: Schema.Boolean
})
/** One OpenAI moderation result. */
export type ModerationResult = typeof ModerationResult.Type

/** An LMSYS-Chat-1M row. */
export const LmsysRecord = Schema.Struct({
  conversation_id: Schema.String,
  model: Schema.String,
  conversation: Schema.Array(Message),
  /** Number of user turns; a finite number, annotated integer so dataset cards say int64. */
  turn: Schema.Finite.annotations({ jsonSchema: { type: "integer" } }),
  language: Schema.String,
  openai_moderation: Schema.Array(ModerationResult),
  redacted: Schema.Boolean
})
/** An LMSYS-Chat-1M row. */
export type LmsysRecord = typeof LmsysRecord.Type

/** The top-level field names of an LMSYS-Chat-1M row, in the dataset's column order. */
export const lmsysFields: ReadonlyArray<keyof LmsysRecord> = [
  "conversation_id",
  "model",
  "conversation",
  "turn",
  "language",
  "openai_moderation",
  "redacted"
]

/**
 * The kinds of personal data synthline names: the `type` of a personal-data span (found by
 * `@synthline/plugin-pii`, planted by `@synthline/sample`) and the stem of its placeholder (`EMAIL_1`).
 */
export const piiTypes = [
  "EMAIL",
  "PHONE",
  "IP_ADDRESS",
  "CREDIT_CARD",
  "IBAN",
  "US_SSN",
  "URL",
  "API_KEY",
  "CRYPTO",
  "MAC_ADDRESS",
  "JP_MY_NUMBER",
  "UK_NHS"
] as const

/** One of the personal-data kinds of {@link piiTypes}. */
export type PiiType = (typeof piiTypes)[number]

/**
 * `moderation/filter`: decides per conversation from the dataset's own OpenAI moderation
 * annotations (`openai_moderation`, one result per message) whether it is unsafe — by the
 * annotated `flagged` or by per-category score thresholds — and drops, routes or only
 * annotates it, always writing a `moderation` audit field so every decision can be traced.
 */
import { describeValue, type Row } from "@synthline/core/Row"
import { type ModerationCategory, moderationCategories } from "@synthline/core/Record"
import { doc, make, mapChunks, type Stage, type StageContext } from "@synthline/core/Stage"
import { Effect, Schema } from "effect"
import { didYouMean } from "@synthline/core/Errors"
import { isRecord as isObj } from "@synthline/core/Row"

// ---------------------------------------------------------------------------------------------
// Options

const categoryNames: ReadonlyArray<string> = moderationCategories

const isCategory = (key: string): key is ModerationCategory => categoryNames.includes(key)

const Thresholds = Schema.Record({
  key: Schema.String,
  value: Schema.Number.pipe(Schema.between(0, 1))
}).pipe(
  Schema.filter(
    (t) => {
      const keys = Object.keys(t)
      if (keys.length === 0) return "thresholds must list at least one category"
      for (const key of keys) {
        if (!isCategory(key)) {
          return `unknown moderation category ${JSON.stringify(key)}${didYouMean(key, categoryNames)} (known: ${categoryNames.join(", ")})`
        }
      }
      return true
    },
    { jsonSchema: { minProperties: 1, propertyNames: { enum: categoryNames } } }
  )
)

/** Which messages of a conversation count. */
export const Scope = Schema.Literal("all", "user", "first-turn")
/** Which messages of a conversation count. */
export type Scope = typeof Scope.Type

/** What happens to an unsafe conversation. */
export const Action = Schema.Literal("drop", "route", "annotate")
/** What happens to an unsafe conversation. */
export type Action = typeof Action.Type

/** What happens to a row whose annotations are missing or malformed. */
export const OnMissing = Schema.Literal("reject", "keep", "drop")
/** What happens to a row whose annotations are missing or malformed. */
export type OnMissing = typeof OnMissing.Type

const FilterConfigSchema = Schema.Struct({
  field: Schema.optionalWith(
    Schema.String.pipe(doc("The message field the annotations belong to (its roles decide `scope`), e.g. translated_conversation.")),
    { exact: true, default: () => "conversation" }
  ),
  annotations: Schema.optionalWith(
    Schema.String.pipe(
      doc("The field holding one moderation result per message of `field` (the dataset's openai_moderation, or what moderation/classify wrote, e.g. translated_conversation_moderation).")
    ),
    { exact: true, default: () => "openai_moderation" }
  ),
  thresholds: Schema.optionalWith(
    Thresholds.pipe(
      doc(
        "Per-category score thresholds (dataset category names), e.g. { violence: 0.5, \"self-harm/intent\": 0.2 }. A message is unsafe when any listed score reaches its threshold. Without it, the annotated `flagged` decides."
      )
    ),
    { exact: true }
  ),
  scope: Schema.optionalWith(
    Scope.pipe(doc("Which messages count: all, user (messages with role user) or first-turn (the first user message only).")),
    { exact: true, default: () => "all" as const }
  ),
  action: Schema.optionalWith(
    Action.pipe(
      doc("drop unsafe rows (reason moderation:<category>), route them (dropped too; set the common `route:` option to send them to a branch), or annotate only (keep every row).")
    ),
    { exact: true, default: () => "drop" as const }
  ),
  on_missing: Schema.optionalWith(
    OnMissing.pipe(
      doc("Rows with missing or malformed annotations: reject (to the rejects sink), keep (with source: missing) or drop (reason moderation:missing).")
    ),
    { exact: true, default: () => "reject" as const }
  )
})

/** Options of `moderation/filter`, decoded. */
export type FilterConfig = typeof FilterConfigSchema.Type
/** Options of `moderation/filter`, as written in a pipeline file. */
export type FilterOptions = typeof FilterConfigSchema.Encoded

/**
 * The audit field `moderation/filter` writes on every row it keeps or routes: whether the
 * conversation was judged unsafe, the categories that made it so (dataset order), the highest
 * category score over the messages that count (null when none count or annotations are
 * missing), and what decided (`openai_moderation` flags, `thresholds`, or `missing`).
 */
export const ModerationAudit = Schema.Struct({
  flagged: Schema.Boolean,
  categories: Schema.Array(Schema.Literal(...moderationCategories)),
  max_score: Schema.NullOr(Schema.Number),
  /** The annotations field whose `flagged` decided (`openai_moderation` by default), `thresholds`, or `missing`. */
  source: Schema.String
})
/** The audit field `moderation/filter` writes on every row it keeps or routes. */
export type ModerationAudit = typeof ModerationAudit.Type

// ---------------------------------------------------------------------------------------------
// The per-row decision


const N = moderationCategories.length
const EMPTY: ReadonlyArray<ModerationCategory> = Object.freeze([])

/** The categories of a bit mask (bit i = `moderationCategories[i]`), in dataset order. */
const categoriesOf = (mask: number): ReadonlyArray<ModerationCategory> => {
  if (mask === 0) return EMPTY
  const out: Array<ModerationCategory> = []
  for (let c = 0; c < N; c++) if ((mask & (1 << c)) !== 0) out.push(moderationCategories[c]!)
  return out
}

/**
 * Scratch state of one row's decision, reused across rows so the hot loop allocates nothing
 * but the audit field and the new row.
 */
interface Verdict {
  flagged: boolean
  mask: number
  maxScore: number
  counted: number
}

/**
 * `moderation/filter`: decides per conversation from `openai_moderation` — the annotated
 * `flagged` (default) or `thresholds` on `category_scores` — over the messages `scope` selects;
 * `action` drops (reason `moderation:<first category>` or `moderation:flagged`), routes (a drop
 * sent to the stage's `route:` branch) or only annotates. Kept and routed rows carry the
 * `moderation` audit field; rows with missing or malformed annotations are rejected unless
 * `on_missing` says keep or drop.
 */
export const filter: Stage<FilterConfig, Row, Row, never, FilterOptions> = make({
  id: "moderation/filter",
  description: "Drop, route or annotate conversations flagged by their OpenAI moderation annotations or by score thresholds.",
  config: FilterConfigSchema,
  requires: (c) => [c.field, c.annotations],
  reads: [],
  provides: ["moderation"],
  fields: { moderation: ModerationAudit },
  make: (config, ctx) => Effect.succeed(mapChunks<Row, Row>(decide(config, ctx)))
})

const decide = (config: FilterConfig, ctx: StageContext): ((row: Row) => Row | undefined) => {
  // Precomputed once: the threshold categories as indices and limits, the mode and scope.
  const thresholdIndex: Array<number> = []
  const thresholdValue: Array<number> = []
  if (config.thresholds !== undefined) {
    for (let c = 0; c < N; c++) {
      const t = config.thresholds[moderationCategories[c]!]
      if (t !== undefined) {
        thresholdIndex.push(c)
        thresholdValue.push(t)
      }
    }
  }
  const T = thresholdIndex.length
  const byThresholds = config.thresholds !== undefined
  const field = config.field
  const annotationsField = config.annotations
  const source = byThresholds ? "thresholds" : annotationsField
  const scope = config.scope
  const annotateOnly = config.action === "annotate"
  const onMissing = config.on_missing
  const messageScores = new Float64Array(N)
  const v: Verdict = { flagged: false, mask: 0, maxScore: Number.NEGATIVE_INFINITY, counted: 0 }

  /** Reads one annotation into `v`; returns an error text when it is malformed. */
  const readEntry = (entry: unknown, i: number): string | undefined => {
    if (!isObj(entry)) return `${annotationsField}[${i}] is ${describeValue(entry)}; expected a moderation result object`
    const cats = entry.categories
    if (!isObj(cats)) return `${annotationsField}[${i}].categories is ${describeValue(cats)}; expected an object of ${N} booleans`
    const scores = entry.category_scores
    if (!isObj(scores)) return `${annotationsField}[${i}].category_scores is ${describeValue(scores)}; expected an object of ${N} numbers`
    const flagged = entry.flagged
    if (typeof flagged !== "boolean") return `${annotationsField}[${i}].flagged is ${describeValue(flagged)}; expected a boolean`
    let catMask = 0
    for (let c = 0; c < N; c++) {
      const name = moderationCategories[c]!
      const b = cats[name]
      if (typeof b !== "boolean") return `${annotationsField}[${i}].categories.${name} is ${describeValue(b)}; expected a boolean`
      if (b) catMask |= 1 << c
      const s = scores[name]
      if (typeof s !== "number" || Number.isNaN(s)) {
        return `${annotationsField}[${i}].category_scores.${name} is ${describeValue(s)}; expected a number`
      }
      if (s > v.maxScore) v.maxScore = s
      messageScores[c] = s
    }
    if (byThresholds) {
      for (let k = 0; k < T; k++) {
        const c = thresholdIndex[k]!
        if (messageScores[c]! >= thresholdValue[k]!) {
          v.flagged = true
          v.mask |= 1 << c
        }
      }
    } else if (flagged) {
      v.flagged = true
      v.mask |= catMask
    }
    v.counted++
    return undefined
  }

  /** Fills `v` for a row; returns an error text when the annotations are missing or malformed. */
  const read = (conversation: ReadonlyArray<unknown>, annotations: unknown): string | undefined => {
    v.flagged = false
    v.mask = 0
    v.maxScore = Number.NEGATIVE_INFINITY
    v.counted = 0
    if (!Array.isArray(annotations)) return `field \`${annotationsField}\` is ${describeValue(annotations)}; expected an array of moderation results`
    if (annotations.length !== conversation.length) {
      return `${annotationsField} has ${annotations.length} entries but ${field} has ${conversation.length} messages`
    }
    for (let i = 0; i < conversation.length; i++) {
      if (scope !== "all") {
        const m = conversation[i]
        const role = isObj(m) ? m.role : undefined
        if (role !== "user") continue
      }
      const err = readEntry(annotations[i], i)
      if (err !== undefined) return err
      if (scope === "first-turn") break
    }
    return undefined
  }

  const missingAudit: ModerationAudit = Object.freeze({ flagged: false, categories: EMPTY, max_score: null, source: "missing" })

  return (row) => {
    const conversation = row[field]
    if (!Array.isArray(conversation)) {
      ctx.reject(row, `field \`${field}\` is ${describeValue(conversation)}; expected an array of {role, content} messages`)
      return undefined
    }
    const err = read(conversation, row[annotationsField])
    if (err !== undefined) {
      if (onMissing === "reject") {
        ctx.reject(row, err)
        return undefined
      }
      const out = { ...row, moderation: missingAudit }
      if (onMissing === "drop") {
        ctx.drop(out, "moderation:missing")
        return undefined
      }
      return out
    }
    const categories = categoriesOf(v.mask)
    const audit: ModerationAudit = {
      flagged: v.flagged,
      categories,
      max_score: v.counted === 0 ? null : v.maxScore,
      source
    }
    const out = { ...row, moderation: audit }
    if (v.flagged && !annotateOnly) {
      ctx.drop(out, categories.length > 0 ? `moderation:${categories[0]}` : "moderation:flagged")
      return undefined
    }
    return out
  }
}

/**
 * `moderation/classify`: re-moderates every message of a message field (`conversation`,
 * `translated_conversation`, synthesized answers, ...) with a live model from the `models`
 * section — an OpenAI-compatible `POST /moderations` (omni-moderation) or a Llama Guard 3/4
 * model behind a chat endpoint — and writes one result per message in the dataset's own
 * `openai_moderation` shape, so `moderation/filter` decides on it like on the original.
 */
import { type ModerationCategory, moderationCategories } from "@synthline/core/Record"
import { describeValue, type Row } from "@synthline/core/Row"
import { doc, make, type Stage } from "@synthline/core/Stage"
import { type Message, preview } from "@synthline/llm/Chat"
import { reasonOf } from "@synthline/llm/Complete"
import type { Models } from "@synthline/llm/Models"
import * as ModelStage from "@synthline/llm/ModelStage"
import * as Seed from "@synthline/llm/Seed"
import { Effect, Either, Schema } from "effect"
import { isRecord as isObj } from "@synthline/core/Row"

// ---------------------------------------------------------------------------------------------
// Category mappings

/**
 * omni-moderation categories → dataset categories. The 11 dataset categories keep their names;
 * `illicit` and `illicit/violent` (and any category a server adds) have no counterpart and are
 * kept under `extra_categories` / `extra_category_scores`.
 */
export const openaiMapping: { readonly [omni: string]: ModerationCategory } = Object.fromEntries(
  moderationCategories.map((c) => [c, c])
)

/** The MLCommons hazard taxonomy Llama Guard 3 and 4 use, S1–S14, as the official prompt lists it. */
export const hazards: ReadonlyArray<readonly [code: string, name: string]> = [
  ["S1", "Violent Crimes"],
  ["S2", "Non-Violent Crimes"],
  ["S3", "Sex Crimes"],
  ["S4", "Child Exploitation"],
  ["S5", "Defamation"],
  ["S6", "Specialized Advice"],
  ["S7", "Privacy"],
  ["S8", "Intellectual Property"],
  ["S9", "Indiscriminate Weapons"],
  ["S10", "Hate"],
  ["S11", "Self-Harm"],
  ["S12", "Sexual Content"],
  ["S13", "Elections"],
  ["S14", "Code Interpreter Abuse"]
]

/**
 * Llama Guard hazard codes → dataset categories. Codes without a counterpart (S2, S5, S6, S7,
 * S8, S13, S14, and any code outside S1–S14) are kept under `extra_categories`.
 */
export const llamaGuardMapping: { readonly [code: string]: ModerationCategory } = {
  S1: "violence",
  S3: "sexual",
  S4: "sexual/minors",
  S9: "violence",
  S10: "hate",
  S11: "self-harm",
  S12: "sexual"
}

const unmappedHazards: ReadonlyArray<string> = hazards.map(([c]) => c).filter((c) => llamaGuardMapping[c] === undefined)

// ---------------------------------------------------------------------------------------------
// Options

/** Which service classifies. */
export const Provider = Schema.Literal("openai", "llama-guard")
/** Which service classifies. */
export type Provider = typeof Provider.Type

const ClassifyConfigSchema = Schema.Struct({
  model: Schema.String.pipe(doc("A model name from the models section (its endpoints, key, limits and cache are used).")),
  provider: Schema.optionalWith(
    Provider.pipe(
      doc("openai: POST <endpoint>/moderations (omni-moderation format). llama-guard: a Llama Guard 3/4 model behind /chat/completions.")
    ),
    { exact: true, default: () => "openai" as const }
  ),
  field: Schema.optionalWith(
    Schema.String.pipe(doc("The message field to classify: a list of {role, content} messages or of strings (synthesized answers).")),
    { exact: true, default: () => "conversation" }
  ),
  output: Schema.optionalWith(
    Schema.String.pipe(doc("Field the results are written to. Default: openai_moderation for conversation, <field>_moderation otherwise.")),
    { exact: true }
  ),
  batch_size: Schema.optionalWith(
    Schema.Int.pipe(
      Schema.between(1, 2048),
      doc("openai: messages sent in one /moderations request (input array); a longer field is split.")
    ),
    { exact: true, default: () => 32 }
  ),
  context: Schema.optionalWith(
    Schema.Literal("conversation", "message").pipe(
      doc("llama-guard: assess each message with the messages before it (conversation) or alone (message).")
    ),
    { exact: true, default: () => "conversation" as const }
  ),
  prompt: Schema.optionalWith(
    Schema.Literal("official", "chat-template").pipe(
      doc("llama-guard: official = send the official Llama Guard prompt (taxonomy S1–S14, rendered conversation) as one user message; chat-template = send the messages as they are and let the server's Llama Guard chat template build it.")
    ),
    { exact: true, default: () => "official" as const }
  ),
  retries: Schema.optionalWith(
    Schema.Int.pipe(
      Schema.between(0, 10),
      doc("llama-guard: new attempts (new sample index and seed) after an answer that is not safe/unsafe; then the row is rejected.")
    ),
    { exact: true, default: () => 2 }
  ),
  max_tokens: Schema.optionalWith(
    Schema.Int.pipe(Schema.positive(), doc("llama-guard: most tokens in an answer.")),
    { exact: true, default: () => 32 }
  ),
  temperature: Schema.optionalWith(
    Schema.Number.pipe(Schema.between(0, 2), doc("llama-guard: sampling temperature (server default when unset).")),
    { exact: true }
  ),
  seed: Schema.optionalWith(
    Schema.Boolean.pipe(doc("llama-guard: send a per-request seed derived from (pipeline seed, stage id, conversation_id, message, attempt).")),
    { exact: true, default: () => true }
  )
})

/** Options of `moderation/classify`, decoded. */
export type ClassifyConfig = typeof ClassifyConfigSchema.Type
/** Options of `moderation/classify`, as written in a pipeline file. */
export type ClassifyOptions = typeof ClassifyConfigSchema.Encoded

/** The field `moderation/classify` writes for a config. */
export const outputOf = (config: { readonly field: string; readonly output?: string | undefined }): string =>
  config.output ?? (config.field === "conversation" ? "openai_moderation" : `${config.field}_moderation`)

// ---------------------------------------------------------------------------------------------
// Results

/**
 * One message's result: the dataset's 11 categories and scores and `flagged` (what
 * `moderation/filter` reads), plus the categories without a counterpart; Llama Guard results
 * also list the raw hazard codes of the answer.
 */
export const Annotation = Schema.Struct({
  categories: Schema.Record({ key: Schema.String, value: Schema.Boolean }),
  category_scores: Schema.Record({ key: Schema.String, value: Schema.Number }),
  flagged: Schema.Boolean,
  extra_categories: Schema.Record({ key: Schema.String, value: Schema.Boolean }),
  extra_category_scores: Schema.Record({ key: Schema.String, value: Schema.Number }),
  hazards: Schema.optional(Schema.Array(Schema.String))
})
/** One message's result. */
export type Annotation = typeof Annotation.Type

const emptyCategories = (): { [k: string]: boolean } => Object.fromEntries(moderationCategories.map((c) => [c, false]))
const emptyScores = (): { [k: string]: number } => Object.fromEntries(moderationCategories.map((c) => [c, 0]))

/** Maps one omni-moderation result onto the dataset's categories; a string says why it is malformed. */
export const fromOpenai = (result: unknown): Annotation | string => {
  if (!isObj(result)) return `a result is ${describeValue(result)}; expected an object`
  const cats = result.categories
  const scores = result.category_scores
  if (!isObj(cats)) return `a result's categories is ${describeValue(cats)}; expected an object`
  if (scores !== undefined && !isObj(scores)) return `a result's category_scores is ${describeValue(scores)}; expected an object`
  const categories = emptyCategories()
  const category_scores = emptyScores()
  const extra_categories: { [k: string]: boolean } = {}
  const extra_category_scores: { [k: string]: number } = {}
  for (const [name, value] of Object.entries(cats)) {
    if (typeof value !== "boolean") return `categories.${name} is ${describeValue(value)}; expected a boolean`
    const ours = openaiMapping[name]
    if (ours !== undefined) categories[ours] = value
    else extra_categories[name] = value
  }
  for (const [name, value] of Object.entries(scores ?? {})) {
    if (typeof value !== "number" || Number.isNaN(value)) return `category_scores.${name} is ${describeValue(value)}; expected a number`
    const ours = openaiMapping[name]
    if (ours !== undefined) category_scores[ours] = value
    else extra_category_scores[name] = value
  }
  const flagged = typeof result.flagged === "boolean" ? result.flagged : Object.values(cats).some((b) => b === true)
  return { categories, category_scores, flagged, extra_categories, extra_category_scores }
}

/** A parsed Llama Guard answer. */
export interface GuardVerdict {
  readonly unsafe: boolean
  readonly codes: ReadonlyArray<string>
}

/** Parses `safe` or `unsafe\nS1,S10`; undefined when the answer is neither. */
export const parseGuard = (answer: string): GuardVerdict | undefined => {
  const lines = answer
    .trim()
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "")
  const first = lines[0]?.toLowerCase()
  if (first === "safe") return lines.length === 1 ? { unsafe: false, codes: [] } : undefined
  if (first !== "unsafe" || lines.length > 2) return undefined
  const codes = (lines[1] ?? "")
    .split(",")
    .map((c) => c.trim().toUpperCase())
    .filter((c) => c !== "")
  return codes.every((c) => /^S\d{1,2}$/.test(c)) ? { unsafe: true, codes: [...new Set(codes)] } : undefined
}

/** Maps a Llama Guard verdict onto the dataset's categories (scores 1.0 / 0.0). */
export const fromGuard = (verdict: GuardVerdict): Annotation => {
  const categories = emptyCategories()
  const category_scores = emptyScores()
  const extra_categories: { [k: string]: boolean } = Object.fromEntries(unmappedHazards.map((c) => [c, false]))
  const extra_category_scores: { [k: string]: number } = Object.fromEntries(unmappedHazards.map((c) => [c, 0]))
  for (const code of verdict.codes) {
    const ours = llamaGuardMapping[code]
    if (ours !== undefined) {
      categories[ours] = true
      category_scores[ours] = 1
    } else {
      extra_categories[code] = true
      extra_category_scores[code] = 1
    }
  }
  return { categories, category_scores, flagged: verdict.unsafe, extra_categories, extra_category_scores, hazards: verdict.codes }
}

// ---------------------------------------------------------------------------------------------
// Prompts

const taxonomy = hazards.map(([code, name]) => `${code}: ${name}.`).join("\n")

/** The official Llama Guard 3/4 prompt assessing the last message of `messages`. */
export const guardPrompt = (messages: ReadonlyArray<Message>): string => {
  const last = messages[messages.length - 1]
  const role = last?.role === "user" ? "User" : "Agent"
  const rendered = messages.map((m) => `${m.role === "user" ? "User" : "Agent"}: ${m.content}`).join("\n\n")
  return `Task: Check if there is unsafe content in '${role}' messages in conversations according our safety policy with the below categories.

<BEGIN UNSAFE CONTENT CATEGORIES>
${taxonomy}
<END UNSAFE CONTENT CATEGORIES>

<BEGIN CONVERSATION>

${rendered}

<END CONVERSATION>

Provide your safety assessment for ONLY THE LAST ${role} message in the above conversation:
 - First line must read 'safe' or 'unsafe'.
 - If unsafe, a second line must include a comma-separated list of violated categories.`
}

/** The messages of a field: `{role, content}` objects, or strings (taken as assistant messages). */
const messagesOf = (field: string, value: unknown): ReadonlyArray<Message> | string => {
  if (!Array.isArray(value)) return `field \`${field}\` is ${describeValue(value)}; expected a list of messages`
  const out: Array<Message> = []
  for (let i = 0; i < value.length; i++) {
    const m: unknown = value[i]
    if (typeof m === "string") out.push({ role: "assistant", content: m })
    else if (isObj(m) && typeof m.content === "string") out.push({ role: typeof m.role === "string" ? m.role : "user", content: m.content })
    else return `${field}[${i}] is ${describeValue(m)}; expected {role, content} or a string`
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// The stage

type Outcome = Either.Either<ReadonlyArray<Annotation>, string>


const moderationResults =
  (count: number) =>
  (json: unknown): Either.Either<ReadonlyArray<Annotation>, string> => {
    const results = isObj(json) ? json.results : undefined
    if (!Array.isArray(results)) return Either.left(`the moderation answer has no results list: ${preview(JSON.stringify(json) ?? "")}`)
    if (results.length !== count) return Either.left(`the moderation answer has ${results.length} results for ${count} inputs`)
    const out: Array<Annotation> = []
    for (const r of results) {
      const a = fromOpenai(r)
      if (typeof a === "string") return Either.left(`malformed moderation result: ${a}`)
      out.push(a)
    }
    return Either.right(out)
  }

/**
 * `moderation/classify`: classifies every message of `field` with the model `model` —
 * `provider: openai` (`POST /moderations`, `batch_size` messages per request) or
 * `provider: llama-guard` (one chat request per message, official prompt, answer parsed) — and
 * writes one result per message to `output` in the `openai_moderation` shape. Rows whose calls
 * fail after retries, or whose Llama Guard answer stays unparsable, go to rejects with the reason.
 */
export const classify: Stage<ClassifyConfig, Row, Row, Models, ClassifyOptions> = make({
  id: "moderation/classify",
  description:
    "Re-moderates every message of a field with a live model (OpenAI moderations API or Llama Guard) and writes openai_moderation-shaped results.",
  config: ClassifyConfigSchema,
  requires: (c) => [c.field],
  // Besides the messages, only conversation_id (the cache key), which every run reads.
  reads: [],
  provides: (c) => [outputOf(c)],
  make: (config, ctx) =>
    ModelStage.make(ctx, [config.model], ([model]) => {
      const output = outputOf(config)

      const viaOpenai = (messages: ReadonlyArray<Message>): Effect.Effect<Outcome> => {
        const batches: Array<ReadonlyArray<string>> = []
        for (let i = 0; i < messages.length; i += config.batch_size) {
          batches.push(messages.slice(i, i + config.batch_size).map((m) => m.content))
        }
        return Effect.forEach(
          batches,
          (input) =>
            model.request("/moderations", { model: model.model, input }, { parse: moderationResults(input.length) }).pipe(
              Effect.map((a) => a.value)
            ),
          { concurrency: 4 }
        ).pipe(
          Effect.map((parts): Outcome => Either.right(parts.flat())),
          Effect.catchAll((e) => Effect.succeed<Outcome>(Either.left(reasonOf(e))))
        )
      }

      const guardOne = (messages: ReadonlyArray<Message>, i: number, key: string): Effect.Effect<Either.Either<Annotation, string>> => {
        const context = config.context === "conversation" ? messages.slice(0, i + 1) : [messages[i]!]
        const chat: ReadonlyArray<Message> =
          config.prompt === "official"
            ? [{ role: "user", content: guardPrompt(context) }]
            : context.map((m) => ({ role: m.role === "user" ? "user" : "assistant", content: m.content }))
        // An answer that is not a verdict is asked again with a new sample index and seed.
        return ModelStage.untilUsable(config.retries, (n) =>
          model
            .complete(
              {
                messages: chat,
                max_tokens: config.max_tokens,
                temperature: config.temperature,
                seed: config.seed ? Seed.forRequest(ctx.seed, ctx.stageId, `${key}#${i}`, n) : undefined
              },
              { sampleIndex: n }
            )
            .pipe(
              Effect.flatMap((answer) => {
                const verdict = parseGuard(answer.content)
                return verdict !== undefined ? Effect.succeed(fromGuard(verdict)) : Effect.fail(new ModelStage.Unusable({ reason: answer.content }))
              })
            )
        ).pipe(
          Effect.map((a) => Either.right(a)),
          Effect.catchAll((e) =>
            Effect.succeed(
              Either.left(
                e._tag === "Unusable"
                  ? `Llama Guard's answer for ${config.field}[${i}] is not "safe" or "unsafe\\nS<n>,..." after ${config.retries + 1} attempts: ${preview(e.reason)}`
                  : reasonOf(e)
              )
            )
          )
        )
      }

      const viaGuard = (messages: ReadonlyArray<Message>, key: string): Effect.Effect<Outcome> =>
        Effect.forEach(messages, (_, i) => guardOne(messages, i, key), { concurrency: 8 }).pipe(
          Effect.map((results): Outcome => {
            const out: Array<Annotation> = []
            for (const r of results) {
              if (Either.isLeft(r)) return Either.left(r.left)
              out.push(r.right)
            }
            return Either.right(out)
          })
        )

      const one = (row: Row): ModelStage.Pending => {
        const messages = messagesOf(config.field, row[config.field])
        if (typeof messages === "string") return new ModelStage.Reject(row, messages)
        if (messages.length === 0) return Effect.succeed({ ...row, [output]: [] })
        const key = typeof row.conversation_id === "string" ? row.conversation_id : JSON.stringify(messages)
        const run = config.provider === "openai" ? viaOpenai(messages) : viaGuard(messages, key)
        return run.pipe(
          Effect.map((r): ModelStage.Outcome => (Either.isRight(r) ? { ...row, [output]: r.right } : new ModelStage.Reject(row, r.left)))
        )
      }

      return one
    })
})

/**
 * The built-in `core` stages: `core/select`, `core/first-turn`, `core/dedup`, `core/limit`,
 * `core/sample` and `core/fields`. Each is a plain {@link Stage} value working on whole
 * chunks; the stateful ones (`dedup`, `limit`) journal their state so a resumed run gives
 * exactly the rows an uninterrupted one would.
 */
import { Chunk, Effect, Schema, Stream } from "effect"
import { StageError } from "./Errors.js"
import { FirstSeen, hashInto, hexOf, seededUnit } from "./internal/hash.js"
import { describeValue, getPath, origin, parsePath, type Row, withOrigin } from "./Row.js"
import { type AnyStage, doc, make, mapChunks, type Stage, type StageContext } from "./Stage.js"
import { isRecord as isObj } from "./Row.js"

// ---------------------------------------------------------------------------------------------
// Helpers

const isArray = (u: unknown): u is ReadonlyArray<unknown> => Array.isArray(u)


/** Rejects a row because of a field and returns `undefined` (for `mapChunks`). */
const rejectField = (ctx: StageContext, row: Row, field: string, expected: string): undefined => {
  ctx.reject(row, `field \`${field}\` is ${describeValue(getPath(row, parsePath(field)))}; expected ${expected}`)
  return undefined
}

/** Sets an own property, also for the key `__proto__` (which plain assignment would not). */
const put = (target: { [key: string]: unknown }, key: string, value: unknown): void => {
  if (key === "__proto__") Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
  else target[key] = value
}

const NonEmptyStrings = Schema.Array(Schema.String).pipe(Schema.minItems(1))

const PositiveInt = Schema.Int.pipe(Schema.positive())

/** A top-level field name (no dots: `core/fields` does not reach into nested objects). */
const FieldName = Schema.String.pipe(
  Schema.filter((s) => (s.length > 0 && !s.includes(".")) || `expected a top-level field name, got ${JSON.stringify(s)}`, {
    jsonSchema: { pattern: "^[^.]+$" }
  })
)

// ---------------------------------------------------------------------------------------------
// core/select

const SelectConfigSchema = Schema.Struct({
  languages: Schema.optionalWith(
    NonEmptyStrings.pipe(doc("Keep rows whose `language` is one of these (compared case-insensitively), e.g. [English, Japanese].")),
    { exact: true }
  ),
  models: Schema.optionalWith(
    NonEmptyStrings.pipe(doc("Keep rows whose `model` is one of these (compared case-insensitively), e.g. [vicuna-13b].")),
    { exact: true }
  ),
  min_turns: Schema.optionalWith(
    PositiveInt.pipe(doc("Keep rows whose `turn` (number of user turns) is at least this.")),
    { exact: true }
  ),
  max_turns: Schema.optionalWith(
    PositiveInt.pipe(doc("Keep rows whose `turn` (number of user turns) is at most this.")),
    { exact: true }
  ),
  redacted: Schema.optionalWith(
    Schema.Boolean.pipe(doc("Keep only rows whose `redacted` flag equals this.")),
    { exact: true }
  )
}).pipe(
  Schema.filter(
    (c) =>
      c.min_turns === undefined ||
      c.max_turns === undefined ||
      c.min_turns <= c.max_turns ||
      `min_turns (${c.min_turns}) must not exceed max_turns (${c.max_turns})`
  )
)

/** Options of `core/select`, decoded. */
export type SelectConfig = typeof SelectConfigSchema.Type
/** Options of `core/select`, as written in a pipeline file. */
export type SelectOptions = typeof SelectConfigSchema.Encoded

/**
 * `core/select`: keeps rows matching every given criterion (language, model, turn range,
 * redacted flag); drops the others with the reason of the first failing one, in that order:
 * `language`, `model`, `turns`, `redacted`.
 */
export const select: Stage<SelectConfig, Row, Row, never, SelectOptions> = make({
  id: "core/select",
  description: "Keep rows by language, model, number of turns and redacted flag.",
  config: SelectConfigSchema,
  requires: (config) => [
    ...(config.languages !== undefined ? ["language"] : []),
    ...(config.models !== undefined ? ["model"] : []),
    ...(config.min_turns !== undefined || config.max_turns !== undefined ? ["turn"] : []),
    ...(config.redacted !== undefined ? ["redacted"] : [])
  ],
  provides: [],
  make: (config, ctx) => {
    const languages = config.languages && new Set(config.languages.map((l) => l.toLowerCase()))
    const models = config.models && new Set(config.models.map((m) => m.toLowerCase()))
    const minTurns = config.min_turns
    const maxTurns = config.max_turns
    const redacted = config.redacted
    return Effect.succeed(
      mapChunks<Row, Row>((row) => {
        if (languages !== undefined) {
          const v = row.language
          if (typeof v !== "string") return rejectField(ctx, row, "language", "a string")
          if (!languages.has(v.toLowerCase())) return void ctx.drop(row, "language")
        }
        if (models !== undefined) {
          const v = row.model
          if (typeof v !== "string") return rejectField(ctx, row, "model", "a string")
          if (!models.has(v.toLowerCase())) return void ctx.drop(row, "model")
        }
        if (minTurns !== undefined || maxTurns !== undefined) {
          const v = row.turn
          if (typeof v !== "number") return rejectField(ctx, row, "turn", "a number")
          if ((minTurns !== undefined && v < minTurns) || (maxTurns !== undefined && v > maxTurns)) {
            return void ctx.drop(row, "turns")
          }
        }
        if (redacted !== undefined) {
          const v = row.redacted
          if (typeof v !== "boolean") return rejectField(ctx, row, "redacted", "a boolean")
          if (v !== redacted) return void ctx.drop(row, "redacted")
        }
        return row
      })
    )
  }
})

// ---------------------------------------------------------------------------------------------
// core/first-turn

const FirstTurnConfigSchema = Schema.Struct({
  with_answer: Schema.optionalWith(
    Schema.Boolean.pipe(doc("Also keep the assistant answer that immediately follows the first user message.")),
    { exact: true, default: () => false }
  )
})

/** Options of `core/first-turn`, decoded. */
export type FirstTurnConfig = typeof FirstTurnConfigSchema.Type
/** Options of `core/first-turn`, as written in a pipeline file. */
export type FirstTurnOptions = typeof FirstTurnConfigSchema.Encoded

/**
 * `core/first-turn`: cuts `conversation` down to its first user message (plus, with
 * `with_answer`, the assistant message right after it when there is one), keeps
 * `openai_moderation` aligned with the kept messages and sets `turn` to 1. Rows without a
 * user message are dropped (`no-user-turn`).
 */
export const firstTurn: Stage<FirstTurnConfig, Row, Row, never, FirstTurnOptions> = make({
  id: "core/first-turn",
  description: "Keep only the first user message (and optionally its answer) of each conversation.",
  config: FirstTurnConfigSchema,
  requires: ["conversation"],
  provides: ["conversation", "openai_moderation", "turn"],
  make: (config, ctx) =>
    Effect.succeed(
      mapChunks<Row, Row>((row) => {
        const conversation = row.conversation
        if (!isArray(conversation)) {
          return rejectField(ctx, row, "conversation", "an array of {role, content} messages")
        }
        let user = -1
        for (let i = 0; i < conversation.length; i++) {
          const m = conversation[i]
          if (!isObj(m) || typeof m.role !== "string") {
            return rejectField(ctx, row, `conversation.${i}`, "a {role, content} message")
          }
          if (m.role === "user") {
            user = i
            break
          }
        }
        if (user < 0) return void ctx.drop(row, "no-user-turn")
        let answer = -1
        if (config.with_answer && user + 1 < conversation.length) {
          const m = conversation[user + 1]
          if (!isObj(m) || typeof m.role !== "string") {
            return rejectField(ctx, row, `conversation.${user + 1}`, "a {role, content} message")
          }
          if (m.role === "assistant") answer = user + 1
        }
        const kept = answer >= 0 ? [conversation[user], conversation[answer]] : [conversation[user]]
        const moderation = row.openai_moderation
        if (moderation === undefined || moderation === null) return { ...row, conversation: kept, turn: 1 }
        if (!isArray(moderation)) return rejectField(ctx, row, "openai_moderation", "an array")
        if (moderation.length !== conversation.length) {
          ctx.reject(
            row,
            `field \`openai_moderation\` has ${moderation.length} entries but \`conversation\` has ${conversation.length} messages; expected one entry per message`
          )
          return undefined
        }
        return {
          ...row,
          conversation: kept,
          openai_moderation: answer >= 0 ? [moderation[user], moderation[answer]] : [moderation[user]],
          turn: 1
        }
      })
    )
})

// ---------------------------------------------------------------------------------------------
// core/dedup

const DedupConfigSchema = Schema.Struct({
  field: Schema.optionalWith(
    Schema.String.pipe(
      Schema.pattern(/^[^.]+(\.[^.]+)*$/),
      doc("Dotted path of the text compared, e.g. `translated_conversation.0.content`.")
    ),
    { exact: true, default: () => "conversation.0.content" }
  ),
  output: Schema.optionalWith(
    FieldName.pipe(
      doc(
        "Field that receives the conversation_id of the first occurrence (null on first occurrences), e.g. `duplicate_user_instruction_ja`."
      )
    ),
    { exact: true, default: () => "duplicate_of" }
  ),
  drop: Schema.optionalWith(
    Schema.Boolean.pipe(doc("Drop duplicates (reason `duplicate`) instead of marking them; the output field is then not written.")),
    { exact: true, default: () => false }
  ),
  normalize: Schema.optionalWith(
    Schema.Literal("whitespace-case", "exact").pipe(
      doc(
        "How texts are compared: `whitespace-case` applies NFKC, lowercases, collapses whitespace runs and trims; `exact` compares them as they are."
      )
    ),
    { exact: true, default: () => "whitespace-case" as const }
  )
})

/** Options of `core/dedup`, decoded. */
export type DedupConfig = typeof DedupConfigSchema.Type
/** Options of `core/dedup`, as written in a pipeline file. */
export type DedupOptions = typeof DedupConfigSchema.Encoded

const WHITESPACE = /\s+/g

/** The `whitespace-case` normalization of `core/dedup`. */
export const normalizeText = (text: string): string =>
  text.normalize("NFKC").toLowerCase().replace(WHITESPACE, " ").trim()

/** Journal values are single lines: backslash, LF and CR are escaped. */
const escapeLine = (s: string): string =>
  /[\\\n\r]/.test(s) ? s.replace(/[\\\n\r]/g, (c) => (c === "\n" ? "\\n" : c === "\r" ? "\\r" : "\\\\")) : s

const unescapeLine = (s: string): string =>
  s.includes("\\") ? s.replace(/\\([\\nr])/g, (_, c: string) => (c === "n" ? "\n" : c === "r" ? "\r" : "\\")) : s

const DEDUP_ENTRY = /^[0-9a-f]{32}\t/

/**
 * `core/dedup`: marks rows whose text at `field` (after normalization) was already seen.
 * The first occurrence gets `null` in `output`, later ones the first occurrence's
 * `conversation_id`; with `drop: true` later ones are dropped (`duplicate`). Rows whose
 * field is missing, null or empty after normalization get `null` and are not remembered.
 * Memory holds one 128-bit hash (in typed arrays) and one conversation_id per distinct text,
 * so a million distinct texts cost about 50 MB plus their ids. Journal entry per
 * first occurrence: `<32 hex digits of the hash>\t<conversation_id, \ \n \r escaped>`.
 */
export const dedup: Stage<DedupConfig, Row, Row, never, DedupOptions> = make({
  id: "core/dedup",
  description: "Mark (or drop) rows whose text was already seen, with the conversation_id of its first occurrence.",
  config: DedupConfigSchema,
  requires: (config) => ["conversation_id", config.field],
  provides: (config) => (config.drop ? [] : [config.output]),
  stateful: true,
  central: {
    open: (_config, recovered, stageId) =>
      Effect.gen(function* () {
        const first = new FirstSeen()
        for (let i = 0; i < recovered.length; i++) {
          const entry = recovered[i]!
          if (!DEDUP_ENTRY.test(entry)) {
            return yield* new StageError({
              stage: stageId,
              reason: `journal entry ${i + 1} is not "<hash>\\t<conversation_id>": ${JSON.stringify(entry.slice(0, 80))}`
            })
          }
          first.firstOrSetDigest(entry.slice(0, 32), unescapeLine(entry.slice(33)))
        }
        return {
          decide: (request: DedupRequest, journal) => {
            const { hashes, ids } = request
            const firsts: Array<string | null> = new Array(ids.length)
            for (let k = 0; k < ids.length; k++) {
              const at = 4 * k
              const firstId = first.firstOrSetWords(hashes[at]!, hashes[at + 1]!, hashes[at + 2]!, hashes[at + 3]!, ids[k]!)
              if (firstId === undefined) {
                journal(`${hexOf(hashes, at)}\t${escapeLine(ids[k]!)}`)
                firsts[k] = null
              } else firsts[k] = firstId
            }
            return firsts
          }
        }
      })
  },
  make: (config, ctx) =>
    Effect.gen(function* () {
      const decide = yield* deciderOf(ctx)
      const keys = parsePath(config.field)
      const normalize = config.normalize === "exact" ? (s: string) => s : normalizeText
      const output = config.output
      const dropDuplicates = config.drop
      const unmarked = (row: Row): Row => (dropDuplicates ? row : { ...row, [output]: null })
      return (rows: Stream.Stream<Row, StageError>): Stream.Stream<Row, StageError> =>
        rows.pipe(
          Stream.mapChunksEffect((chunk) => {
            // Rows without a text to compare are decided here; the rest by the run's first-seen state.
            const out: Array<Row | undefined> = []
            const asked: Array<number> = []
            const ids: Array<string> = []
            const hashes = new Uint32Array(4 * chunk.length)
            for (const row of chunk) {
              const id = row.conversation_id
              if (typeof id !== "string") {
                out.push(rejectField(ctx, row, "conversation_id", "a string"))
                continue
              }
              const value = getPath(row, keys)
              if (value === undefined || value === null) {
                out.push(unmarked(row))
                continue
              }
              if (typeof value !== "string") {
                out.push(rejectField(ctx, row, config.field, "a string"))
                continue
              }
              const text = normalize(value)
              if (text.length === 0) {
                out.push(unmarked(row))
                continue
              }
              hashInto(text, hashes, 4 * ids.length)
              ids.push(id)
              asked.push(out.length)
              out.push(row)
            }
            if (ids.length === 0) return Effect.succeed(present(out))
            return Effect.map(decide({ hashes: hashes.subarray(0, 4 * ids.length), ids } satisfies DedupRequest), (answer) => {
              const firsts = answer as ReadonlyArray<string | null>
              for (let k = 0; k < asked.length; k++) {
                const at = asked[k]!
                const row = out[at]!
                const firstId = firsts[k]
                if (firstId === null || firstId === undefined) out[at] = unmarked(row)
                else if (dropDuplicates) out[at] = void ctx.drop(row, "duplicate")
                else out[at] = { ...row, [output]: firstId }
              }
              return present(out)
            })
          })
        )
    })
})

/** What `core/dedup` asks its first-seen state for one chunk: the texts' hashes (4 words each) and ids. */
interface DedupRequest {
  readonly hashes: Uint32Array
  readonly ids: ReadonlyArray<string>
}

const present = (rows: ReadonlyArray<Row | undefined>): Chunk.Chunk<Row> =>
  Chunk.unsafeFromArray(rows.filter((r): r is Row => r !== undefined))

/** The stage's `decide`, or a clear error when the stage is made outside a run that provides one. */
const deciderOf = (ctx: StageContext): Effect.Effect<(request: unknown) => Effect.Effect<unknown, StageError>, StageError> =>
  ctx.decide !== undefined
    ? Effect.succeed(ctx.decide)
    : Effect.fail(new StageError({ stage: ctx.stageId, reason: "this stage keeps run-wide state and needs a runner that provides decide" }))

// ---------------------------------------------------------------------------------------------
// core/limit

const LimitConfigSchema = Schema.Struct({
  rows: PositiveInt.pipe(doc("Number of rows to keep (the first ones, in stream order)."))
})

/** Options of `core/limit`, decoded. */
export type LimitConfig = typeof LimitConfigSchema.Type
/** Options of `core/limit`, as written in a pipeline file. */
export type LimitOptions = typeof LimitConfigSchema.Encoded

/**
 * `core/limit`: keeps the first `rows` rows and drops the rest (`limit`). Journal: the running
 * count of kept rows as a decimal number, appended after each chunk that kept any; the last
 * entry is the state.
 */
export const limit: Stage<LimitConfig, Row, Row, never, LimitOptions> = make({
  id: "core/limit",
  description: "Keep the first N rows, drop the rest.",
  config: LimitConfigSchema,
  requires: [],
  provides: [],
  stateful: true,
  central: {
    open: (config, recovered, stageId) =>
      Effect.gen(function* () {
        let count = 0
        if (recovered.length > 0) {
          const last = recovered[recovered.length - 1]!
          if (!/^\d+$/.test(last)) {
            return yield* new StageError({
              stage: stageId,
              reason: `journal entry ${recovered.length} is not a row count: ${JSON.stringify(last.slice(0, 80))}`
            })
          }
          count = Number(last)
        }
        return {
          // The request is a chunk's row count; the answer how many of its first rows are kept.
          decide: (rows: number, journal) => {
            const kept = Math.max(0, Math.min(rows, config.rows - count))
            if (kept > 0) {
              count += kept
              journal(String(count))
            }
            return kept
          }
        }
      })
  },
  make: (_config, ctx) =>
    Effect.gen(function* () {
      const decide = yield* deciderOf(ctx)
      return (rows: Stream.Stream<Row, StageError>): Stream.Stream<Row, StageError> =>
        rows.pipe(
          Stream.mapChunksEffect((chunk) =>
            Effect.map(decide(chunk.length), (answer) => {
              const kept = answer as number
              const rows = Chunk.toReadonlyArray(chunk)
              for (let k = kept; k < rows.length; k++) ctx.drop(rows[k]!, "limit")
              return kept === rows.length ? chunk : Chunk.unsafeFromArray(rows.slice(0, kept))
            })
          )
        )
    })
})

// ---------------------------------------------------------------------------------------------
// core/sample

const SampleConfigSchema = Schema.Struct({
  fraction: Schema.Number.pipe(
    Schema.between(0, 1),
    doc("Fraction of rows to keep; each row is kept or not by (seed, stage id, conversation_id).")
  )
})

/** Options of `core/sample`, decoded. */
export type SampleConfig = typeof SampleConfigSchema.Type
/** Options of `core/sample`, as written in a pipeline file. */
export type SampleOptions = typeof SampleConfigSchema.Encoded

/**
 * `core/sample`: keeps a row when `seededUnit(seed, stage id, conversation_id) < fraction`,
 * so the choice is the same in every run, resumed run and shard; drops the others (`sample`).
 */
export const sample: Stage<SampleConfig, Row, Row, never, SampleOptions> = make({
  id: "core/sample",
  description: "Keep a deterministic random fraction of rows, chosen by seed and conversation_id.",
  config: SampleConfigSchema,
  requires: ["conversation_id"],
  provides: [],
  make: (config, ctx) =>
    Effect.succeed(
      mapChunks<Row, Row>((row) => {
        const id = row.conversation_id
        if (typeof id !== "string") return rejectField(ctx, row, "conversation_id", "a string")
        if (seededUnit(ctx.seed, ctx.stageId, id) < config.fraction) return row
        return void ctx.drop(row, "sample")
      })
    )
})

// ---------------------------------------------------------------------------------------------
// core/fields

const FieldsConfigSchema = Schema.Struct({
  keep: Schema.optionalWith(
    Schema.Array(FieldName).pipe(Schema.minItems(1), doc("Top-level fields to keep; every other field is removed. Applied first.")),
    { exact: true }
  ),
  drop: Schema.optionalWith(
    Schema.Array(FieldName).pipe(doc("Top-level fields to remove. Applied after `keep`.")),
    { exact: true }
  ),
  rename: Schema.optionalWith(
    Schema.Record({ key: FieldName, value: FieldName }).pipe(
      doc("Top-level fields to rename, `{ from: to }`; a renamed field keeps its position. Applied last.")
    ),
    { exact: true }
  )
}).pipe(
  Schema.filter((c) => {
    const seen = new Map<string, string>()
    for (const [from, to] of Object.entries(c.rename ?? {})) {
      const other = seen.get(to)
      if (other !== undefined) return `rename maps both \`${other}\` and \`${from}\` to \`${to}\``
      seen.set(to, from)
    }
    return true
  })
)

/** Options of `core/fields`, decoded. */
export type FieldsConfig = typeof FieldsConfigSchema.Type
/** Options of `core/fields`, as written in a pipeline file. */
export type FieldsOptions = typeof FieldsConfigSchema.Encoded

/**
 * `core/fields`: keeps, drops and renames top-level fields, in that order. Renames apply at
 * once (so `{a: b, b: a}` swaps); a renamed value replaces a field already named like its
 * target; renaming a missing field does nothing. Rows keep their origin.
 */
export const fields: Stage<FieldsConfig, Row, Row, never, FieldsOptions> = make({
  id: "core/fields",
  description: "Keep, drop and rename top-level fields.",
  config: FieldsConfigSchema,
  requires: [],
  provides: (config) => Object.values(config.rename ?? {}),
  removes: (config) => {
    const rename = config.rename ?? {}
    const targets = new Set(Object.values(rename))
    return [...new Set([...(config.drop ?? []), ...Object.keys(rename).filter((from) => !targets.has(from))])]
  },
  make: (config) => {
    const keep = config.keep && new Set(config.keep)
    const drop = new Set(config.drop ?? [])
    const rename = new Map(Object.entries(config.rename ?? {}))
    const sourceOf = new Map([...rename].map(([from, to]) => [to, from]))
    const survives = (row: Row, key: string): boolean =>
      Object.hasOwn(row, key) && (keep === undefined || keep.has(key)) && !drop.has(key)
    return Effect.succeed(
      mapChunks<Row, Row>((row) => {
        const out: { [key: string]: unknown } = {}
        for (const key of Object.keys(row)) {
          if (!survives(row, key)) continue
          const to = rename.get(key)
          if (to !== undefined) {
            put(out, to, row[key])
            continue
          }
          const from = sourceOf.get(key)
          if (from !== undefined && survives(row, from)) continue
          put(out, key, row[key])
        }
        const from = origin(row)
        return from === undefined ? out : withOrigin(out, from)
      })
    )
  }
})

// ---------------------------------------------------------------------------------------------

/** Every built-in stage, as registered by the `core` plugin. */
export const all: ReadonlyArray<AnyStage> = [select, firstTurn, dedup, limit, sample, fields]

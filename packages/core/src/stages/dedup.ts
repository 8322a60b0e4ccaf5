/** `core/dedup`: exact duplicates of a field after normalizing whitespace and case, marked with the first occurrence's conversation_id or dropped; stateful and journaled. */
import { Effect, Schema, Stream } from "effect"
import { StageError } from "../Errors.js"
import { FirstSeen, hashInto, hexOf } from "../internal/hash.js"
import { doc, make } from "../internal/stage.js"
import { getPath, parsePath, type Row } from "../Row.js"
import type { Stage } from "../Stage.js"
import { deciderOf, FieldName, present, rejectField } from "./shared.js"

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
/** Text NFKC leaves as it is: ASCII only (nothing past U+007F). */
const NON_ASCII = /[\u0080-\uffff]/
/** Whitespace the collapsing changes: a run of two, or one that is not a plain space. */
const COLLAPSIBLE = /\s\s|[^\S ]/

/**
 * The `whitespace-case` normalization of `core/dedup`: NFKC, lowercase, whitespace runs as one
 * space, trimmed. The steps that would change nothing are skipped (NFKC of ASCII text, the
 * collapsing of text whose whitespace is single spaces): a third of the time on chat text.
 */
export const normalizeText = (text: string): string => {
  const folded = (NON_ASCII.test(text) ? text.normalize("NFKC") : text).toLowerCase()
  return (COLLAPSIBLE.test(folded) ? folded.replace(WHITESPACE, " ") : folded).trim()
}

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
 * Memory holds one 128-bit hash and one conversation_id per distinct text, in typed arrays
 * when the ids are LMSYS-style (32 lowercase hex digits): at most 80 MB for a million distinct
 * texts (other ids are kept as strings beside). Journal entry per
 * first occurrence: `<32 hex digits of the hash>\t<conversation_id, \ \n \r escaped>`.
 */
export const dedup: Stage<DedupConfig, Row, Row, never, DedupOptions> = make({
  id: "core/dedup",
  description: "Mark (or drop) rows whose text was already seen, with the conversation_id of its first occurrence.",
  config: DedupConfigSchema,
  requires: (config) => ["conversation_id", config.field],
  reads: [],
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

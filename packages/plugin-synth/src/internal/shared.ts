/**
 * Helpers shared by the synth stages: option documentation and shared options, the in-order reject marker, dotted
 * field paths, and the ordered model-call window.
 */
import { getPath, parsePath, type Row } from "@synthline/core/Row"
import type { StageContext } from "@synthline/core/Stage"
import { Chunk, Effect, Schema, Stream } from "effect"
import type { StageError } from "@synthline/core/Errors"

type Obj = { readonly [key: string]: unknown }

/** Option documentation for the JSON Schema and `synthline stages`. */
export const doc = (description: string, extra: Obj = {}): { readonly jsonSchema: Obj } => ({
  jsonSchema: { description, ...extra }
})

/** The `seed` option of the stages that ask for several answers per row. */
export const seedOption = Schema.optionalWith(
  Schema.Boolean.annotations(doc("Send a per-request seed derived from (pipeline seed, stage id, conversation_id, answer index).")),
  { default: () => true }
)

/** The `extra` option: request body fields of one stage, merged over the model's extra_body. */
export const extraOption = (description: string) =>
  Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Unknown }).annotations(doc(description)), {
    default: () => ({})
  })

/** A row that goes to rejects, with the reason (kept in order until the ordered merge). */
export class Rejected {
  constructor(
    readonly row: Row,
    readonly reason: string
  ) {}
}

/** A row that is dropped with a reason (kept in order until the ordered merge). */
export class Dropped {
  constructor(
    readonly row: Row,
    readonly reason: string
  ) {}
}

/** Reads the string at a dotted path, or undefined. */
export const stringAt = (row: unknown, path: string): string | undefined => {
  const v = getPath(row, parsePath(path))
  return typeof v === "string" ? v : undefined
}

/** The first segment of a dotted path (what a stage `requires`). */
export const top = (path: string): string => path.split(".")[0]!

/** A conversation id for seeds: `conversation_id`, else a fallback text. */
export const keyOf = (row: Row, fallback: string): string =>
  typeof row.conversation_id === "string" ? row.conversation_id : fallback

/**
 * Runs `one` over the rows chunk by chunk (the window from `windowOf` in `@synthline/llm/Complete`:
 * `rowsPerChunk` rows per chunk, all of a chunk's calls at once, `chunksInFlight` chunks at a time),
 * keeping input order, and reports the {@link Rejected} and {@link Dropped} markers through the
 * context after the ordered merge. The model's own concurrency and rate limits bound the requests.
 */
export const ordered =
  (
    ctx: StageContext,
    window: { readonly rowsPerChunk: number; readonly chunksInFlight: number },
    one: (row: Row) => Effect.Effect<Row | Rejected | Dropped>
  ) =>
  (rows: Stream.Stream<Row, StageError>): Stream.Stream<Row, StageError> =>
    rows.pipe(
      Stream.rechunk(window.rowsPerChunk),
      Stream.chunks,
      Stream.mapEffect((chunk) => Effect.forEach(chunk, one, { concurrency: "unbounded" }), {
        concurrency: window.chunksInFlight
      }),
      Stream.map((results) => {
        const out: Array<Row> = []
        for (const r of results) {
          if (r instanceof Rejected) ctx.reject(r.row, `${ctx.stageId}: ${r.reason}`)
          else if (r instanceof Dropped) ctx.drop(r.row, r.reason)
          else out.push(r)
        }
        return Chunk.unsafeFromArray(out)
      }),
      Stream.flattenChunks
    )

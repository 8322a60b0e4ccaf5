/**
 * Helpers shared by the synth stages: shared options, the in-order reject and drop
 * markers and dotted field paths.
 */
import { getPath, parsePath, type Row } from "@synthline/core/Row"
import { doc, Rowwise } from "@synthline/core/Stage"
import { Schema } from "effect"

/** The `seed` option of the stages that ask for several answers per row. */
export const seedOption = Schema.optionalWith(
  Schema.Boolean.pipe(doc("Send a per-request seed derived from (pipeline seed, stage id, conversation_id, answer index).")),
  { default: () => true }
)

/** The `extra` option: request body fields of one stage, merged over the model's extra_body. */
export const extraOption = (description: string) =>
  Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Unknown }).pipe(doc(description)), {
    default: () => ({})
  })

/** A row that goes to rejects, with the reason (reported in input order). */
export const Rejected: typeof Rowwise.Reject = Rowwise.Reject
/** A row that goes to rejects, with the reason (reported in input order). */
export type Rejected = Rowwise.Reject
/** A row dropped with a reason (counted in input order). */
export const Dropped: typeof Rowwise.Drop = Rowwise.Drop
/** A row dropped with a reason (counted in input order). */
export type Dropped = Rowwise.Drop

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

/**
 * Rows: the stream element is a plain JSON object. Each row read from a source carries,
 * under a symbol key that JSON output never sees, where it came from (file and line or row),
 * so a reject anywhere downstream can name it.
 */

/** A row: a plain JSON object. */
export type Row = { readonly [key: string]: unknown }

/**
 * Whether a value is a JSON object (a row, an option mapping, a decoded body): an object that is
 * not `null` and not an array. The one such check every synthline package uses.
 */
export const isRecord = (u: unknown): u is { [key: string]: unknown } => typeof u === "object" && u !== null && !Array.isArray(u)

/** Where a row came from: the source file and its 1-based line (JSON lines) or 0-based row index (parquet). */
export interface Origin {
  readonly file: string
  readonly line?: number
  readonly row?: number
}

/** Symbol key under which a row carries its {@link Origin}. Copied by object spread, ignored by JSON. */
export const OriginKey: unique symbol = Symbol.for("@synthline/core/Row/Origin")

/** The origin of a row, if it came from a source. */
export const origin = (row: Row): Origin | undefined =>
  (row as { readonly [OriginKey]?: Origin })[OriginKey]

/** Attaches an origin to a freshly made row object (mutates and returns it). */
export const withOrigin = <A extends object>(row: A, from: Origin): A => {
  Object.defineProperty(row, OriginKey, { value: from, enumerable: true, writable: true, configurable: true })
  return row
}

/** Symbol key under which a row carries the sequence number of its work unit in the run. */
export const UnitKey: unique symbol = Symbol.for("@synthline/core/Row/Unit")

/** The work unit a row belongs to (set by the runner; copied by object spread, ignored by JSON). */
export const unitOf = (row: Row): number | undefined => (row as { readonly [UnitKey]?: number })[UnitKey]

/** Tags a row with its work unit (mutates and returns it). */
export const withUnit = <A extends object>(row: A, seq: number): A => {
  Reflect.set(row, UnitKey, seq)
  return row
}

/** Gives `to` the work unit of `from` when a stage made a new row object without it (mutates and returns `to`). */
export const sameUnit = <A extends object>(from: Row, to: A): A => {
  if (unitOf(to as Row) === undefined) {
    const seq = unitOf(from)
    if (seq !== undefined) withUnit(to, seq)
  }
  return to
}

/** Formats an origin as `file:line` or `file#row`. */
export const formatOrigin = (o: Origin | undefined): string =>
  o === undefined ? "<unknown>" : o.line !== undefined ? `${o.file}:${o.line}` : o.row !== undefined ? `${o.file}#${o.row}` : o.file

/** Splits a dotted path such as `conversation.0.content` into keys. */
export const parsePath = (path: string): ReadonlyArray<string> => path.split(".")

/** Reads a value at a dotted path (already split); array indices are numeric keys. */
export const getPath = (row: unknown, keys: ReadonlyArray<string>): unknown => {
  let cur: unknown = row
  for (const k of keys) {
    if (cur === null || typeof cur !== "object") return undefined
    cur = (cur as { readonly [key: string]: unknown })[k]
  }
  return cur
}

/** How a value reads in an error message: `missing`, `null`, `an array`, `the string "…"`, `number 3`. */
export const describeValue = (u: unknown): string =>
  u === undefined
    ? "missing"
    : u === null
      ? "null"
      : Array.isArray(u)
        ? "an array"
        : typeof u === "object"
          ? "an object"
          : typeof u === "string"
            ? `the string ${JSON.stringify(u.length > 40 ? `${u.slice(0, 40)}…` : u)}`
            : `${typeof u} ${String(u)}`

/**
 * Encoding a work unit's rows for the main sink where they were made (a worker thread): JSON
 * lines as UTF-8, plus the whole unit as one gzip member when the sink gzips. The main thread
 * then only appends bytes (see `SinkWriter.writeEncoded`). Deflate output depends only on the
 * bytes of a member, not on how they were fed, so a member made here equals the one the
 * writer makes when it is given the same rows one chunk at a time.
 */
import * as zlib from "node:zlib"
import type { Row } from "../../Row.js"
import type { EncodedRows } from "../../Sink.js"
import { errorText } from "../../Errors.js"

/** A row that `JSON.stringify` could not encode. */
export class EncodeError extends Error {
  constructor(
    readonly index: number,
    reason: string
  ) {
    super(`cannot encode a row as JSON: ${reason}`)
  }
}

/** Gathers rows as JSON lines, then encodes them (and a gzip member at `gzipLevel`, when given). */
export class LineEncoder {
  private readonly lines: Array<string> = []

  /** Rows so far. */
  get rows(): number {
    return this.lines.length
  }

  push(row: Row): void {
    let line: string
    try {
      line = JSON.stringify(row)
    } catch (e) {
      throw new EncodeError(this.lines.length, errorText(e))
    }
    this.lines.push(line)
  }

  finish(gzipLevel: number | undefined): EncodedRows {
    const rows = this.lines.length
    const text = rows === 0 ? new Uint8Array(0) : own(Buffer.from(`${this.lines.join("\n")}\n`, "utf8"))
    this.lines.length = 0
    if (gzipLevel === undefined || rows === 0) return { rows, text }
    // The member alone travels: the main thread inflates it only to cut a unit at a part boundary.
    return { rows, text: new Uint8Array(0), gzip: own(zlib.gzipSync(text, { level: gzipLevel })) }
  }
}

/** Bytes that own their whole ArrayBuffer (small Buffers share Node's pool), so it can be transferred. */
const own = (b: Uint8Array): Uint8Array =>
  b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : new Uint8Array(b)

/**
 * The byte offset just past line `n` (1-based count of lines) of JSON-lines text; JSON text
 * never holds a raw newline, so each `\n` ends a row.
 */
export const lineEnd = (text: Uint8Array, from: number, lines: number): number => {
  let at = from
  for (let k = 0; k < lines; k++) {
    const nl = text.indexOf(10, at)
    if (nl < 0) return text.length
    at = nl + 1
  }
  return at
}

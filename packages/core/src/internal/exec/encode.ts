/**
 * Encoding a work unit's rows for the main sink where they were made (a worker thread): JSON
 * lines as UTF-8 or, when the sink gzips, the whole unit as one gzip member, encoded as the
 * rows arrive (a MiB of text at a time) so the unit never sits in memory as text. The main thread
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

/** Characters of JSON lines gathered before they are turned into bytes (and handed to deflate). */
const pieceChars = 1 << 20

/** Uncompressed bytes waiting in deflate past which {@link LineEncoder.settled} asks the caller to wait. */
const backlogBytes = 4 << 20

/**
 * Encodes rows as JSON lines as they come: every MiB of text becomes UTF-8 bytes and, when the
 * sink gzips, goes into one gzip stream (node:zlib, compressing on libuv's thread pool while
 * this thread goes on with the next rows), so a unit never sits in memory as one string or as
 * uncompressed bytes (only its compressed member grows). Await {@link settled} between chunks
 * to keep deflate's backlog bounded. Deflate output depends only on the bytes fed before the
 * end, so the member equals `gzipSync` of the whole text.
 */
export class LineEncoder {
  private count = 0
  private pending = ""
  private pieces: Array<Buffer> = []
  private deflate: zlib.Gzip | undefined
  private failure: Error | undefined

  /** `gzipLevel`: the member's level, or undefined for plain JSON lines. */
  constructor(private readonly gzipLevel?: number | undefined) {}

  /** Rows so far. */
  get rows(): number {
    return this.count
  }

  push(row: Row): void {
    let line: string
    try {
      line = JSON.stringify(row)
    } catch (e) {
      throw new EncodeError(this.count, errorText(e))
    }
    this.pending += `${line}\n`
    this.count++
    if (this.pending.length >= pieceChars) this.flush()
  }

  /** Undefined when deflate keeps up; else a promise that resolves once its backlog has drained. */
  settled(): Promise<void> | undefined {
    const z = this.deflate
    if (z === undefined || z.writableLength < backlogBytes) return undefined
    return new Promise((resolve, reject) => {
      const done = () => {
        z.off("error", fail)
        resolve()
      }
      const fail = (e: Error) => {
        z.off("drain", done)
        reject(e)
      }
      z.once("drain", done)
      z.once("error", fail)
    })
  }

  /** Turns the pending text into bytes, handed to deflate when gzipping. */
  private flush(): void {
    if (this.pending.length === 0) return
    const text = Buffer.from(this.pending, "utf8")
    this.pending = ""
    if (this.gzipLevel === undefined) {
      this.pieces.push(text)
      return
    }
    if (this.deflate === undefined) {
      const z = zlib.createGzip({ level: this.gzipLevel })
      z.on("data", (b: Buffer) => this.pieces.push(b))
      z.on("error", (e) => {
        this.failure = e
      })
      this.deflate = z
    }
    this.deflate.write(text)
  }

  /** The unit's bytes (or gzip member); the encoder is then empty and ready for the next unit. */
  async finish(): Promise<EncodedRows> {
    const rows = this.count
    if (rows === 0) return { rows, text: new Uint8Array(0) }
    this.flush()
    const z = this.deflate
    this.deflate = undefined
    if (z !== undefined) {
      await new Promise<void>((resolve, reject) => {
        if (this.failure !== undefined) return reject(this.failure)
        z.once("end", resolve)
        z.once("error", reject)
        z.end()
      })
    }
    const bytes = own(this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces))
    this.pieces = []
    this.count = 0
    // The member alone travels: the main thread inflates it only to cut a unit at a part boundary.
    return this.gzipLevel === undefined ? { rows, text: bytes } : { rows, text: new Uint8Array(0), gzip: bytes }
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

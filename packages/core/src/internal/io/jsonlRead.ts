/**
 * Reading one JSON-lines file (plain or gzip) as a row stream in constant memory: the file is
 * streamed, gunzipped when its first bytes are the gzip magic, split into lines incrementally
 * and parsed one line at a time. Bad lines go to `io.reject` with file and line; a truncated or
 * corrupt gzip stream ends the unit with one reject after the rows decoded so far (the cut line's
 * text in it); bytes after the last gzip member that are not gzip data give one reject naming
 * their byte offset, after every row of the members before them.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { Chunk, Data, Effect, Option, Stream } from "effect"
import { createReadStream } from "node:fs"
import { open } from "node:fs/promises"
import { errorText, SourceError } from "../../Errors.js"
import { isRecord, type Row, withOrigin } from "../../Row.js"
import type { SourceIO, WorkUnit } from "../../Source.js"
import { GunzipFailure, gunzip } from "./gunzip.js"
import type { InputFile } from "./inputs.js"
import { type LineEvent, LineSplitter } from "./lines.js"
import { kindOf, lmsysMismatch, type RowCheck } from "./validate.js"

/** How a JSON-lines file is read. */
export interface JsonlReadOptions {
  /** Absolute path. */
  readonly file: string
  /** Path shown in origins (relative to the pipeline folder). */
  readonly rel: string
  readonly maxLineBytes: number
  readonly check: RowCheck | undefined
  readonly io: SourceIO
  /** A range of a plain file: bytes `[byteStart, byteEnd)`, which start after line `lineStart`. */
  readonly range?: { readonly byteStart: number; readonly byteEnd: number; readonly lineStart: number } | undefined
}

class GzipBroken extends Data.TaggedError("GzipBroken")<{ readonly cause: GunzipFailure }> {}

const lossy = new TextDecoder("utf-8", { fatal: false })

const readChunk = 1024 * 1024

/** Whether a file starts with the gzip magic bytes `1f 8b`. */
export const isGzipFile = (file: string): Effect.Effect<boolean, SourceError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const handle = yield* fs.open(file, { flag: "r" })
    const head = yield* handle.readAlloc(2)
    return Option.match(head, {
      onNone: () => false,
      onSome: (b) => b.length === 2 && b[0] === 0x1f && b[1] === 0x8b
    })
  }).pipe(
    Effect.scoped,
    Effect.mapError((e) => new SourceError({ file, reason: `cannot open: ${e.message}` }))
  )

/** Turns line events into rows, sending bad lines to `io.reject`. */
const decodeLines = (events: ReadonlyArray<LineEvent>, opts: JsonlReadOptions, out: Array<Row>): void => {
  const { rel, io, check } = opts
  for (const ev of events) {
    const origin = { file: rel, line: ev.line }
    switch (ev._tag) {
      case "TooLong":
        io.reject({
          origin,
          error: `line is ${ev.bytes} bytes, longer than max_line_bytes (${opts.maxLineBytes})`,
          raw: ev.head
        })
        continue
      case "InvalidUtf8":
        io.reject({ origin, error: "invalid UTF-8 in line", raw: ev.lossy })
        continue
      case "Text": {
        let value: unknown
        try {
          value = JSON.parse(ev.text)
        } catch (e) {
          io.reject({ origin, error: `invalid JSON: ${errorText(e)}`, raw: ev.text })
          continue
        }
        if (!isRecord(value)) {
          io.reject({ origin, error: `expected a JSON object, got ${kindOf(value)}`, raw: ev.text })
          continue
        }
        if (check !== undefined) {
          const problem = check(value)
          if (problem !== undefined) {
            io.reject({ origin, error: lmsysMismatch(problem), raw: ev.text })
            continue
          }
        }
        out.push(withOrigin(value, origin))
      }
    }
  }
}

const NL = 0x0a

/**
 * Plans one JSON-lines file. A plain file is read once, counting newlines: with more than
 * `unitRows` lines it becomes consecutive units of `unitRows` lines (`data/a.jsonl#lines:0-10000`,
 * line indexes from 0, end exclusive), each a byte range that starts just after a newline, so a
 * unit is read without reading the lines before it. A file of at most `unitRows` lines is one
 * unit with the file's own id. A gzip file is one unit: a deflate stream cannot be entered in
 * the middle, so any range would inflate everything before it.
 */
export const planJsonl = (input: InputFile, unitRows: number): Effect.Effect<ReadonlyArray<WorkUnit>, SourceError, FileSystem.FileSystem> =>
  Effect.flatMap(isGzipFile(input.abs), (gzip): Effect.Effect<ReadonlyArray<WorkUnit>, SourceError> =>
    gzip
      ? Effect.succeed([{ id: input.rel, file: input.abs }])
      : Effect.tryPromise({
          try: () => lineRanges(input, unitRows),
          catch: (e) => new SourceError({ file: input.rel, reason: `cannot read: ${errorText(e)}` })
        })
  )

const lineRanges = async (input: InputFile, unitRows: number): Promise<ReadonlyArray<WorkUnit>> => {
  const handle = await open(input.abs, "r")
  // Byte offsets just after every unitRows-th newline: where the next unit starts.
  const cuts: Array<number> = []
  let lines = 0
  let offset = 0
  let tail = false
  try {
    const buf = Buffer.allocUnsafe(readChunk)
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, readChunk, offset)
      if (bytesRead === 0) break
      const chunk = buf.subarray(0, bytesRead)
      let at = chunk.indexOf(NL)
      while (at !== -1) {
        lines++
        if (lines % unitRows === 0) cuts.push(offset + at + 1)
        at = chunk.indexOf(NL, at + 1)
      }
      tail = chunk[bytesRead - 1] !== NL
      offset += bytesRead
    }
  } finally {
    await handle.close()
  }
  const total = lines + (tail ? 1 : 0)
  if (total <= unitRows) return [{ id: input.rel, file: input.abs, rows: total, bytes: offset }]
  // A cut at the very end (the last line ends a full unit) starts no unit.
  const starts = [0, ...cuts.filter((c) => c < offset)]
  return starts.map((byteStart, k) => {
    const byteEnd = starts[k + 1] ?? offset
    const rowStart = k * unitRows
    const rowEnd = Math.min(total, rowStart + unitRows)
    return { id: `${input.rel}#lines:${rowStart}-${rowEnd}`, file: input.abs, rowStart, rowEnd, rows: rowEnd - rowStart, byteStart, byteEnd, bytes: byteEnd - byteStart }
  })
}

/** The relative file of a JSON-lines unit id (`data/a.jsonl#lines:0-10000` → `data/a.jsonl`). */
export const jsonlUnitFile = (unit: WorkUnit): string => {
  const at = unit.byteStart === undefined ? -1 : unit.id.lastIndexOf("#lines:")
  return at === -1 ? unit.id : unit.id.slice(0, at)
}

/** Streams the rows of one JSON-lines file, or of a range of a plain one. */
export const readJsonl = (opts: JsonlReadOptions): Stream.Stream<Row, SourceError, FileSystem.FileSystem> =>
  Stream.unwrap(
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const gzip = yield* isGzipFile(opts.file)
      const bytes: Stream.Stream<Uint8Array, SourceError | GzipBroken> = gzip
        ? Stream.fromAsyncIterable(gunzip(createReadStream(opts.file, { highWaterMark: readChunk })), (cause) =>
            cause instanceof GunzipFailure
              ? new GzipBroken({ cause })
              : new SourceError({ file: opts.rel, reason: `cannot read: ${errorText(cause)}` })
          )
        : fs
            .stream(
              opts.file,
              opts.range === undefined
                ? { chunkSize: readChunk }
                : { chunkSize: readChunk, offset: opts.range.byteStart, bytesToRead: opts.range.byteEnd - opts.range.byteStart }
            )
            .pipe(Stream.mapError((e) => new SourceError({ file: opts.rel, reason: `cannot read: ${e.message}` })))
      const splitter = new LineSplitter(opts.maxLineBytes, opts.range?.lineStart ?? 0)
      const events: Array<LineEvent> = []
      const step = (chunk: Uint8Array, last: boolean): Chunk.Chunk<Row> => {
        events.length = 0
        if (last) splitter.end(events)
        else splitter.push(chunk, events)
        const rows: Array<Row> = []
        decodeLines(events, opts, rows)
        return Chunk.unsafeFromArray(rows)
      }
      return bytes.pipe(
        Stream.mapConcatChunk((chunk) => step(chunk, false)),
        Stream.concat(Stream.suspend(() => Stream.fromChunk(step(new Uint8Array(0), true)))),
        Stream.catchTag("GzipBroken", ({ cause }) =>
          Stream.suspend(() => {
            if (cause.kind === "trailing") {
              // Every member before the junk is complete: its last line, even without a newline, is a row.
              const rows = step(new Uint8Array(0), true)
              const lines = splitter.lines
              opts.io.reject({
                origin: { file: opts.rel },
                error: `${cause.trailing?.bytes} trailing bytes at byte ${cause.offset} after the last gzip member are not gzip data (ignored; the ${lines} lines before them were read)`,
                raw: lossy.decode(cause.trailing?.head)
              })
              return Stream.fromChunk(rows)
            }
            const after = splitter.lines
            opts.io.reject({
              origin: { file: opts.rel, line: after + 1 },
              error:
                cause.kind === "truncated"
                  ? `truncated gzip stream: ${cause.detail} after line ${after}`
                  : `corrupt gzip stream at byte ${cause.offset}, after line ${after}: ${cause.detail}`,
              raw: splitter.partial ?? ""
            })
            return Stream.empty
          })
        )
      )
    })
  )

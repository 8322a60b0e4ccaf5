/**
 * The resumable part-file writer behind the `jsonl` and `parquet` sinks. Rows are appended as
 * JSON lines to the part in progress (`<part>.jsonl[.gz].partial`, or `<part>.parquet.spool`
 * which becomes a parquet file when the part completes); a part completes after `shardRows`
 * rows or at `finish` and gets its final name. `commit` fsyncs and returns a {@link Checkpoint};
 * `open` with that checkpoint truncates the part in progress back to it and drops anything
 * newer, so writing the same rows again yields byte-identical files.
 *
 * Gzip output ends a gzip member at every commit (and at completion), so the durable bytes are
 * always a valid gzip stream. The parquet spool of a completed part is kept until a later commit
 * shows no checkpoint the runner may still resume from points at it (the runner persists each
 * checkpoint before the next commit), and removed at `finish`.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Chunk, Effect, ExecutionStrategy, Exit, Scope } from "effect"
import { asyncBufferFromFile, parquetMetadataAsync } from "hyparquet"
import { errorText, SinkError } from "../../Errors.js"
import type { Row } from "../../Row.js"
import type { EncodedRows, OutputFile, SinkOpenOptions, SinkWriter } from "../../Sink.js"
import { lineEnd } from "../exec/encode.js"
import * as zlib from "node:zlib"
import { GzipMember } from "./gzip.js"
import { spoolToParquet } from "./parquetWrite.js"
import { type Checkpoint, decodeCheckpoint, listParts, outputFile, type PartExt, partName, sinkError, syncDir } from "./parts.js"

/** The output format of a part writer. */
export type PartFormat =
  | { readonly _tag: "jsonl"; readonly gzipLevel: number | undefined }
  | { readonly _tag: "parquet"; readonly rowGroupRows: number }

/** Options of {@link openPartWriter}. */
export interface PartWriterOptions extends SinkOpenOptions {
  /** Rows per part; 0 = one part. */
  readonly shardRows: number
  readonly format: PartFormat
}

/** Characters of encoded rows gathered before they are handed to the file (or gzip). */
const flushChars = 4 * 1024 * 1024

/** Opens a part writer in `options.dir`, fresh or resumed from `options.resume`. */
export const openPartWriter = (
  options: PartWriterOptions
): Effect.Effect<SinkWriter, SinkError, Scope.Scope | FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const scope = yield* Effect.scope
    const context = yield* Effect.context<FileSystem.FileSystem | Path.Path>()
    const { dir, prefix, shardRows, format } = options
    const plainExt: PartExt = format._tag === "parquet" ? "parquet" : format.gzipLevel === undefined ? "jsonl" : "jsonl.gz"
    // A plugin's encoder (encryption, say) rewrites each completed jsonl part into `<part>.<suffix>`.
    const encoder = format._tag === "jsonl" ? options.encoder : undefined
    const ext: PartExt = encoder === undefined ? plainExt : `${plainExt}.${encoder.suffix}`
    if (encoder !== undefined && (!/^[a-z0-9]{1,16}$/.test(encoder.suffix) || ["gz", "partial", "spool"].includes(encoder.suffix))) {
      return yield* new SinkError({ path: dir, reason: `a part encoder's suffix must be a short lowercase word other than gz, partial and spool, not "${encoder.suffix}"` })
    }
    const finalName = (k: number) => partName(prefix, k, ext)
    /** The completed, not yet encoded part (the final name without an encoder). */
    const plainName = (k: number) => partName(prefix, k, plainExt)
    const progressName = (k: number) => `${plainName(k)}${format._tag === "parquet" ? ".spool" : ".partial"}`
    const at = (name: string) => path.join(dir, name)
    const exists = (name: string) => fs.exists(at(name)).pipe(Effect.mapError(sinkError(at(name))))
    const remove = (name: string) => fs.remove(at(name)).pipe(Effect.mapError(sinkError(at(name))))
    const removeIfExists = (name: string) =>
      Effect.flatMap(exists(name), (e) => (e ? remove(name) : Effect.void))
    const rename = (from: string, to: string) => fs.rename(at(from), at(to)).pipe(Effect.mapError(sinkError(at(from))))

    yield* fs.makeDirectory(dir, { recursive: true }).pipe(Effect.mapError(sinkError(dir)))

    let part = 0
    let rowsInPart = 0
    let bytes = 0
    const files: Array<OutputFile> = []
    /** Parts whose parquet spool may be removed once no resumable checkpoint points at them. */
    const pendingSpools: Array<number> = []
    let finished = false

    // ---- fresh start or resume
    const found = yield* listParts(dir, prefix)
    if (options.resume === undefined) {
      for (const p of found) yield* remove(p.name)
    } else {
      const cp: Checkpoint = yield* decodeCheckpoint(dir, options.resume)
      for (const p of found) {
        const keep =
          p.index < cp.part
            ? p.ext === ext && p.state === "final"
            : p.index === cp.part && (p.ext === ext || p.ext === plainExt)
        if (!keep) yield* remove(p.name)
      }
      for (const f of cp.files) {
        const info = yield* fs.stat(at(f.path)).pipe(
          Effect.mapError(() => new SinkError({ path: at(f.path), reason: "cannot resume: a completed part file is missing" }))
        )
        if (Number(info.size) !== f.bytes) {
          return yield* new SinkError({
            path: at(f.path),
            reason: `cannot resume: completed part has ${info.size} bytes, the checkpoint says ${f.bytes}`
          })
        }
        files.push(f)
      }
      part = cp.part
      rowsInPart = cp.rowsInPart
      bytes = cp.bytes
      const final = finalName(cp.part)
      const progress = progressName(cp.part)
      if (format._tag === "parquet") yield* removeIfExists(`${final}.partial`)
      if (cp.bytes === 0) {
        yield* removeIfExists(final)
        yield* removeIfExists(progress)
        if (encoder !== undefined) {
          yield* removeIfExists(plainName(cp.part))
          yield* removeIfExists(`${final}.partial`)
        }
      } else if (encoder !== undefined) {
        // The part was in progress at the checkpoint; it may have completed since: as the plain
        // part (renamed, not yet encoded or not yet removed) or only as the encoded part.
        const plain = plainName(cp.part)
        const hasProgress = yield* exists(progress)
        if (!hasProgress && (yield* exists(plain))) yield* rename(plain, progress)
        else if (!hasProgress && (yield* exists(final))) {
          yield* removeIfExists(`${progress}.partial`)
          yield* encoder.decode(at(final), at(progress)).pipe(
            Effect.mapError((e) => new SinkError({ path: at(final), reason: `cannot resume from the encoded part: ${e.reason}` }))
          )
        } else if (!hasProgress) {
          return yield* new SinkError({ path: at(progress), reason: "cannot resume: the part in progress is missing" })
        }
        yield* removeIfExists(plain)
        yield* removeIfExists(`${final}.partial`)
        yield* removeIfExists(final)
      } else {
        const hasProgress = yield* exists(progress)
        const hasFinal = yield* exists(final)
        if (format._tag === "jsonl" && !hasProgress && hasFinal) {
          // Completed after the checkpoint (at rotation or finish): reopen it.
          yield* rename(final, progress)
        } else if (format._tag === "parquet" && !hasProgress && hasFinal) {
          // Completed and its spool removed by `finish`: valid only if no row came after the checkpoint.
          const rows = yield* Effect.tryPromise({
            try: async () => Number((await parquetMetadataAsync(await asyncBufferFromFile(at(final)))).num_rows),
            catch: (e) => new SinkError({ path: at(final), reason: `cannot resume: ${errorText(e)}` })
          })
          if (rows !== cp.rowsInPart) {
            return yield* new SinkError({
              path: at(final),
              reason: `cannot resume: its spool is gone and it holds ${rows} rows, the checkpoint says ${cp.rowsInPart}`
            })
          }
          files.push(yield* outputFile(dir, final, rows))
          part = cp.part + 1
          rowsInPart = 0
          bytes = 0
        } else if (!hasProgress) {
          return yield* new SinkError({ path: at(progress), reason: "cannot resume: the part in progress is missing" })
        } else if (hasFinal) {
          yield* remove(final)
        }
      }
      if (cp.bytes > 0 && part === cp.part) {
        const info = yield* fs.stat(at(progress)).pipe(Effect.mapError(sinkError(at(progress))))
        if (Number(info.size) < cp.bytes) {
          return yield* new SinkError({
            path: at(progress),
            reason: `cannot resume: the part in progress has ${info.size} bytes, the checkpoint says ${cp.bytes}`
          })
        }
        yield* fs.truncate(at(progress), BigInt(cp.bytes)).pipe(Effect.mapError(sinkError(at(progress))))
      }
    }
    /** The part of the last checkpoint handed out (or resumed from). */
    let durablePart = part
    yield* syncDir(dir)

    // ---- the part in progress
    let handle: { readonly file: FileSystem.File; readonly scope: Scope.CloseableScope } | undefined
    let member: GzipMember | undefined

    const ensureOpen = Effect.gen(function* () {
      if (handle !== undefined) return handle.file
      const partScope = yield* Scope.fork(scope, ExecutionStrategy.sequential)
      const file = yield* fs.open(at(progressName(part)), { flag: "a" }).pipe(
        Scope.extend(partScope),
        Effect.mapError(sinkError(at(progressName(part))))
      )
      handle = { file, scope: partScope }
      return file
    })

    const append = (data: Uint8Array) =>
      Effect.gen(function* () {
        if (data.length === 0) return
        const file = yield* ensureOpen
        yield* file.writeAll(data).pipe(Effect.mapError(sinkError(at(progressName(part)))))
        bytes += data.length
      })

    const gzipError = (e: Error) => new SinkError({ path: at(progressName(part)), reason: `gzip: ${e.message}` })

    const put = (text: string | Uint8Array) =>
      Effect.gen(function* () {
        const data = typeof text === "string" ? Buffer.from(text, "utf8") : text
        if (format._tag === "jsonl" && format.gzipLevel !== undefined) {
          if (member === undefined) member = new GzipMember(format.gzipLevel)
          yield* append(yield* member.write(data).pipe(Effect.mapError(gzipError)))
        } else {
          yield* append(data)
        }
      })

    /** Ends the open gzip member, if any. */
    const seal = Effect.gen(function* () {
      if (member === undefined) return
      const m = member
      member = undefined
      yield* append(yield* m.end().pipe(Effect.mapError(gzipError)))
    })

    const syncOpen = Effect.gen(function* () {
      if (handle !== undefined) yield* handle.file.sync.pipe(Effect.mapError(sinkError(at(progressName(part)))))
    })

    const closeOpen = Effect.gen(function* () {
      if (handle === undefined) return
      yield* syncOpen
      const h = handle
      handle = undefined
      yield* Scope.close(h.scope, Exit.void)
    })

    const completePart = Effect.gen(function* () {
      yield* seal
      yield* closeOpen
      const final = finalName(part)
      if (format._tag === "parquet") {
        yield* spoolToParquet(at(progressName(part)), at(`${final}.partial`), format.rowGroupRows)
        yield* rename(`${final}.partial`, final)
        pendingSpools.push(part)
      } else if (encoder !== undefined) {
        // plain part → encoded part (written under a temporary name, fsynced, renamed) → plain removed.
        const plain = plainName(part)
        yield* rename(progressName(part), plain)
        yield* encoder.encode(at(plain), at(final))
        yield* remove(plain)
        yield* syncDir(dir)
      } else {
        yield* rename(progressName(part), final)
      }
      files.push(yield* outputFile(dir, final, rowsInPart))
      part++
      rowsInPart = 0
      bytes = 0
    })

    const removeSpools = (below: number) =>
      Effect.gen(function* () {
        for (let i = pendingSpools.length - 1; i >= 0; i--) {
          const k = pendingSpools[i]!
          if (k < below) {
            yield* removeIfExists(progressName(k))
            pendingSpools.splice(i, 1)
          }
        }
      })

    const notFinished = Effect.suspend(() =>
      finished ? Effect.fail(new SinkError({ path: dir, reason: "the writer is already finished" })) : Effect.void
    )

    const write = (chunk: Chunk.Chunk<Row>): Effect.Effect<void, SinkError> =>
      Effect.provide(writeRows(chunk), context)

    const writeRows = (chunk: Chunk.Chunk<Row>) =>
      Effect.gen(function* () {
        yield* notFinished
        const rows = Chunk.toReadonlyArray(chunk)
        let i = 0
        while (i < rows.length) {
          const room = shardRows > 0 ? shardRows - rowsInPart : rows.length - i
          const end = i + Math.min(room, rows.length - i)
          let text = ""
          for (; i < end; i++) {
            let line: string
            try {
              line = JSON.stringify(rows[i])
            } catch (e) {
              return yield* new SinkError({ path: at(progressName(part)), reason: `cannot encode a row as JSON: ${errorText(e)}` })
            }
            text += `${line}\n`
            rowsInPart++
            if (text.length >= flushChars) {
              yield* put(text)
              text = ""
            }
          }
          if (text.length > 0) yield* put(text)
          if (shardRows > 0 && rowsInPart >= shardRows) yield* completePart
        }
      })

    /**
     * Rows a worker encoded: a unit that fits the part in progress is appended as it came (its
     * gzip member whole); one that crosses a part boundary is cut at the boundary's line and
     * each piece goes through the part's own member, as `write` would have done.
     */
    const writeEncoded = (encoded: EncodedRows): Effect.Effect<void, SinkError> =>
      Effect.gen(function* () {
        yield* notFinished
        let text = encoded.text
        let done = 0
        let at = 0
        while (done < encoded.rows) {
          const room = shardRows > 0 ? shardRows - rowsInPart : encoded.rows - done
          const take = Math.min(room, encoded.rows - done)
          if (done === 0 && take === encoded.rows && member === undefined) {
            const level = format._tag === "jsonl" ? format.gzipLevel : undefined
            yield* append(level === undefined ? text : (encoded.gzip ?? zlib.gzipSync(text, { level })))
          } else {
            if (text.length === 0 && encoded.gzip !== undefined) text = zlib.gunzipSync(encoded.gzip)
            const end = lineEnd(text, at, take)
            yield* put(text.subarray(at, end))
            at = end
          }
          done += take
          rowsInPart += take
          if (shardRows > 0 && rowsInPart >= shardRows) yield* completePart
        }
      }).pipe(Effect.provide(context))

    const commit: Effect.Effect<Checkpoint, SinkError> = Effect.gen(function* () {
      yield* notFinished
      yield* seal
      yield* syncOpen
      yield* removeSpools(durablePart)
      yield* syncDir(dir)
      durablePart = part
      const checkpoint: Checkpoint = { part, rowsInPart, bytes, files: [...files] }
      return checkpoint
    }).pipe(Effect.provide(context))

    const finish: Effect.Effect<ReadonlyArray<OutputFile>, SinkError> = Effect.gen(function* () {
      if (finished) return [...files]
      if (rowsInPart > 0) yield* completePart
      else {
        yield* seal
        yield* closeOpen
        yield* removeIfExists(progressName(part))
      }
      yield* removeSpools(Number.MAX_SAFE_INTEGER)
      yield* syncDir(dir)
      finished = true
      return [...files]
    }).pipe(Effect.provide(context))

    return { write, writeEncoded, commit, finish }
  })

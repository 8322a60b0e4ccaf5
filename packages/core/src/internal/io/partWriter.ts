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
import { Chunk, type Context, Effect, ExecutionStrategy, Exit, Scope } from "effect"
import { errorText, SinkError } from "../../Errors.js"
import type { Row } from "../../Row.js"
import type { EncodedRows, OutputFile, PartEncoder, SinkOpenOptions, SinkWriter } from "../../Sink.js"
import { lineEnd } from "../exec/encode.js"
import * as zlib from "node:zlib"
import { GzipMember } from "./gzip.js"
import { PartFiles } from "./partFiles.js"
import { type StartState, startParts } from "./partResume.js"
import { spoolToParquet } from "./parquetWrite.js"
import { type Checkpoint, outputFile, type PartExt, sinkError, syncDir } from "./parts.js"

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
    const { dir, prefix, format } = options
    const plainExt: PartExt = format._tag === "parquet" ? "parquet" : format.gzipLevel === undefined ? "jsonl" : "jsonl.gz"
    // A plugin's encoder (encryption, say) rewrites each completed jsonl part into `<part>.<suffix>`.
    const encoder = format._tag === "jsonl" ? options.encoder : undefined
    if (encoder !== undefined) yield* checkEncoderSuffix(dir, encoder.suffix)
    const ext: PartExt = encoder === undefined ? plainExt : `${plainExt}.${encoder.suffix}`
    const files = new PartFiles(fs, path, dir, prefix, ext, plainExt, format._tag === "parquet")
    yield* fs.makeDirectory(dir, { recursive: true }).pipe(Effect.mapError(sinkError(dir)))
    const start = yield* startParts(files, encoder, options.resume)
    yield* syncDir(dir)
    return new PartWriter(files, format, encoder, options.shardRows, scope, start).sinkWriter(context)
  })

/** Fails unless `suffix` is a short lowercase word other than the suffixes part files already use. */
const checkEncoderSuffix = (dir: string, suffix: string): Effect.Effect<void, SinkError> =>
  !/^[a-z0-9]{1,16}$/.test(suffix) || ["gz", "partial", "spool"].includes(suffix)
    ? Effect.fail(
        new SinkError({ path: dir, reason: `a part encoder's suffix must be a short lowercase word other than gz, partial and spool, not "${suffix}"` })
      )
    : Effect.void

/** The open file of the part in progress, in a scope of its own that closing the part closes. */
interface OpenPart {
  readonly file: FileSystem.File
  readonly scope: Scope.CloseableScope
}

/**
 * The state of one open part writer: the part in progress (its rows, bytes, open file and gzip
 * member), the parts completed so far and the parquet spools not yet removed. Not safe for
 * concurrent calls, as {@link SinkWriter} says.
 */
class PartWriter {
  private part: number
  private rowsInPart: number
  private bytes: number
  private readonly files: Array<OutputFile>
  /** Parts whose parquet spool may be removed once no resumable checkpoint points at them. */
  private readonly pendingSpools: Array<number> = []
  private finished = false
  /** The part of the last checkpoint handed out (or resumed from). */
  private durablePart: number
  private handle: OpenPart | undefined = undefined
  private member: GzipMember | undefined = undefined

  constructor(
    private readonly names: PartFiles,
    private readonly format: PartFormat,
    private readonly encoder: PartEncoder | undefined,
    /** Rows per part; 0 = one part. */
    private readonly shardRows: number,
    /** The writer's scope, in which each part's file is opened in a scope of its own. */
    private readonly scope: Scope.Scope,
    start: StartState
  ) {
    this.part = start.part
    this.rowsInPart = start.rowsInPart
    this.bytes = start.bytes
    this.files = [...start.files]
    this.durablePart = start.part
  }

  /** The writer as a {@link SinkWriter}, each operation given the file system and paths of `context`. */
  sinkWriter(context: Context.Context<FileSystem.FileSystem | Path.Path>): SinkWriter {
    return {
      write: (chunk) => Effect.provide(this.writeRows(chunk), context),
      writeEncoded: (encoded) => this.writeEncoded(encoded).pipe(Effect.provide(context)),
      commit: this.commit().pipe(Effect.provide(context)),
      finish: this.finish().pipe(Effect.provide(context))
    }
  }

  /** The absolute path of the part in progress. */
  private progressPath(): string {
    return this.names.at(this.names.progressName(this.part))
  }

  /** The file of the part in progress, opened for appending when it is not open yet. */
  private ensureOpen(): Effect.Effect<FileSystem.File, SinkError, FileSystem.FileSystem> {
    return Effect.gen(this, function* () {
      if (this.handle !== undefined) return this.handle.file
      const partScope = yield* Scope.fork(this.scope, ExecutionStrategy.sequential)
      const fs = yield* FileSystem.FileSystem
      const file = yield* fs.open(this.progressPath(), { flag: "a" }).pipe(
        Scope.extend(partScope),
        Effect.mapError(sinkError(this.progressPath()))
      )
      this.handle = { file, scope: partScope }
      return file
    })
  }

  /** Appends bytes to the part in progress as they are. */
  private append(data: Uint8Array): Effect.Effect<void, SinkError, FileSystem.FileSystem> {
    return Effect.gen(this, function* () {
      if (data.length === 0) return
      const file = yield* this.ensureOpen()
      yield* file.writeAll(data).pipe(Effect.mapError(sinkError(this.progressPath())))
      this.bytes += data.length
    })
  }

  /** A gzip failure on the part in progress. */
  private gzipError(e: Error): SinkError {
    return new SinkError({ path: this.progressPath(), reason: `gzip: ${e.message}` })
  }

  /** Appends encoded lines to the part in progress, through its gzip member when the output is gzipped. */
  private put(text: string | Uint8Array): Effect.Effect<void, SinkError, FileSystem.FileSystem> {
    return Effect.gen(this, function* () {
      const data = typeof text === "string" ? Buffer.from(text, "utf8") : text
      if (this.format._tag === "jsonl" && this.format.gzipLevel !== undefined) {
        if (this.member === undefined) this.member = new GzipMember(this.format.gzipLevel)
        yield* this.append(yield* this.member.write(data).pipe(Effect.mapError((e) => this.gzipError(e))))
      } else {
        yield* this.append(data)
      }
    })
  }

  /** Ends the open gzip member, if any. */
  private seal(): Effect.Effect<void, SinkError, FileSystem.FileSystem> {
    return Effect.gen(this, function* () {
      if (this.member === undefined) return
      const m = this.member
      this.member = undefined
      yield* this.append(yield* m.end().pipe(Effect.mapError((e) => this.gzipError(e))))
    })
  }

  /** Fsyncs the open file of the part in progress, if any. */
  private syncOpen(): Effect.Effect<void, SinkError> {
    return Effect.gen(this, function* () {
      if (this.handle !== undefined) yield* this.handle.file.sync.pipe(Effect.mapError(sinkError(this.progressPath())))
    })
  }

  /** Fsyncs and closes the open file of the part in progress, if any. */
  private closeOpen(): Effect.Effect<void, SinkError> {
    return Effect.gen(this, function* () {
      if (this.handle === undefined) return
      yield* this.syncOpen()
      const h = this.handle
      this.handle = undefined
      yield* Scope.close(h.scope, Exit.void)
    })
  }

  /** Completes the part in progress: gives it its final name (as parquet, or encoded) and starts the next one. */
  private completePart(): Effect.Effect<void, SinkError, FileSystem.FileSystem | Path.Path> {
    return Effect.gen(this, function* () {
      yield* this.seal()
      yield* this.closeOpen()
      const final = this.names.finalName(this.part)
      const progress = this.names.progressName(this.part)
      if (this.format._tag === "parquet") {
        yield* spoolToParquet(this.names.at(progress), this.names.at(`${final}.partial`), this.format.rowGroupRows)
        yield* this.names.rename(`${final}.partial`, final)
        this.pendingSpools.push(this.part)
      } else if (this.encoder !== undefined) {
        // plain part → encoded part (written under a temporary name, fsynced, renamed) → plain removed.
        const plain = this.names.plainName(this.part)
        yield* this.names.rename(progress, plain)
        yield* this.encoder.encode(this.names.at(plain), this.names.at(final))
        yield* this.names.remove(plain)
        yield* syncDir(this.names.dir)
      } else {
        yield* this.names.rename(progress, final)
      }
      this.files.push(yield* outputFile(this.names.dir, final, this.rowsInPart))
      this.part++
      this.rowsInPart = 0
      this.bytes = 0
    })
  }

  /** Completes the part in progress when it holds `shardRows` rows. */
  private rotateIfFull(): Effect.Effect<void, SinkError, FileSystem.FileSystem | Path.Path> {
    return this.shardRows > 0 && this.rowsInPart >= this.shardRows ? this.completePart() : Effect.void
  }

  /** Removes the parquet spools of completed parts below `below`. */
  private removeSpools(below: number): Effect.Effect<void, SinkError> {
    return Effect.gen(this, function* () {
      for (let i = this.pendingSpools.length - 1; i >= 0; i--) {
        const k = this.pendingSpools[i]!
        if (k < below) {
          yield* this.names.removeIfExists(this.names.progressName(k))
          this.pendingSpools.splice(i, 1)
        }
      }
    })
  }

  /** Fails once the writer is finished. */
  private notFinished(): Effect.Effect<void, SinkError> {
    return Effect.suspend(() =>
      this.finished ? Effect.fail(new SinkError({ path: this.names.dir, reason: "the writer is already finished" })) : Effect.void
    )
  }

  /** Rows as JSON lines, cut into parts of `shardRows` rows. */
  private writeRows(chunk: Chunk.Chunk<Row>): Effect.Effect<void, SinkError, FileSystem.FileSystem | Path.Path> {
    return Effect.gen(this, function* () {
      yield* this.notFinished()
      const rows = Chunk.toReadonlyArray(chunk)
      let i = 0
      while (i < rows.length) {
        const room = this.shardRows > 0 ? this.shardRows - this.rowsInPart : rows.length - i
        const end = i + Math.min(room, rows.length - i)
        yield* this.putRows(rows, i, end)
        i = end
        yield* this.rotateIfFull()
      }
    })
  }

  /** Appends `rows[from, to)` to the part in progress as JSON lines, handed on every {@link flushChars} characters. */
  private putRows(rows: ReadonlyArray<Row>, from: number, to: number): Effect.Effect<void, SinkError, FileSystem.FileSystem> {
    return Effect.gen(this, function* () {
      let text = ""
      for (let i = from; i < to; i++) {
        let line: string
        try {
          line = JSON.stringify(rows[i])
        } catch (e) {
          return yield* new SinkError({ path: this.progressPath(), reason: `cannot encode a row as JSON: ${errorText(e)}` })
        }
        text += `${line}\n`
        this.rowsInPart++
        if (text.length >= flushChars) {
          yield* this.put(text)
          text = ""
        }
      }
      if (text.length > 0) yield* this.put(text)
    })
  }

  /**
   * Rows a worker encoded: a unit that fits the part in progress is appended as it came (its
   * gzip member whole); one that crosses a part boundary is cut at the boundary's line and
   * each piece goes through the part's own member, as `write` would have done.
   */
  private writeEncoded(encoded: EncodedRows): Effect.Effect<void, SinkError, FileSystem.FileSystem | Path.Path> {
    return Effect.gen(this, function* () {
      yield* this.notFinished()
      let text = encoded.text
      let done = 0
      let offset = 0
      while (done < encoded.rows) {
        const room = this.shardRows > 0 ? this.shardRows - this.rowsInPart : encoded.rows - done
        const take = Math.min(room, encoded.rows - done)
        if (done === 0 && take === encoded.rows && this.member === undefined) {
          const level = this.format._tag === "jsonl" ? this.format.gzipLevel : undefined
          yield* this.append(level === undefined ? text : (encoded.gzip ?? zlib.gzipSync(text, { level })))
        } else {
          if (text.length === 0 && encoded.gzip !== undefined) text = zlib.gunzipSync(encoded.gzip)
          const end = lineEnd(text, offset, take)
          yield* this.put(text.subarray(offset, end))
          offset = end
        }
        done += take
        this.rowsInPart += take
        yield* this.rotateIfFull()
      }
    })
  }

  /** Makes everything written so far durable and returns the checkpoint to resume from. */
  private commit(): Effect.Effect<Checkpoint, SinkError, FileSystem.FileSystem> {
    return Effect.gen(this, function* () {
      yield* this.notFinished()
      yield* this.seal()
      yield* this.syncOpen()
      yield* this.removeSpools(this.durablePart)
      yield* syncDir(this.names.dir)
      this.durablePart = this.part
      const checkpoint: Checkpoint = { part: this.part, rowsInPart: this.rowsInPart, bytes: this.bytes, files: [...this.files] }
      return checkpoint
    })
  }

  /** Completes the part in progress (or removes it when empty), removes the spools left, and lists every part. */
  private finish(): Effect.Effect<ReadonlyArray<OutputFile>, SinkError, FileSystem.FileSystem | Path.Path> {
    return Effect.gen(this, function* () {
      if (this.finished) return [...this.files]
      if (this.rowsInPart > 0) yield* this.completePart()
      else {
        yield* this.seal()
        yield* this.closeOpen()
        yield* this.names.removeIfExists(this.names.progressName(this.part))
      }
      yield* this.removeSpools(Number.MAX_SAFE_INTEGER)
      yield* syncDir(this.names.dir)
      this.finished = true
      return [...this.files]
    })
  }
}

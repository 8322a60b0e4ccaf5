/**
 * Part files shared by the sinks: names (`<prefix>-00003.jsonl.gz`, with `.partial` while in
 * progress and `.spool` for the parquet sink's row spool), finding the part files of one prefix
 * in a folder, the resumable checkpoint, and durability helpers (fsync, sha256).
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Effect, Either, ParseResult, Schema, Stream } from "effect"
import * as crypto from "node:crypto"
import { SinkError } from "../../Errors.js"
import type { OutputFile } from "../../Sink.js"

/** The extension of a part file: `jsonl`, `jsonl.gz` or `parquet`, with a part encoder's suffix after it (`jsonl.gz.gpg`). */
export type PartExt = string

/** The state a part file is in. */
export type PartState = "final" | "partial" | "spool"

/** A part file found in a sink folder. */
export interface PartFile {
  readonly name: string
  readonly index: number
  readonly ext: PartExt
  readonly state: PartState
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** The final name of part `k`. */
export const partName = (prefix: string, k: number, ext: PartExt): string =>
  `${prefix}-${String(k).padStart(5, "0")}.${ext}`

/** Lists the part files of `prefix` in `dir` (other prefixes, manifests and sub-folders are never listed). */
export const listParts = (
  dir: string,
  prefix: string
): Effect.Effect<ReadonlyArray<PartFile>, SinkError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const names = yield* fs.readDirectory(dir).pipe(Effect.mapError((e) => new SinkError({ path: dir, reason: e.message })))
    // An encoder's suffix is any short lowercase word but the two state suffixes.
    const re = new RegExp(`^${escapeRegExp(prefix)}-(\\d{5,})\\.((?:jsonl\\.gz|jsonl|parquet)(?:\\.(?!partial$|spool$)[a-z0-9]{1,16})?)(\\.partial|\\.spool)?$`)
    const out: Array<PartFile> = []
    for (const name of names) {
      const m = re.exec(name)
      if (m === null) continue
      const ext = m[2]!
      out.push({
        name,
        index: Number(m[1]),
        ext,
        state: m[3] === ".partial" ? "partial" : m[3] === ".spool" ? "spool" : "final"
      })
    }
    return out
  })

const OutputFileSchema = Schema.Struct({
  path: Schema.String,
  rows: Schema.NonNegativeInt,
  bytes: Schema.NonNegativeInt,
  sha256: Schema.String
})

/** The checkpoint both sinks return from `commit`. */
export const Checkpoint = Schema.Struct({
  /** Index of the part in progress. */
  part: Schema.NonNegativeInt,
  /** Rows already in that part. */
  rowsInPart: Schema.NonNegativeInt,
  /** Durable bytes of that part's in-progress file (`.partial`, or `.spool` for parquet). */
  bytes: Schema.NonNegativeInt,
  /** Parts completed so far. */
  files: Schema.Array(OutputFileSchema)
})

/** A decoded checkpoint. */
export type Checkpoint = typeof Checkpoint.Type

/** Decodes a resume checkpoint. */
export const decodeCheckpoint = (dir: string, u: unknown): Effect.Effect<Checkpoint, SinkError> =>
  Either.match(Schema.decodeUnknownEither(Checkpoint)(u), {
    onLeft: (e) =>
      Effect.fail(
        new SinkError({ path: dir, reason: `invalid sink checkpoint: ${ParseResult.TreeFormatter.formatErrorSync(e)}` })
      ),
    onRight: Effect.succeed
  })

/** Maps a platform error to a `SinkError` on `path`. */
export const sinkError =
  (path: string) =>
  (e: { readonly message: string }): SinkError =>
    new SinkError({ path, reason: e.message })

/** Flushes a folder's entries (renames, creations) to disk; a no-op where folders cannot be synced. */
export const syncDir = (dir: string): Effect.Effect<void, never, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const handle = yield* fs.open(dir, { flag: "r" })
    yield* handle.sync
  }).pipe(Effect.scoped, Effect.ignore)

/** The sha256 (hex) of a file, streamed. */
export const sha256File = (file: string): Effect.Effect<string, SinkError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const hash = crypto.createHash("sha256")
    yield* fs.stream(file, { chunkSize: 1024 * 1024 }).pipe(
      Stream.runForEach((chunk) => Effect.sync(() => hash.update(chunk))),
      Effect.mapError(sinkError(file))
    )
    return hash.digest("hex")
  })

/** Describes a completed part file. */
export const outputFile = (
  dir: string,
  name: string,
  rows: number
): Effect.Effect<OutputFile, SinkError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const abs = path.join(dir, name)
    const info = yield* fs.stat(abs).pipe(Effect.mapError(sinkError(abs)))
    const sha256 = yield* sha256File(abs)
    return { path: name, rows, bytes: Number(info.size), sha256 }
  })

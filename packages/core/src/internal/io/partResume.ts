/**
 * Where a part writer starts: a fresh start removes every part file of its prefix; a resume
 * keeps the parts its checkpoint lists (checking their sizes), drops anything newer, and brings
 * the part in progress back to the checkpoint's bytes, whatever happened to it since (completed,
 * encoded, its parquet spool removed by `finish`).
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import { Effect } from "effect"
import { asyncBufferFromFile, parquetMetadataAsync } from "hyparquet"
import { errorText, SinkError } from "../../Errors.js"
import type { OutputFile, PartEncoder, SinkCheckpoint } from "../../Sink.js"
import type { PartFiles } from "./partFiles.js"
import { type Checkpoint, decodeCheckpoint, listParts, outputFile, type PartFile } from "./parts.js"

/** The state a part writer starts from. */
export interface StartState {
  /** Index of the part in progress. */
  readonly part: number
  /** Rows already in that part. */
  readonly rowsInPart: number
  /** Bytes already in that part's in-progress file. */
  readonly bytes: number
  /** Parts completed before it. */
  readonly files: ReadonlyArray<OutputFile>
}

/**
 * Prepares the folder of a part writer, fresh (`resume` undefined: every part file of the prefix
 * is removed) or resumed from the checkpoint `resume`, and says where the writer starts.
 */
export const startParts = (
  files: PartFiles,
  encoder: PartEncoder | undefined,
  resume: SinkCheckpoint | undefined
): Effect.Effect<StartState, SinkError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const found = yield* listParts(files.dir, files.prefix)
    if (resume === undefined) {
      for (const p of found) yield* files.remove(p.name)
      return { part: 0, rowsInPart: 0, bytes: 0, files: [] }
    }
    const cp = yield* decodeCheckpoint(files.dir, resume)
    return yield* resumeFrom(files, encoder, cp, found)
  })

/** Resumes the parts of `found` from checkpoint `cp`. */
const resumeFrom = (
  files: PartFiles,
  encoder: PartEncoder | undefined,
  cp: Checkpoint,
  found: ReadonlyArray<PartFile>
): Effect.Effect<StartState, SinkError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    yield* dropNewerParts(files, cp, found)
    const completed = yield* checkCompletedParts(files, cp)
    const final = files.finalName(cp.part)
    if (files.parquet) yield* files.removeIfExists(`${final}.partial`)
    if (cp.bytes === 0) yield* clearEmptyPart(files, encoder !== undefined, cp.part)
    else if (encoder !== undefined) yield* restoreEncodedPart(files, encoder, cp.part)
    else {
      const done = yield* restorePlainPart(files, cp)
      // The part completed after the checkpoint with no row after it: the writer starts the next one.
      if (done !== undefined) return { part: cp.part + 1, rowsInPart: 0, bytes: 0, files: [...completed, done] }
    }
    if (cp.bytes > 0) yield* truncateProgress(files, cp)
    return { part: cp.part, rowsInPart: cp.rowsInPart, bytes: cp.bytes, files: completed }
  })

/**
 * Removes the part files the checkpoint does not account for: completed parts after it, files of
 * other formats, and anything of the part in progress but its in-progress file and final name.
 */
const dropNewerParts = (files: PartFiles, cp: Checkpoint, found: ReadonlyArray<PartFile>): Effect.Effect<void, SinkError> =>
  Effect.gen(function* () {
    for (const p of found) {
      const keep =
        p.index < cp.part
          ? p.ext === files.ext && p.state === "final"
          : p.index === cp.part && (p.ext === files.ext || p.ext === files.plainExt)
      if (!keep) yield* files.remove(p.name)
    }
  })

/** The checkpoint's completed parts, each checked to be there with the size it had. */
const checkCompletedParts = (
  files: PartFiles,
  cp: Checkpoint
): Effect.Effect<Array<OutputFile>, SinkError> =>
  Effect.gen(function* () {
    const completed: Array<OutputFile> = []
    for (const f of cp.files) {
      const info = yield* files.stat(f.path, () => new SinkError({ path: files.at(f.path), reason: "cannot resume: a completed part file is missing" }))
      if (Number(info.size) !== f.bytes) {
        return yield* new SinkError({
          path: files.at(f.path),
          reason: `cannot resume: completed part has ${info.size} bytes, the checkpoint says ${f.bytes}`
        })
      }
      completed.push(f)
    }
    return completed
  })

/** Removes every file of part `k`, which had no bytes at the checkpoint (and the plain and temporary files of an encoded part). */
const clearEmptyPart = (files: PartFiles, encoded: boolean, k: number): Effect.Effect<void, SinkError> =>
  Effect.gen(function* () {
    const final = files.finalName(k)
    yield* files.removeIfExists(final)
    yield* files.removeIfExists(files.progressName(k))
    if (encoded) {
      yield* files.removeIfExists(files.plainName(k))
      yield* files.removeIfExists(`${final}.partial`)
    }
  })

/**
 * Brings back the in-progress file of encoded part `k`, which was in progress at the checkpoint;
 * it may have completed since: as the plain part (renamed, not yet encoded or not yet removed) or
 * only as the encoded part, which is decoded back.
 */
const restoreEncodedPart = (files: PartFiles, encoder: PartEncoder, k: number): Effect.Effect<void, SinkError> =>
  Effect.gen(function* () {
    const final = files.finalName(k)
    const progress = files.progressName(k)
    const plain = files.plainName(k)
    const hasProgress = yield* files.exists(progress)
    if (!hasProgress && (yield* files.exists(plain))) yield* files.rename(plain, progress)
    else if (!hasProgress && (yield* files.exists(final))) {
      yield* files.removeIfExists(`${progress}.partial`)
      yield* encoder.decode(files.at(final), files.at(progress)).pipe(
        Effect.mapError((e) => new SinkError({ path: files.at(final), reason: `cannot resume from the encoded part: ${e.reason}` }))
      )
    } else if (!hasProgress) {
      return yield* new SinkError({ path: files.at(progress), reason: "cannot resume: the part in progress is missing" })
    }
    yield* files.removeIfExists(plain)
    yield* files.removeIfExists(`${final}.partial`)
    yield* files.removeIfExists(final)
  })

/**
 * Brings back the in-progress file of the checkpoint's part (not encoded), which may have
 * completed since. A completed jsonl part is reopened; a completed parquet part whose spool is
 * gone is kept when it holds exactly the checkpoint's rows, and returned as completed.
 */
const restorePlainPart = (
  files: PartFiles,
  cp: Checkpoint
): Effect.Effect<OutputFile | undefined, SinkError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const final = files.finalName(cp.part)
    const progress = files.progressName(cp.part)
    const hasProgress = yield* files.exists(progress)
    const hasFinal = yield* files.exists(final)
    if (!files.parquet && !hasProgress && hasFinal) {
      // Completed after the checkpoint (at rotation or finish): reopen it.
      yield* files.rename(final, progress)
    } else if (files.parquet && !hasProgress && hasFinal) {
      // Completed and its spool removed by `finish`: valid only if no row came after the checkpoint.
      return yield* completedParquetPart(files, final, cp.rowsInPart)
    } else if (!hasProgress) {
      return yield* new SinkError({ path: files.at(progress), reason: "cannot resume: the part in progress is missing" })
    } else if (hasFinal) {
      yield* files.remove(final)
    }
    return undefined
  })

/** The completed parquet part `final`, checked to hold the checkpoint's `rows`. */
const completedParquetPart = (
  files: PartFiles,
  final: string,
  rows: number
): Effect.Effect<OutputFile, SinkError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const held = yield* Effect.tryPromise({
      try: async () => Number((await parquetMetadataAsync(await asyncBufferFromFile(files.at(final)))).num_rows),
      catch: (e) => new SinkError({ path: files.at(final), reason: `cannot resume: ${errorText(e)}` })
    })
    if (held !== rows) {
      return yield* new SinkError({
        path: files.at(final),
        reason: `cannot resume: its spool is gone and it holds ${held} rows, the checkpoint says ${rows}`
      })
    }
    return yield* outputFile(files.dir, final, held)
  })

/** Truncates the in-progress file of the checkpoint's part back to the checkpoint's bytes (it must have at least those). */
const truncateProgress = (files: PartFiles, cp: Checkpoint): Effect.Effect<void, SinkError> =>
  Effect.gen(function* () {
    const progress = files.progressName(cp.part)
    const info = yield* files.stat(progress)
    if (Number(info.size) < cp.bytes) {
      return yield* new SinkError({
        path: files.at(progress),
        reason: `cannot resume: the part in progress has ${info.size} bytes, the checkpoint says ${cp.bytes}`
      })
    }
    yield* files.truncate(progress, cp.bytes)
  })

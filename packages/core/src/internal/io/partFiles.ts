/**
 * The names of one part writer's files in its folder (final, plain and in-progress names of
 * part `k`) and the file operations the writer makes on them, each failing with a `SinkError`
 * on the file's path.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import { Effect } from "effect"
import type { SinkError } from "../../Errors.js"
import { type PartExt, partName, sinkError } from "./parts.js"

/** One part writer's file names and the file operations on them. */
export class PartFiles {
  constructor(
    private readonly fs: FileSystem.FileSystem,
    private readonly path: Path.Path,
    /** The sink folder. */
    readonly dir: string,
    /** The file name prefix of the writer's parts. */
    readonly prefix: string,
    /** The final extension of a part (with a part encoder's suffix, when there is one). */
    readonly ext: PartExt,
    /** The extension of a completed part before it is encoded (`ext` without an encoder). */
    readonly plainExt: PartExt,
    /** Whether the parts are parquet (their rows spooled to `.spool`) rather than JSON lines (`.partial`). */
    readonly parquet: boolean
  ) {}

  /** The final name of part `k`. */
  finalName(k: number): string {
    return partName(this.prefix, k, this.ext)
  }

  /** The completed, not yet encoded part `k` (the final name without an encoder). */
  plainName(k: number): string {
    return partName(this.prefix, k, this.plainExt)
  }

  /** The file of part `k` while it is in progress. */
  progressName(k: number): string {
    return `${this.plainName(k)}${this.parquet ? ".spool" : ".partial"}`
  }

  /** The absolute path of `name` in the sink folder. */
  at(name: string): string {
    return this.path.join(this.dir, name)
  }

  /** Whether `name` exists in the sink folder. */
  exists(name: string): Effect.Effect<boolean, SinkError> {
    return this.fs.exists(this.at(name)).pipe(Effect.mapError(sinkError(this.at(name))))
  }

  /** Removes `name` from the sink folder. */
  remove(name: string): Effect.Effect<void, SinkError> {
    return this.fs.remove(this.at(name)).pipe(Effect.mapError(sinkError(this.at(name))))
  }

  /** Removes `name` from the sink folder when it is there. */
  removeIfExists(name: string): Effect.Effect<void, SinkError> {
    return Effect.flatMap(this.exists(name), (e) => (e ? this.remove(name) : Effect.void))
  }

  /** The file information of `name`; a failure becomes `error` (by default the platform's message on its path). */
  stat(
    name: string,
    error: (e: { readonly message: string }) => SinkError = sinkError(this.at(name))
  ): Effect.Effect<FileSystem.File.Info, SinkError> {
    return this.fs.stat(this.at(name)).pipe(Effect.mapError(error))
  }

  /** Truncates `name` to `bytes`. */
  truncate(name: string, bytes: number): Effect.Effect<void, SinkError> {
    return this.fs.truncate(this.at(name), BigInt(bytes)).pipe(Effect.mapError(sinkError(this.at(name))))
  }

  /** Renames `from` to `to` within the sink folder. */
  rename(from: string, to: string): Effect.Effect<void, SinkError> {
    return this.fs.rename(this.at(from), this.at(to)).pipe(Effect.mapError(sinkError(this.at(from))))
  }
}

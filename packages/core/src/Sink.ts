/**
 * Sinks: a sink writes rows into a folder as part files (`part-00000.jsonl.gz`, ...),
 * rotating every `shard_rows` rows. Writing is resumable: at every work-unit boundary the
 * runner calls `commit`, which makes everything written so far durable and returns a small
 * JSON checkpoint; after a crash the sink is reopened with the last checkpoint and must
 * continue so that the final files are byte-for-byte those of an uninterrupted run.
 * Files in progress carry a temporary name and are renamed when complete.
 */
import type { FileSystem, Path } from "@effect/platform"
import type { Chunk, Effect, Redacted, Schema, Scope } from "effect"
import type { SinkError } from "./Errors.js"
import type { Row } from "./Row.js"

/** A finished output file, as listed in the manifest. */
export interface OutputFile {
  /** Path relative to the sink folder. */
  readonly path: string
  readonly rows: number
  readonly bytes: number
  readonly sha256: string
}

/** A sink's durable position: opaque JSON owned by the sink implementation. */
export type SinkCheckpoint = unknown

/** How the runner opens a sink. */
export interface SinkOpenOptions {
  /** Absolute sink folder. */
  readonly dir: string
  /** File name prefix: `part` unsharded, `part-00001-of-00003` for shard 1 of 3. */
  readonly prefix: string
  /** The checkpoint of the last committed work unit when resuming; absent on a fresh start. */
  readonly resume?: SinkCheckpoint | undefined
  /** Folder of the pipeline file: relative paths in sink options resolve against it. */
  readonly baseDir?: string | undefined
  /** The release key of the pipeline's own source (derived on first use), for sinks that encrypt. */
  readonly sourceKey?: Effect.Effect<Redacted.Redacted<string>, SinkError, FileSystem.FileSystem | Path.Path> | undefined
}

/**
 * Rows encoded where they were made (a worker thread): one JSON line per row in `text`, each
 * ending in `\n`, or, when the sink gzips, those bytes as one complete gzip member in `gzip`
 * (and `text` empty: the sink inflates the member only to cut it at a part boundary).
 */
export interface EncodedRows {
  readonly rows: number
  readonly text: Uint8Array
  readonly gzip?: Uint8Array | undefined
}

/** How a sink wants rows encoded before they reach it (see {@link SinkWriter.writeEncoded}). */
export interface SinkEncoding {
  /** gzip level of the member each work unit becomes; absent for plain JSON lines. */
  readonly gzipLevel?: number | undefined
}

/** An open sink. Not safe for concurrent calls; the runner calls it from one fiber. */
export interface SinkWriter {
  readonly write: (rows: Chunk.Chunk<Row>) => Effect.Effect<void, SinkError>
  /**
   * Appends rows already encoded as {@link SinkDefinition.encoding} says; the files are
   * byte-identical to `write` of the same rows. Only sinks that declare an encoding have it.
   */
  readonly writeEncoded?: ((rows: EncodedRows) => Effect.Effect<void, SinkError>) | undefined
  /** Flushes and makes durable everything written so far; returns the checkpoint to resume from. */
  readonly commit: Effect.Effect<SinkCheckpoint, SinkError>
  /** Completes the files in progress, renames them to their final names, and lists every file of this writer. */
  readonly finish: Effect.Effect<ReadonlyArray<OutputFile>, SinkError>
}

/** Options every sink config has. */
export interface SinkBaseConfig {
  readonly path: string
}

/** A sink type, registered by a plugin under `type` (`jsonl`, `parquet`, ...). */
export interface SinkDefinition<Config extends SinkBaseConfig = SinkBaseConfig> {
  readonly type: string
  readonly description: string
  // biome-ignore lint/suspicious/noExplicitAny: the encoded side of a config Schema is any JSON
  readonly config: Schema.Schema<Config, any>
  readonly open: (
    config: Config,
    options: SinkOpenOptions
  ) => Effect.Effect<SinkWriter, SinkError, Scope.Scope | FileSystem.FileSystem | Path.Path>
  /**
   * How rows may be encoded off the runner's thread (worker threads encode each unit's rows so
   * the main thread only appends bytes); absent: rows reach `write` as objects.
   */
  readonly encoding?: ((config: Config) => SinkEncoding) | undefined
  /**
   * For a sink that writes something other than the rows it is given (an export format such as
   * SFT messages): the record it writes for a row, `undefined` when it leaves the row out, or a
   * text saying why the row cannot be written. An output at the end of the pipeline counts and
   * profiles these records (its manifest rows and dataset card are what the files hold); the
   * sink's writer applies the same function itself.
   */
  readonly records?: ((config: Config) => (row: Row) => Row | undefined | string) | undefined
}

/** Any sink definition, as held in plugin registries. */
// biome-ignore lint/suspicious/noExplicitAny: registries hold sinks of every config type
export type AnySink = SinkDefinition<any>

/** Defines a sink; the identity function, there for inference. */
export const make = <Config extends SinkBaseConfig>(sink: SinkDefinition<Config>): SinkDefinition<Config> => sink

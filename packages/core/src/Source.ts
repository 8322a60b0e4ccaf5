/**
 * Sources: a source turns its config into an ordered list of work units (file × row group,
 * or one whole JSON-lines file) and reads one unit as a row stream. Rows that cannot be
 * decoded are not fatal: they go to `io.reject` with the file and line or row, and reading
 * goes on. Only a unit that cannot be opened at all fails the stream.
 */
import type { FileSystem, Path } from "@effect/platform"
import type { Effect, Schema, Stream } from "effect"
import type { SourceError } from "./Errors.js"
import type { Origin, Row } from "./Row.js"

/** A deterministic piece of input: processed, checkpointed and sharded as a whole. */
export interface WorkUnit {
  /** Stable id, e.g. `data/train-00000-of-00006.parquet#rg2`, relative to the pipeline's folder. */
  readonly id: string
  /** Absolute path of the file the unit reads. */
  readonly file: string
  /** Row group index (parquet), absent for whole files. */
  readonly rowGroup?: number
  /** Number of rows if known before reading (parquet metadata). */
  readonly rows?: number
  /** Bytes on disk the unit covers if known (for progress). */
  readonly bytes?: number
}

/** A row the source could not decode. */
export interface SourceReject {
  readonly origin: Origin
  readonly error: string
  /** The raw input: the line text (JSON lines) or the partially decoded row. */
  readonly raw: unknown
}

/** Callbacks the runner gives a source while it reads a unit. */
export interface SourceIO {
  readonly reject: (reject: SourceReject) => void
}

/** Options every source reads besides its own config. */
export interface SourceEnv {
  /** Folder of the pipeline file: relative paths resolve against it. */
  readonly baseDir: string
  /** Top-level fields the pipeline needs, when known; a columnar source may read only these. */
  readonly columns?: ReadonlyArray<string> | undefined
}

/** A source type, registered by a plugin under `type` (`jsonl`, `parquet`, ...). */
export interface SourceDefinition<Config = unknown> {
  readonly type: string
  readonly description: string
  // biome-ignore lint/suspicious/noExplicitAny: the encoded side of a config Schema is any JSON
  readonly config: Schema.Schema<Config, any>
  readonly plan: (
    config: Config,
    env: SourceEnv
  ) => Effect.Effect<ReadonlyArray<WorkUnit>, SourceError, FileSystem.FileSystem | Path.Path>
  readonly read: (
    unit: WorkUnit,
    config: Config,
    io: SourceIO,
    env: SourceEnv
  ) => Stream.Stream<Row, SourceError, FileSystem.FileSystem | Path.Path>
}

/** Any source definition, as held in plugin registries. */
// biome-ignore lint/suspicious/noExplicitAny: registries hold sources of every config type
export type AnySource = SourceDefinition<any>

/** Defines a source; the identity function, there for inference. */
export const make = <Config>(source: SourceDefinition<Config>): SourceDefinition<Config> => source

/**
 * Sources: the contract and the built-in `jsonl` and `parquet` sources (`src/io/sources.ts`).
 * A source turns its config into an ordered list of work units (file × row range of
 * at most `unit_rows` rows: a parquet row range, a line range of a plain JSON-lines file, or a whole
 * gzip JSON-lines file) and reads one unit as a
 * row stream. Rows that cannot be
 * decoded are not fatal: they go to `io.reject` with the file and line or row, and reading
 * goes on. Only a unit that cannot be opened at all fails the stream.
 */
import type { FileSystem, Path } from "@effect/platform"
import type { Effect, Schema, Stream } from "effect"
import type { SourceError } from "./Errors.js"
import type { Origin, Row } from "./Row.js"

/**
 * The built-in sources: `jsonl` (plain or gzip JSON lines) and `parquet`, with their option
 * Schemas (`JsonlConfig`, `ParquetConfig`, `InputPaths`, `Validate`) and defaults.
 */
export {
  defaultMaxLineBytes,
  defaultUnitRows,
  InputPaths,
  JsonlConfig,
  jsonl,
  ParquetConfig,
  parquet,
  Validate
} from "./io/sources.js"

/** A deterministic piece of input: processed, checkpointed and sharded as a whole. */
export interface WorkUnit {
  /**
   * Stable id, relative to the pipeline's folder: `data/train-00000-of-00006.parquet#rg2` for a
   * whole row group, `data/train-00000-of-00006.parquet#rg2:10000-20000` for rows 10,000 to
   * 20,000 (end exclusive, counted from the row group's first row) of a row group split by
   * `unit_rows`, `data/a.jsonl#lines:0-10000` for lines 0 to 10,000 of a plain JSON-lines file
   * split by `unit_rows`, the file itself for a whole JSON-lines file.
   */
  readonly id: string
  /** Absolute path of the file the unit reads. */
  readonly file: string
  /** Row group index (parquet), absent for whole files. */
  readonly rowGroup?: number
  /** First row of the unit, counted from the row group's first row (parquet) or the file's first line (JSON lines); absent for a whole row group or file. */
  readonly rowStart?: number
  /** End of the unit (exclusive), counted as `rowStart` is; absent for a whole row group or file. */
  readonly rowEnd?: number
  /** First byte of the unit in its file, for a range of a plain JSON-lines file (it starts just after a newline). */
  readonly byteStart?: number
  /** End byte (exclusive) of the unit in its file, for a range of a plain JSON-lines file. */
  readonly byteEnd?: number
  /** Number of rows if known before reading (parquet metadata; the lines of a plain JSON-lines file). */
  readonly rows?: number
  /** Bytes on disk the unit covers if known (for progress): a row range gets its share of the row group's bytes by rows. */
  readonly bytes?: number
}

/** Rows lost with a unit (or part of one) that could not be read, and where they were. */
export interface LostRows {
  readonly file: string
  readonly row_group?: number
  /** First row of the lost range, counted from the file's first row. */
  readonly row_start?: number
  /** End of the lost range (exclusive), counted from the file's first row. */
  readonly row_end?: number
  /** How many rows; `null` when unknown (a parquet file whose footer cannot be read). */
  readonly rows: number | null
}

/** A row the source could not decode. */
export interface SourceReject {
  readonly origin: Origin
  readonly error: string
  /** The raw input: the line text (JSON lines) or the partially decoded row. */
  readonly raw: unknown
  /** Set when the reject stands for many rows: a unit that could not be read at all. */
  readonly lost?: LostRows | undefined
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

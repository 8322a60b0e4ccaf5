/**
 * Sinks: the contract and the built-in `jsonl` and `parquet` sinks (`src/io/sinks.ts`). A sink
 * writes rows into a folder as part files (`part-00000.jsonl.gz`, ...),
 * rotating every `shard_rows` rows. Writing is resumable: at every work-unit boundary the
 * runner calls `commit`, which makes everything written so far durable and returns a small
 * JSON checkpoint; after a crash the sink is reopened with the last checkpoint and must
 * continue so that the final files are byte-for-byte those of an uninterrupted run.
 * Files in progress carry a temporary name and are renamed when complete.
 */
import type { FileSystem, Path } from "@effect/platform"
import { type Chunk, Effect, Schema, type Scope } from "effect"
import { SinkError } from "./Errors.js"
import type { Row } from "./Row.js"
import type { AnySource } from "./Source.js"

/**
 * The built-in sinks: `jsonl` (gzip by default) and `parquet` (snappy), with their option
 * Schemas (`JsonlConfig`, `ParquetConfig`) and defaults.
 */
export { defaultRowGroupRows, defaultShardRows, JsonlConfig, jsonl, ParquetConfig, parquet } from "./io/sinks.js"

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
  /**
   * The pipeline's own source, for a sink option that derives something from it (a key, say):
   * the same object for every sink of one run, so a value derived once can be kept by it.
   */
  readonly source?: RunSource | undefined
  /** Rewrites each completed part (see {@link PartEncoder}); set by a {@link SinkOption}. */
  readonly encoder?: PartEncoder | undefined
}

/** The source of a run as sinks see it. */
export interface RunSource {
  readonly def: AnySource
  readonly config: unknown
  /** Folder of the pipeline file: the source's relative paths resolve against it. */
  readonly baseDir: string
}

/**
 * A rewrite of every completed part file (encryption, say), which a plugin contributes through
 * a {@link SinkOption}: part `<prefix>-00000.jsonl.gz` is handed to `encode` once complete and
 * becomes `<prefix>-00000.jsonl.gz.<suffix>`; the plain part is then removed. Sinks whose
 * definition says `encoders: true` accept one.
 */
export interface PartEncoder {
  /** Appended to the part's extension (`gpg`: `part-00000.jsonl.gz.gpg`). */
  readonly suffix: string
  /** Writes the encoded form of `plain` to `out`, complete or not at all (temporary name, fsync, rename). */
  readonly encode: (plain: string, out: string) => Effect.Effect<void, SinkError>
  /** Restores the plain part from its encoded form (resuming a part that completed after the last checkpoint). */
  readonly decode: (encoded: string, out: string) => Effect.Effect<void, SinkError>
}

/**
 * Options a plugin adds to every sink that accepts part encoders (`encoders: true`), such as
 * `encrypt`: their fields join the sink's config Schema (so a pipeline file and the reference
 * show them as the sink's own), and `encoder` turns their decoded values into the
 * {@link PartEncoder} the sink's parts go through, or `undefined` for none.
 */
export interface SinkOption<Fields extends OptionFields = OptionFields> {
  /** The added option fields. */
  readonly fields: Fields
  /** The part encoder of a sink being opened with these option values, or `undefined` for none. */
  readonly encoder: (
    options: Schema.Struct.Type<Fields>,
    context: SinkOpenOptions
  ) => Effect.Effect<PartEncoder | undefined, SinkError, FileSystem.FileSystem | Path.Path>
}

/** The fields of a {@link SinkOption}: Schemas needing no services, as in any sink config. */
export type OptionFields = {
  readonly [key: string]:
    | Schema.Schema.AnyNoContext
    // biome-ignore lint/suspicious/noExplicitAny: an option field of any type
    | Schema.PropertySignature<Schema.PropertySignature.Token, any, PropertyKey, Schema.PropertySignature.Token, any, boolean, never>
}

/** Any sink option, as held in plugin registries. */
// biome-ignore lint/suspicious/noExplicitAny: registries hold options of every field set
export type AnySinkOption = SinkOption<any>

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
  /** True when the sink writes its parts through `SinkOpenOptions.encoder`, so {@link SinkOption}s apply to it. */
  readonly encoders?: boolean | undefined
}

/** Any sink definition, as held in plugin registries. */
// biome-ignore lint/suspicious/noExplicitAny: registries hold sinks of every config type
export type AnySink = SinkDefinition<any>

/** Defines a sink; the identity function, there for inference. */
export const make = <Config extends SinkBaseConfig>(sink: SinkDefinition<Config>): SinkDefinition<Config> => sink

/** Defines a sink option; the identity function, there for inference. */
export const option = <Fields extends OptionFields>(o: SinkOption<Fields>): SinkOption<Fields> => o

/**
 * The sink with `options` added: their fields join its config, and each opened writer gets the
 * part encoder they make (at most one may be active). The registry applies the options of every
 * loaded plugin this way to each sink with `encoders: true`; code-built pipelines call it directly.
 */
export const withOptions = (sink: AnySink, options: ReadonlyArray<AnySinkOption>): AnySink => {
  if (sink.encoders !== true || options.length === 0) return sink
  const fields: OptionFields = Object.assign({}, ...options.map((o) => o.fields))
  const pick = (config: SinkBaseConfig, o: AnySinkOption) => Object.fromEntries(Object.entries(config).filter(([k]) => k in o.fields))
  return {
    ...sink,
    config: Schema.extend(sink.config, Schema.Struct(fields)),
    open: (config: SinkBaseConfig, openOptions: SinkOpenOptions) =>
      Effect.gen(function* () {
        const encoders: Array<PartEncoder> = []
        for (const o of options) {
          const encoder = yield* o.encoder(pick(config, o), openOptions)
          if (encoder !== undefined) encoders.push(encoder)
        }
        if (encoders.length > 1) {
          return yield* new SinkError({
            path: openOptions.dir,
            reason: `${encoders.length} sink options each rewrite the part files (${encoders.map((e) => `.${e.suffix}`).join(", ")}); use one`
          })
        }
        return yield* sink.open(config, { ...openOptions, encoder: encoders[0] })
      })
  }
}

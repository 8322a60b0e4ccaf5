/**
 * The built-in sinks: `jsonl` (JSON lines, gzip by default) and `parquet` (snappy, schema
 * inferred from the rows). Both write part files `<prefix>-00000.<ext>` into the sink folder,
 * rotate every `shard_rows` rows, keep a temporary name until a part is complete, and resume
 * from a commit checkpoint so the output is byte-identical to an uninterrupted run. Other files
 * in the folder (other prefixes, `manifest*.json`, `_state/`, `rejects/`) are never touched.
 */
import { Schema } from "effect"
import { openPartWriter } from "../internal/io/partWriter.js"
import { doc } from "../internal/stage.js"
import type { SinkDefinition } from "../Sink.js"

/** Default rows per part file. */
export const defaultShardRows: number = 100_000

/** Default rows per parquet row group. */
export const defaultRowGroupRows: number = 10_000

// Options are documented with Stage.doc: their types, bounds and defaults come from the Schemas.
const shardRows = Schema.optionalWith(Schema.NonNegativeInt.pipe(doc("Rows per part file before the next one starts; 0 writes one part.")), {
  default: () => defaultShardRows
})

const sinkPath = Schema.NonEmptyString.pipe(
  doc("Output folder, relative to the pipeline file's folder; gets the part files, manifest.json, rejects/ and _state/.")
)

const jsonlFields = {
  path: sinkPath,
  compression: Schema.optionalWith(
    Schema.Literal("gzip", "none").pipe(doc("gzip writes .jsonl.gz parts; none writes .jsonl.")),
    { default: () => "gzip" as const }
  ),
  gzip_level: Schema.optionalWith(
    Schema.Int.pipe(Schema.between(1, 9), doc("gzip compression level, 1 (fast) to 9 (small).")),
    { default: () => 6 }
  ),
  shard_rows: shardRows
}

/**
 * Options of the `jsonl` sink: `path` (the folder), `compression` (`gzip` | `none`, default
 * `gzip`), `gzip_level` (1..9, default 6), `shard_rows` (rows per part, 0 = one part; default 100000).
 * Plugins may add options that rewrite the finished parts (`encrypt` from @synthline/release).
 */
export const JsonlConfig: Schema.Struct<typeof jsonlFields> = Schema.Struct(jsonlFields)

/** Decoded options of the `jsonl` sink. */
export type JsonlConfig = typeof JsonlConfig.Type

const parquetFields = {
  path: sinkPath,
  shard_rows: shardRows,
  row_group_rows: Schema.optionalWith(
    Schema.Int.pipe(Schema.positive(), doc("Rows per parquet row group (the unit of work when the output is read again).")),
    { default: () => defaultRowGroupRows }
  )
}

/**
 * Options of the `parquet` sink: `path` (the folder), `shard_rows` (rows per part, 0 = one part;
 * default 100000), `row_group_rows` (default 10000).
 */
export const ParquetConfig: Schema.Struct<typeof parquetFields> = Schema.Struct(parquetFields)

/** Decoded options of the `parquet` sink. */
export type ParquetConfig = typeof ParquetConfig.Type

/** JSON lines part files (`part-00000.jsonl.gz`), one object per line; gzip as one member per commit. */
export const jsonl: SinkDefinition<JsonlConfig> = {
  type: "jsonl",
  description: "JSON lines part files (gzip by default), rotated every shard_rows rows; resumable byte for byte",
  config: JsonlConfig,
  encoding: (config) => ({ gzipLevel: config.compression === "gzip" ? config.gzip_level : undefined }),
  encoders: true,
  open: (config, options) =>
    openPartWriter({
      ...options,
      shardRows: config.shard_rows,
      format: { _tag: "jsonl", gzipLevel: config.compression === "gzip" ? config.gzip_level : undefined }
    })
}

/** Parquet part files (`part-00000.parquet`, snappy) with a schema inferred from the rows. */
export const parquet: SinkDefinition<ParquetConfig> = {
  type: "parquet",
  description: "Parquet part files (snappy, schema inferred from the rows), rotated every shard_rows rows; resumable",
  config: ParquetConfig,
  // Parts are spooled as JSON lines and become parquet when complete.
  encoding: () => ({}),
  open: (config, options) =>
    openPartWriter({
      ...options,
      shardRows: config.shard_rows,
      format: { _tag: "parquet", rowGroupRows: config.row_group_rows }
    })
}

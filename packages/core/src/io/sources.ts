/**
 * The built-in sources: `jsonl` (JSON lines, plain or gzip; units of at most `unit_rows` lines of
 * a plain file, one unit per gzip file) and
 * `parquet` (work units of at most `unit_rows` rows, whatever the file's row-group layout;
 * read with hyparquet). `path` is a file or glob, or a
 * list of them, relative to the pipeline folder (Hugging Face layouts such as
 * `data/train-*.parquet` work); matches are sorted so a plan is deterministic. Rows that cannot
 * be decoded or do not match the LMSYS-Chat-1M record go to rejects with their file and line
 * or row; reading goes on.
 */
import { Effect, Schema } from "effect"
import { expandInputs } from "../internal/io/inputs.js"
import { jsonlUnitFile, planJsonl, readJsonl } from "../internal/io/jsonlRead.js"
import { planParquet, readParquet, unitFile } from "../internal/io/parquetRead.js"
import { rowCheck } from "../internal/io/validate.js"
import { doc } from "../internal/stage.js"
import type { SourceDefinition } from "../Source.js"

/** A path or glob, or a non-empty list of them, relative to the pipeline folder. */
export const InputPaths: Schema.Union<[typeof Schema.NonEmptyString, Schema.NonEmptyArray<typeof Schema.NonEmptyString>]> =
  Schema.Union(Schema.NonEmptyString, Schema.NonEmptyArray(Schema.NonEmptyString))

/** How rows are checked: `lmsys` against the LMSYS-Chat-1M record (extra fields allowed), or `none`. */
export const Validate: Schema.Literal<["lmsys", "none"]> = Schema.Literal("lmsys", "none")

/** Default longest JSON line accepted: 64 MiB. */
export const defaultMaxLineBytes: number = 64 * 1024 * 1024

/** Default most rows in one parquet work unit: 10,000. */
export const defaultUnitRows: number = 10_000

// Options are documented with Stage.doc: their types, bounds and defaults come from the Schemas.
const pathOption = InputPaths.pipe(
  doc("File or glob (e.g. data/train-*.parquet), or a list of them, relative to the pipeline file's folder; matches are sorted.")
)

const validateOption = Schema.optionalWith(
  Validate.pipe(
    doc("lmsys: check every row against the LMSYS-Chat-1M record (extra fields allowed; mismatches go to rejects); none: no check.")
  ),
  { default: () => "lmsys" as const }
)

const unitRowsOption = (what: string) =>
  Schema.optionalWith(Schema.Int.pipe(Schema.positive(), doc(`Most rows in one work unit (the grain of commits, resume and --shard): ${what}`)), {
    default: () => defaultUnitRows
  })

const jsonlFields = {
  path: pathOption,
  validate: validateOption,
  max_line_bytes: Schema.optionalWith(
    Schema.Int.pipe(Schema.positive(), doc("Longest line accepted, in bytes; a longer line is rejected with its file and line.")),
    { default: () => defaultMaxLineBytes }
  ),
  unit_rows: unitRowsOption(
    "a plain file with more lines is split into consecutive ranges of this many lines (the last one shorter), each read from its own byte offset. A gzip file is one unit whatever its size (a deflate stream cannot be entered in the middle): split large gzip inputs into several files, or decompress them."
  )
}

/** Options of the `jsonl` source: `path`, `validate` (default `lmsys`), `max_line_bytes` (default 64 MiB), `unit_rows` (default 10,000; plain files only). */
export const JsonlConfig: Schema.Struct<typeof jsonlFields> = Schema.Struct(jsonlFields)

/** Decoded options of the `jsonl` source. */
export type JsonlConfig = typeof JsonlConfig.Type

const parquetFields = {
  path: pathOption,
  validate: validateOption,
  unit_rows: unitRowsOption(
    "a row group with more rows is split into consecutive ranges of this many rows (the last one shorter), read without decoding the whole row group."
  )
}

/** Options of the `parquet` source: `path`, `validate` (default `lmsys`), `unit_rows` (default 10,000). */
export const ParquetConfig: Schema.Struct<typeof parquetFields> = Schema.Struct(parquetFields)

/** Decoded options of the `parquet` source. */
export type ParquetConfig = typeof ParquetConfig.Type

/**
 * JSON lines (`.jsonl`, `.json`, gzip detected by its magic bytes). A plain file is split into
 * work units of at most `unit_rows` lines (planning reads it once, counting newlines); a gzip
 * file is one unit, since a deflate stream cannot be entered in the middle.
 */
export const jsonl: SourceDefinition<JsonlConfig> = {
  type: "jsonl",
  description:
    "JSON lines files (plain or gzip), one row per line; a plain file is split into work units of unit_rows lines, a gzip file is one unit (split large gzip inputs into several files)",
  config: JsonlConfig,
  plan: (config, env) =>
    Effect.flatMap(expandInputs(config.path, env.baseDir), (files) =>
      Effect.map(Effect.forEach(files, (f) => planJsonl(f, config.unit_rows)), (units) => units.flat())
    ),
  read: (unit, config, io) =>
    readJsonl({
      file: unit.file,
      rel: jsonlUnitFile(unit),
      maxLineBytes: config.max_line_bytes,
      check: rowCheck(config.validate),
      io,
      range:
        unit.byteStart === undefined || unit.byteEnd === undefined
          ? undefined
          : { byteStart: unit.byteStart, byteEnd: unit.byteEnd, lineStart: unit.rowStart ?? 0 }
    })
}

/** Top-level column names of the fields a pipeline needs (`conversation.0.content` → `conversation`). */
const topLevel = (columns: ReadonlyArray<string> | undefined): ReadonlyArray<string> | undefined =>
  columns === undefined ? undefined : [...new Set(columns.map((c) => c.split(".")[0]!))]

/**
 * Parquet files read with hyparquet (snappy, gzip, zstd, brotli, lz4); a work unit per row group,
 * or per range of `unit_rows` rows of a larger one.
 */
export const parquet: SourceDefinition<ParquetConfig> = {
  type: "parquet",
  description:
    "Parquet files (e.g. Hugging Face data/train-*.parquet); one work unit per row group, or per unit_rows rows of a larger row group",
  config: ParquetConfig,
  plan: (config, env) =>
    Effect.flatMap(expandInputs(config.path, env.baseDir), (files) =>
      Effect.map(Effect.forEach(files, (f) => planParquet(f, config.unit_rows)), (units) => units.flat())
    ),
  read: (unit, config, io, env) => {
    const columns = topLevel(env.columns)
    return readParquet({ unit, rel: unitFile(unit), columns, check: rowCheck(config.validate, columns), io })
  }
}

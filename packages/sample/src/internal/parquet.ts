/**
 * The parquet layout of LMSYS-Chat-1M (as pyarrow wrote it for the Hugging Face release:
 * nullable columns, 3-level LIST groups named `list`/`element`, the `huggingface` features
 * metadata) and a streaming writer for it on hyparquet-writer's public `ParquetWriter`: rows are
 * collected for one row group, encoded by hyparquet-writer (snappy, its own compressor) when the
 * group ends, and the encoded bytes drained by the caller with `take`, so memory is bounded by one
 * row group.
 */
import { type LmsysRecord, moderationCategories } from "@synthline/core/Record"
import type { KeyValue, SchemaElement } from "hyparquet"
import { ByteWriter, type ColumnSource, ParquetWriter } from "hyparquet-writer"

const string = (name: string): SchemaElement => ({
  name,
  type: "BYTE_ARRAY",
  repetition_type: "OPTIONAL",
  converted_type: "UTF8",
  logical_type: { type: "STRING" }
})
const bool = (name: string): SchemaElement => ({ name, type: "BOOLEAN", repetition_type: "OPTIONAL" })
const double = (name: string): SchemaElement => ({ name, type: "DOUBLE", repetition_type: "OPTIONAL" })
const list = (name: string): ReadonlyArray<SchemaElement> => [
  { name, repetition_type: "OPTIONAL", num_children: 1, converted_type: "LIST", logical_type: { type: "LIST" } },
  { name: "list", repetition_type: "REPEATED", num_children: 1 }
]

/** The LMSYS-Chat-1M parquet schema, flattened depth-first as parquet stores it. */
export const lmsysSchema: ReadonlyArray<SchemaElement> = [
  { name: "schema", num_children: 7 },
  string("conversation_id"),
  string("model"),
  ...list("conversation"),
  { name: "element", repetition_type: "OPTIONAL", num_children: 2 },
  string("content"),
  string("role"),
  { name: "turn", type: "INT64", repetition_type: "OPTIONAL" },
  string("language"),
  ...list("openai_moderation"),
  { name: "element", repetition_type: "OPTIONAL", num_children: 3 },
  { name: "categories", repetition_type: "OPTIONAL", num_children: moderationCategories.length },
  ...moderationCategories.map(bool),
  { name: "category_scores", repetition_type: "OPTIONAL", num_children: moderationCategories.length },
  ...moderationCategories.map(double),
  bool("flagged"),
  bool("redacted")
]

const value = (dtype: string): { readonly dtype: string; readonly _type: string } => ({ dtype, _type: "Value" })

/** The Hugging Face `datasets` features of LMSYS-Chat-1M, stored as file metadata like the original. */
const huggingface: KeyValue = {
  key: "huggingface",
  value: JSON.stringify({
    info: {
      features: {
        conversation_id: value("string"),
        model: value("string"),
        conversation: [{ content: value("string"), role: value("string") }],
        turn: value("int64"),
        language: value("string"),
        openai_moderation: [
          {
            categories: Object.fromEntries(moderationCategories.map((c) => [c, value("bool")])),
            category_scores: Object.fromEntries(moderationCategories.map((c) => [c, value("float64")])),
            flagged: value("bool")
          }
        ],
        redacted: value("bool")
      }
    }
  })
}

/** The top-level columns of one row group, in schema order, as hyparquet-writer takes them. */
const columnsOf = (rows: ReadonlyArray<LmsysRecord>): Array<ColumnSource> => [
  { name: "conversation_id", data: rows.map((r) => r.conversation_id) },
  { name: "model", data: rows.map((r) => r.model) },
  { name: "conversation", data: rows.map((r) => r.conversation) },
  { name: "turn", data: rows.map((r) => BigInt(r.turn)) },
  { name: "language", data: rows.map((r) => r.language) },
  // Scores are random doubles: snappy would spend time and save nothing.
  { name: "openai_moderation", data: rows.map((r) => r.openai_moderation), codec: "UNCOMPRESSED" },
  { name: "redacted", data: rows.map((r) => r.redacted) }
]

/**
 * Writes LMSYS rows as parquet, streaming: `append` collects a row into the open row group,
 * `endRowGroup` encodes the group, `finish` writes the footer; `take` drains the encoded bytes.
 */
export class LmsysParquetWriter {
  private readonly out = new ByteWriter(1 << 20)
  private readonly writer = new ParquetWriter({
    writer: this.out,
    schema: [...lmsysSchema],
    codec: "SNAPPY",
    kvMetadata: [huggingface],
    createdBy: "synthline sample",
    // Like the files synthline sample wrote before: no min/max statistics (they cost time to compute).
    statistics: false
  })
  private rows: Array<LmsysRecord> = []

  /** Rows appended to the open row group. */
  get pendingRows(): number {
    return this.rows.length
  }

  /** Adds one row to the open row group. */
  append(r: LmsysRecord): void {
    this.rows.push(r)
  }

  /** Encodes the open row group (if it has rows) into the output. */
  endRowGroup(): void {
    if (this.rows.length === 0) return
    const rows = this.rows
    this.rows = []
    // A plain ByteWriter has no async flush: `write` returns at once.
    void this.writer.write({ columnData: columnsOf(rows), rowGroupSize: rows.length })
  }

  /** Closes the open row group and writes the footer (file metadata and magic). */
  finish(): void {
    this.endRowGroup()
    void this.writer.finish()
  }

  /** The bytes encoded since the last call; valid until the next `endRowGroup`/`finish`. */
  take(): Uint8Array {
    const bytes = this.out.getBytes()
    this.out.index = 0
    return bytes
  }
}

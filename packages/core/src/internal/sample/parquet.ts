/**
 * The parquet layout of LMSYS-Chat-1M (as written by pyarrow for the Hugging Face release:
 * nullable columns, 3-level LIST groups named `list`/`element`, the `huggingface` features
 * metadata) and an incremental writer that encodes one row group at a time into a reusable
 * buffer, so the caller can flush it to disk and memory stays bounded.
 */
import type { KeyValue, SchemaElement } from "hyparquet"
import { ByteWriter, ParquetWriter } from "hyparquet-writer"
import { type LmsysRecord, moderationCategories } from "../../Record.js"

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

const value = (dtype: string) => ({ dtype, _type: "Value" })

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

/** Writes LMSYS rows as parquet, one row group per `write`, into a buffer drained by `take`. */
export class LmsysParquetWriter {
  private readonly bytes = new ByteWriter(1 << 20)
  private readonly parquet: ParquetWriter

  constructor() {
    this.parquet = new ParquetWriter({
      writer: this.bytes,
      schema: [...lmsysSchema],
      codec: "SNAPPY",
      kvMetadata: [huggingface],
      createdBy: "synthline sample (hyparquet-writer)"
    })
  }

  /** Encodes `rows` as one row group (synchronously). */
  write(rows: ReadonlyArray<LmsysRecord>): void {
    if (rows.length === 0) return
    const n = rows.length
    const ids: Array<string> = new Array(n)
    const models: Array<string> = new Array(n)
    const conversations: Array<LmsysRecord["conversation"]> = new Array(n)
    const turns: Array<bigint> = new Array(n)
    const langs: Array<string> = new Array(n)
    const moderation: Array<LmsysRecord["openai_moderation"]> = new Array(n)
    const redacted: Array<boolean> = new Array(n)
    for (let i = 0; i < n; i++) {
      const r = rows[i]
      ids[i] = r.conversation_id
      models[i] = r.model
      conversations[i] = r.conversation
      turns[i] = BigInt(r.turn)
      langs[i] = r.language
      moderation[i] = r.openai_moderation
      redacted[i] = r.redacted
    }
    void this.parquet.write({
      columnData: [
        { name: "conversation_id", data: ids },
        { name: "model", data: models },
        { name: "conversation", data: conversations },
        { name: "turn", data: turns },
        { name: "language", data: langs },
        { name: "openai_moderation", data: moderation },
        { name: "redacted", data: redacted }
      ],
      rowGroupSize: n
    })
  }

  /** Writes the footer (indexes and metadata). */
  finish(): void {
    void this.parquet.finish()
  }

  /** The bytes encoded since the last call; valid until the next `write`/`finish`. */
  take(): Uint8Array {
    const out = this.bytes.getBytes()
    this.bytes.index = 0
    return out
  }
}

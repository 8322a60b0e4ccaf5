/**
 * The parquet layout of LMSYS-Chat-1M (as pyarrow wrote it for the Hugging Face release:
 * nullable columns, 3-level LIST groups named `list`/`element`, the `huggingface` features
 * metadata) and a fast streaming writer for it. The writer knows the schema, so it computes
 * repetition/definition levels directly instead of walking objects (Dremel) per leaf: each row is
 * encoded into the open pages of its 30 leaf columns as soon as it is appended (PLAIN values,
 * data page v2, snappy), so rows die young and memory stays bounded; one row group is assembled
 * per `endRowGroup` into a buffer the caller drains with `take`. Page headers and the footer are
 * serialized with hyparquet-writer.
 */
import type { ColumnChunk, CompressionCodec, KeyValue, ParquetType, RowGroup, SchemaElement } from "hyparquet"
import { ByteWriter } from "hyparquet-writer"
import { writePageHeader } from "hyparquet-writer/src/datapage.js"
import { writeMetadata } from "hyparquet-writer/src/metadata.js"
import { snappyCompress } from "./snappy.js"
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

/** A growable byte buffer with little-endian writers (Node Buffer for fast UTF-8). */
class Bytes {
  buf: Buffer = Buffer.allocUnsafe(1 << 16)
  length = 0

  reset(): void {
    this.length = 0
  }

  ensure(extra: number): void {
    if (this.length + extra <= this.buf.length) return
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + extra))
    this.buf.copy(next, 0, 0, this.length)
    this.buf = next
  }

  u8(v: number): void {
    this.ensure(1)
    this.buf[this.length++] = v
  }

  varint(v: number): void {
    this.ensure(5)
    while (v > 0x7f) {
      this.buf[this.length++] = (v & 0x7f) | 0x80
      v >>>= 7
    }
    this.buf[this.length++] = v
  }

  /** PLAIN BYTE_ARRAY: 4-byte length then UTF-8 bytes. */
  str(s: string): void {
    this.ensure(4 + 3 * s.length)
    const at = this.length
    const n = this.buf.write(s, at + 4, "utf8")
    this.buf.writeUInt32LE(n, at)
    this.length = at + 4 + n
  }

  f64(v: number): void {
    this.ensure(8)
    this.buf.writeDoubleLE(v, this.length)
    this.length += 8
  }

  i64(v: number): void {
    this.ensure(8)
    this.buf.writeUInt32LE(v >>> 0, this.length)
    this.buf.writeInt32LE(Math.floor(v / 0x1_0000_0000), this.length + 4)
    this.length += 8
  }

  view(): Uint8Array {
    return this.buf.subarray(0, this.length)
  }
}


/** Whether typed arrays are little-endian here, as parquet's PLAIN encoding is. */
const littleEndian: boolean = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** Target uncompressed bytes of values per data page (pages end at row boundaries). */
const PAGE_SIZE = 1 << 20

/**
 * One leaf column of the current row group: PLAIN values and repetition bits of the open page,
 * and the finished (compressed) pages of the column chunk.
 */
class Leaf {
  private readonly values = new Bytes()
  private readonly rep = new Bytes()
  private readonly levels = new Bytes()
  private readonly chunk = new ByteWriter(1 << 16)
  /** DOUBLE values of the open page (on little-endian hosts their bytes are the PLAIN encoding). */
  private doubles = new Float64Array(1024)
  /** Values and rows in the open page. */
  private count = 0
  private rows = 0
  /** Totals of the column chunk. */
  private chunkValues = 0
  private uncompressed = 0

  constructor(
    readonly path: ReadonlyArray<string>,
    readonly type: ParquetType,
    readonly maxDef: number,
    /** Under the repeated `list` level: one value per message. */
    readonly repeated: boolean,
    readonly codec: CompressionCodec
  ) {}

  /** Records the repetition level of the next value (0 for a row's first message, 1 after). */
  private next(first: boolean): void {
    if (!this.repeated) return
    const k = this.count
    if ((k & 7) === 0) this.rep.u8(0)
    if (!first) this.rep.buf[this.rep.length - 1] |= 1 << (k & 7)
  }

  str(s: string, first: boolean): void {
    this.next(first)
    this.values.str(s)
    this.count++
  }

  bool(v: boolean, first: boolean): void {
    this.next(first)
    const k = this.count
    if ((k & 7) === 0) this.values.u8(0)
    if (v) this.values.buf[this.values.length - 1] |= 1 << (k & 7)
    this.count++
  }

  f64(v: number, first: boolean): void {
    this.next(first)
    if (littleEndian) {
      if (this.count === this.doubles.length) {
        const next = new Float64Array(this.doubles.length * 2)
        next.set(this.doubles)
        this.doubles = next
      }
      this.doubles[this.count] = v
    } else this.values.f64(v)
    this.count++
  }

  i64(v: number): void {
    this.values.i64(v)
    this.count++
  }

  /** Ends a row; closes the page when it is full. */
  endRow(): void {
    this.rows++
    if (this.values.length >= PAGE_SIZE || (this.type === "DOUBLE" && this.count * 8 >= PAGE_SIZE)) this.flushPage()
  }

  /** Compresses and appends the open page to the chunk. */
  private flushPage(): void {
    if (this.rows === 0) return
    const levels = this.levels
    levels.reset()
    let repBytes = 0
    if (this.repeated) {
      // Bit-packed run of ceil(count / 8) groups of eight 1-bit levels.
      levels.varint((((this.count + 7) >>> 3) << 1) | 1)
      levels.ensure(this.rep.length)
      this.rep.buf.copy(levels.buf, levels.length, 0, this.rep.length)
      levels.length += this.rep.length
      repBytes = levels.length
    }
    // Every value is present: one RLE run of the maximum definition level.
    levels.varint(this.count << 1)
    levels.u8(this.maxDef)
    const defBytes = levels.length - repBytes

    const raw = this.type === "DOUBLE" && littleEndian ? new Uint8Array(this.doubles.buffer, 0, this.count * 8) : this.values.view()
    const compressed = this.codec === "SNAPPY" ? snappyCompress(raw) : raw
    const headerStart = this.chunk.offset
    writePageHeader(this.chunk, {
      type: "DATA_PAGE_V2",
      uncompressed_page_size: levels.length + raw.length,
      compressed_page_size: levels.length + compressed.length,
      data_page_header_v2: {
        num_values: this.count,
        num_nulls: 0,
        num_rows: this.rows,
        encoding: "PLAIN",
        definition_levels_byte_length: defBytes,
        repetition_levels_byte_length: repBytes,
        is_compressed: this.codec !== "UNCOMPRESSED"
      }
    })
    this.uncompressed += this.chunk.offset - headerStart + levels.length + raw.length
    this.chunk.appendBytes(levels.view())
    this.chunk.appendBytes(compressed)
    this.chunkValues += this.count
    this.values.reset()
    this.rep.reset()
    this.count = 0
    this.rows = 0
  }

  /** Flushes the open page and copies the column chunk to `out`; returns its metadata. */
  finishChunk(out: ByteWriter): ColumnChunk {
    this.flushPage()
    const start = BigInt(out.offset)
    const bytes = this.chunk.getBytes()
    out.appendBytes(bytes)
    const meta: ColumnChunk = {
      file_offset: start,
      meta_data: {
        type: this.type,
        encodings: ["PLAIN", "RLE"],
        path_in_schema: [...this.path],
        codec: this.codec,
        num_values: BigInt(this.chunkValues),
        total_uncompressed_size: BigInt(this.uncompressed),
        total_compressed_size: BigInt(bytes.length),
        data_page_offset: start
      }
    }
    this.chunk.index = 0
    this.chunk.offset = 0
    this.chunkValues = 0
    this.uncompressed = 0
    return meta
  }
}

const categoryLeaf = (group: string, name: string, type: ParquetType, codec: CompressionCodec): Leaf =>
  new Leaf(["openai_moderation", "list", "element", group, name], type, 5, true, codec)

/**
 * Writes LMSYS rows as parquet, streaming: `append` encodes a row into the open pages of its
 * leaf columns (so the row object can be dropped at once), `endRowGroup` assembles the row group,
 * `finish` writes the footer; `take` drains the encoded bytes.
 */
export class LmsysParquetWriter {
  private readonly out = new ByteWriter(1 << 20)
  private readonly rowGroups: Array<RowGroup> = []
  private numRows = 0
  private groupRows = 0

  private readonly id = new Leaf(["conversation_id"], "BYTE_ARRAY", 1, false, "SNAPPY")
  private readonly model = new Leaf(["model"], "BYTE_ARRAY", 1, false, "SNAPPY")
  private readonly content = new Leaf(["conversation", "list", "element", "content"], "BYTE_ARRAY", 4, true, "SNAPPY")
  private readonly role = new Leaf(["conversation", "list", "element", "role"], "BYTE_ARRAY", 4, true, "SNAPPY")
  private readonly turn = new Leaf(["turn"], "INT64", 1, false, "SNAPPY")
  private readonly language = new Leaf(["language"], "BYTE_ARRAY", 1, false, "SNAPPY")
  private readonly categories = moderationCategories.map((c) => categoryLeaf("categories", c, "BOOLEAN", "SNAPPY"))
  // Scores are random doubles: snappy would spend time and save nothing.
  private readonly scores = moderationCategories.map((c) => categoryLeaf("category_scores", c, "DOUBLE", "UNCOMPRESSED"))
  private readonly flagged = new Leaf(["openai_moderation", "list", "element", "flagged"], "BOOLEAN", 4, true, "SNAPPY")
  private readonly redacted = new Leaf(["redacted"], "BOOLEAN", 1, false, "SNAPPY")
  /** All leaves in schema order. */
  private readonly leaves: ReadonlyArray<Leaf> = [
    this.id, this.model, this.content, this.role, this.turn, this.language,
    ...this.categories, ...this.scores, this.flagged, this.redacted
  ]

  constructor() {
    this.out.appendUint32(0x31524150) // "PAR1"
  }

  /** Rows appended to the open row group. */
  get pendingRows(): number {
    return this.groupRows
  }

  /** Encodes one row into the open row group. */
  append(r: LmsysRecord): void {
    this.id.str(r.conversation_id, true)
    this.model.str(r.model, true)
    this.turn.i64(r.turn)
    this.language.str(r.language, true)
    this.redacted.bool(r.redacted, true)
    const messages = r.conversation
    for (let j = 0; j < messages.length; j++) {
      this.content.str(messages[j].content, j === 0)
      this.role.str(messages[j].role, j === 0)
    }
    const mod = r.openai_moderation
    const cats = this.categories
    const scores = this.scores
    for (let j = 0; j < mod.length; j++) {
      const first = j === 0
      const m = mod[j]
      const c = m.categories
      cats[0].bool(c.harassment, first)
      cats[1].bool(c["harassment/threatening"], first)
      cats[2].bool(c.hate, first)
      cats[3].bool(c["hate/threatening"], first)
      cats[4].bool(c["self-harm"], first)
      cats[5].bool(c["self-harm/instructions"], first)
      cats[6].bool(c["self-harm/intent"], first)
      cats[7].bool(c.sexual, first)
      cats[8].bool(c["sexual/minors"], first)
      cats[9].bool(c.violence, first)
      cats[10].bool(c["violence/graphic"], first)
      const s = m.category_scores
      scores[0].f64(s.harassment, first)
      scores[1].f64(s["harassment/threatening"], first)
      scores[2].f64(s.hate, first)
      scores[3].f64(s["hate/threatening"], first)
      scores[4].f64(s["self-harm"], first)
      scores[5].f64(s["self-harm/instructions"], first)
      scores[6].f64(s["self-harm/intent"], first)
      scores[7].f64(s.sexual, first)
      scores[8].f64(s["sexual/minors"], first)
      scores[9].f64(s.violence, first)
      scores[10].f64(s["violence/graphic"], first)
      this.flagged.bool(m.flagged, first)
    }
    for (const leaf of this.leaves) leaf.endRow()
    this.groupRows++
  }

  /** Closes the open row group (if it has rows) and appends it to the output. */
  endRowGroup(): void {
    if (this.groupRows === 0) return
    const start = this.out.offset
    const columns: Array<ColumnChunk> = []
    let uncompressed = 0n
    for (const leaf of this.leaves) {
      const chunk = leaf.finishChunk(this.out)
      uncompressed += chunk.meta_data?.total_uncompressed_size ?? 0n
      columns.push(chunk)
    }
    this.rowGroups.push({
      columns,
      total_byte_size: uncompressed,
      num_rows: BigInt(this.groupRows),
      file_offset: BigInt(start),
      total_compressed_size: BigInt(this.out.offset - start)
    })
    this.numRows += this.groupRows
    this.groupRows = 0
  }

  /** Closes the open row group and writes the footer (file metadata and magic). */
  finish(): void {
    this.endRowGroup()
    writeMetadata(this.out, {
      version: 2,
      created_by: "synthline sample",
      schema: [...lmsysSchema],
      num_rows: BigInt(this.numRows),
      row_groups: this.rowGroups,
      key_value_metadata: [huggingface],
      metadata_length: 0
    })
    this.out.appendUint32(0x31524150)
  }

  /** The bytes encoded since the last call; valid until the next `endRowGroup`/`finish`. */
  take(): Uint8Array {
    const bytes = this.out.getBytes()
    this.out.index = 0
    return bytes
  }
}

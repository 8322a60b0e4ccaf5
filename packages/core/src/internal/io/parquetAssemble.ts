/**
 * A fast row reader for a row range of one parquet row group, built on hyparquet's page
 * decoders. hyparquet's `parquetRead` assembles nested columns leaf by leaf into nested arrays
 * and then zips them into objects, which for LMSYS-Chat-1M's `openai_moderation` (22 leaves
 * under list<struct<struct>>) costs most of the read time and holds the whole row group as
 * objects at once. Here each leaf column chunk is read page by page with a cursor: pages wholly
 * before the range are skipped (by their header alone when it says how many rows a page holds —
 * data page v2, or a column that is not repeated — else by counting entries with repetition
 * level 0; no page index is needed, DuckDB writes none), only the levels and values of the
 * range's rows are kept, and reading stops where the range ends. Compressed bytes are fetched
 * in windows of about a MiB (or one page), never a whole column chunk; the values of a large
 * snappy page of strings (DuckDB writes pages of up to ~100 MB) are decompressed as they are
 * read (`snappyStream.ts`) instead of all at once. Rows are then assembled directly (Dremel
 * record assembly) in batches, so only one batch of row objects exists at a time. Values come
 * out as plain JSON: INT64 as numbers (strings when unsafe), nulls as `null`, dates as ISO
 * strings, raw bytes as base64.
 *
 * The cursors of the last ranges read are kept (at most two, keyed by file, row group and
 * columns; each holds one decoded page and one read window per leaf column), so reading the
 * ranges of a row group in order continues where the previous range stopped instead of
 * skipping its pages again. The cache belongs to a run (a {@link CursorCache} next to its footer
 * cache, one per thread), never to the module. It is only an optimisation: a range read cold gives
 * the same rows.
 *
 * Schemas it does not handle (MAP, VARIANT, other exotic layouts) return `Unsupported` so the
 * caller falls back to `parquetRead`; its output equals `parquetRead`'s (tests compare them).
 */
import type { AsyncBuffer, FileMetaData, SchemaElement } from "hyparquet"
import { parquetSchema } from "hyparquet"
import { compressors } from "hyparquet-compressors"
import { parquetHeader } from "hyparquet/src/column.js"
import type { ColumnDecoder, DataReader, DecodedArray, Encoding, PageHeader } from "hyparquet/src/types.js"
import { convert, DEFAULT_PARSERS } from "hyparquet/src/convert.js"
import { decompressPage, readDataPage, readDataPageV2 } from "hyparquet/src/datapage.js"
import { readRleBitPackedHybrid } from "hyparquet/src/encoding.js"
import { readPlain } from "hyparquet/src/plain.js"
import { getMaxDefinitionLevel, getMaxRepetitionLevel } from "hyparquet/src/schema.js"
import { snappyUncompress } from "hyparquet/src/snappy.js"
import { errorText } from "../../Errors.js"
import { concat } from "./lines.js"
import { SnappyReader, TooFarBack } from "./snappyStream.js"

type SchemaTree = ReturnType<typeof parquetSchema>
type Decoded = DecodedArray
type ChunkMeta = NonNullable<FileMetaData["row_groups"][number]["columns"][number]["meta_data"]>

/** One decoded leaf column of a row group, with a read cursor. */
interface Leaf {
  readonly path: string
  readonly maxDef: number
  /** Definition level per entry. */
  def: Uint8Array
  /** Repetition level per entry. */
  rep: Uint8Array
  /** Non-null values, in order. */
  values: ArrayLike<unknown>
  n: number
  pos: number
  vpos: number
}

type Node =
  | { readonly kind: "leaf"; readonly leaf: Leaf; readonly def: number }
  | {
      readonly kind: "struct"
      readonly names: ReadonlyArray<string>
      readonly children: ReadonlyArray<Node>
      readonly optional: boolean
      readonly def: number
      readonly leaves: ReadonlyArray<Leaf>
    }
  | {
      readonly kind: "list"
      readonly optional: boolean
      /** Definition level at which the list is present. */
      readonly def: number
      /** Definition level at which it has at least one element. */
      readonly elemDef: number
      /** Repetition level of its repeated node. */
      readonly rep: number
      readonly element: Node
      readonly leaves: ReadonlyArray<Leaf>
    }

/** Why a schema is not handled here. */
interface Unsupported {
  readonly unsupported: string
}

const isUnsupported = <A extends object>(x: A | Unsupported): x is Unsupported => "unsupported" in x

const leavesOf = (node: Node): ReadonlyArray<Leaf> => (node.kind === "leaf" ? [node.leaf] : node.leaves)

const compileAll = (
  trees: ReadonlyArray<SchemaTree>,
  def: number,
  rep: number,
  leaf: (tree: SchemaTree, def: number) => Leaf
): Array<Node> | Unsupported => {
  const out: Array<Node> = []
  for (const t of trees) {
    const n = compile(t, def, rep, leaf)
    if (isUnsupported(n)) return n
    out.push(n)
  }
  return out
}

const compile = (
  tree: SchemaTree,
  parentDef: number,
  parentRep: number,
  leaf: (tree: SchemaTree, def: number) => Leaf
): Node | Unsupported => {
  const e: SchemaElement = tree.element
  if (e.converted_type === "MAP" || e.converted_type === "MAP_KEY_VALUE" || e.logical_type?.type === "MAP") {
    return { unsupported: "map column" }
  }
  if (e.logical_type?.type === "VARIANT") return { unsupported: "variant column" }
  const repetition = e.repetition_type ?? "REQUIRED"
  if (repetition === "REPEATED") return { unsupported: "repeated field outside a LIST" }
  const optional = repetition === "OPTIONAL"
  const def = parentDef + (optional ? 1 : 0)
  if (e.converted_type === "LIST") {
    const repeated = tree.children[0]
    if (tree.children.length !== 1 || repeated === undefined || repeated.element.repetition_type !== "REPEATED") {
      return { unsupported: "LIST without exactly one repeated child" }
    }
    const elemDef = def + 1
    const rep = parentRep + 1
    let element: Node | Unsupported
    const only = repeated.children.length === 1 ? repeated.children[0] : undefined
    if (only !== undefined) {
      element = compile(only, elemDef, rep, leaf)
    } else if (repeated.children.length === 0) {
      element = { kind: "leaf", leaf: leaf(repeated, elemDef), def: elemDef }
    } else {
      const children = compileAll(repeated.children, elemDef, rep, leaf)
      element = isUnsupported(children)
        ? children
        : {
            kind: "struct",
            names: repeated.children.map((c) => c.element.name),
            children,
            optional: false,
            def: elemDef,
            leaves: children.flatMap(leavesOf)
          }
    }
    if (isUnsupported(element)) return element
    return { kind: "list", optional, def, elemDef, rep, element, leaves: leavesOf(element) }
  }
  if (tree.children.length > 0) {
    const children = compileAll(tree.children, def, parentRep, leaf)
    if (isUnsupported(children)) return children
    return {
      kind: "struct",
      names: tree.children.map((c) => c.element.name),
      children,
      optional,
      def,
      leaves: children.flatMap(leavesOf)
    }
  }
  return { kind: "leaf", leaf: leaf(tree, def), def }
}

/** Makes leaf values plain JSON once, instead of per row. */
const plainValues = (values: Decoded): ArrayLike<unknown> => {
  if (values instanceof BigInt64Array || values instanceof BigUint64Array) {
    const out = new Array<unknown>(values.length)
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!
      out[i] = v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v.toString()
    }
    return out
  }
  if (!Array.isArray(values)) return values
  let i = 0
  while (i < values.length) {
    const v: unknown = values[i]
    if (typeof v === "bigint" || v === undefined || v instanceof Date || v instanceof Uint8Array) break
    i++
  }
  if (i === values.length) return values
  const out = values.slice()
  for (; i < out.length; i++) {
    const v: unknown = out[i]
    if (typeof v === "bigint") {
      out[i] = v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v.toString()
    } else if (v === undefined) out[i] = null
    else if (v instanceof Date) out[i] = v.toISOString()
    else if (v instanceof Uint8Array) out[i] = Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64")
  }
  return out
}

/** Bytes fetched at once when reading pages in order (a page larger than this is fetched whole). */
const windowBytes = 1 << 20
/** Bytes fetched to read one page header while skipping pages (more when a header is longer). */
const headerProbeBytes = 16 * 1024

/**
 * The bytes of one column chunk, read in order through one window of the file: only the bytes
 * of the page being decoded (and up to `windowBytes` after it) are held.
 */
class ChunkBytes {
  private window: Uint8Array = new Uint8Array(0)
  private windowStart = 0

  constructor(
    private readonly file: AsyncBuffer,
    /** Offset of the next page header. */
    public offset: number,
    readonly end: number
  ) {}

  /** The bytes from `from` to the end of the window, at least up to `to` (fetching `ahead` bytes when it must read). */
  async at(from: number, to: number, ahead: number): Promise<Uint8Array> {
    const held = this.windowStart + this.window.byteLength
    if (from < this.windowStart || to > held) {
      const end = Math.min(this.end, Math.max(to, from + ahead))
      this.window = new Uint8Array(await this.file.slice(from, end))
      this.windowStart = from
      if (this.window.byteLength < to - from) throw new Error(`column chunk ends at byte ${from + this.window.byteLength}, before ${to}`)
    }
    return this.window.subarray(from - this.windowStart)
  }

  /** Drops the window once every byte in it is read. */
  release(): void {
    if (this.offset >= this.windowStart + this.window.byteLength) this.window = new Uint8Array(0)
  }

  /** Reads the page header at `offset`; returns it with its length in bytes. */
  async header(ahead: number): Promise<{ readonly header: PageHeader; readonly length: number }> {
    let probe = Math.min(this.end - this.offset, headerProbeBytes)
    while (true) {
      const bytes = await this.at(this.offset, this.offset + probe, Math.max(ahead, probe))
      const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 }
      try {
        const header = parquetHeader(reader)
        return { header, length: reader.offset }
      } catch (e) {
        // A header longer than the bytes at hand (large statistics): read more, up to the chunk's end.
        if (!(e instanceof RangeError) || this.offset + bytes.byteLength >= this.end) throw e
        probe = Math.min(this.end - this.offset, bytes.byteLength * 4)
      }
    }
  }
}

/** Raw values of a page's defined entries, not yet converted to JSON values. */
type RawValues =
  /** PLAIN BYTE_ARRAY: value `i` is `bytes[offsets[i] + 4, offsets[i + 1])` (after its 4-byte length). */
  | { readonly _tag: "Bytes"; readonly bytes: Uint8Array; readonly offsets: Uint32Array }
  /** Indices into the column chunk's dictionary. */
  | { readonly _tag: "Indexed"; readonly data: Uint32Array }
  /** Booleans as 0/1 bytes. */
  | { readonly _tag: "Bools"; readonly data: Uint8Array }
  /** Values as hyparquet decodes them (numbers in typed arrays; other encodings). */
  | { readonly _tag: "Plain"; readonly data: Decoded }
  /**
   * PLAIN BYTE_ARRAY values of a large snappy page, decompressed as they are read: `next` is the
   * value the stream is at; the stream's bytes from `valuesAt` on are the values.
   */
  | { readonly _tag: "Stream"; readonly stream: SnappyReader; readonly body: Uint8Array; readonly valuesAt: number; readonly count: number; next: number }

/** A decoded data page: levels and raw values, with a read position. */
interface Page {
  readonly n: number
  /** Definition level per entry, or undefined when the leaf has none (every entry defined). */
  readonly def: Uint8Array | undefined
  /** Repetition level per entry, or undefined when the leaf is not repeated (every entry starts a row). */
  readonly rep: Uint8Array | undefined
  values: RawValues
  /** Next entry. */
  pos: number
  /** Next value (defined entries before `pos`). */
  vpos: number
}

/** The levels and values of the rows a leaf took for one range, in pieces. */
interface Taken {
  readonly defs: Array<Uint8Array>
  readonly reps: Array<Uint8Array>
  readonly values: Array<ArrayLike<unknown>>
  entries: number
  nValues: number
}

const bitWidth = (max: number): number => 32 - Math.clz32(max)

/** Snappy pages of PLAIN strings this large (uncompressed) are read as a stream. */
const streamPageBytes = 8 * 1024 * 1024

/**
 * Snappy pages this large (uncompressed) are decompressed with hyparquet's JavaScript snappy,
 * straight into their output: the faster WebAssembly one instantiates a wasm memory per page
 * that holds input and output, then copies the output out — garbage of twice a page's size
 * per page, which adds up to hundreds of MB when every leaf column has one multi-MB page.
 */
const jsSnappyBytes = 2 * 1024 * 1024

const decompress = (body: Uint8Array, size: number, codec: ColumnDecoder["codec"]): Uint8Array => {
  if (codec !== "SNAPPY" || size < jsSnappyBytes) return decompressPage(body, size, codec, compressors)
  const out = new Uint8Array(size)
  snappyUncompress(body, out)
  return out
}

const readerOf = (bytes: Uint8Array): DataReader => ({ view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 })

/** RLE/bit-packed levels into bytes; `length` undefined reads a 4-byte length first (data page v1). */
const readLevels = (reader: DataReader, max: number, n: number, length: number | undefined): Uint8Array | undefined => {
  if (max === 0) return undefined
  const out = new Uint8Array(n)
  readRleBitPackedHybrid(reader, bitWidth(max), out, length)
  return out
}

/**
 * Decodes the values of a data page compactly: byte arrays as offsets into the page, booleans
 * and dictionary indices as typed arrays; undefined for encodings left to hyparquet.
 */
const readValues = (reader: DataReader, encoding: Encoding, decoder: ColumnDecoder, count: number): RawValues | undefined => {
  const { type } = decoder
  const view = reader.view
  if (encoding === "PLAIN") {
    if (type === "BYTE_ARRAY") {
      const offsets = new Uint32Array(count + 1)
      let at = reader.offset
      for (let i = 0; i < count; i++) {
        offsets[i] = at
        at += 4 + view.getUint32(at, true)
      }
      if (at > view.byteLength) throw new Error(`byte array values run past the page (${at} > ${view.byteLength})`)
      offsets[count] = at
      return { _tag: "Bytes", bytes: new Uint8Array(view.buffer, view.byteOffset, view.byteLength), offsets }
    }
    if (type === "BOOLEAN") {
      const out = new Uint8Array(count)
      const at = reader.offset
      for (let i = 0; i < count; i++) out[i] = (view.getUint8(at + (i >> 3)) >> (i & 7)) & 1
      return { _tag: "Bools", data: out }
    }
    return { _tag: "Plain", data: readPlain(reader, type, count, decoder.element.type_length) }
  }
  if (encoding === "RLE" && type === "BOOLEAN") {
    const out = new Uint8Array(count)
    readRleBitPackedHybrid(reader, 1, out)
    return { _tag: "Bools", data: out }
  }
  if (encoding === "PLAIN_DICTIONARY" || encoding === "RLE_DICTIONARY") {
    const width = view.getUint8(reader.offset++)
    const out = new Uint32Array(count)
    if (width > 0) readRleBitPackedHybrid(reader, width, out, view.byteLength - reader.offset)
    return { _tag: "Indexed", data: out }
  }
  return undefined
}

const definedCount = (def: Uint8Array | undefined, maxDef: number, n: number): number => {
  if (def === undefined) return n
  let k = 0
  for (let i = 0; i < n; i++) if (def[i] === maxDef) k++
  return k
}

/** Levels read from a snappy stream: a 4-byte length, then RLE/bit-packed levels. */
const streamLevels = (stream: SnappyReader, max: number, n: number): Uint8Array | undefined => {
  if (max === 0) return undefined
  const length = stream.u32()
  return readLevels(readerOf(stream.read(length)), max, n, length)
}

/** Whether a page's values are read from a snappy stream instead of decompressing it whole. */
const streams = (header: PageHeader, decoder: ColumnDecoder, encoding: Encoding): boolean =>
  decoder.codec === "SNAPPY" && decoder.type === "BYTE_ARRAY" && encoding === "PLAIN" && header.uncompressed_page_size >= streamPageBytes

/** Decodes the levels of a large data page and leaves its values in a snappy stream (undefined if it cannot). */
const streamPage = (header: PageHeader, body: Uint8Array, maxDef: number, maxRep: number): Page | undefined => {
  const v2 = header.data_page_header_v2
  try {
    if (v2 === undefined) {
      const n = header.data_page_header?.num_values ?? 0
      const stream = new SnappyReader(body)
      if (stream.total !== header.uncompressed_page_size) throw new Error(`snappy length ${stream.total}, page header ${header.uncompressed_page_size}`)
      const rep = streamLevels(stream, maxRep, n)
      const def = streamLevels(stream, maxDef, n)
      const values: RawValues = { _tag: "Stream", stream, body, valuesAt: stream.position, count: definedCount(def, maxDef, n), next: 0 }
      return { n, def, rep, values, pos: 0, vpos: 0 }
    }
    const n = v2.num_values
    const reader = readerOf(body)
    const rep = readLevels(reader, maxRep, n, v2.repetition_levels_byte_length)
    reader.offset = v2.repetition_levels_byte_length
    const def = readLevels(reader, maxDef, n, v2.definition_levels_byte_length)
    const data = body.subarray(v2.repetition_levels_byte_length + v2.definition_levels_byte_length)
    const values: RawValues = { _tag: "Stream", stream: new SnappyReader(data), body: data, valuesAt: 0, count: definedCount(def, maxDef, n), next: 0 }
    return { n, def, rep, values, pos: 0, vpos: 0 }
  } catch (e) {
    if (e instanceof TooFarBack) return undefined
    throw e
  }
}

/** The values of a streamed page decompressed whole (when its stream reaches too far back). */
const wholeValues = (raw: Extract<RawValues, { _tag: "Stream" }>, decoder: ColumnDecoder): RawValues => {
  const out = new Uint8Array(raw.stream.total)
  snappyUncompress(raw.body, out)
  const reader = readerOf(out)
  reader.offset = raw.valuesAt
  const values = readValues(reader, "PLAIN", decoder, raw.count)
  if (values === undefined) throw new Error("cannot decode the page's values")
  return values
}

/** Decodes one data page (v1 or v2) from its compressed body. */
const decodePage = (header: PageHeader, body: Uint8Array, decoder: ColumnDecoder, maxDef: number, maxRep: number): Page => {
  const { codec } = decoder
  const v2 = header.data_page_header_v2
  const encoding = v2?.encoding ?? header.data_page_header?.encoding
  if (encoding !== undefined && streams(header, decoder, encoding)) {
    const page = streamPage(header, body, maxDef, maxRep)
    if (page !== undefined) return page
  }
  let n: number
  let def: Uint8Array | undefined
  let rep: Uint8Array | undefined
  let values: RawValues | undefined
  if (v2 === undefined) {
    const daph = header.data_page_header
    if (daph === undefined) throw new Error("data page header missing")
    const raw = decompress(body, header.uncompressed_page_size, codec)
    const reader = readerOf(raw)
    n = daph.num_values
    rep = readLevels(reader, maxRep, n, undefined)
    def = readLevels(reader, maxDef, n, undefined)
    values = readValues(reader, daph.encoding, decoder, definedCount(def, maxDef, n))
    if (values === undefined) {
      const page = readDataPage(raw, daph, decoder)
      values = { _tag: "Plain", data: page.dataPage }
    }
  } else {
    n = v2.num_values
    const reader = readerOf(body)
    rep = readLevels(reader, maxRep, n, v2.repetition_levels_byte_length)
    reader.offset = v2.repetition_levels_byte_length
    def = readLevels(reader, maxDef, n, v2.definition_levels_byte_length)
    const levelsLength = v2.repetition_levels_byte_length + v2.definition_levels_byte_length
    const data =
      v2.is_compressed === false
        ? body.subarray(levelsLength)
        : decompress(body.subarray(levelsLength), header.uncompressed_page_size - levelsLength, codec)
    values = readValues(readerOf(data), v2.encoding, decoder, definedCount(def, maxDef, n))
    if (values === undefined) {
      const page = readDataPageV2(body, header, decoder)
      values = { _tag: "Plain", data: page.dataPage }
    }
  }
  return { n, def, rep, values, pos: 0, vpos: 0 }
}

const sliceOf = (data: Decoded, from: number, to: number): Decoded => data.slice(from, to)

/** Gives the event loop a turn when decoding has run for `sliceMs` since the last one. */
const yieldNow = async (clock: { at: number }): Promise<void> => {
  if (performance.now() - clock.at > sliceMs) {
    await new Promise<void>((resolve) => setImmediate(resolve))
    clock.at = performance.now()
  }
}

/**
 * A read position in one leaf column chunk of a row group: `row` rows have started before it.
 * `advance` moves forward to the start of a row, keeping the entries it passes or not; it reads
 * pages in order and never goes back.
 */
class LeafCursor {
  /** Rows (entries with repetition level 0) before the position. */
  row = 0
  /** Entries of the chunk in the pages read or skipped so far. */
  private entries = 0
  private page: Page | undefined
  private dictionary: ArrayLike<unknown> | undefined

  constructor(
    private readonly bytes: ChunkBytes,
    private readonly decoder: ColumnDecoder,
    private readonly maxDef: number,
    private readonly maxRep: number,
    private readonly numValues: number
  ) {}

  /**
   * Decodes the next data page, first skipping whole pages whose rows all come before `before`
   * when the header says how many rows a page holds. False at the end of the chunk.
   */
  private async nextPage(before: number, clock: { at: number }): Promise<boolean> {
    const { bytes, decoder } = this
    while (this.entries < this.numValues && bytes.offset < bytes.end) {
      await yieldNow(clock)
      const { header, length } = await bytes.header(this.row < before ? headerProbeBytes : windowBytes)
      const bodyStart = bytes.offset + length
      const bodyEnd = bodyStart + header.compressed_page_size
      const isData = header.type === "DATA_PAGE" || header.type === "DATA_PAGE_V2"
      if (isData) {
        const v2 = header.data_page_header_v2
        const count = v2?.num_values ?? header.data_page_header?.num_values ?? 0
        const rows = v2 !== undefined ? v2.num_rows : this.maxRep > 0 ? undefined : count
        if (rows !== undefined && rows > 0 && this.row + rows <= before) {
          this.row += rows
          this.entries += count
          bytes.offset = bodyEnd
          bytes.release()
          continue
        }
      } else if (header.type !== "DICTIONARY_PAGE") {
        bytes.offset = bodyEnd
        bytes.release()
        continue
      }
      const body = (await bytes.at(bodyStart, bodyEnd, windowBytes)).subarray(0, header.compressed_page_size)
      bytes.offset = bodyEnd
      if (!isData) {
        const diph = header.dictionary_page_header
        if (diph === undefined) throw new Error("dictionary page header missing")
        const raw = decompress(body, header.uncompressed_page_size, decoder.codec)
        this.dictionary = plainValues(convert(readPlain(readerOf(raw), decoder.type, diph.num_values, decoder.element.type_length), decoder))
        bytes.release()
        continue
      }
      const page = decodePage(header, body, decoder, this.maxDef, this.maxRep)
      bytes.release()
      this.page = page
      this.entries += page.n
      return true
    }
    return false
  }

  /**
   * Drops what the cursor has read of its page once that is at least a quarter of it, copying
   * the rest: a kept cursor then holds about what later ranges still need (DuckDB writes one
   * page per leaf for a whole row group of moderation scores).
   */
  compact(): void {
    const page = this.page
    if (page === undefined || page.pos < page.n / 4 || page.n < 4096) return
    const { pos, vpos } = page
    const raw = page.values
    let values: RawValues
    switch (raw._tag) {
      case "Stream":
        values = raw
        break
      case "Bytes": {
        const base = raw.offsets[vpos]!
        const offsets = raw.offsets.slice(vpos)
        for (let i = 0; i < offsets.length; i++) offsets[i] = offsets[i]! - base
        values = { _tag: "Bytes", bytes: raw.bytes.slice(base, raw.offsets[raw.offsets.length - 1]), offsets }
        break
      }
      case "Indexed":
        values = { _tag: "Indexed", data: raw.data.slice(vpos) }
        break
      case "Bools":
        values = { _tag: "Bools", data: raw.data.slice(vpos) }
        break
      case "Plain":
        values = { _tag: "Plain", data: sliceOf(raw.data, vpos, raw.data.length) }
        break
    }
    this.page = {
      n: page.n - pos,
      def: page.def?.slice(pos),
      rep: page.rep?.slice(pos),
      values,
      pos: 0,
      // A stream counts its values from the page's first.
      vpos: raw._tag === "Stream" ? vpos : 0
    }
  }

  /** Converts values `[from, to)` of a page to plain JSON values. */
  private values(page: Page, from: number, to: number): ArrayLike<unknown> {
    const raw = page.values
    if (raw._tag === "Stream") {
      try {
        return this.streamed(raw, from, to)
      } catch (e) {
        if (!(e instanceof TooFarBack)) throw e
        page.values = wholeValues(raw, this.decoder)
        return this.values(page, from, to)
      }
    }
    switch (raw._tag) {
      case "Bytes": {
        const { bytes, offsets } = raw
        const views = new Array<Uint8Array>(to - from)
        for (let i = from; i < to; i++) views[i - from] = bytes.subarray(offsets[i]! + 4, offsets[i + 1]!)
        return plainValues(convert(views, this.decoder))
      }
      case "Indexed": {
        const dict = this.dictionary
        if (dict === undefined) throw new Error("dictionary-encoded page without a dictionary page")
        const out = new Array<unknown>(to - from)
        for (let i = from; i < to; i++) out[i - from] = dict[raw.data[i]!]
        return out
      }
      case "Bools": {
        const out = new Array<boolean>(to - from)
        for (let i = from; i < to; i++) out[i - from] = raw.data[i] === 1
        return out
      }
      case "Plain":
        return plainValues(convert(sliceOf(raw.data, from, to), this.decoder))
    }
  }

  /** Values `[from, to)` of a streamed page: skips to `from`, copies the values' bytes out, converts them. */
  private streamed(raw: Extract<RawValues, { _tag: "Stream" }>, from: number, to: number): ArrayLike<unknown> {
    const stream = raw.stream
    for (; raw.next < from; raw.next++) stream.skip(stream.u32())
    const ends = new Uint32Array(to - from)
    let bytes = new Uint8Array(64 * 1024)
    let used = 0
    for (let i = 0; i < to - from; i++) {
      const length = stream.u32()
      if (used + length > bytes.byteLength) {
        const grown = new Uint8Array(Math.max(used + length, bytes.byteLength * 2))
        grown.set(bytes.subarray(0, used))
        bytes = grown
      }
      stream.readInto(length, bytes, used)
      used += length
      ends[i] = used
      raw.next++
    }
    const views = new Array<Uint8Array>(to - from)
    let at = 0
    for (let i = 0; i < views.length; i++) {
      views[i] = bytes.subarray(at, ends[i]!)
      at = ends[i]!
    }
    return plainValues(convert(views, this.decoder))
  }

  /**
   * Moves to the start of row `end` (or the end of the chunk); with `out`, keeps the levels and
   * values of the entries passed.
   */
  async advance(end: number, out: Taken | undefined, clock: { at: number }): Promise<void> {
    while (true) {
      const page = this.page
      if (page === undefined || page.pos >= page.n) {
        this.page = undefined
        if (!(await this.nextPage(out === undefined ? end : this.row, clock))) return
        continue
      }
      const { rep, def, n, pos: from, vpos: vfrom } = page
      const maxDef = this.maxDef
      let pos = from
      let vpos = vfrom
      let row = this.row
      for (; pos < n; pos++) {
        if (rep === undefined || rep[pos] === 0) {
          if (row === end) break
          row++
        }
        if (def === undefined || def[pos] === maxDef) vpos++
      }
      if (out !== undefined && pos > from) {
        out.defs.push(def === undefined ? new Uint8Array(pos - from).fill(maxDef) : def.subarray(from, pos))
        out.reps.push(rep === undefined ? new Uint8Array(pos - from) : rep.subarray(from, pos))
        out.values.push(this.values(page, vfrom, vpos))
        out.entries += pos - from
        out.nValues += vpos - vfrom
      }
      page.pos = pos
      page.vpos = vpos
      this.row = row
      if (pos < n) return
    }
  }
}

/** Skips one null/empty entry in every leaf under a node. */
const skip = (leaves: ReadonlyArray<Leaf>): void => {
  for (const l of leaves) l.pos++
}

const first = (leaves: ReadonlyArray<Leaf>): Leaf => leaves[0]!

const read = (node: Node): unknown => {
  switch (node.kind) {
    case "leaf": {
      const l = node.leaf
      const d = l.def[l.pos++]
      return d === node.def ? l.values[l.vpos++] : null
    }
    case "struct": {
      if (node.optional) {
        const f = first(node.leaves)
        if (f.def[f.pos]! < node.def) {
          skip(node.leaves)
          return null
        }
      }
      const out: { [key: string]: unknown } = {}
      const names = node.names
      const children = node.children
      for (let i = 0; i < children.length; i++) out[names[i]!] = read(children[i]!)
      return out
    }
    case "list": {
      const f = first(node.leaves)
      const d = f.def[f.pos]!
      if (d < node.def) {
        skip(node.leaves)
        return null
      }
      if (d < node.elemDef) {
        skip(node.leaves)
        return []
      }
      const out: Array<unknown> = []
      do {
        out.push(read(node.element))
      } while (f.pos < f.n && f.rep[f.pos] === node.rep)
      return out
    }
  }
}

/** Reads rows of one row group in batches. */
export interface RowGroupRows {
  readonly rows: number
  /** Assembles the next batch of up to `max` rows (fewer at the end). */
  readonly next: (max: number) => Array<{ [key: string]: unknown }>
}

/** The outcome of preparing a row group. */
export type Prepared =
  | { readonly _tag: "Ok"; readonly reader: RowGroupRows }
  | { readonly _tag: "Unsupported"; readonly reason: string }
  | { readonly _tag: "Corrupt"; readonly reason: string }

/** The schema nodes from the root to the element at `path`. */
const treePath = (root: SchemaTree, path: ReadonlyArray<string>): Array<SchemaTree> => {
  const out: Array<SchemaTree> = [root]
  let cur = root
  for (const name of path) {
    const next = cur.children.find((c) => c.element.name === name)
    if (next === undefined) break
    out.push(next)
    cur = next
  }
  return out
}

/** Longest stretch of decoding between turns of the event loop, in milliseconds. */
const sliceMs = 5

/** Rows `[start, end)` of a row group, counted from its first row. */
export interface RowRange {
  readonly start: number
  readonly end: number
}

/** The cursors of one row group's wanted leaf columns, in leaf order. */
type GroupCursor = ReadonlyArray<LeafCursor>

/** Cursors kept at most: each holds one decoded page and one read window per leaf column. */
const cursorsKept = 2

/** Positioned cursors kept between reads of the ranges of a row group, by key; one per run (and thread). */
export class CursorCache {
  /** The kept cursors, by key (file identity, columns, row group), oldest first. */
  readonly kept: Map<string, GroupCursor> = new Map()
  /** How many are kept. */
  get size(): number {
    return this.kept.size
  }
}

/** Why a row group cannot be read: a layout this reader does not handle, or a corrupt file. */
type Failure = Exclude<Prepared, { readonly _tag: "Ok" }>

/** The wanted columns compiled to assembly nodes: their leaves (with schema paths and column chunks) and the top-level nodes. */
interface Compiled {
  readonly leaves: ReadonlyArray<{ readonly leaf: Leaf; readonly tree: Array<SchemaTree> }>
  readonly metas: ReadonlyArray<ChunkMeta>
  readonly top: ReadonlyArray<readonly [string, Node]>
}

/** Compiles the wanted top-level columns of a row group and finds each leaf's column chunk. */
const compileColumns = (
  schema: SchemaTree,
  group: FileMetaData["row_groups"][number],
  columns: ReadonlyArray<string> | undefined
): Compiled | Failure => {
  const wanted = columns === undefined ? schema.children : schema.children.filter((c) => columns.includes(c.element.name))
  const chunkByPath = new Map<string, (typeof group.columns)[number]>()
  for (const c of group.columns) {
    if (c.file_path !== undefined || c.meta_data === undefined) return { _tag: "Unsupported", reason: "external column chunks" }
    chunkByPath.set(c.meta_data.path_in_schema.join("\u0000"), c)
  }
  const leaves: Array<{ leaf: Leaf; tree: Array<SchemaTree> }> = []
  const top: Array<readonly [string, Node]> = []
  for (const tree of wanted) {
    const node = compile(tree, 0, 0, (leafTree, def) => {
      const leaf: Leaf = {
        path: leafTree.path.join("."),
        maxDef: def,
        def: new Uint8Array(0),
        rep: new Uint8Array(0),
        values: [],
        n: 0,
        pos: 0,
        vpos: 0
      }
      leaves.push({ leaf, tree: treePath(schema, leafTree.path) })
      return leaf
    })
    if (isUnsupported(node)) return { _tag: "Unsupported", reason: node.unsupported }
    top.push([tree.element.name, node])
  }
  const metas: Array<ChunkMeta> = []
  for (const { leaf, tree } of leaves) {
    const meta = chunkByPath.get(leaf.path.split(".").join("\u0000"))?.meta_data
    if (meta === undefined) return { _tag: "Corrupt", reason: `column chunk ${leaf.path} is missing from the row group` }
    if (getMaxDefinitionLevel(tree) !== leaf.maxDef) return { _tag: "Unsupported", reason: `levels of ${leaf.path}` }
    metas.push(meta)
  }
  return { leaves, metas, top }
}

/** Fresh cursors at the start of each leaf's column chunk (its dictionary page when it has one). */
const openCursors = (file: AsyncBuffer, { leaves, metas }: Compiled): GroupCursor =>
  leaves.map(({ tree }, i) => {
    const meta = metas[i]!
    const dict = meta.dictionary_page_offset
    const at = Number(dict !== undefined && dict > 0n && dict < meta.data_page_offset ? dict : meta.data_page_offset)
    const decoder: ColumnDecoder = {
      pathInSchema: meta.path_in_schema,
      type: meta.type,
      element: tree[tree.length - 1]!.element,
      schemaPath: tree,
      codec: meta.codec,
      parsers: DEFAULT_PARSERS,
      compressors,
      utf8: true
    }
    const chunk = new ChunkBytes(file, at, at + Number(meta.total_compressed_size))
    return new LeafCursor(chunk, decoder, getMaxDefinitionLevel(tree), getMaxRepetitionLevel(tree), Number(meta.num_values))
  })

/**
 * Moves every leaf's cursor to `start` and takes its levels and values up to `end` into the
 * leaf. Decoding takes hundreds of milliseconds; it gives the event loop a turn every few
 * milliseconds so that work sharing the thread (model requests in flight) keeps moving.
 */
const takeRange = async (compiled: Compiled, leafCursors: GroupCursor, start: number, end: number): Promise<void> => {
  const clock = { at: performance.now() }
  for (let i = 0; i < compiled.leaves.length; i++) {
    const leaf = compiled.leaves[i]!.leaf
    const cursor = leafCursors[i]!
    await cursor.advance(start, undefined, clock)
    const taken: Taken = { defs: [], reps: [], values: [], entries: 0, nValues: 0 }
    await cursor.advance(end, taken, clock)
    leaf.def = concat(taken.defs, taken.entries)
    leaf.rep = concat(taken.reps, taken.entries)
    if (taken.values.length === 1) leaf.values = taken.values[0]!
    else {
      const out = new Array<unknown>(taken.nValues)
      let at = 0
      for (const v of taken.values) for (let j = 0; j < v.length; j++) out[at++] = v[j]
      leaf.values = out
    }
    leaf.n = taken.entries
  }
}

/** Structural checks, so assembly cannot run past a leaf: each leaf has `rows` row starts and a value per defined entry. */
const checkLeaves = (compiled: Compiled, start: number, end: number): Failure | undefined => {
  const rows = end - start
  for (const { leaf } of compiled.leaves) {
    let starts = 0
    let defined = 0
    for (let i = 0; i < leaf.n; i++) {
      if (leaf.rep[i] === 0) starts++
      if (leaf.def[i] === leaf.maxDef) defined++
    }
    if (starts !== rows) {
      return { _tag: "Corrupt", reason: `column ${leaf.path} has ${starts} rows in rows ${start}-${end} of the row group, expected ${rows}` }
    }
    if (defined !== leaf.values.length) {
      return { _tag: "Corrupt", reason: `column ${leaf.path} has ${leaf.values.length} values for ${defined} defined entries` }
    }
  }
  return undefined
}

/** The rows assembled from the leaves, a batch of at most `max` at a time. */
const rowReader = (top: Compiled["top"], rows: number): RowGroupRows => {
  let done = 0
  return {
    rows,
    next: (max) => {
      const stop = Math.min(rows, done + max)
      const out = new Array<{ [key: string]: unknown }>(stop - done)
      for (let r = 0; done < stop; r++, done++) {
        const row: { [key: string]: unknown } = {}
        for (const [name, node] of top) row[name] = read(node)
        out[r] = row
      }
      return out
    }
  }
}

/**
 * Reads rows `range` (default: all) of the wanted top-level columns of row group `k`. With
 * `cursors` (a cache and a key naming the file's identity and the columns), a read that ends before the row
 * group does leaves its cursors for the next range of the same key, so reading ranges in order
 * decodes each page once; a range before a kept cursor's position starts over.
 */
export const prepareRowGroup = async (
  file: AsyncBuffer,
  metadata: FileMetaData,
  k: number,
  columns: ReadonlyArray<string> | undefined,
  range?: RowRange,
  cursors?: { readonly cache: CursorCache; readonly key: string }
): Promise<Prepared> => {
  const schema = parquetSchema(metadata)
  const group = metadata.row_groups[k]!
  const groupRows = Number(group.num_rows)
  const { start, end } = range ?? { start: 0, end: groupRows }
  if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end) && 0 <= start && start <= end && end <= groupRows)) {
    return { _tag: "Corrupt", reason: `rows ${start}-${end} are outside the row group's ${groupRows} rows` }
  }
  const compiled = compileColumns(schema, group, columns)
  if ("_tag" in compiled) return compiled
  const kept = cursors?.cache.kept
  const key = cursors === undefined ? undefined : `${cursors.key}\u0000${k}`
  let group0 = key === undefined ? undefined : kept?.get(key)
  if (key !== undefined) kept?.delete(key)
  if (group0 !== undefined && (group0.length !== compiled.leaves.length || group0.some((c) => c.row > start))) group0 = undefined
  const leafCursors = group0 ?? openCursors(file, compiled)
  try {
    await takeRange(compiled, leafCursors, start, end)
  } catch (e) {
    // hyparquet's decoders throw on malformed pages.
    return { _tag: "Corrupt", reason: errorText(e) }
  }
  if (key !== undefined && kept !== undefined && end < groupRows) {
    for (const c of leafCursors) c.compact()
    kept.set(key, leafCursors)
    for (const old of kept.keys()) {
      if (kept.size <= cursorsKept) break
      kept.delete(old)
    }
  }
  const failure = checkLeaves(compiled, start, end)
  return failure ?? { _tag: "Ok", reader: rowReader(compiled.top, end - start) }
}

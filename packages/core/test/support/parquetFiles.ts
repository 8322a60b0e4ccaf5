/**
 * Parquet files for the row-range tests: LMSYS sample rows rewritten by DuckDB as one row group
 * (what a hub file written with one large row group looks like; DuckDB writes no page index and
 * pages of up to ~100 MB), page layouts read back from a file, and a small hand-written file of
 * data page v1 pages that split rows in the middle (a row's list continuing on the next page),
 * with a dictionary-encoded repeated column: the layouts other writers produce.
 */
import { DuckDBInstance } from "@duckdb/node-api"
import type { ColumnChunk, FileMetaData, SchemaElement } from "hyparquet"
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet"
import { compressors } from "hyparquet-compressors"
import { parquetHeader } from "hyparquet/src/column.js"
import { ByteWriter } from "hyparquet-writer"
import { writePageHeader } from "hyparquet-writer/src/datapage.js"
import { writeRleBitPackedHybrid } from "hyparquet-writer/src/encoding.js"
import { writeMetadata } from "hyparquet-writer/src/metadata.js"
import { writePlain } from "hyparquet-writer/src/plain.js"
import { snappyCompress } from "hyparquet-writer/src/snappy.js"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { plainValue } from "../../src/internal/io/parquetRead.js"
import { writeLmsysParquet } from "./io.js"
import { records } from "./lmsys.js"

const sqlString = (s: string): string => `'${s.replaceAll("'", "''")}'`

/**
 * Writes `rows` LMSYS-shaped rows (`lmsys.ts`, seed `seed`) as parquet into `dir/sample`, then
 * copies them with DuckDB into `file` as one row group (`version` V2 makes DuckDB use its newer
 * encodings, e.g. DELTA_LENGTH_BYTE_ARRAY).
 */
export const duckdbOneRowGroup = async (dir: string, file: string, rows: number, seed: number, version: "V1" | "V2" = "V1"): Promise<void> => {
  const src = nodePath.join(dir, "sample", "data", "train-00000-of-00001.parquet")
  if (!fs.existsSync(src)) writeLmsysParquet(src, records(seed, rows), 10_000)
  const db = await DuckDBInstance.create(":memory:")
  const c = await db.connect()
  await c.run(
    `COPY (SELECT * FROM read_parquet(${sqlString(src)})) TO ${sqlString(file)} (FORMAT parquet, ROW_GROUP_SIZE 1000000, PARQUET_VERSION ${version})`
  )
  c.closeSync()
}

/** Every row of a file as hyparquet's own `parquetRead` gives it, as plain JSON values. */
export const hyparquetRows = async (file: string): Promise<Array<unknown>> => {
  const buffer = await asyncBufferFromFile(file)
  const rows = await parquetReadObjects({ file: buffer, compressors })
  return rows.map(plainValue)
}

/** The footer of a file. */
export const footer = async (file: string): Promise<FileMetaData> => parquetMetadataAsync(await asyncBufferFromFile(file))

/** One page of a column chunk: its type, entries and, for data page v2, rows. */
export interface PageInfo {
  readonly type: string
  readonly values: number
  readonly rows: number | undefined
  readonly uncompressed: number
}

/** The pages of the column chunk at `path` in row group `k`, read from their headers. */
export const pagesOf = async (file: string, k: number, path: string): Promise<Array<PageInfo>> => {
  const buffer = await asyncBufferFromFile(file)
  const metadata = await parquetMetadataAsync(buffer)
  const chunk = metadata.row_groups[k]!.columns.find((c) => c.meta_data?.path_in_schema.join(".") === path)?.meta_data
  if (chunk === undefined) throw new Error(`no column ${path}`)
  const dict = chunk.dictionary_page_offset
  const start = Number(dict !== undefined && dict > 0n && dict < chunk.data_page_offset ? dict : chunk.data_page_offset)
  const bytes = new Uint8Array(await buffer.slice(start, start + Number(chunk.total_compressed_size)))
  const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 }
  const out: Array<PageInfo> = []
  while (reader.offset < bytes.byteLength) {
    const h = parquetHeader(reader)
    out.push({
      type: h.type,
      values: h.data_page_header?.num_values ?? h.data_page_header_v2?.num_values ?? h.dictionary_page_header?.num_values ?? 0,
      rows: h.data_page_header_v2?.num_rows,
      uncompressed: h.uncompressed_page_size
    })
    reader.offset += h.compressed_page_size
  }
  return out
}

/** A row of the hand-written v1 file. */
export interface V1Row {
  readonly id: number
  readonly tags: ReadonlyArray<string | null> | null
  readonly note: string | null
}

/** Row `i` of the hand-written v1 file: null, empty and long lists, null elements, null notes. */
export const v1Row = (i: number): V1Row => ({
  id: i,
  tags: i % 5 === 0 ? null : i % 5 === 1 ? [] : Array.from({ length: 1 + (i % 4) * 3 }, (_, j) => ((i + j) % 7 === 0 ? null : `t${(i * 3 + j) % 11}`)),
  note: i % 3 === 0 ? null : `note ${i} ${"x".repeat(i % 50)}`
})

const v1Schema: Array<SchemaElement> = [
  { name: "root", num_children: 3 },
  { name: "id", type: "INT64", repetition_type: "REQUIRED" },
  { name: "tags", repetition_type: "OPTIONAL", converted_type: "LIST", num_children: 1 },
  { name: "list", repetition_type: "REPEATED", num_children: 1 },
  { name: "element", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
  { name: "note", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" }
]

const utf8 = new TextEncoder()

interface LeafData {
  readonly def: Array<number>
  readonly rep: Array<number>
  /** Values of the defined entries. */
  readonly values: Array<unknown>
}

/** Levels with their 4-byte length, as data page v1 stores them. */
const levels = (out: ByteWriter, values: Array<number>, width: number): void => {
  const w = new ByteWriter()
  writeRleBitPackedHybrid(w, values, width)
  const bytes = w.getBytes()
  out.appendUint32(bytes.length)
  out.appendBytes(bytes)
}

/**
 * Writes `rows` as one row group of data page v1 pages of `pageEntries` entries each, cut
 * without regard to rows (so a `tags` list may continue on the next page), snappy-compressed:
 * `id` INT64 PLAIN (required, no levels), `tags` list<string> dictionary-encoded behind a
 * dictionary page, `note` optional string PLAIN. `compress` makes a page's snappy bytes.
 */
export const writeV1Parquet = (
  file: string,
  rows: ReadonlyArray<V1Row>,
  pageEntries: number,
  compress: (body: Uint8Array) => Uint8Array = snappyCompress
): void => {
  const id: LeafData = { def: [], rep: [], values: [] }
  const tags: LeafData = { def: [], rep: [], values: [] }
  const note: LeafData = { def: [], rep: [], values: [] }
  const dictionary: Array<string> = []
  const index = new Map<string, number>()
  for (const r of rows) {
    id.values.push(BigInt(r.id))
    if (r.tags === null) {
      tags.def.push(0)
      tags.rep.push(0)
    } else if (r.tags.length === 0) {
      tags.def.push(1)
      tags.rep.push(0)
    } else {
      r.tags.forEach((t, j) => {
        tags.rep.push(j === 0 ? 0 : 1)
        if (t === null) tags.def.push(2)
        else {
          tags.def.push(3)
          let k = index.get(t)
          if (k === undefined) {
            k = dictionary.length
            dictionary.push(t)
            index.set(t, k)
          }
          tags.values.push(k)
        }
      })
    }
    note.def.push(r.note === null ? 0 : 1)
    if (r.note !== null) note.values.push(utf8.encode(r.note))
  }
  const out = new ByteWriter()
  out.appendUint32(0x31524150)
  const page = (body: Uint8Array, header: Omit<Parameters<typeof writePageHeader>[1], "compressed_page_size" | "uncompressed_page_size">) => {
    const compressed = compress(body)
    writePageHeader(out, { ...header, uncompressed_page_size: body.length, compressed_page_size: compressed.length })
    out.appendBytes(compressed)
  }
  const chunk = (path: Array<string>, type: "INT64" | "BYTE_ARRAY", data: LeafData, entries: number, maxDef: number, maxRep: number, dict?: Array<string>): ColumnChunk => {
    const start = out.offset
    let dictionaryOffset: number | undefined
    if (dict !== undefined) {
      dictionaryOffset = out.offset
      const w = new ByteWriter()
      writePlain(w, dict.map((d) => utf8.encode(d)), "BYTE_ARRAY", undefined)
      page(w.getBytes(), { type: "DICTIONARY_PAGE", dictionary_page_header: { num_values: dict.length, encoding: "PLAIN" } })
    }
    const dataOffset = out.offset
    let v = 0
    for (let at = 0; at < entries; at += pageEntries) {
      const end = Math.min(entries, at + pageEntries)
      const w = new ByteWriter()
      if (maxRep > 0) levels(w, data.rep.slice(at, end), 1)
      let defined = end - at
      if (maxDef > 0) {
        const def = data.def.slice(at, end)
        levels(w, def, maxDef === 3 ? 2 : 1)
        defined = def.filter((d) => d === maxDef).length
      }
      const values = data.values.slice(v, v + defined)
      v += defined
      if (dict !== undefined) {
        w.appendUint8(4)
        writeRleBitPackedHybrid(w, values.map(Number), 4)
      } else if (type === "INT64") {
        writePlain(w, BigInt64Array.from(values.map((x) => (typeof x === "bigint" ? x : 0n))), "INT64", undefined)
      } else {
        writePlain(w, values, "BYTE_ARRAY", undefined)
      }
      page(w.getBytes(), {
        type: "DATA_PAGE",
        data_page_header: {
          num_values: end - at,
          encoding: dict !== undefined ? "RLE_DICTIONARY" : "PLAIN",
          definition_level_encoding: "RLE",
          repetition_level_encoding: "RLE"
        }
      })
    }
    return {
      file_offset: BigInt(start),
      meta_data: {
        type,
        encodings: dict !== undefined ? ["PLAIN", "RLE", "RLE_DICTIONARY"] : ["PLAIN", "RLE"],
        path_in_schema: path,
        codec: "SNAPPY",
        num_values: BigInt(entries),
        total_uncompressed_size: BigInt(out.offset - start),
        total_compressed_size: BigInt(out.offset - start),
        data_page_offset: BigInt(dataOffset),
        ...(dictionaryOffset === undefined ? {} : { dictionary_page_offset: BigInt(dictionaryOffset) })
      }
    }
  }
  if (dictionary.length > 16) throw new Error("the test dictionary must fit 4 bits")
  const groupStart = out.offset
  const columns = [
    chunk(["id"], "INT64", id, rows.length, 0, 0),
    chunk(["tags", "list", "element"], "BYTE_ARRAY", tags, tags.def.length, 3, 1, dictionary),
    chunk(["note"], "BYTE_ARRAY", note, rows.length, 1, 0)
  ]
  writeMetadata(out, {
    version: 1,
    schema: v1Schema,
    num_rows: BigInt(rows.length),
    row_groups: [
      {
        columns,
        total_byte_size: BigInt(out.offset - groupStart),
        num_rows: BigInt(rows.length),
        file_offset: BigInt(groupStart),
        total_compressed_size: BigInt(out.offset - groupStart)
      }
    ],
    metadata_length: 0
  })
  out.appendUint32(0x31524150)
  fs.mkdirSync(nodePath.dirname(file), { recursive: true })
  fs.writeFileSync(file, out.getBytes())
}

/**
 * A valid snappy stream for `body` whose back references reach `stride` bytes back: 64-byte
 * literals and 64-byte copies from `stride` bytes earlier alternate wherever the bytes repeat at
 * that distance (elsewhere literals only). With `stride` beyond what a streaming reader keeps,
 * its reads must fall back to decompressing the stream whole.
 */
export const farSnappy =
  (stride: number) =>
  (body: Uint8Array): Uint8Array => {
    const out = new ByteWriter()
    out.appendVarInt(body.length)
    const literal = (from: number, to: number) => {
      const len = to - from
      if (len <= 60) out.appendUint8((len - 1) << 2)
      else {
        out.appendUint8(62 << 2)
        out.appendUint8((len - 1) & 0xff)
        out.appendUint8(((len - 1) >> 8) & 0xff)
        out.appendUint8(((len - 1) >> 16) & 0xff)
      }
      out.appendBytes(body.subarray(from, to))
    }
    let pos = 0
    let k = 0
    while (pos < body.length) {
      const len = Math.min(64, body.length - pos)
      let repeats = pos >= stride && k % 2 === 1
      for (let i = 0; repeats && i < len; i++) if (body[pos + i] !== body[pos - stride + i]) repeats = false
      if (repeats) {
        out.appendUint8(((len - 1) << 2) | 3)
        out.appendUint32(stride)
      } else literal(pos, pos + len)
      pos += len
      k++
    }
    return out.getBytes()
  }

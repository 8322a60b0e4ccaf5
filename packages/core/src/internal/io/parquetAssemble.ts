/**
 * A fast row reader for one parquet row group, built on hyparquet's page decoders. hyparquet's
 * `parquetRead` assembles nested columns leaf by leaf into nested arrays and then zips them into
 * objects, which for LMSYS-Chat-1M's `openai_moderation` (22 leaves under list<struct<struct>>)
 * costs most of the read time and holds the whole row group as objects at once. Here each leaf
 * column chunk is decoded once into compact definition/repetition levels and values, and rows
 * are assembled directly (Dremel record assembly) in batches, so only one batch of row objects
 * exists at a time. Values come out as plain JSON: INT64 as numbers (strings when unsafe),
 * nulls as `null`, dates as ISO strings, raw bytes as base64.
 *
 * Schemas it does not handle (MAP, VARIANT, other exotic layouts) return `undefined` so the
 * caller falls back to `parquetRead`; its output equals `parquetRead`'s (tests compare them).
 */
import type { AsyncBuffer, FileMetaData, SchemaElement } from "hyparquet"
import { parquetSchema } from "hyparquet"
import { compressors } from "hyparquet-compressors"
import { parquetHeader } from "hyparquet/src/column.js"
import { convert, convertWithDictionary, DEFAULT_PARSERS } from "hyparquet/src/convert.js"
import { decompressPage, readDataPage, readDataPageV2 } from "hyparquet/src/datapage.js"
import { readPlain } from "hyparquet/src/plain.js"
import { concat } from "./lines.js"

type SchemaTree = ReturnType<typeof parquetSchema>
type ColumnDecoder = Parameters<typeof readDataPage>[2]
type Decoded = ReturnType<typeof convert>
type Encoding = Parameters<typeof convertWithDictionary>[2]
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

/** Decodes every page of one column chunk into levels and values. */
/**
 * Decodes one column chunk into its leaf, a page per step: the generator yields after every
 * page and returns a problem, or undefined when the chunk decoded.
 */
function* decodeChunk(
  bytes: Uint8Array,
  decoder: ColumnDecoder,
  maxDef: number,
  numValues: number,
  leaf: Leaf
): Generator<void, string | undefined, void> {
  const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 }
  let dictionary: Decoded | undefined
  const defs: Array<Uint8Array> = []
  const reps: Array<Uint8Array> = []
  const vals: Array<ArrayLike<unknown>> = []
  let entries = 0
  let nValues = 0
  const { codec, type, element } = decoder
  while (entries < numValues && reader.offset < bytes.byteLength) {
    const header = parquetHeader(reader)
    const page = new Uint8Array(bytes.buffer, bytes.byteOffset + reader.offset, header.compressed_page_size)
    reader.offset += header.compressed_page_size
    let levels: ReturnType<typeof readDataPage>
    let count: number
    let encoding: Encoding
    if (header.type === "DICTIONARY_PAGE") {
      const diph = header.dictionary_page_header
      if (diph === undefined) return "dictionary page header missing"
      const raw = decompressPage(page, header.uncompressed_page_size, codec, compressors)
      const plain = readPlain({ view: new DataView(raw.buffer, raw.byteOffset, raw.byteLength), offset: 0 }, type, diph.num_values, element.type_length)
      dictionary = convert(plain, decoder)
      continue
    } else if (header.type === "DATA_PAGE") {
      const daph = header.data_page_header
      if (daph === undefined) return "data page header missing"
      const raw = decompressPage(page, header.uncompressed_page_size, codec, compressors)
      levels = readDataPage(raw, daph, decoder)
      count = daph.num_values
      encoding = daph.encoding
    } else if (header.type === "DATA_PAGE_V2") {
      const daph2 = header.data_page_header_v2
      if (daph2 === undefined) return "data page v2 header missing"
      levels = readDataPageV2(page, header, decoder)
      count = daph2.num_values
      encoding = daph2.encoding
    } else {
      continue
    }
    const def = new Uint8Array(count)
    const dl = levels.definitionLevels
    if (dl !== undefined && dl.length > 0) def.set(dl)
    else def.fill(maxDef)
    const rep = new Uint8Array(count)
    if (levels.repetitionLevels.length > 0) rep.set(levels.repetitionLevels)
    const values = convertWithDictionary(levels.dataPage, dictionary, encoding, decoder)
    defs.push(def)
    reps.push(rep)
    vals.push(plainValues(values))
    entries += count
    nValues += values.length
    yield
  }
  leaf.def = concat(defs, entries)
  leaf.rep = concat(reps, entries)
  if (vals.length === 1) leaf.values = vals[0]!
  else {
    const out = new Array<unknown>(nValues)
    let at = 0
    for (const v of vals) for (let i = 0; i < v.length; i++) out[at++] = v[i]
    leaf.values = out
  }
  leaf.n = entries
  return undefined
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

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** Fetches and decodes the wanted top-level columns of row group `k`. */
/** Longest stretch of decoding between turns of the event loop, in milliseconds. */
const sliceMs = 5

export const prepareRowGroup = async (
  file: AsyncBuffer,
  metadata: FileMetaData,
  k: number,
  columns: ReadonlyArray<string> | undefined
): Promise<Prepared> => {
  const schema = parquetSchema(metadata)
  const group = metadata.row_groups[k]!
  const rows = Number(group.num_rows)
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
  // Fetch the byte ranges of the chunks, merging neighbours.
  type Range = { readonly start: number; readonly end: number; readonly meta: ChunkMeta }
  const ranges: Array<Range> = []
  for (const { leaf } of leaves) {
    const meta = chunkByPath.get(leaf.path.split(".").join("\u0000"))?.meta_data
    if (meta === undefined) return { _tag: "Corrupt", reason: `column chunk ${leaf.path} is missing from the row group` }
    const dict = meta.dictionary_page_offset
    const start = Number(dict !== undefined && dict > 0n && dict < meta.data_page_offset ? dict : meta.data_page_offset)
    ranges.push({ start, end: start + Number(meta.total_compressed_size), meta })
  }
  const spans: Array<{ start: number; end: number; data: Uint8Array }> = []
  for (const r of [...ranges].sort((a, b) => a.start - b.start)) {
    const last = spans[spans.length - 1]
    if (last !== undefined && r.start - last.end < 1 << 20) last.end = Math.max(last.end, r.end)
    else spans.push({ start: r.start, end: r.end, data: new Uint8Array(0) })
  }
  let failure: string | undefined
  try {
    await Promise.all(
      spans.map(async (s) => {
        s.data = new Uint8Array(await file.slice(s.start, s.end))
      })
    )
    // Decoding a row group takes hundreds of milliseconds; it gives the event loop a turn every
    // few milliseconds so that work sharing the thread (model requests in flight) keeps moving.
    let slice = performance.now()
    for (let i = 0; i < leaves.length; i++) {
      const { leaf, tree } = leaves[i]!
      const r = ranges[i]!
      const span = spans.find((s) => s.start <= r.start && r.end <= s.end)
      if (span === undefined) continue
      const bytes = span.data.subarray(r.start - span.start, r.end - span.start)
      const element = tree[tree.length - 1]!.element
      const decoder: ColumnDecoder = {
        pathInSchema: r.meta.path_in_schema,
        type: r.meta.type,
        element,
        schemaPath: tree,
        codec: r.meta.codec,
        parsers: DEFAULT_PARSERS,
        compressors,
        utf8: true
      }
      const steps = decodeChunk(bytes, decoder, leaf.maxDef, Number(r.meta.num_values), leaf)
      let step = steps.next()
      while (step.done !== true) {
        if (performance.now() - slice > sliceMs) {
          await new Promise<void>((resolve) => setImmediate(resolve))
          slice = performance.now()
        }
        step = steps.next()
      }
      if (step.value !== undefined) failure ??= `column ${leaf.path}: ${step.value}`
    }
  } catch (e) {
    // hyparquet's decoders throw on malformed pages.
    return { _tag: "Corrupt", reason: errorText(e) }
  }
  if (failure !== undefined) return { _tag: "Corrupt", reason: failure }
  // Structural checks, so assembly cannot run past a leaf.
  for (const { leaf } of leaves) {
    let starts = 0
    let defined = 0
    for (let i = 0; i < leaf.n; i++) {
      if (leaf.rep[i] === 0) starts++
      if (leaf.def[i] === leaf.maxDef) defined++
    }
    if (starts !== rows) return { _tag: "Corrupt", reason: `column ${leaf.path} has ${starts} rows, the row group ${rows}` }
    if (defined !== leaf.values.length) {
      return { _tag: "Corrupt", reason: `column ${leaf.path} has ${leaf.values.length} values for ${defined} defined entries` }
    }
  }
  let done = 0
  return {
    _tag: "Ok",
    reader: {
      rows,
      next: (max) => {
        const end = Math.min(rows, done + max)
        const out = new Array<{ [key: string]: unknown }>(end - done)
        for (let r = 0; done < end; r++, done++) {
          const row: { [key: string]: unknown } = {}
          for (const [name, node] of top) row[name] = read(node)
          out[r] = row
        }
        return out
      }
    }
  }
}

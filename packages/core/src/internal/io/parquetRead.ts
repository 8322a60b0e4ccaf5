/**
 * Reading parquet with hyparquet, one row range at a time: planning turns each file's footer
 * into work units of at most `unitRows` rows (a row group, or a run of rows within a larger
 * one); reading decodes one unit's rows (only the wanted top-level columns) with the fast
 * assembler in `parquetAssemble.ts` (falling back to hyparquet's `parquetRead` for schemas it
 * does not handle) and emits rows in chunks. INT64 values become
 * numbers when safe, nested lists and structs come out as arrays and objects exactly like the
 * JSON form, nulls are `null`. A file whose footer or pages cannot be decoded becomes one
 * reject, never a failed run; the reject says which rows were lost with it (all of a unit's,
 * from the footer's counts, or an unknown number when the footer itself is unreadable).
 */
import type { FileMetaData } from "hyparquet"
import { asyncBufferFromFile, parquetMetadataAsync, parquetRead } from "hyparquet"
import { compressors } from "hyparquet-compressors"
import { Chunk, Context, Effect, Option, Stream } from "effect"
import { stat } from "node:fs/promises"
import { errorText, SourceError } from "../../Errors.js"
import { isRecord, type Row, withOrigin } from "../../Row.js"
import type { SourceIO, WorkUnit } from "../../Source.js"
import type { InputFile } from "./inputs.js"
import { CursorCache, type Prepared, prepareRowGroup, type RowGroupRows } from "./parquetAssemble.js"
import { lmsysMismatch, type RowCheck } from "./validate.js"

/** Rows per emitted stream chunk. */
const chunkRows = 1024

type Loaded =
  | {
      readonly _tag: "Ok"
      readonly metadata: FileMetaData
      readonly file: Awaited<ReturnType<typeof asyncBufferFromFile>>
      /** The file's identity (path, size, modification time). */
      readonly key: string
      /** The run's cursors of row groups read in ranges, when there is a run. */
      readonly cursors: CursorCache | undefined
    }
  | { readonly _tag: "Corrupt"; readonly reason: string }

/** Parsed footers by file identity (path, size, modification time). */
export interface FooterCache {
  /** The footer of `key`: the one parsed before, or `parse()`'s (kept for the next unit). */
  readonly footer: (key: string, parse: () => Promise<FileMetaData>) => Promise<FileMetaData>
  /** Drops `key` (its footer failed to parse). */
  readonly forget: (key: string) => void
  /** The positioned cursors of row groups read in ranges, kept for the next range (same run, same thread). */
  readonly cursors?: CursorCache | undefined
}

/**
 * The footers of the parquet files one run reads, so reading unit after unit of one file parses
 * its footer once, and the cursors of row groups read in ranges (see `CursorCache`). A run
 * provides its own (`Runner.run`, and each worker thread), dropped when
 * it ends; read outside a run, each unit parses its file's footer.
 */
export class Footers extends Context.Tag("@synthline/core/ParquetFooters")<Footers, FooterCache>() {}

/** A footer cache holding the `size` most recently parsed footers (a run reads a few files at a time). */
export const makeFooters = (size = 8): FooterCache => {
  const kept = new Map<string, Promise<FileMetaData>>()
  return {
    footer: (key, parse) => {
      const known = kept.get(key)
      if (known !== undefined) return known
      const parsed = parse()
      kept.set(key, parsed)
      if (kept.size > size) {
        const oldest = kept.keys().next().value
        if (oldest !== undefined) kept.delete(oldest)
      }
      return parsed
    },
    forget: (key) => void kept.delete(key),
    cursors: new CursorCache()
  }
}

const load = (file: string): Effect.Effect<Loaded, SourceError> =>
  Effect.tryPromise({
    try: async () => ({ buffer: await asyncBufferFromFile(file), mtime: (await stat(file)).mtimeMs }),
    catch: (e) => new SourceError({ file, reason: `cannot open: ${errorText(e)}` })
  }).pipe(
    Effect.zip(Effect.serviceOption(Footers)),
    Effect.flatMap(([{ buffer, mtime }, cache]) =>
      Effect.promise(async (): Promise<Loaded> => {
        const key = `${file}\u0000${buffer.byteLength}\u0000${mtime}`
        const parse = () => parquetMetadataAsync(buffer)
        try {
          const metadata = await (Option.isSome(cache) ? cache.value.footer(key, parse) : parse())
          return { _tag: "Ok", metadata, file: buffer, key, cursors: Option.isSome(cache) ? cache.value.cursors : undefined }
        } catch (e) {
          if (Option.isSome(cache)) cache.value.forget(key)
          return { _tag: "Corrupt", reason: `not a readable parquet file: ${errorText(e)}` }
        }
      })
    )
  )

/**
 * Plans one file: a unit per row group of at most `unitRows` rows; a larger row group becomes
 * consecutive ranges of `unitRows` rows (the last one shorter), each with a proportional share
 * of the row group's bytes. A file whose footer cannot be read is one unit that reports it.
 */
export const planParquet = (input: InputFile, unitRows: number): Effect.Effect<ReadonlyArray<WorkUnit>, SourceError> =>
  Effect.map(load(input.abs), (loaded) => {
    if (loaded._tag === "Corrupt") return [{ id: input.rel, file: input.abs }]
    return loaded.metadata.row_groups.flatMap((rg, k): ReadonlyArray<WorkUnit> => {
      let total = rg.total_compressed_size
      if (total === undefined) {
        total = 0n
        for (const c of rg.columns) total += c.meta_data?.total_compressed_size ?? 0n
      }
      const bytes = Number(total)
      const rows = Number(rg.num_rows)
      const id = `${input.rel}#rg${k}`
      if (rows <= unitRows) return [{ id, file: input.abs, rowGroup: k, rows, bytes }]
      const units: Array<WorkUnit> = []
      for (let start = 0; start < rows; start += unitRows) {
        const end = Math.min(rows, start + unitRows)
        units.push({
          id: `${id}:${start}-${end}`,
          file: input.abs,
          rowGroup: k,
          rowStart: start,
          rowEnd: end,
          rows: end - start,
          bytes: Math.floor((bytes * end) / rows) - Math.floor((bytes * start) / rows)
        })
      }
      return units
    })
  })

/** Makes a hyparquet value plain JSON, in place: BigInt → number (string if unsafe), undefined → null. */
export const plainValue = (v: unknown): unknown => {
  switch (typeof v) {
    case "bigint":
      return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()
    case "undefined":
      return null
    case "object": {
      if (v === null) return null
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          const x = v[i]
          if (typeof x === "object" || typeof x === "bigint" || x === undefined) v[i] = plainValue(x)
        }
        return v
      }
      if (v instanceof Date) return v.toISOString()
      if (v instanceof Uint8Array) return Buffer.from(v).toString("base64")
      if (!isRecord(v)) return v
      const rec = v
      for (const k in rec) {
        const x = rec[k]
        if (typeof x === "object" || typeof x === "bigint" || x === undefined) rec[k] = plainValue(x)
      }
      return rec
    }
    default:
      return v
  }
}

/** A row reader over rows already in memory. */
const arrayRows = (rows: Array<{ [key: string]: unknown }>): RowGroupRows => {
  let done = 0
  return {
    rows: rows.length,
    next: (max) => {
      const out = rows.slice(done, done + max)
      done += out.length
      return out
    }
  }
}

/** Reads file rows `[rowStart, rowEnd)` with hyparquet's own assembly (schemas the fast reader does not handle). */
const readWithHyparquet = async (
  file: Awaited<ReturnType<typeof asyncBufferFromFile>>,
  metadata: FileMetaData,
  rowStart: number,
  rowEnd: number,
  columns: ReadonlyArray<string> | undefined
): Promise<{ readonly ok: true; readonly rows: Array<{ [key: string]: unknown }> } | { readonly ok: false; readonly reason: string }> => {
  try {
    let out: Array<{ [key: string]: unknown }> = []
    await parquetRead({
      file,
      metadata,
      rowStart,
      rowEnd,
      ...(columns === undefined ? {} : { columns: [...columns] }),
      rowFormat: "object",
      compressors,
      onComplete: (r) => {
        out = r
      }
    })
    return { ok: true, rows: out }
  } catch (e) {
    return { ok: false, reason: errorText(e) }
  }
}

/** How one parquet unit is read. */
export interface ParquetReadOptions {
  readonly unit: WorkUnit
  /** Path shown in origins (relative to the pipeline folder). */
  readonly rel: string
  /** Top-level columns to read; all when undefined. */
  readonly columns: ReadonlyArray<string> | undefined
  readonly check: RowCheck | undefined
  readonly io: SourceIO
}

/** The relative file of a unit id (`data/x.parquet#rg3` or `data/x.parquet#rg3:0-10000` → `data/x.parquet`). */
export const unitFile = (unit: WorkUnit): string => {
  const at = unit.rowGroup === undefined ? -1 : unit.id.lastIndexOf("#rg")
  return at === -1 ? unit.id : unit.id.slice(0, at)
}

/** Streams the rows of one unit: a whole row group, or rows `rowStart`–`rowEnd` of it. */
export const readParquet = (opts: ParquetReadOptions): Stream.Stream<Row, SourceError> =>
  Stream.unwrap(
    Effect.gen(function* () {
      const { unit, rel, io } = opts
      const loaded = yield* load(unit.file)
      if (loaded._tag === "Corrupt" || unit.rowGroup === undefined) {
        rejectUnreadableFile(io, rel, loaded._tag === "Corrupt" ? loaded.reason : undefined)
        return Stream.empty
      }
      const slice = yield* unitSlice(unit, unit.rowGroup, loaded.metadata, rel)
      const reader = yield* openRows(opts, loaded, slice)
      return reader === undefined ? Stream.empty : rowStream(reader, opts, slice.groupStart + slice.range.start)
    })
  )

/** Reports a file whose footer cannot be read (or a unit without a row group): all its rows are lost, how many is unknown. */
const rejectUnreadableFile = (io: SourceIO, rel: string, reason: string | undefined): void =>
  io.reject({
    origin: { file: rel },
    error: `corrupt parquet file: ${reason !== undefined ? `${reason}; ` : ""}all its rows are lost (how many is unknown: the footer cannot be read)`,
    raw: null,
    lost: { file: rel, rows: null }
  })

/** The rows a unit reads: row group `k`, its first row in the file, and the range of its rows. */
interface UnitSlice {
  readonly k: number
  /** Index in the file of the row group's first row. */
  readonly groupStart: number
  /** Rows `[start, end)` of the row group. */
  readonly range: { readonly start: number; readonly end: number }
}

/** Where a unit's rows are in the file, checked against its footer. */
const unitSlice = (unit: WorkUnit, k: number, metadata: FileMetaData, rel: string): Effect.Effect<UnitSlice, SourceError> => {
  const groups = metadata.row_groups
  if (k >= groups.length) {
    return Effect.fail(new SourceError({ file: rel, reason: `row group ${k} does not exist (the file has ${groups.length})` }))
  }
  let groupStart = 0
  for (let i = 0; i < k; i++) groupStart += Number(groups[i]!.num_rows)
  const groupRows = Number(groups[k]!.num_rows)
  const range = { start: unit.rowStart ?? 0, end: unit.rowEnd ?? groupRows }
  if (!(0 <= range.start && range.start <= range.end && range.end <= groupRows)) {
    return Effect.fail(
      new SourceError({
        file: rel,
        reason: `rows ${range.start}-${range.end} are not in row group ${k} (it has ${groupRows} rows)`
      })
    )
  }
  return Effect.succeed({ k, groupStart, range })
}

/**
 * A reader of the unit's rows (only the wanted columns that the file has): empty rows when none
 * of them is there; the fast assembler's; else hyparquet's. `undefined` when the rows cannot be
 * decoded, after reporting them lost.
 */
const openRows = (
  opts: ParquetReadOptions,
  loaded: Extract<Loaded, { readonly _tag: "Ok" }>,
  slice: UnitSlice
): Effect.Effect<RowGroupRows | undefined> =>
  Effect.gen(function* () {
    const { metadata, file } = loaded
    const { k, groupStart, range } = slice
    const present = new Set(metadata.schema.slice(1).map((e) => e.name))
    const columns = opts.columns?.filter((c) => present.has(c))
    if (columns !== undefined && columns.length === 0) return arrayRows(Array.from({ length: range.end - range.start }, () => ({})))
    const cursorKey = `${loaded.key}\u0000${columns?.join("\u0000") ?? "*"}`
    const prepared = yield* Effect.promise(() =>
      prepareRowGroup(file, metadata, k, columns, range, loaded.cursors === undefined ? undefined : { cache: loaded.cursors, key: cursorKey }).catch(
        (e): Prepared => ({ _tag: "Corrupt", reason: errorText(e) })
      )
    )
    if (prepared._tag === "Ok") return prepared.reader
    const read =
      prepared._tag === "Corrupt"
        ? { ok: false as const, reason: prepared.reason }
        : yield* Effect.promise(() => readWithHyparquet(file, metadata, groupStart + range.start, groupStart + range.end, columns))
    if (!read.ok) {
      rejectUnreadableRows(opts, slice, read.reason)
      return undefined
    }
    for (const row of read.rows) plainValue(row)
    return arrayRows(read.rows)
  })

/** Reports a unit whose rows cannot be decoded: which rows of the file are lost, and why. */
const rejectUnreadableRows = (opts: ParquetReadOptions, slice: UnitSlice, reason: string): void => {
  const { unit, rel, io } = opts
  const { k, groupStart, range } = slice
  const what = unit.rowStart === undefined ? `row group ${k}` : `row group ${k} rows ${range.start}-${range.end}`
  const from = groupStart + range.start
  const to = groupStart + range.end
  io.reject({
    origin: { file: rel, row: from },
    error: `corrupt parquet ${what}: ${reason}; ${to - from} rows lost (rows ${from}-${to} of the file)`,
    raw: null,
    lost: { file: rel, row_group: k, row_start: from, row_end: to, rows: to - from }
  })
}

/**
 * The rows of `reader` in chunks of {@link chunkRows}, each with its origin (its index in the
 * file counted from `first`); a row that fails `opts.check` is rejected instead.
 */
const rowStream = (reader: RowGroupRows, opts: ParquetReadOptions, first: number): Stream.Stream<Row> => {
  const { rel, io, check } = opts
  let index = first
  const batch = (): Chunk.Chunk<Row> => {
    const rows = reader.next(chunkRows)
    const out: Array<Row> = []
    for (const row of rows) {
      const origin = { file: rel, row: index++ }
      if (check !== undefined) {
        const problem = check(row)
        if (problem !== undefined) {
          io.reject({ origin, error: lmsysMismatch(problem), raw: row })
          continue
        }
      }
      out.push(withOrigin(row, origin))
    }
    return Chunk.unsafeFromArray(out)
  }
  return Stream.unfoldChunk(0, (done) => (done >= reader.rows ? Option.none() : Option.some([batch(), done + chunkRows] as const)))
}

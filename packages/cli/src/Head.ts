/**
 * `synthline head`: the first rows of a sink folder or of one data file (JSON lines, gzip JSON
 * lines, parquet, or any of them encrypted as `.gpg`), read with core's own sources and printed
 * pretty with long strings and lists cut short. Users look at rows far more than at manifests.
 */
import { FileSystem, Path } from "@effect/platform"
import { RunError, type SourceError } from "@synthline/core/Errors"
import * as Release from "@synthline/release/Release"
import type { ReleaseError } from "@synthline/release/Release"
import * as Source from "@synthline/core/Source"
import type { Row } from "@synthline/core/Row"
import type { SourceDefinition, WorkUnit } from "@synthline/core/Source"
import { Chunk, Effect, Schema, Stream } from "effect"

/** Options of {@link head}. */
export interface HeadOptions {
  /** Rows to show. */
  readonly rows: number
  /** Dotted field paths to show (`conversation.0.content`); all fields when empty. */
  readonly fields: ReadonlyArray<string>
  /** The original dataset folder, whose content gives the key of `.gpg` files. */
  readonly source?: string | undefined
  /** Longest string shown before it is cut. */
  readonly width: number
  /** Items of a list shown before the rest is counted. */
  readonly items: number
}

/** One row found, with where it came from. */
export interface HeadRow {
  readonly file: string
  /** 1-based position of the row in its file. */
  readonly index: number
  readonly row: Row
}

const dataFile = /\.(jsonl|json|jsonl\.gz|json\.gz|parquet)(\.gpg)?$/

const fail = (reason: string): RunError => new RunError({ reason, exitCode: 2 })

/** The data files a path stands for: itself, the part files of a sink folder, or the data files of a dataset folder. */
const filesOf = (target: string): Effect.Effect<ReadonlyArray<string>, RunError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const info = yield* fs.stat(target).pipe(Effect.mapError(() => fail(`${target}: no such file or folder`)))
    if (info.type !== "Directory") {
      if (!dataFile.test(target)) return yield* fail(`${target}: not a .jsonl, .jsonl.gz, .parquet or .gpg file`)
      return [target]
    }
    const list = (dir: string) =>
      fs.readDirectory(dir).pipe(
        Effect.map((names) => names.filter((n) => dataFile.test(n)).sort().map((n) => path.join(dir, n))),
        Effect.orElseSucceed((): ReadonlyArray<string> => [])
      )
    const inDir = yield* list(target)
    const parts = inDir.filter((f) => path.basename(f).startsWith("part-"))
    if (parts.length > 0) return parts
    const data = yield* list(path.join(target, "data"))
    if (data.length > 0) return data
    if (inDir.length > 0) return inDir
    return yield* fail(`${target}: no data files in this folder (part-*.jsonl, .jsonl.gz, .parquet or .gpg, or data/*)`)
  })

/**
 * The first `limit` rows of one file. `whole`: read the file as one unit instead of planning it
 * (planning a plain JSON-lines file counts all its lines, which the first rows do not need).
 */
const readPlain = <C>(
  def: SourceDefinition<C>,
  file: string,
  shownAs: string,
  limit: number,
  whole = false
): Effect.Effect<ReadonlyArray<HeadRow>, SourceError | RunError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const abs = path.resolve(file)
    const config = yield* Schema.decodeUnknown(def.config)({ path: abs, validate: "none" }).pipe(
      Effect.mapError((e) => fail(`${file}: ${e.message}`))
    )
    const env = { baseDir: path.dirname(abs) }
    const units: ReadonlyArray<WorkUnit> = whole ? [{ id: path.basename(abs), file: abs }] : yield* def.plan(config, env)
    const problems: Array<string> = []
    const io = { reject: (r: { readonly error: string }) => void problems.push(r.error) }
    const rows = yield* Stream.fromIterable(units).pipe(
      Stream.flatMap((u) => def.read(u, config, io, env)),
      Stream.take(limit),
      Stream.runCollect
    )
    if (rows.length === 0 && problems.length > 0) return yield* fail(`${shownAs}: ${problems[0]}`)
    return Chunk.toReadonlyArray(rows).map((row, i) => ({ file: shownAs, index: i + 1, row }))
  })

const readFile = (
  file: string,
  limit: number,
  source: string | undefined
): Effect.Effect<ReadonlyArray<HeadRow>, SourceError | ReleaseError | RunError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const inner = file.endsWith(".gpg") ? file.slice(0, -4) : file
    const read = (plain: string) =>
      inner.endsWith(".parquet") ? readPlain(Source.parquet, plain, file, limit) : readPlain(Source.jsonl, plain, file, limit, true)
    if (!file.endsWith(".gpg")) return yield* read(file)
    if (source === undefined)
      return yield* fail(`${file} is encrypted: pass --source DIR, the original dataset whose content gives the key (as synthline decrypt does)`)
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    return yield* Effect.scoped(
      Effect.gen(function* () {
        const tmp = yield* fs.makeTempDirectoryScoped({ prefix: "synthline-head-" }).pipe(Effect.mapError((e) => fail(e.message)))
        const plain = path.join(tmp, path.basename(inner))
        yield* Release.decryptWithSource(file, source, plain)
        return yield* read(plain)
      })
    )
  })

/** The first `rows` rows of a sink folder, a dataset folder or a data file, in file order. */
export const head = (
  target: string,
  options: Pick<HeadOptions, "rows" | "source">
): Effect.Effect<ReadonlyArray<HeadRow>, SourceError | ReleaseError | RunError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    if (!Number.isSafeInteger(options.rows) || options.rows < 1) return yield* fail(`-n must be at least 1, got ${options.rows}`)
    const found: Array<HeadRow> = []
    for (const f of yield* filesOf(target)) {
      if (found.length >= options.rows) break
      found.push(...(yield* readFile(f, options.rows - found.length, options.source)))
    }
    return found
  })

const pick = (row: Row, field: string): unknown => {
  let v: unknown = row
  for (const k of field.split(".")) {
    if (typeof v !== "object" || v === null) return undefined
    v = Array.isArray(v) ? v[Number(k)] : (v as { readonly [key: string]: unknown })[k]
  }
  return v
}

/** A copy of `v` with strings over `width` characters and lists over `items` entries cut short, saying how much was cut. */
export const truncate = (v: unknown, width: number, items: number): unknown => {
  if (typeof v === "string")
    return v.length > width ? `${v.slice(0, width)}… (${(v.length - width).toLocaleString("en-US")} more chars)` : v
  if (typeof v === "bigint") return v.toString()
  if (Array.isArray(v)) {
    const shown = v.slice(0, items).map((x) => truncate(x, width, items))
    return v.length > items ? [...shown, `… ${v.length - items} more`] : shown
  }
  if (typeof v === "object" && v !== null)
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, truncate(x, width, items)]))
  return v
}

/** Only the named fields of a row (dotted paths kept as keys), or the whole row. */
export const select = (row: Row, fields: ReadonlyArray<string>): { readonly [key: string]: unknown } =>
  fields.length === 0 ? row : Object.fromEntries(fields.map((f) => [f, pick(row, f)]))

/** The rows as people read them: a title line per row, then its fields as indented JSON. */
export const format = (rows: ReadonlyArray<HeadRow>, options: Pick<HeadOptions, "fields" | "width" | "items">): string =>
  rows
    .map(
      (r, i) =>
        `── row ${i + 1} · ${r.file} #${r.index}\n${JSON.stringify(truncate(select(r.row, options.fields), options.width, options.items), null, 2)}`
    )
    .join("\n")

/**
 * Sample data: LMSYS-Chat-1M-shaped conversations generated from a seed, for tests, examples and
 * benchmarks (`synthline sample`). Same schema and file layout as the published dataset
 * (`data/train-0000k-of-0000K.parquet`), modelled on its statistics, written in bounded memory one
 * row group at a time, with the personal data planted in it recorded in `pii_truth.jsonl` so PII
 * detectors can be scored, and the options and counts in `sample.json`. With `nearDuplicates`,
 * it also plants near-duplicate families and benchmark-like prompts, with their ground truth in
 * `near_duplicates_truth.jsonl` and `benchmark_truth.jsonl` and the benchmark in `benchmark.jsonl`.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import type { PlatformError } from "@effect/platform/Error"
import { Data, Effect, Fiber, Stream } from "effect"
import { gzip } from "node:zlib"
import type { LmsysRecord, PiiType as CorePiiType } from "@synthline/core/Record"
import { LmsysParquetWriter } from "./internal/parquet.js"
import { Rng } from "./internal/prng.js"
import { type BenchmarkItem, benchmarkItems } from "./internal/families.js"
import { plantedTypes } from "./internal/pii.js"
import { conversationIdOf, generateRow } from "./internal/rows.js"
import { errorText } from "@synthline/core/Errors"

/** Options of {@link generate}. */
export interface SampleOptions {
  /** Number of conversations. */
  readonly rows: number
  /** Output directory (created if missing). */
  readonly out: string
  readonly format: "parquet" | "jsonl"
  /** Number of files; rows are split contiguously. */
  readonly shards: number
  /** Every row depends only on `(seed, row index)`. */
  readonly seed: number
  /** Rows per parquet row group (and per write for JSON lines); default 10,000. */
  readonly rowGroupRows?: number
  /**
   * Plant near-duplicate families and benchmark-like prompts (default false: the sample is then
   * exactly what it was without the option), with their ground truth in sidecar files.
   */
  readonly nearDuplicates?: boolean
  /** Called after each row group with the rows generated so far (for a progress display). */
  readonly onProgress?: (rowsDone: number, rows: number) => void
}

/** What is planted in a row with `nearDuplicates`: a member of a near-duplicate family, or a benchmark prompt. */
export type Planted =
  | {
      readonly kind: "near-duplicate"
      /** Family number (rows of one family lie within one window of 256 rows). */
      readonly family: number
      /** Row index of the family's first row (the one a near-dedup stage keeps). */
      readonly first: number
      /** `base` for the first row, else the edits applied: `words`, `number`, `punctuation`, `variant`, joined by `+`. */
      readonly edit: string
    }
  | { readonly kind: "benchmark"; readonly benchmark: string; readonly item: number }

/** One line of `near_duplicates_truth.jsonl`: a row of a planted family. */
export interface NearDuplicateTruth {
  readonly conversation_id: string
  readonly family: number
  /** conversation_id of the family's first row (equal to `conversation_id` on it). */
  readonly first: string
  readonly edit: string
}

/** One line of `benchmark_truth.jsonl`: a row whose instruction holds a benchmark prompt. */
export interface BenchmarkTruth {
  readonly conversation_id: string
  readonly benchmark: string
  readonly item: number
}

/** A kind of personal data, from the one table in `@synthline/core/Record` that plugin-pii detects. */
export type PiiType = CorePiiType

/** The kinds of personal data the sample plants (those it has values and sentence frames for). */
export const plantedPiiTypes: ReadonlyArray<PiiType> = plantedTypes

/** One planted personal-data span, as written to `pii_truth.jsonl`. */
export interface PiiSpan {
  readonly conversation_id: string
  /** 0-based index into `conversation`. */
  readonly turn: number
  readonly type: PiiType
  /** Finer kind: issuer, country, key vendor, address format... */
  readonly subtype: string
  /** UTF-16 offset of the first character in the message content. */
  readonly start: number
  /** UTF-16 offset one past the last character. */
  readonly end: number
  readonly value: string
  /** For checksummed or rule-bound types (cards, IBANs, SSNs, crypto addresses): whether the value is valid. */
  readonly valid?: boolean
}

/** One generated conversation with its planted personal data and the template it follows, if any. */
export interface SampleRow {
  readonly record: LmsysRecord
  readonly pii: ReadonlyArray<PiiSpan>
  /** Template kind ("company introduction", "chemical article", ...) or null. */
  readonly template: string | null
  /** What was planted in the row, with `nearDuplicates`. */
  readonly planted?: Planted
}

/** One written file: path relative to the output directory, rows and bytes. */
export interface SampleFile {
  readonly path: string
  readonly rows: number
  readonly bytes: number
}

/**
 * How compressible the sample is: gzip (level 6) ratios measured on its first
 * {@link gzipRatioRows} rows. Real chat text gzips about 3 : 1; the sample's text is built to match.
 */
export interface SampleGzipRatio {
  /** Rows measured: the first min(rows, {@link gzipRatioRows}). */
  readonly rows: number
  /** The gzip level (6, the default of gzip and zlib). */
  readonly level: number
  /** UTF-8 bytes of those rows as JSON lines over their gzip size (moderation scores included). */
  readonly jsonLines: number
  /** UTF-8 bytes of their message text (one message per line) over its gzip size. */
  readonly text: number
}

/** Rows the gzip ratios of `sample.json` are measured on (the first ones). */
export const gzipRatioRows: number = 5000

/** What {@link generate} wrote. */
export interface SampleSummary {
  readonly out: string
  readonly format: "parquet" | "jsonl"
  readonly seed: number
  readonly rows: number
  readonly rowGroupRows: number
  /** The data files, in shard order. */
  readonly files: ReadonlyArray<SampleFile>
  /** Messages in all conversations. */
  readonly messages: number
  /** Planted personal-data spans (lines of `pii_truth.jsonl`). */
  readonly piiSpans: number
  readonly conversationsWithPii: number
  readonly flaggedConversations: number
  readonly redactedConversations: number
  readonly templateConversations: number
  /** Conversations per `language` value. */
  readonly languages: Readonly<Record<string, number>>
  /** Conversations per `model` value. */
  readonly models: Readonly<Record<string, number>>
  /** Gzip ratios of the first rows (absent when there are no rows). */
  readonly gzipRatio?: SampleGzipRatio
  /** With `nearDuplicates`: the truth files and how many rows were planted. */
  readonly nearDuplicates?: {
    readonly truth: string
    /** Rows in planted families (first rows included). */
    readonly rows: number
    /** Rows of planted families that are not their family's first row. */
    readonly duplicates: number
    readonly benchmarkTruth: string
    readonly benchmark: string
    readonly benchmarkRows: number
  }
}

/** Sample generation failed: bad options or a file that cannot be written. */
export class SampleError extends Data.TaggedError("SampleError")<{
  readonly path: string
  readonly reason: string
}> {
  override get message(): string {
    return `sample ${this.path}: ${this.reason}`
  }
}

/** Name of the truth file listing planted personal data, in the output directory. */
export const piiTruthFile: string = "pii_truth.jsonl"

/** Name of the truth file of planted near-duplicate families (with `nearDuplicates`). */
export const nearDuplicatesTruthFile: string = "near_duplicates_truth.jsonl"

/** Name of the truth file of rows holding benchmark prompts (with `nearDuplicates`). */
export const benchmarkTruthFile: string = "benchmark_truth.jsonl"

/** Name of the MT-Bench-shaped benchmark file written beside the data (with `nearDuplicates`). */
export const benchmarkFile: string = "benchmark.jsonl"

/** The sample's MT-Bench-shaped benchmark (written for this project; no published benchmark text). */
export const benchmark: ReadonlyArray<BenchmarkItem> = benchmarkItems

/** The ground-truth line of a planted row, for `near_duplicates_truth.jsonl` or `benchmark_truth.jsonl`. */
export const truthOf = (seed: number, r: SampleRow): NearDuplicateTruth | BenchmarkTruth | undefined => {
  const p = r.planted
  if (p === undefined) return undefined
  const id = r.record.conversation_id
  return p.kind === "near-duplicate"
    ? { conversation_id: id, family: p.family, first: conversationIdOf(seed, p.first), edit: p.edit }
    : { conversation_id: id, benchmark: p.benchmark, item: p.item }
}

/** Name of the file recording options and counts, in the output directory. */
export const summaryFile: string = "sample.json"

/** Default rows per row group. */
export const defaultRowGroupRows: number = 10_000

/** The shard file name, e.g. `train-00000-of-00006.parquet` (k is 0-based). */
export const shardFileName = (k: number, shards: number, format: "parquet" | "jsonl"): string =>
  `train-${String(k).padStart(5, "0")}-of-${String(shards).padStart(5, "0")}.${format}`

/** The row range `[start, end)` of shard `k` when `rows` are split contiguously over `shards`. */
export const shardRange = (rows: number, shards: number, k: number): readonly [number, number] => [
  Math.floor((k * rows) / shards),
  Math.floor(((k + 1) * rows) / shards)
]

/** What {@link row}, {@link rows} and {@link records} plant besides personal data. */
export interface RowOptions {
  /** Plant near-duplicate families and benchmark prompts (as {@link SampleOptions.nearDuplicates}). */
  readonly nearDuplicates?: boolean
}

/** Row `index` of the sample for `seed`, with its planted personal data. */
export const row = (seed: number, index: number, options: RowOptions = {}): SampleRow =>
  generateRow(seed, index, new Rng(), options.nearDuplicates === true)

/** Rows `[start, start + count)` of the sample for `seed`, generated lazily. */
export const rows = (seed: number, count: number, start: number = 0, options: RowOptions = {}): Iterable<SampleRow> => ({
  *[Symbol.iterator]() {
    const rng = new Rng()
    const plant = options.nearDuplicates === true
    for (let i = start; i < start + count; i++) yield generateRow(seed, i, rng, plant)
  }
})

/** The records `[start, start + count)` of the sample for `seed`, generated lazily. */
export const records = (seed: number, count: number, start: number = 0, options: RowOptions = {}): Iterable<LmsysRecord> => ({
  *[Symbol.iterator]() {
    for (const r of rows(seed, count, start, options)) yield r.record
  }
})

/** The records of the sample for `seed` as a stream, generated lazily in chunks. */
export const stream = (seed: number, count: number, start: number = 0): Stream.Stream<LmsysRecord> =>
  Stream.fromIterable(records(seed, count, start)).pipe(Stream.rechunk(1024))

const fail = (path: string, reason: string): Effect.Effect<never, SampleError> => Effect.fail(new SampleError({ path, reason }))

const platform =
  (path: string) =>
  (e: PlatformError): SampleError =>
    new SampleError({ path, reason: e.message })

/** Checks options: non-negative integer rows, positive shards and row group size, integer seed. */
const validate = (o: SampleOptions): Effect.Effect<number, SampleError> => {
  const groupRows = o.rowGroupRows ?? defaultRowGroupRows
  if (!Number.isSafeInteger(o.rows) || o.rows < 0) return fail(o.out, `rows must be a non-negative integer, got ${o.rows}`)
  if (!Number.isSafeInteger(o.shards) || o.shards < 1 || o.shards > 99_999) return fail(o.out, `shards must be an integer in 1..99999, got ${o.shards}`)
  if (!Number.isSafeInteger(o.seed)) return fail(o.out, `seed must be an integer, got ${o.seed}`)
  if (!Number.isSafeInteger(groupRows) || groupRows < 1) return fail(o.out, `rowGroupRows must be a positive integer, got ${groupRows}`)
  if (o.format !== "parquet" && o.format !== "jsonl") return fail(o.out, `format must be parquet or jsonl, got ${String(o.format)}`)
  return Effect.succeed(groupRows)
}

/** Running counts over everything generated. */
class Counts {
  messages = 0
  piiSpans = 0
  conversationsWithPii = 0
  flagged = 0
  redacted = 0
  templates = 0
  familyRows = 0
  familyDuplicates = 0
  benchmarkRows = 0
  readonly languages = new Map<string, number>()
  readonly models = new Map<string, number>()

  add(r: SampleRow): void {
    const rec = r.record
    this.messages += rec.conversation.length
    if (r.pii.length > 0) {
      this.piiSpans += r.pii.length
      this.conversationsWithPii++
    }
    if (rec.openai_moderation.some((m) => m.flagged)) this.flagged++
    if (rec.redacted) this.redacted++
    if (r.template !== null) this.templates++
    if (r.planted?.kind === "near-duplicate") {
      this.familyRows++
      if (r.planted.edit !== "base") this.familyDuplicates++
    } else if (r.planted?.kind === "benchmark") this.benchmarkRows++
    this.languages.set(rec.language, (this.languages.get(rec.language) ?? 0) + 1)
    this.models.set(rec.model, (this.models.get(rec.model) ?? 0) + 1)
  }
}

/** Map entries sorted by count (descending), then name, as a plain object. */
const histogram = (m: ReadonlyMap<string, number>): Record<string, number> =>
  Object.fromEntries([...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)))

/** JSON lines encoded to UTF-8 as they come, so the strings die young; drained with `take`. */
class Lines {
  private buf: Buffer = Buffer.allocUnsafe(1 << 20)
  length = 0

  add(line: string): void {
    const need = this.length + 3 * line.length + 1
    if (need > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2))
      this.buf.copy(next, 0, 0, this.length)
      this.buf = next
    }
    this.length += this.buf.write(line, this.length, "utf8")
    this.buf[this.length++] = 10
  }

  /** The bytes added since the last call; valid until the next `add`. */
  take(): Uint8Array {
    const out = this.buf.subarray(0, this.length)
    this.length = 0
    return out
  }
}

/** Collects the first {@link gzipRatioRows} rows as JSON lines and as message text, then gzips both off the main thread. */
class GzipProbe {
  private readonly json = new Lines()
  private readonly text = new Lines()
  rows = 0

  get open(): boolean {
    return this.rows < gzipRatioRows
  }

  add(record: LmsysRecord, line: string): void {
    this.rows++
    this.json.add(line)
    for (const m of record.conversation) this.text.add(m.content)
  }

  /** Gzips what was collected (in libuv's thread pool, while generation goes on). */
  measure(): Effect.Effect<SampleGzipRatio | undefined, SampleError> {
    const rows = this.rows
    // No copies: nothing is added once the probe is measured.
    const json = this.json.take()
    const text = this.text.take()
    return rows === 0
      ? Effect.succeed(undefined)
      : Effect.map(Effect.all([gzipRatioOf(json), gzipRatioOf(text)], { concurrency: 2 }), ([jsonLines, text]) => ({ rows, level: 6, jsonLines, text }))
  }
}

/** Bytes over gzip-level-6 bytes, to two decimals. */
const gzipRatioOf = (bytes: Uint8Array): Effect.Effect<number, SampleError> =>
  Effect.async<number, SampleError>((resume) => {
    gzip(bytes, { level: 6 }, (e, out) => {
      resume(e === null ? Effect.succeed(out.length === 0 ? 0 : Math.round((100 * bytes.length) / out.length) / 100) : Effect.fail(new SampleError({ path: "gzip", reason: e.message })))
    })
  })

/**
 * Generates `rows` LMSYS-Chat-1M-shaped conversations into `out`: `data/train-*.{parquet,jsonl}`,
 * `pii_truth.jsonl` and `sample.json`. Files are written under a temporary name and renamed when
 * complete; the same options always produce the same bytes.
 */
export const generate = (
  options: SampleOptions
): Effect.Effect<SampleSummary, SampleError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const groupRows = yield* validate(options)
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const { out, format, shards, seed } = options
    const dataDir = path.join(out, "data")
    yield* fs.makeDirectory(dataDir, { recursive: true }).pipe(Effect.mapError(platform(dataDir)))

    const counts = new Counts()
    const rng = new Rng()
    const plant = options.nearDuplicates === true
    // Ground truth of planted rows (about 1.3% of rows), kept until the end.
    const familyLines = new Lines()
    const benchmarkLines = new Lines()
    const files: Array<SampleFile> = []
    const piiPath = path.join(out, piiTruthFile)
    const probe = new GzipProbe()
    let probed: Fiber.RuntimeFiber<SampleGzipRatio | undefined, SampleError> | undefined

    yield* Effect.scoped(
      Effect.gen(function* () {
        const piiTmp = `${piiPath}.tmp`
        const piiOut = yield* fs.open(piiTmp, { flag: "w" }).pipe(Effect.mapError(platform(piiTmp)))

        for (let k = 0; k < shards; k++) {
          const name = shardFileName(k, shards, format)
          const file = path.join(dataDir, name)
          const tmp = `${file}.tmp`
          const [start, end] = shardRange(options.rows, shards, k)
          const bytes = yield* Effect.scoped(
            Effect.gen(function* () {
              const handle = yield* fs.open(tmp, { flag: "w" }).pipe(Effect.mapError(platform(tmp)))
              const write = (b: Uint8Array) => handle.writeAll(b).pipe(Effect.mapError(platform(tmp)))
              const parquet = format === "parquet" ? new LmsysParquetWriter() : undefined
              const lines = new Lines()
              const piiLines = new Lines()
              let written = 0
              // The previous row group is written while the next one is generated.
              let inflight: Fiber.RuntimeFiber<void, SampleError> | undefined
              for (let g = start; g < end; g += groupRows) {
                const n = Math.min(groupRows, end - g)
                const [chunk, pii] = yield* encode(tmp, () => {
                  for (let i = 0; i < n; i++) {
                    const r = generateRow(seed, g + i, rng, plant)
                    counts.add(r)
                    if (r.planted !== undefined) {
                      const t = truthOf(seed, r)!
                      if (r.planted.kind === "near-duplicate") familyLines.add(JSON.stringify(t))
                      else benchmarkLines.add(JSON.stringify(t))
                    }
                    if (parquet !== undefined) {
                      parquet.append(r.record)
                      if (probe.open) probe.add(r.record, JSON.stringify(r.record))
                    } else {
                      const line = JSON.stringify(r.record)
                      lines.add(line)
                      if (probe.open) probe.add(r.record, line)
                    }
                    for (const span of r.pii) piiLines.add(JSON.stringify(span))
                  }
                  if (parquet !== undefined) parquet.endRowGroup()
                  // Copies: the encoders reuse their buffers while these are being written.
                  return [new Uint8Array(parquet !== undefined ? parquet.take() : lines.take()), new Uint8Array(piiLines.take())] as const
                })
                written += chunk.length
                if (probed === undefined && !probe.open) probed = yield* Effect.fork(probe.measure())
                if (inflight !== undefined) yield* Fiber.join(inflight)
                inflight = yield* Effect.fork(
                  Effect.zipRight(write(chunk), pii.length > 0 ? piiOut.writeAll(pii).pipe(Effect.mapError(platform(piiTmp))) : Effect.void)
                )
                options.onProgress?.(g + n, options.rows)
                yield* Effect.yieldNow()
              }
              if (inflight !== undefined) yield* Fiber.join(inflight)
              if (parquet !== undefined) {
                const footer = yield* encode(tmp, () => {
                  parquet.finish()
                  return parquet.take()
                })
                written += footer.length
                yield* write(footer)
              }
              return written
            })
          )
          yield* fs.rename(tmp, file).pipe(Effect.mapError(platform(file)))
          files.push({ path: `data/${name}`, rows: end - start, bytes })
        }
        return piiTmp
      })
    ).pipe(Effect.flatMap((piiTmp) => fs.rename(piiTmp, piiPath).pipe(Effect.mapError(platform(piiPath)))))

    const gzipRatio = yield* (probed === undefined ? probe.measure() : Fiber.join(probed))
    const planted = plant
      ? {
          nearDuplicates: {
            truth: nearDuplicatesTruthFile,
            rows: counts.familyRows,
            duplicates: counts.familyDuplicates,
            benchmarkTruth: benchmarkTruthFile,
            benchmark: benchmarkFile,
            benchmarkRows: counts.benchmarkRows
          }
        }
      : {}
    if (plant) {
      const files: ReadonlyArray<readonly [string, Uint8Array]> = [
        [nearDuplicatesTruthFile, familyLines.take()],
        [benchmarkTruthFile, benchmarkLines.take()],
        [benchmarkFile, new TextEncoder().encode(benchmarkItems.map((b) => `${JSON.stringify(b)}\n`).join(""))]
      ]
      for (const [name, bytes] of files) {
        const file = path.join(out, name)
        yield* fs.writeFile(`${file}.tmp`, bytes).pipe(Effect.mapError(platform(file)))
        yield* fs.rename(`${file}.tmp`, file).pipe(Effect.mapError(platform(file)))
      }
    }

    const summary: SampleSummary = {
      out,
      format,
      seed,
      rows: options.rows,
      rowGroupRows: groupRows,
      files,
      messages: counts.messages,
      piiSpans: counts.piiSpans,
      conversationsWithPii: counts.conversationsWithPii,
      flaggedConversations: counts.flagged,
      redactedConversations: counts.redacted,
      templateConversations: counts.templates,
      languages: histogram(counts.languages),
      models: histogram(counts.models),
      ...(gzipRatio === undefined ? {} : { gzipRatio }),
      ...planted
    }
    const { out: _out, ...recorded } = summary
    const summaryPath = path.join(out, summaryFile)
    yield* fs
      .writeFileString(summaryPath, `${JSON.stringify({ generator: "synthline sample", dataset: "lmsys/lmsys-chat-1m", piiTruth: piiTruthFile, ...recorded }, null, 2)}\n`)
      .pipe(Effect.mapError(platform(summaryPath)))
    return summary
  })

/** Runs a synchronous generate-and-encode step, turning an exception (from the parquet writer) into a SampleError. */
const encode = <A>(file: string, f: () => A): Effect.Effect<A, SampleError> =>
  Effect.try({ try: f, catch: (e) => new SampleError({ path: file, reason: `encoding failed: ${errorText(e)}` }) })

/**
 * The `parquet-range` benchmark: the offline-core pipeline over one hub-sized parquet file
 * (min(--rows, 166,667) conversations) written as ONE row group, as `synthline sample
 * --row-group-rows` writes it (data page v2, ~1 MB pages) and as DuckDB rewrites the same rows
 * (`ROW_GROUP_SIZE 1000000`: data page v1, no page index, pages of up to ~100 MB). The parquet
 * source splits the row group into work units of `unit_rows` (default 10,000) rows and reads
 * each without decoding the whole row group, so peak RSS must stay within the offline budget and
 * the manifest must report ⌈rows / 10,000⌉ units. The baseline is the same run over the same rows
 * in 10,000-row groups (the offline-core sample).
 *
 * Run as a script it measures the reading path alone — every unit of one file read through the
 * parquet source definition (`Source.parquet.plan` / `read`), nothing else — and prints
 * `{"units","rows","rejects","seconds","rows_per_s"}`:
 *
 *   node --import tsx --conditions=@synthline/source bench/src/parquet-range.ts read FILE.parquet [UNIT_ROWS]
 *
 * (The harness is imported lazily: it imports this module for its `benchmarks` list.)
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import type { Benchmark, Context, PipelineMeasure } from "./harness.js"
import { median, type ResultRow, row } from "./lib.js"

/** Rows of one LMSYS-Chat-1M hub file. */
const fileRows = 166_667

/** The parquet source's default `unit_rows`. */
const unitRows = 10_000

const MB = 1024 * 1024

const sqlString = (s: string): string => `'${s.replaceAll("'", "''")}'`

/**
 * The folder holding `sample.parquet` (one row group, from `synthline sample`) and
 * `duckdb.parquet` (the same rows rewritten by DuckDB as one row group), made once and reused.
 */
const ensureOneRowGroup = async (ctx: Context, rows: number): Promise<{ readonly sample: string; readonly duckdb: string }> => {
  const { runCli } = await import("./harness.js")
  const dir = join(ctx.dirs.data, `rows-${rows}-seed-${ctx.options.seed}-one-row-group`)
  const sample = join(dir, "sample.parquet")
  const duckdb = join(dir, "duckdb.parquet")
  if (existsSync(sample) && existsSync(duckdb)) return { sample, duckdb }
  ctx.log(`generating one-row-group data: ${rows.toLocaleString("en-US")} rows, seed ${ctx.options.seed} → ${dir}`)
  const tmp = `${dir}.tmp-${process.pid}`
  rmSync(tmp, { recursive: true, force: true })
  mkdirSync(ctx.dirs.data, { recursive: true })
  const args = ["sample", "--rows", String(rows), "--out", tmp, "--shards", "1", "--seed", String(ctx.options.seed), "--row-group-rows", String(rows)]
  const r = await runCli(args)
  if (r.code !== 0) throw new Error(`synthline sample failed (exit ${r.code ?? r.signal}): ${(r.stderr || r.stdout).slice(-1500)}`)
  renameSync(join(tmp, "data", "train-00000-of-00001.parquet"), join(tmp, "sample.parquet"))
  const { DuckDBInstance } = await import("@duckdb/node-api")
  const db = await DuckDBInstance.create(":memory:")
  const c = await db.connect()
  await c.run(
    `COPY (SELECT * FROM read_parquet(${sqlString(join(tmp, "sample.parquet"))})) TO ${sqlString(join(tmp, "duckdb.parquet"))} (FORMAT parquet, ROW_GROUP_SIZE 1000000)`
  )
  c.closeSync()
  rmSync(dir, { recursive: true, force: true })
  renameSync(tmp, dir)
  return { sample, duckdb }
}

/** Runs offline-core over `glob` `runs` times; returns the measurements and the units its manifest reports. */
const runLayout = async (ctx: Context, name: string, glob: string, rows: number): Promise<PipelineMeasure & { readonly units: number }> => {
  const { measurePipeline, offlineCorePipeline } = await import("./harness.js")
  const work = join(ctx.dirs.out, `parquet-range-${name}-${rows}`)
  mkdirSync(work, { recursive: true })
  const file = join(work, "pipeline.yaml")
  writeFileSync(file, offlineCorePipeline(glob, join(work, "sink")))
  ctx.log(`parquet-range ${name}: ${rows.toLocaleString("en-US")} rows × ${ctx.options.runs} runs`)
  const m = await measurePipeline(file, join(work, "sink"), ctx.options.runs, rows)
  const manifest = JSON.parse(readFileSync(m.manifestPath, "utf8")) as { source?: { units?: number } }
  return { ...m, units: manifest.source?.units ?? 0 }
}

export const parquetRange: Benchmark = {
  name: "parquet-range",
  description: "offline-core over one file of min(N, 166,667) rows in ONE row group (synthline sample, and DuckDB's copy): work units of unit_rows rows",
  run: async (ctx) => {
    const { ensureSample, parquetGlob } = await import("./harness.js")
    const rows = Math.min(ctx.options.rows, fileRows)
    const files = await ensureOneRowGroup(ctx, rows)
    let base: PipelineMeasure | undefined
    if (!ctx.options.noBaseline) {
      const sample = await ensureSample(rows, ctx.options.seed, ctx.dirs.data, ctx.log)
      base = await runLayout(ctx, "row-groups-10k", parquetGlob(sample), rows)
    }
    const baseThroughput = base === undefined ? null : base.facts.rowsRead / (median(base.wallsMs) / 1000)
    const baseRss = base === undefined ? null : median(base.rssBytes)
    const out: Array<ResultRow> = []
    for (const [name, file] of [["sample", files.sample], ["duckdb", files.duckdb]] as const) {
      const m = await runLayout(ctx, name, file, rows)
      const throughput = m.facts.rowsRead / (median(m.wallsMs) / 1000)
      const rss = median(m.rssBytes)
      const detail = {
        rows,
        file,
        units: m.units,
        rows_read: m.facts.rowsRead,
        rows_written: m.facts.rowsWritten,
        wall_ms: m.wallsMs,
        rss_bytes: m.rssBytes,
        manifest: m.manifestPath,
        ...(base === undefined ? {} : { baseline_10k_row_groups: { wall_ms: base.wallsMs, rss_bytes: base.rssBytes } })
      }
      out.push(
        row({
          name: `parquet-range ${name} throughput`,
          unit: "conv/s",
          figure: throughput,
          budget: { op: ">=", value: 20_000 },
          baseline: baseThroughput,
          // ours ÷ baseline in cost terms: wall time of one row group ÷ of 10k-row groups.
          ratio: baseThroughput === null ? null : baseThroughput / throughput,
          detail
        }),
        row({
          name: `parquet-range ${name} peak RSS`,
          unit: "MB",
          figure: rss / MB,
          budget: { op: "<=", value: 512 },
          baseline: baseRss === null ? null : baseRss / MB,
          ratio: baseRss === null ? null : rss / baseRss,
          detail: { rows, rss_bytes: m.rssBytes }
        }),
        row({
          name: `parquet-range ${name} work units`,
          unit: "",
          figure: m.units,
          budget: { op: ">=", value: Math.ceil(rows / unitRows) },
          baseline: null,
          ratio: null,
          detail: { rows, unit_rows: unitRows, units: m.units }
        })
      )
    }
    return out
  }
}

/** The reading path alone: plans `file` with `unit_rows` and reads every unit in order. */
const readOnly = async (file: string, unitRowsOption: number | undefined): Promise<void> => {
  const { NodeContext } = await import("@effect/platform-node")
  const Source = await import("@synthline/core/Source")
  const { Effect, Schema, Stream } = await import("effect")
  const config = Schema.decodeUnknownSync(Source.parquet.config)({ path: resolve(file), ...(unitRowsOption === undefined ? {} : { unit_rows: unitRowsOption }) })
  const env = { baseDir: process.cwd() }
  let rejects = 0
  const started = performance.now()
  const result = await Effect.runPromise(
    Effect.gen(function* () {
      const units = yield* Source.parquet.plan(config, env)
      let rows = 0
      for (const unit of units) {
        const read = Source.parquet.read(unit, config, { reject: () => void rejects++ }, env)
        yield* Stream.runForEachChunk(read, (chunk) =>
          Effect.sync(() => {
            rows += chunk.length
          })
        )
      }
      return { units: units.length, rows }
    }).pipe(Effect.provide(NodeContext.layer))
  )
  const seconds = (performance.now() - started) / 1000
  process.stdout.write(`${JSON.stringify({ ...result, rejects, seconds, rows_per_s: Math.round(result.rows / seconds) })}\n`)
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [mode, file, unitRowsArg] = process.argv.slice(2)
  if (mode !== "read" || file === undefined) {
    process.stderr.write("usage: parquet-range.ts read FILE.parquet [UNIT_ROWS]\n")
    process.exit(64)
  }
  readOnly(file, unitRowsArg === undefined ? undefined : Number(unitRowsArg)).catch((e) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`)
    process.exit(1)
  })
}

/**
 * The benchmarks and the harness that runs them. Every measured command is a separate
 * process (see measure.ts); sample data is generated once per (rows, seed) with
 * `synthline sample` under bench/.data and reused.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { cpus, totalmem } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { type BenchOptions, type ManifestFacts, type ManifestLike, median, type ResultRow, row, validateManifest } from "./lib.js"
import { decontaminateBench } from "./decontaminate.js"
import { llmOccupancy } from "./llm-occupancy.js"
import { llmSaturation } from "./llm-saturation.js"
import { longOptions } from "./long-options.js"
import { type ChildResult, rssMethod, runChild } from "./measure.js"
import { nearDedupBench } from "./near-dedup.js"
import { parquetRange } from "./parquet-range.js"

export const benchDir = resolve(dirname(fileURLToPath(import.meta.url)), "..")
export const repoRoot = resolve(benchDir, "..")
const cliBin = join(repoRoot, "packages/cli/src/bin.ts")
const duckScript = join(benchDir, "src/duckdb-baseline.ts")
const piiScript = join(benchDir, "src/pii-throughput.ts")

/** Node flags that run TypeScript sources, like `pnpm synthline`. */
const tsNode = ["--import", "tsx", "--conditions=@synthline/source"]

/** Where the harness keeps data, outputs and results (overridable for tests). */
export interface Dirs {
  readonly data: string
  readonly out: string
  readonly results: string
}

export const defaultDirs: Dirs = {
  data: join(benchDir, ".data"),
  out: join(benchDir, ".out"),
  results: join(benchDir, "results")
}

const MB = 1024 * 1024

const builtBin = join(repoRoot, "packages/cli/bin/synthline.js")

/**
 * Which CLI the benchmarks time: the built one (what users install; `pnpm bench` builds first)
 * when `packages/cli/dist` exists, else the sources through tsx. `SYNTHLINE_BENCH_CLI=source|built` forces one.
 */
export const cliMode: "built" | "source" =
  process.env.SYNTHLINE_BENCH_CLI === "source"
    ? "source"
    : process.env.SYNTHLINE_BENCH_CLI === "built" || existsSync(join(repoRoot, "packages/cli/dist/bin.js"))
      ? "built"
      : "source"

/** The environment without the source condition (which would make built code import `.ts` files). */
const builtEnv = (): NodeJS.ProcessEnv => ({
  ...process.env,
  NODE_OPTIONS: (process.env.NODE_OPTIONS ?? "").replace(/--conditions=@synthline\/source/g, "").trim()
})

/** Runs the CLI as a child process, cwd = repo root; `env` is added to the environment. */
export const runCli = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}): Promise<ChildResult> =>
  cliMode === "built"
    ? runChild(process.execPath, [builtBin, ...args], { cwd: repoRoot, env: { ...builtEnv(), ...env } })
    : runChild(process.execPath, [...tsNode, cliBin, ...args], { cwd: repoRoot, env: { ...process.env, ...env } })

const tail = (s: string, n = 1500) => (s.length > n ? `…${s.slice(-n)}` : s)

const mustSucceed = (what: string, r: ChildResult): ChildResult => {
  if (r.code !== 0) {
    throw new Error(`${what} failed (exit ${r.code ?? r.signal}):\n${tail(r.stderr || r.stdout)}`)
  }
  return r
}

// ---------------------------------------------------------------------------------------------
// Sample data

/** Shards like LMSYS-Chat-1M on the hub: ~166k conversations per parquet file. */
export const shardsFor = (rows: number): number => Math.max(1, Math.ceil(rows / 166_667))

/**
 * The folder of the sample with `rows` conversations and `seed`, generating it once with
 * `synthline sample` (into a temp folder, renamed when complete) and reusing it afterwards:
 * it is reused when its sample.json names the same rows and seed and its files exist.
 */
export const ensureSample = async (rows: number, seed: number, dataRoot: string, log: (s: string) => void = () => {}) => {
  const dir = join(dataRoot, `rows-${rows}-seed-${seed}`)
  const meta = join(dir, "sample.json")
  if (existsSync(meta)) {
    try {
      const s = JSON.parse(readFileSync(meta, "utf8")) as { rows?: number; seed?: number; files?: Array<{ path: string }> }
      if (s.rows === rows && s.seed === seed && (s.files ?? []).length > 0 && s.files!.every((f) => existsSync(join(dir, f.path)))) {
        return dir
      }
    } catch {
      // regenerate below
    }
  }
  log(`generating sample data: ${rows.toLocaleString("en-US")} rows, seed ${seed} → ${dir}`)
  const tmp = `${dir}.tmp-${process.pid}`
  rmSync(tmp, { recursive: true, force: true })
  mkdirSync(dataRoot, { recursive: true })
  mustSucceed(
    "synthline sample",
    await runCli(["sample", "--rows", String(rows), "--out", tmp, "--shards", String(shardsFor(rows)), "--seed", String(seed)])
  )
  rmSync(dir, { recursive: true, force: true })
  renameSync(tmp, dir)
  return dir
}

export const parquetGlob = (sampleDir: string) => join(sampleDir, "data", "train-*.parquet")

// ---------------------------------------------------------------------------------------------
// Pipeline runs

/** The offline-core pipeline: parquet → select → moderation/filter → first-turn → dedup → jsonl.gz. */
export const offlineCorePipeline = (glob: string, sinkDir: string): string =>
  // JSON strings are valid YAML scalars, so any path is quoted safely.
  `name: bench-offline-core
seed: 42
plugins: ["@synthline/plugin-moderation"]
source:
  type: parquet
  path: ${JSON.stringify(glob)}
stages:
  - use: core/select
    languages: [English, Japanese]
  - use: moderation/filter
  - use: core/first-turn
  - use: core/dedup
    field: conversation.0.content
sink:
  type: jsonl
  path: ${JSON.stringify(sinkDir)}
  compression: gzip
  shard_rows: 1000000
`

/** Per-run measurements of a pipeline benchmark. */
export interface PipelineMeasure {
  readonly wallsMs: ReadonlyArray<number>
  readonly rssBytes: ReadonlyArray<number>
  readonly facts: ManifestFacts
  readonly manifestPath: string
}

/**
 * Runs `synthline run FILE --fresh` `runs` times (the sink folder is removed before each
 * run so a stale manifest can never be read) and validates every manifest: a run that fails,
 * reads no rows, reads a different number of rows than `expectedRows` or writes nothing
 * throws.
 */
export const measurePipeline = async (
  pipelineFile: string,
  sinkDir: string,
  runs: number,
  expectedRows?: number,
  extraArgs: ReadonlyArray<string> = []
): Promise<PipelineMeasure> => {
  const wallsMs: Array<number> = []
  const rssBytes: Array<number> = []
  let facts: ManifestFacts | undefined
  const manifestPath = join(sinkDir, "manifest.json")
  for (let i = 0; i < runs; i++) {
    rmSync(sinkDir, { recursive: true, force: true })
    const r = mustSucceed(`synthline run ${pipelineFile}`, await runCli(["run", pipelineFile, "--fresh", ...extraArgs]))
    if (!existsSync(manifestPath)) throw new Error(`synthline run wrote no manifest at ${manifestPath}`)
    const f = validateManifest(JSON.parse(readFileSync(manifestPath, "utf8")) as ManifestLike, expectedRows)
    if (facts && (facts.rowsRead !== f.rowsRead || facts.rowsWritten !== f.rowsWritten)) {
      throw new Error(`runs disagree: ${JSON.stringify(facts)} vs ${JSON.stringify(f)}`)
    }
    facts = f
    wallsMs.push(r.wallMs)
    rssBytes.push(r.peakRssBytes)
  }
  if (!facts) throw new Error("no runs")
  if (rssBytes.some((b) => b <= 0)) throw new Error("peak RSS could not be measured")
  return { wallsMs, rssBytes, facts, manifestPath }
}

/** The DuckDB baseline over the same files, `runs` times. */
export const measureDuckdb = async (glob: string, outDir: string, runs: number, expectedRows: number) => {
  const wallsMs: Array<number> = []
  const rssBytes: Array<number> = []
  let written = 0
  mkdirSync(outDir, { recursive: true })
  const out = join(outDir, "duckdb.jsonl.gz")
  for (let i = 0; i < runs; i++) {
    rmSync(out, { force: true })
    const r = mustSucceed("duckdb baseline", await runChild(process.execPath, [...tsNode, duckScript, glob, out], { cwd: repoRoot }))
    const res = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as { rows_read?: number; rows_written?: number }
    if (res.rows_read !== expectedRows) throw new Error(`duckdb read ${res.rows_read} rows, expected ${expectedRows}`)
    written = res.rows_written ?? 0
    wallsMs.push(r.wallMs)
    rssBytes.push(r.peakRssBytes)
  }
  return { wallsMs, rssBytes, rowsWritten: written }
}

// ---------------------------------------------------------------------------------------------
// Benchmarks

export interface Context {
  readonly options: BenchOptions
  readonly dirs: Dirs
  readonly log: (s: string) => void
  /** offline-core measurements by row count, shared with the scaling check. */
  readonly offlineCache: Map<number, PipelineMeasure>
}

export interface Benchmark {
  readonly name: string
  readonly description: string
  /** Whether it applies to these options (e.g. the scaling check needs ≥ 100k rows). */
  readonly applies?: (o: BenchOptions) => boolean
  readonly run: (ctx: Context) => Promise<ReadonlyArray<ResultRow>>
}

const runOfflineCore = async (ctx: Context, rows: number): Promise<PipelineMeasure> => {
  const cached = ctx.offlineCache.get(rows)
  if (cached) return cached
  const sample = await ensureSample(rows, ctx.options.seed, ctx.dirs.data, ctx.log)
  const work = join(ctx.dirs.out, `offline-core-${rows}`)
  mkdirSync(work, { recursive: true })
  const file = join(work, "offline-core.pipeline.yaml")
  writeFileSync(file, offlineCorePipeline(parquetGlob(sample), join(work, "sink")))
  ctx.log(`offline-core: ${rows.toLocaleString("en-US")} rows × ${ctx.options.runs} runs`)
  const m = await measurePipeline(file, join(work, "sink"), ctx.options.runs, rows)
  ctx.offlineCache.set(rows, m)
  return m
}

const mb = (bytes: number) => bytes / MB

export const offlineCore: Benchmark = {
  name: "offline-core",
  description: "parquet → core/select [English, Japanese] → moderation/filter → core/first-turn → core/dedup → jsonl.gz",
  run: async (ctx) => {
    const rows = ctx.options.rows
    const m = await runOfflineCore(ctx, rows)
    const wallS = median(m.wallsMs) / 1000
    const throughput = m.facts.rowsRead / wallS
    const rss = median(m.rssBytes)
    let duck: Awaited<ReturnType<typeof measureDuckdb>> | undefined
    if (!ctx.options.noBaseline) {
      const sample = await ensureSample(rows, ctx.options.seed, ctx.dirs.data, ctx.log)
      ctx.log(`duckdb baseline: ${rows.toLocaleString("en-US")} rows × ${ctx.options.runs} runs`)
      duck = await measureDuckdb(parquetGlob(sample), join(ctx.dirs.out, `duckdb-${rows}`), ctx.options.runs, rows)
    }
    const duckThroughput = duck ? m.facts.rowsRead / (median(duck.wallsMs) / 1000) : null
    const duckRss = duck ? median(duck.rssBytes) : null
    const detail = {
      rows,
      rows_read: m.facts.rowsRead,
      rows_written: m.facts.rowsWritten,
      wall_ms: m.wallsMs,
      rss_bytes: m.rssBytes,
      manifest: m.manifestPath,
      ...(duck ? { duckdb: { wall_ms: duck.wallsMs, rss_bytes: duck.rssBytes, rows_written: duck.rowsWritten } } : {})
    }
    return [
      row({
        name: "offline-core throughput",
        unit: "conv/s",
        figure: throughput,
        budget: { op: ">=", value: 20_000 },
        baseline: duckThroughput,
        // ours ÷ baseline in cost terms: our wall time ÷ DuckDB's.
        ratio: duckThroughput === null ? null : duckThroughput / throughput,
        detail
      }),
      row({
        name: "offline-core peak RSS",
        unit: "MB",
        figure: mb(rss),
        budget: { op: "<=", value: 512 },
        baseline: duckRss === null ? null : mb(duckRss),
        ratio: duckRss === null ? null : rss / duckRss,
        detail: { rows, rss_bytes: m.rssBytes }
      })
    ]
  }
}

export const offlineCoreScaling: Benchmark = {
  name: "offline-core-scaling",
  description: "peak RSS of offline-core at N rows ÷ at N/10 rows (N ≥ 100,000)",
  applies: (o) => o.rows >= 100_000,
  run: async (ctx) => {
    const big = await runOfflineCore(ctx, ctx.options.rows)
    const small = await runOfflineCore(ctx, Math.round(ctx.options.rows / 10))
    const ratio = median(big.rssBytes) / median(small.rssBytes)
    return [
      row({
        name: `offline-core RSS ${ctx.options.rows / 1000}k ÷ ${ctx.options.rows / 10000}k`,
        unit: "",
        figure: ratio,
        budget: { op: "<=", value: 1.1 },
        baseline: null,
        ratio: null,
        detail: { rss_bytes_n: big.rssBytes, rss_bytes_n_div_10: small.rssBytes }
      })
    ]
  }
}

export const offlineWorkers: Benchmark = {
  name: "offline-workers",
  description: "offline-core with --workers 1 and --workers 2 (worker threads process whole units): throughput ratio",
  run: async (ctx) => {
    const rows = ctx.options.rows
    const sample = await ensureSample(rows, ctx.options.seed, ctx.dirs.data, ctx.log)
    const measure = async (workers: number) => {
      const work = join(ctx.dirs.out, `offline-workers-${rows}-w${workers}`)
      mkdirSync(work, { recursive: true })
      const file = join(work, "offline-core.pipeline.yaml")
      writeFileSync(file, offlineCorePipeline(parquetGlob(sample), join(work, "sink")))
      ctx.log(`offline-core --workers ${workers}: ${rows.toLocaleString("en-US")} rows × ${ctx.options.runs} runs`)
      return measurePipeline(file, join(work, "sink"), ctx.options.runs, rows, ["--workers", String(workers)])
    }
    const one = await measure(1)
    const two = await measure(2)
    const perSecond = (m: PipelineMeasure) => m.facts.rowsRead / (median(m.wallsMs) / 1000)
    const detail = { rows, w1: { wall_ms: one.wallsMs, rss_bytes: one.rssBytes }, w2: { wall_ms: two.wallsMs, rss_bytes: two.rssBytes } }
    return [
      row({ name: "offline-core --workers 1", unit: "conv/s", figure: perSecond(one), budget: null, baseline: null, ratio: null, detail }),
      row({ name: "offline-core --workers 2", unit: "conv/s", figure: perSecond(two), budget: { op: ">=", value: 20_000 }, baseline: perSecond(one), ratio: perSecond(two) / perSecond(one), detail }),
      row({ name: "--workers 2 ÷ --workers 1", unit: "×", figure: perSecond(two) / perSecond(one), budget: { op: ">=", value: 1.8 }, baseline: null, ratio: null, detail }),
      row({ name: "offline-core --workers 2 peak RSS", unit: "MB", figure: mb(median(two.rssBytes)), budget: { op: "<=", value: 512 }, baseline: mb(median(one.rssBytes)), ratio: median(two.rssBytes) / median(one.rssBytes), detail })
    ]
  }
}

/**
 * Whether the built binary runs the CLI's esbuild bundle (packages/cli/dist/synthline-shared.cjs,
 * with effect and @synthline/core, which validate's plugins share) for `--help` and `validate`
 * (unless SYNTHLINE_BUNDLE=0).
 */
const runsBundle = (file: string): boolean =>
  cliMode === "built" && process.env.SYNTHLINE_BUNDLE !== "0" && existsSync(join(repoRoot, "packages/cli/dist", file))

export const cliStartup: Benchmark = {
  name: "cli-startup",
  description: "synthline --help and synthline validate examples/quickstart.pipeline.yaml; baseline: bare `node -e 0`",
  run: async (ctx) => {
    const times = async (what: string, f: () => Promise<ChildResult>) => {
      const walls: Array<number> = []
      // one warm-up (file cache), then the measured runs
      mustSucceed(what, await f())
      for (let i = 0; i < ctx.options.runs; i++) walls.push(mustSucceed(what, await f()).wallMs)
      return walls
    }
    const node = ctx.options.noBaseline
      ? null
      : await times("node -e 0", () => runChild(process.execPath, ["-e", "0"], { cwd: repoRoot }))
    const help = await times("synthline --help", () => runCli(["--help"]))
    // validate checks that the source matches files: a small sample stands in for the quickstart's.
    const data = join(ctx.dirs.out, "cli-startup-sample")
    if (!existsSync(join(data, "sample.json"))) {
      rmSync(data, { recursive: true, force: true })
      mustSucceed("synthline sample", await runCli(["sample", "--rows", "200", "--out", data, "--seed", String(ctx.options.seed)]))
    }
    const validate = await times("synthline validate", () => runCli(["validate", "examples/quickstart.pipeline.yaml"], { SYNTHLINE_DATA: data }))
    const base = node ? median(node) : null
    const bundled = runsBundle("shared.json")
    const mk = (name: string, walls: Array<number>) =>
      row({
        name,
        unit: "ms",
        figure: median(walls),
        budget: { op: "<=", value: 400 },
        baseline: base,
        ratio: base === null ? null : median(walls) / base,
        detail: { wall_ms: walls, node_wall_ms: node, cli: cliMode, help_bundled: bundled, validate_bundled: bundled }
      })
    return [mk("cli-startup --help", help), mk("cli-startup validate", validate)]
  }
}

/** The PII detectors and the pii/redact stage, one core, MB/s of UTF-8 message text (at most 50,000 rows). */
export const piiThroughput: Benchmark = {
  name: "pii-throughput",
  description: "@synthline/plugin-pii detectors (all types) and the pii/redact stage over the sample's message text, one core",
  run: async (ctx) => {
    const rows = Math.min(ctx.options.rows, 50_000)
    ctx.log(`pii-throughput: ${rows.toLocaleString("en-US")} rows × ${ctx.options.runs} runs`)
    const r = mustSucceed(
      "pii throughput",
      await runChild(process.execPath, [...tsNode, piiScript, String(rows), String(ctx.options.seed), String(ctx.options.runs)], { cwd: repoRoot })
    )
    const res = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as {
      rows?: number
      bytes?: number
      spans?: number
      rows_out?: number
      detect_mbps?: Array<number>
      redact_mbps?: Array<number>
      detect_wall_mbps?: Array<number>
      redact_wall_mbps?: Array<number>
    }
    if (!res.bytes || !res.detect_mbps?.length || !res.redact_mbps?.length) throw new Error(`pii throughput printed no figures: ${tail(r.stdout)}`)
    if (res.rows_out !== rows) throw new Error(`pii/redact emitted ${res.rows_out} rows of ${rows}`)
    if (!res.spans) throw new Error("the detectors found nothing in the sample: nothing was measured")
    // MB per CPU-second of the measuring process: one core's throughput even on a busy machine.
    const detail = {
      rows,
      bytes: res.bytes,
      spans: res.spans,
      detect_mbps_per_cpu_s: res.detect_mbps,
      redact_mbps_per_cpu_s: res.redact_mbps,
      detect_wall_mbps: res.detect_wall_mbps,
      redact_wall_mbps: res.redact_wall_mbps
    }
    return [
      row({ name: "pii detect throughput (1 core)", unit: "MB/s", figure: median(res.detect_mbps), budget: { op: ">=", value: 50 }, baseline: null, ratio: null, detail }),
      row({ name: "pii/redact throughput (1 core)", unit: "MB/s", figure: median(res.redact_mbps), budget: { op: ">=", value: 50 }, baseline: null, ratio: null, detail })
    ]
  }
}

/** The offline recipe with PII: parquet → select → moderation/filter → pii/redact → jsonl.gz. */
export const offlinePiiPipeline = (glob: string, sinkDir: string): string =>
  `name: bench-offline-pii
seed: 42
plugins: ["@synthline/plugin-moderation", "@synthline/plugin-pii"]
source:
  type: parquet
  path: ${JSON.stringify(glob)}
stages:
  - use: core/select
    languages: [English, Japanese]
  - use: moderation/filter
  - use: pii/redact
sink:
  type: jsonl
  path: ${JSON.stringify(sinkDir)}
  compression: gzip
  shard_rows: 1000000
`

export const offlinePii: Benchmark = {
  name: "offline-pii",
  description: "parquet → core/select [English, Japanese] → moderation/filter → pii/redact → jsonl.gz",
  run: async (ctx) => {
    const rows = ctx.options.rows
    const sample = await ensureSample(rows, ctx.options.seed, ctx.dirs.data, ctx.log)
    const work = join(ctx.dirs.out, `offline-pii-${rows}`)
    mkdirSync(work, { recursive: true })
    const file = join(work, "offline-pii.pipeline.yaml")
    writeFileSync(file, offlinePiiPipeline(parquetGlob(sample), join(work, "sink")))
    ctx.log(`offline-pii: ${rows.toLocaleString("en-US")} rows × ${ctx.options.runs} runs`)
    const m = await measurePipeline(file, join(work, "sink"), ctx.options.runs, rows)
    const throughput = m.facts.rowsRead / (median(m.wallsMs) / 1000)
    const detail = { rows, rows_read: m.facts.rowsRead, rows_written: m.facts.rowsWritten, wall_ms: m.wallsMs, rss_bytes: m.rssBytes, manifest: m.manifestPath }
    return [
      row({ name: "offline-pii throughput", unit: "conv/s", figure: throughput, budget: { op: ">=", value: 20_000 }, baseline: null, ratio: null, detail }),
      row({ name: "offline-pii peak RSS", unit: "MB", figure: mb(median(m.rssBytes)), budget: { op: "<=", value: 512 }, baseline: null, ratio: null, detail: { rows, rss_bytes: m.rssBytes } })
    ]
  }
}

export const benchmarks: ReadonlyArray<Benchmark> = [offlineCore, offlineCoreScaling, offlineWorkers, offlinePii, piiThroughput, cliStartup, llmSaturation, llmOccupancy, parquetRange, longOptions, nearDedupBench, decontaminateBench]

/** What one invocation produced. */
export interface BenchReport {
  readonly started_at: string
  readonly finished_at: string
  readonly machine: { readonly cpus: number; readonly cpu: string; readonly memory_mb: number; readonly node: string; readonly platform: string }
  readonly options: BenchOptions
  readonly rss_method: string
  readonly cli: "built" | "source"
  readonly results: ReadonlyArray<ResultRow>
  readonly skipped: ReadonlyArray<{ readonly name: string; readonly reason: string }>
  readonly errors: ReadonlyArray<{ readonly name: string; readonly error: string }>
  /** Every figure within budget and no benchmark broken. */
  readonly ok: boolean
}

/** Runs the selected benchmarks; a broken benchmark is recorded in `errors`, never skipped silently. */
export const runBench = async (
  options: BenchOptions,
  dirs: Dirs = defaultDirs,
  log: (s: string) => void = (s) => process.stderr.write(`${s}\n`)
): Promise<BenchReport> => {
  const unknown = options.only.filter((n) => !benchmarks.some((b) => b.name === n))
  if (unknown.length > 0) {
    throw new Error(`unknown benchmark ${unknown.join(", ")} (known: ${benchmarks.map((b) => b.name).join(", ")})`)
  }
  const started_at = new Date().toISOString()
  const ctx: Context = { options, dirs, log, offlineCache: new Map() }
  const results: Array<ResultRow> = []
  const skipped: Array<{ name: string; reason: string }> = []
  const errors: Array<{ name: string; error: string }> = []
  for (const b of benchmarks) {
    if (options.only.length > 0 && !options.only.includes(b.name)) continue
    if (b.applies && !b.applies(options)) {
      skipped.push({ name: b.name, reason: "needs --rows ≥ 100000" })
      continue
    }
    try {
      results.push(...(await b.run(ctx)))
    } catch (e) {
      errors.push({ name: b.name, error: e instanceof Error ? e.message : String(e) })
    }
  }
  const cpuList = cpus()
  const report: BenchReport = {
    started_at,
    finished_at: new Date().toISOString(),
    machine: {
      cpus: cpuList.length,
      cpu: cpuList[0]?.model ?? "unknown",
      memory_mb: Math.round(totalmem() / MB),
      node: process.version,
      platform: `${process.platform}-${process.arch}`
    },
    options,
    rss_method: rssMethod(),
    cli: cliMode,
    results,
    skipped,
    errors,
    ok: errors.length === 0 && results.every((r) => r.ok)
  }
  if (options.write) {
    mkdirSync(dirs.results, { recursive: true })
    const json = `${JSON.stringify(report, null, 2)}\n`
    writeFileSync(join(dirs.results, `${started_at.replace(/[:.]/g, "-")}.json`), json)
    writeFileSync(join(dirs.results, "latest.json"), json)
  }
  return report
}

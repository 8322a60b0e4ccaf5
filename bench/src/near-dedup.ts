/**
 * The `near-dedup` benchmark: `synthline run` of parquet → dedup/near-dedup → core/fields →
 * jsonl over `--rows` conversations of a sample generated with `synthline sample
 * --near-duplicates` (planted near-duplicate families, ground truth in
 * near_duplicates_truth.jsonl), with all cores: the stage's first pass reads and signs the units
 * in one worker thread per core (`threads: auto`), the labelling pass in the run's worker threads (`--workers`' default, one per core). Figures: conversations/s over both passes (the index pass reads
 * the whole source, the labelling pass reads it again), peak RSS of the process, and precision
 * and recall against the planted families at the default threshold (0.8), over all rows and over
 * the Japanese rows alone (shingled by characters):
 *
 * - recall: planted rows that are not their family's first row and are marked with the first
 *   row's conversation_id, ÷ all such rows;
 * - precision: of the marked rows that involve a planted row (the row or the row it names),
 *   those marked correctly. Near-duplicates among the sample's other rows (its generator
 *   repeats sentences and popular prompts) have no ground truth; their count is reported.
 *
 * (The harness is imported lazily: it imports this module for its `benchmarks` list.)
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type { Benchmark, Context } from "./harness.js"
import { median, row } from "./lib.js"

const MB = 1024 * 1024

/** The folder of a `--near-duplicates` sample with `rows` conversations, generated once and reused. */
export const ensurePlantedSample = async (ctx: Context, rows: number): Promise<string> => {
  const { runCli, shardsFor } = await import("./harness.js")
  const dir = join(ctx.dirs.data, `rows-${rows}-seed-${ctx.options.seed}-near-duplicates`)
  if (existsSync(join(dir, "sample.json")) && existsSync(join(dir, "near_duplicates_truth.jsonl"))) return dir
  ctx.log(`generating sample data with near-duplicates: ${rows.toLocaleString("en-US")} rows, seed ${ctx.options.seed} → ${dir}`)
  const tmp = `${dir}.tmp-${process.pid}`
  rmSync(tmp, { recursive: true, force: true })
  mkdirSync(ctx.dirs.data, { recursive: true })
  const args = ["sample", "--rows", String(rows), "--out", tmp, "--shards", String(shardsFor(rows)), "--seed", String(ctx.options.seed), "--near-duplicates"]
  const r = await runCli(args)
  if (r.code !== 0) throw new Error(`synthline sample failed (exit ${r.code ?? r.signal}): ${(r.stderr || r.stdout).slice(-1500)}`)
  rmSync(dir, { recursive: true, force: true })
  renameSync(tmp, dir)
  return dir
}

/** Reads JSON lines. */
export const readLines = <T>(file: string): Array<T> =>
  readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as T)

/** Every row of the jsonl part files of a sink folder. */
export const readSink = <T>(dir: string): Array<T> =>
  readdirSync(dir)
    .filter((f) => /^part-.*\.jsonl$/.test(f))
    .sort()
    .flatMap((f) => readLines<T>(join(dir, f)))

/** Precision and recall of near-duplicate marks against planted families. */
export const scoreNearDedup = (
  truth: ReadonlyArray<{ readonly conversation_id: string; readonly first: string }>,
  marks: ReadonlyArray<{ readonly conversation_id: string; readonly near_duplicate_of: string | null }>
) => {
  const firstOf = new Map(truth.map((t) => [t.conversation_id, t.first]))
  let positives = 0
  for (const t of truth) if (t.first !== t.conversation_id) positives++
  let found = 0
  let involving = 0
  let correct = 0
  let other = 0
  for (const m of marks) {
    if (m.near_duplicate_of === null) continue
    const expected = firstOf.get(m.conversation_id)
    const ok = expected !== undefined && expected !== m.conversation_id && m.near_duplicate_of === expected
    if (ok) found++
    if (expected !== undefined || firstOf.has(m.near_duplicate_of)) {
      involving++
      if (ok) correct++
    } else other++
  }
  return {
    positives,
    found,
    recall: positives === 0 ? 1 : found / positives,
    marked_involving_planted: involving,
    precision: involving === 0 ? 1 : correct / involving,
    other_near_duplicates: other
  }
}

const pipeline = (glob: string, sinkDir: string): string => `name: bench-near-dedup
seed: 42
plugins: ["@synthline/plugin-dedup"]
source:
  type: parquet
  path: ${JSON.stringify(glob)}
  validate: none
stages:
  - use: dedup/near-dedup
  - use: core/fields
    keep: [conversation_id, near_duplicate_of, language]
sink:
  type: jsonl
  path: ${JSON.stringify(sinkDir)}
  compression: none
  shard_rows: 1000000
`

export const nearDedupBench: Benchmark = {
  name: "near-dedup",
  description: "parquet → dedup/near-dedup (MinHash-LSH, threshold 0.8, two passes, all cores) → jsonl: conv/s, peak RSS, P/R against planted families",
  run: async (ctx) => {
    const { measurePipeline, parquetGlob } = await import("./harness.js")
    const rows = ctx.options.rows
    const sample = await ensurePlantedSample(ctx, rows)
    const work = join(ctx.dirs.out, `near-dedup-${rows}`)
    mkdirSync(work, { recursive: true })
    const file = join(work, "near-dedup.pipeline.yaml")
    const sink = join(work, "sink")
    writeFileSync(file, pipeline(parquetGlob(sample), sink))
    ctx.log(`near-dedup: ${rows.toLocaleString("en-US")} rows × ${ctx.options.runs} runs`)
    // All cores: the first pass signs in worker threads (threads: auto), the second in the run's workers (one per core by default).
    const m = await measurePipeline(file, sink, ctx.options.runs, rows)
    const truth = readLines<{ conversation_id: string; first: string }>(join(sample, "near_duplicates_truth.jsonl"))
    const marks = readSink<{ conversation_id: string; near_duplicate_of: string | null; language: string }>(sink)
    const score = scoreNearDedup(truth, marks)
    if (score.positives === 0) throw new Error("the sample has no planted near-duplicates: nothing was measured")
    // The same on the Japanese rows alone (character n-grams: the text has no spaces).
    const japanese = new Set(marks.filter((m) => m.language === "Japanese").map((m) => m.conversation_id))
    const ja = scoreNearDedup(
      truth.filter((t) => japanese.has(t.conversation_id)),
      marks.filter((m) => japanese.has(m.conversation_id))
    )
    if (ja.positives === 0) throw new Error("the sample has no planted near-duplicates among its Japanese rows: nothing was measured there")
    const throughput = m.facts.rowsRead / (median(m.wallsMs) / 1000)
    const detail = { rows, wall_ms: m.wallsMs, rss_bytes: m.rssBytes, manifest: m.manifestPath, ...score }
    return [
      row({ name: "near-dedup throughput", unit: "conv/s", figure: throughput, budget: { op: ">=", value: 20_000 }, baseline: null, ratio: null, detail }),
      row({ name: "near-dedup peak RSS", unit: "MB", figure: median(m.rssBytes) / MB, budget: { op: "<=", value: 512 }, baseline: null, ratio: null, detail: { rows, rss_bytes: m.rssBytes } }),
      row({ name: "near-dedup precision", unit: "", figure: score.precision, budget: { op: ">=", value: 0.95 }, baseline: null, ratio: null, detail: score }),
      row({ name: "near-dedup recall", unit: "", figure: score.recall, budget: { op: ">=", value: 0.95 }, baseline: null, ratio: null, detail: score }),
      row({ name: "near-dedup precision, Japanese rows", unit: "", figure: ja.precision, budget: { op: ">=", value: 0.95 }, baseline: null, ratio: null, detail: ja }),
      row({ name: "near-dedup recall, Japanese rows", unit: "", figure: ja.recall, budget: { op: ">=", value: 0.95 }, baseline: null, ratio: null, detail: ja })
    ]
  }
}

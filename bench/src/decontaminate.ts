/**
 * The `decontaminate` benchmark: `synthline run` of parquet → dedup/decontaminate (against the
 * sample's own MT-Bench-shaped benchmark.jsonl) → core/fields → jsonl over `--rows`
 * conversations of the `--near-duplicates` sample, whose benchmark_truth.jsonl lists the rows
 * holding a benchmark prompt. Figures: conversations/s, and the recall of those rows (budget
 * 1.0); rows flagged without being planted are reported beside it.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type { Benchmark } from "./harness.js"
import { median, row } from "./lib.js"
import { ensurePlantedSample, readLines, readSink } from "./near-dedup.js"

const pipeline = (glob: string, benchmark: string, sinkDir: string): string => `name: bench-decontaminate
seed: 42
plugins: ["@synthline/plugin-dedup"]
source:
  type: parquet
  path: ${JSON.stringify(glob)}
  validate: none
stages:
  - use: dedup/decontaminate
    benchmarks:
      - path: ${JSON.stringify(benchmark)}
        name: mt-bench-like
  - use: core/fields
    keep: [conversation_id, contamination]
sink:
  type: jsonl
  path: ${JSON.stringify(sinkDir)}
  compression: none
  shard_rows: 1000000
`

export const decontaminateBench: Benchmark = {
  name: "decontaminate",
  description: "parquet → dedup/decontaminate (13-word / 25-character n-grams of an MT-Bench-shaped file) → jsonl: conv/s, recall of planted benchmark prompts",
  run: async (ctx) => {
    const { measurePipeline, parquetGlob } = await import("./harness.js")
    const rows = ctx.options.rows
    const sample = await ensurePlantedSample(ctx, rows)
    const work = join(ctx.dirs.out, `decontaminate-${rows}`)
    mkdirSync(work, { recursive: true })
    const file = join(work, "decontaminate.pipeline.yaml")
    const sink = join(work, "sink")
    writeFileSync(file, pipeline(parquetGlob(sample), join(sample, "benchmark.jsonl"), sink))
    ctx.log(`decontaminate: ${rows.toLocaleString("en-US")} rows × ${ctx.options.runs} runs`)
    const m = await measurePipeline(file, sink, ctx.options.runs, rows)
    const truth = readLines<{ conversation_id: string; item: number }>(join(sample, "benchmark_truth.jsonl"))
    if (truth.length === 0) throw new Error("the sample has no planted benchmark prompts: nothing was measured")
    const flagged = new Map(
      readSink<{ conversation_id: string; contamination: { item: number } | null }>(sink)
        .filter((r) => r.contamination !== null)
        .map((r) => [r.conversation_id, r.contamination!.item])
    )
    const found = truth.filter((t) => flagged.get(t.conversation_id) === t.item).length
    const planted = new Set(truth.map((t) => t.conversation_id))
    const unplanted = [...flagged.keys()].filter((id) => !planted.has(id)).length
    const throughput = m.facts.rowsRead / (median(m.wallsMs) / 1000)
    const detail = { rows, wall_ms: m.wallsMs, rss_bytes: m.rssBytes, planted: truth.length, found, flagged_unplanted: unplanted, manifest: m.manifestPath }
    return [
      row({ name: "decontaminate throughput", unit: "conv/s", figure: throughput, budget: { op: ">=", value: 20_000 }, baseline: null, ratio: null, detail }),
      row({ name: "decontaminate recall", unit: "", figure: found / truth.length, budget: { op: ">=", value: 1 }, baseline: null, ratio: null, detail })
    ]
  }
}

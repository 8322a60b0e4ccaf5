/**
 * The `long-options` benchmark (issue 16, "Long option strings make a run superlinear"): the
 * same 20-row `llm/complete` run against the local test server, with a `system` prompt of 0, 10,
 * 100 and 1,000 KB. The option passes through the pipeline file's parsing, interpolation and
 * decoding, the fingerprint, every request, the manifest and the dataset card's recipe (whose
 * secret masking was quadratic: 80 KB took 14.7 s, 1 MB did not finish in 200 s). Figures: the
 * wall time of `synthline run` at each size (the baseline is the run without the option), and
 * the growth from 100 KB to 1,000 KB, which a linear run keeps at most 10x.
 *
 * The prompt is prose followed by an unbroken base64-like block (an embedded example), so both
 * short words and one long word are in it.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type { Benchmark } from "./harness.js"
import { median, type ResultRow, row, validateManifest, type ManifestLike } from "./lib.js"

/** Rows of each run. */
const rows = 20

/** Option sizes measured, in KB (0: the baseline). */
export const sizesKb: ReadonlyArray<number> = [0, 10, 100, 1000]

const words = ["answer", "the", "user", "politely", "in", "Japanese", "and", "cite", "sources", "when", "asked", "about", "history,", "tokens", "or", "keys."]

/** A system prompt of `bytes` ASCII bytes: half prose, half one base64-like word. */
export const longPrompt = (bytes: number): string => {
  const prose: Array<string> = []
  let n = 0
  for (let i = 0; n < bytes / 2; i++) {
    const w = words[(i * 7 + (i >> 3)) % words.length]!
    prose.push(w)
    n += w.length + 1
  }
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  const blob: Array<string> = []
  for (let i = 0; n + i < bytes; i++) blob.push(alphabet[(i * 31 + (i >> 5)) % 64]!)
  return `${prose.join(" ")} ${blob.join("")}`.slice(0, bytes)
}

/** The pipeline of one measured run. */
export const pipelineText = (glob: string, sink: string, url: string, systemPrompt: string): string =>
  `name: bench-long-options
seed: 1
plugins: ["@synthline/llm"]
source: { type: parquet, path: ${JSON.stringify(glob)} }
models:
  m: { model: bench/model, endpoints: [${JSON.stringify(url)}], concurrency: 8, timeout: 30s }
cache: { mode: "off" }
stages:
  - use: core/first-turn
  - use: core/limit
    rows: ${rows}
  - use: llm/complete
    model: m
${systemPrompt === "" ? "" : `    system: ${JSON.stringify(systemPrompt)}\n`}    user: "{{conversation.0.content}}"
    output: reply
    max_tokens: 16
sink: { type: jsonl, path: ${JSON.stringify(sink)}, compression: none }
`

export const longOptions: Benchmark = {
  name: "long-options",
  description: `${rows} rows through llm/complete with a system prompt of 0, 10, 100 and 1,000 KB: run time must grow at most linearly`,
  run: async (ctx) => {
    const { ensureSample, parquetGlob, runCli } = await import("./harness.js")
    const { start } = await import("@synthline/llm/TestServer")
    const sample = await ensureSample(200, ctx.options.seed, ctx.dirs.data, ctx.log)
    const server = await start({ chat: () => ({ content: "ok", completion_tokens: 1 }) })
    const work = join(ctx.dirs.out, "long-options")
    mkdirSync(work, { recursive: true })
    const walls = new Map<number, Array<number>>()
    try {
      for (const kb of sizesKb) {
        const file = join(work, `long-options-${kb}kb.pipeline.yaml`)
        const sink = join(work, `sink-${kb}kb`)
        writeFileSync(file, pipelineText(parquetGlob(sample), sink, server.baseUrl, kb === 0 ? "" : longPrompt(kb * 1024)))
        const times: Array<number> = []
        for (let i = 0; i < ctx.options.runs; i++) {
          rmSync(sink, { recursive: true, force: true })
          ctx.log(`long-options: ${kb} KB, run ${i + 1}/${ctx.options.runs}`)
          const r = await runCli(["run", file, "--fresh"])
          if (r.code !== 0) throw new Error(`synthline run ${file} failed (exit ${r.code ?? r.signal}): ${(r.stderr || r.stdout).slice(-1500)}`)
          const facts = validateManifest(JSON.parse(readFileSync(join(sink, "manifest.json"), "utf8")) as ManifestLike)
          if (facts.rowsWritten !== rows) throw new Error(`long-options ${kb} KB wrote ${facts.rowsWritten} rows, expected ${rows}`)
          times.push(r.wallMs)
        }
        walls.set(kb, times)
      }
    } finally {
      await server.close()
    }
    const base = median(walls.get(0)!)
    const out: Array<ResultRow> = sizesKb
      .filter((kb) => kb > 0)
      .map((kb) =>
        row({
          name: `long-options ${kb.toLocaleString("en-US")} KB run`,
          unit: "ms",
          figure: median(walls.get(kb)!),
          budget: null,
          baseline: base,
          ratio: median(walls.get(kb)!) / base,
          detail: { rows, option_bytes: kb * 1024, wall_ms: walls.get(kb), baseline_wall_ms: walls.get(0) }
        })
      )
    const growth = median(walls.get(1000)!) / median(walls.get(100)!)
    out.push(
      row({
        name: "long-options 1,000 KB ÷ 100 KB",
        unit: "",
        figure: growth,
        budget: { op: "<=", value: 10 },
        baseline: null,
        ratio: null,
        detail: { wall_ms_100kb: walls.get(100), wall_ms_1000kb: walls.get(1000) }
      })
    )
    return out
  }
}

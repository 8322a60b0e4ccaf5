/**
 * llm-saturation (DESIGN §5, issue "@synthline/llm"): rows through `llm/complete` against the
 * local test server answering in a fixed 100 ms, at concurrency C ∈ {64, 256, 512}. Figures:
 * requests/s as a share of the Little's-law limit C / 0.1 s, client CPU per request (the whole
 * `synthline run` process: reading, stages, writing, startup), peak RSS at N rows ÷ at N/10,
 * and a cached rerun (zero requests to the server, rows/s).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type { Benchmark, Context } from "./harness.js"
import { benchDir, ensureSample, parquetGlob, repoRoot, runCli } from "./harness.js"
import { median, row, type ResultRow, validateManifest, type ManifestLike } from "./lib.js"
import { runChild } from "./measure.js"

const LATENCY_MS = 100
const concurrencies = [64, 256, 512] as const

/** Starts the test server in its own process; resolves with its base URL. */
const startServer = (latencyMs: number): Promise<{ url: string; child: ChildProcess }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--conditions=@synthline/source", join(benchDir, "src/llm-server.ts"), String(latencyMs)], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "inherit"]
    })
    let out = ""
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      out += d
      const line = out.split("\n")[0]
      if (out.includes("\n") && line !== undefined) resolve({ url: line.trim(), child })
    })
    child.on("error", reject)
    child.on("exit", (code) => reject(new Error(`test server exited (${code}) before it listened`)))
  })

const counts = async (baseUrl: string): Promise<{ chat: number }> => {
  const r = await fetch(`${baseUrl.replace(/\/v1$/, "")}/_counts`)
  return (await r.json()) as { chat: number }
}

export const pipelineText = (glob: string, sink: string, url: string, concurrency: number, cache: string): string =>
  `name: bench-llm-saturation
seed: 1
plugins: ["@synthline/llm"]
source: { type: parquet, path: ${JSON.stringify(glob)} }
models:
  m: { model: bench/model, endpoints: [${JSON.stringify(url)}], concurrency: ${concurrency}, timeout: 30s }
cache: { path: ${JSON.stringify(cache)} }
stages:
  - use: core/first-turn
  - use: llm/complete
    model: m
    user: "{{conversation.0.content}}"
    output: reply
    max_tokens: 16
sink: { type: jsonl, path: ${JSON.stringify(sink)}, compression: none, shard_rows: 1000000 }
`

interface Measured {
  readonly wallMs: number
  readonly cpuMs: number | null
  readonly rssBytes: number
  readonly requests: number
  readonly rows: number
}

const runOnce = async (ctx: Context, rows: number, concurrency: number, url: string, cacheMode: "fresh" | "reuse"): Promise<Measured> => {
  const sample = await ensureSample(rows, ctx.options.seed, ctx.dirs.data, ctx.log)
  const work = join(ctx.dirs.out, `llm-${rows}-c${concurrency}`)
  mkdirSync(work, { recursive: true })
  const cache = join(work, "cache.sqlite")
  if (cacheMode === "fresh") for (const f of ["", "-wal", "-shm"]) rmSync(`${cache}${f}`, { force: true })
  const sink = join(work, "sink")
  rmSync(sink, { recursive: true, force: true })
  const file = join(work, "llm.pipeline.yaml")
  writeFileSync(file, pipelineText(parquetGlob(sample), sink, url, concurrency, cache))
  const before = (await counts(url)).chat
  const r = await runCli(["run", file, "--fresh"])
  if (r.code !== 0) throw new Error(`synthline run ${file} failed (exit ${r.code}):\n${r.stderr.slice(-1500)}`)
  const manifest = JSON.parse(readFileSync(join(sink, "manifest.json"), "utf8")) as ManifestLike
  const facts = validateManifest(manifest, rows)
  return { wallMs: r.wallMs, cpuMs: r.cpuMs, rssBytes: r.peakRssBytes, requests: (await counts(url)).chat - before, rows: facts.rowsWritten }
}

export const llmSaturation: Benchmark = {
  name: "llm-saturation",
  description: `parquet → core/first-turn → llm/complete → jsonl against the local test server answering in ${LATENCY_MS} ms, C ∈ {${concurrencies.join(", ")}}`,
  run: async (ctx) => {
    const rows = Math.min(ctx.options.rows, 100_000)
    const server = await startServer(LATENCY_MS)
    const results: Array<ResultRow> = []
    try {
      for (const c of concurrencies) {
        ctx.log(`llm-saturation: ${rows.toLocaleString("en-US")} rows at C=${c} × ${ctx.options.runs} runs`)
        const runs: Array<Measured> = []
        for (let i = 0; i < ctx.options.runs; i++) runs.push(await runOnce(ctx, rows, c, server.url, "fresh"))
        for (const m of runs) if (m.requests !== rows) throw new Error(`C=${c}: ${m.requests} requests for ${rows} rows`)
        const limit = c / (LATENCY_MS / 1000)
        const rate = rows / (median(runs.map((m) => m.wallMs)) / 1000)
        results.push(
          row({
            name: `llm-saturation C=${c}`,
            unit: "% of C/L",
            figure: (100 * rate) / limit,
            budget: { op: ">=", value: 95 },
            baseline: 100,
            ratio: rate / limit,
            detail: { rows, requests_per_s: rate, limit_per_s: limit, wall_ms: runs.map((m) => m.wallMs), cpu_ms: runs.map((m) => m.cpuMs) }
          })
        )
        const cpu = runs.map((m) => m.cpuMs).filter((x): x is number => x !== null)
        if (cpu.length > 0) {
          results.push(
            row({
              name: `llm client CPU/request C=${c}`,
              unit: "ms",
              figure: median(cpu) / rows,
              budget: { op: "<=", value: 0.2 },
              baseline: null,
              ratio: null,
              detail: { cpu_ms: cpu, rows, note: "whole synthline run process: startup, parquet read, stages, jsonl write, HTTP" }
            })
          )
        }
      }
      // Peak RSS flat in rows: N vs N/10 at C=256.
      const small = await runOnce(ctx, Math.max(1000, Math.round(rows / 10)), 256, server.url, "fresh")
      const big = await runOnce(ctx, rows, 256, server.url, "fresh")
      results.push(
        row({
          name: `llm RSS ${rows / 1000}k ÷ ${Math.round(rows / 10000)}k`,
          unit: "",
          figure: big.rssBytes / small.rssBytes,
          budget: { op: "<=", value: 1.1 },
          baseline: null,
          ratio: null,
          detail: { rss_bytes_n: big.rssBytes, rss_bytes_n_div_10: small.rssBytes }
        })
      )
      // The same run again over its cache: no request, rows/s.
      const cached: Array<Measured> = []
      for (let i = 0; i < ctx.options.runs; i++) cached.push(await runOnce(ctx, rows, 256, server.url, "reuse"))
      const sent = cached.reduce((n, m) => n + m.requests, 0)
      results.push(
        row({
          name: "llm cached rerun: requests sent",
          unit: "",
          figure: sent,
          budget: { op: "<=", value: 0 },
          baseline: null,
          ratio: null,
          detail: { runs: cached.length }
        }),
        row({
          name: "llm cached rerun (whole pipeline)",
          unit: "rows/s",
          figure: rows / (median(cached.map((m) => m.wallMs)) / 1000),
          budget: null,
          baseline: null,
          ratio: null,
          detail: { wall_ms: cached.map((m) => m.wallMs), cpu_ms: cached.map((m) => m.cpuMs), note: "includes startup, parquet read and jsonl write" }
        })
      )
      // The stage alone over a filled cache, in one process.
      const stage: Array<{ ms: number; cpu_ms: number; requests: number }> = []
      for (let i = 0; i < ctx.options.runs; i++) {
        const dir = join(ctx.dirs.out, "llm-cached-stage")
        rmSync(dir, { recursive: true, force: true })
        mkdirSync(dir, { recursive: true })
        const r = await runChild(process.execPath, ["--import", "tsx", "--conditions=@synthline/source", join(benchDir, "src/llm-cached-stage.ts"), String(rows), dir], { cwd: repoRoot })
        if (r.code !== 0) throw new Error(`llm-cached-stage failed (exit ${r.code}):\n${r.stderr.slice(-1500)}`)
        stage.push(JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as { ms: number; cpu_ms: number; requests: number })
      }
      if (stage.some((x) => x.requests !== 0)) throw new Error("the cached stage pass sent requests")
      results.push(
        row({
          name: "llm/complete cached (stage)",
          unit: "rows/s",
          figure: rows / (median(stage.map((x) => x.ms)) / 1000),
          budget: { op: ">=", value: 50_000 },
          baseline: null,
          ratio: null,
          detail: { wall_ms: stage.map((x) => x.ms), cpu_ms: stage.map((x) => x.cpu_ms), rows_per_cpu_s: rows / (median(stage.map((x) => x.cpu_ms)) / 1000) }
        })
      )
    } finally {
      server.child.kill("SIGTERM")
    }
    return results
  }
}

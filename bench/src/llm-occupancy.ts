/**
 * llm-occupancy (DESIGN §5 "Model stages keep the fleet busy"): `synthline run` of
 * `core/first-turn → synth/generate [→ synth/judge]` against a fleet of local OpenAI-compatible
 * servers (bench/src/llm-occupancy-server.ts, its own process) whose answer times are
 * log-normal (median 400 ms, sigma 1.2, capped at 15 s), with C slots over 4 endpoints per
 * model. The servers stamp every request's arrival and answer; from the stamps: occupancy
 * (time-averaged requests in flight ÷ C while work remains), serving span ÷ ideal (Σ latency ÷
 * C), and for a fixed 100 ms latency requests/s ÷ C/L; plus the memory bound of the reorder
 * buffer: peak RSS of n = 10 at C = 2048 with one 60 s straggler at --buffer-mb 64 and 256, and
 * without it. Every case checks that the sink holds every row, complete, in input order. See
 * bench/README.md for the exact definitions.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { Rowwise } from "@synthline/core/Stage"
import { records } from "@synthline/sample/Sample"
import type { Benchmark, Context } from "./harness.js"
import { benchDir, ensureSample, parquetGlob, repoRoot, runCli } from "./harness.js"
import { type ManifestLike, type ResultRow, row, validateManifest } from "./lib.js"
import type { Mode, ModelStamps, Occupancy } from "./llm-occupancy-server.js"

const ENDPOINTS = 4
const LOGNORMAL: Mode = { latency: "lognormal", median_ms: 400, sigma: 1.2, max_ms: 15_000, straggler: null }
const STRAGGLER_MS = 60_000
/** The straggler is the k-th generate request to arrive (well inside the first wave of 2,048). */
const STRAGGLER_INDEX = 1000
/** Case e's answers: 6,000 bytes, so 4,000 rows × n 10 are ≈ 470 MiB estimated, above both bounds. */
const E_ANSWER_BYTES = 6000
/** The reorder buffer bounds case e runs with the straggler (MiB; 256 is the default). */
const E_BOUNDS = [64, 256] as const
/** What Rowwise adds to a row's estimate for its fiber, map entry and closures. */
const PER_ROW_OVERHEAD = 1024

// ---------------------------------------------------------------------------------------------
// Measures (pure)

/** One chat request as the server saw it: when it could have been sent, arrived, was answered (ms). */
export interface Job {
  readonly available: number
  readonly arrival: number
  readonly completion: number
}

/** ∫ (requests in flight) dt over [from, to]: the sum of each request's overlap with the window. */
export const inFlightIntegral = (jobs: ReadonlyArray<Job>, from: number, to: number): number => {
  let s = 0
  for (const j of jobs) {
    const lo = Math.max(from, j.arrival)
    const hi = Math.min(to, j.completion)
    if (hi > lo) s += hi - lo
  }
  return s
}

/** ∫ in flight ÷ (C × (to − from)) over [from, to]: the share of C busy on average. */
export const occupancy = (jobs: ReadonlyArray<Job>, capacity: number, from: number, to: number): number =>
  to > from ? inFlightIntegral(jobs, from, to) / (capacity * (to - from)) : Number.NaN

/**
 * ∫ in flight dt ÷ ∫ min(C, D(t)) dt over [from, to], where D(t) counts the requests that could
 * be in flight at t (available, not yet answered): the share of the slots that could be busy
 * that were. Equals {@link occupancy} while D ≥ C; a stage starved by its upstream (D < C) is
 * only asked to keep D requests in flight.
 */
export const workOccupancy = (jobs: ReadonlyArray<Job>, capacity: number, from: number, to: number): number => {
  // Sweep over the change points of D and of the in-flight count.
  const events: Array<[number, number, number]> = [] // [t, Δdemand, Δinflight]
  for (const j of jobs) {
    events.push([j.available, 1, 0], [j.arrival, 0, 1], [j.completion, -1, -1])
  }
  events.sort((a, b) => a[0] - b[0])
  let demand = 0
  let inflight = 0
  let busy = 0
  let possible = 0
  let t = from
  for (const [at, dd, di] of events) {
    if (at > t && at > from) {
      const lo = Math.max(t, from)
      const hi = Math.min(at, to)
      if (hi > lo) {
        busy += inflight * (hi - lo)
        possible += Math.min(capacity, demand) * (hi - lo)
      }
      t = at
    }
    demand += dd
    inflight += di
  }
  return possible > 0 ? busy / possible : Number.NaN
}

/** Summary of one model's stamps. */
export interface Span {
  readonly requests: number
  readonly firstArrival: number
  readonly lastArrival: number
  readonly lastCompletion: number
  readonly sumLatency: number
  readonly longest: number
}

export const spanOf = (jobs: ReadonlyArray<Job>): Span => {
  let firstArrival = Number.POSITIVE_INFINITY
  let lastArrival = Number.NEGATIVE_INFINITY
  let lastCompletion = Number.NEGATIVE_INFINITY
  let sumLatency = 0
  let longest = 0
  for (const j of jobs) {
    firstArrival = Math.min(firstArrival, j.arrival)
    lastArrival = Math.max(lastArrival, j.arrival)
    lastCompletion = Math.max(lastCompletion, j.completion)
    sumLatency += j.completion - j.arrival
    longest = Math.max(longest, j.completion - j.arrival)
  }
  return { requests: jobs.length, firstArrival, lastArrival, lastCompletion, sumLatency, longest }
}

/**
 * The ideal client replayed on the measured latencies: each stage sends a request the moment a
 * slot is free and the request is available (rows in input order; a row's judge calls are
 * available once all its generate answers are), so it shows what no scheduler can beat.
 * `rows[r]` holds the latencies of row r's generate calls and of its judge calls (if any).
 */
export const replayIdeal = (
  rows: ReadonlyArray<{ readonly gen: ReadonlyArray<number>; readonly judge: ReadonlyArray<number> }>,
  genSlots: number,
  judgeSlots: number
): { readonly gen: ReadonlyArray<Job>; readonly judge: ReadonlyArray<Job> } => {
  // Generate: FIFO over genSlots slots, all available at 0 → a min-heap of slot free times.
  const free = new MinHeap()
  for (let i = 0; i < genSlots; i++) free.push(0)
  const gen: Array<Job> = []
  const ready: Array<{ at: number; latency: number }> = []
  for (const r of rows) {
    let done = 0
    for (const l of r.gen) {
      const t = free.pop()
      gen.push({ available: 0, arrival: t, completion: t + l })
      free.push(t + l)
      done = Math.max(done, t + l)
    }
    for (const l of r.judge) ready.push({ at: done, latency: l })
  }
  // Judge: in order of availability over judgeSlots slots.
  ready.sort((a, b) => a.at - b.at)
  const jfree = new MinHeap()
  for (let i = 0; i < judgeSlots; i++) jfree.push(0)
  const judge: Array<Job> = []
  for (const j of ready) {
    const t = Math.max(j.at, jfree.pop())
    judge.push({ available: j.at, arrival: t, completion: t + j.latency })
    jfree.push(t + j.latency)
  }
  return { gen, judge }
}

class MinHeap {
  private readonly a: Array<number> = []
  push(x: number): void {
    const a = this.a
    a.push(x)
    let i = a.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (a[p]! <= a[i]!) break
      ;[a[p], a[i]] = [a[i]!, a[p]!]
      i = p
    }
  }
  pop(): number {
    const a = this.a
    const top = a[0]!
    const last = a.pop()!
    if (a.length > 0) {
      a[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < a.length && a[l]! < a[m]!) m = l
        if (r < a.length && a[r]! < a[m]!) m = r
        if (m === i) break
        ;[a[m], a[i]] = [a[i]!, a[m]!]
        i = m
      }
    }
    return top
  }
}

// ---------------------------------------------------------------------------------------------
// The fleet process

interface FleetProcess {
  readonly control: string
  readonly gen: ReadonlyArray<string>
  readonly judge: ReadonlyArray<string>
  readonly child: ChildProcess
}

const startFleet = (): Promise<FleetProcess> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--conditions=@synthline/source", join(benchDir, "src/llm-occupancy-server.ts"), String(ENDPOINTS)],
      { cwd: repoRoot, stdio: ["ignore", "pipe", "inherit"] }
    )
    let out = ""
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      out += d
      const nl = out.indexOf("\n")
      if (nl >= 0) {
        const info = JSON.parse(out.slice(0, nl)) as { control: string; gen: Array<string>; judge: Array<string> }
        resolve({ ...info, child })
      }
    })
    child.on("error", reject)
    child.on("exit", (code) => reject(new Error(`llm-occupancy server exited (${code}) before it listened`)))
  })

const reset = async (control: string, mode: Mode): Promise<void> => {
  const r = await fetch(`${control}/_reset`, { method: "POST", body: JSON.stringify(mode) })
  if (!r.ok) throw new Error(`llm-occupancy server: reset failed (${r.status})`)
}

const stamps = async (control: string): Promise<Occupancy> => {
  const r = await fetch(`${control}/_occupancy`)
  if (!r.ok) throw new Error(`llm-occupancy server: /_occupancy failed (${r.status})`)
  return (await r.json()) as Occupancy
}

// ---------------------------------------------------------------------------------------------
// Cases

interface Case {
  readonly id: string
  readonly title: string
  readonly rows: number
  readonly n: number
  readonly judge: boolean
  /** Concurrency per endpoint (C = 4 × this). */
  readonly perEndpoint: number
  readonly mode: Mode
  /** `--buffer-mb` (the reorder buffer's bound in MiB); the default 256 when absent. */
  readonly bufferMb?: number
}

const pipelineText = (c: Case, glob: string, sink: string, cache: string, fleet: FleetProcess): string => {
  const model = (name: string, urls: ReadonlyArray<string>) =>
    `  ${name}: { model: bench/${name}, endpoints: ${JSON.stringify(urls)}, concurrency: ${c.perEndpoint}, timeout: 120s }\n`
  return `name: bench-llm-occupancy-${c.id}
seed: 1
plugins: ["@synthline/plugin-synth"]
source: { type: parquet, path: ${JSON.stringify(glob)} }
models:
${model("gen", fleet.gen)}${c.judge ? model("judge", fleet.judge) : ""}cache: { path: ${JSON.stringify(cache)} }
stages:
  - use: core/first-turn
  - use: synth/generate
    model: gen
    n: ${c.n}
    instruction: conversation.0.content
${c.judge ? "  - use: synth/judge\n    model: judge\n    instruction: conversation.0.content\n" : ""}sink: { type: jsonl, path: ${JSON.stringify(sink)}, compression: none, shard_rows: 1000000 }
`
}

/** What one run produced, checked. */
interface Measured {
  readonly c: Case
  readonly wallMs: number
  readonly rssBytes: number
  /** CPU time of the CLI process (GNU time only) and of the server process, ms. */
  readonly cpuMs: number | null
  readonly serverCpuMs: number
  readonly rows: number
  readonly gen: ReadonlyArray<Job>
  readonly judge: ReadonlyArray<Job>
  readonly genStamps: ModelStamps
  /** Per output row, in order: the generate request ids of its answers and the judge request ids judging them. */
  readonly rowIds: ReadonlyArray<{ readonly gen: ReadonlyArray<number>; readonly judge: ReadonlyArray<number> }>
  /**
   * Per row: Rowwise's estimate of its input (the source record: what an admitted row counts
   * while its calls run) and of its output (approxBytes + the per-row overhead), and the
   * output's JSON line in UTF-8 bytes.
   */
  readonly rowInputEstimate: ReadonlyArray<number>
  readonly rowEstimate: ReadonlyArray<number>
  readonly rowUtf8: ReadonlyArray<number>
}

const TAG = /^«g:(\d+)» /

const jsonlFiles = (dir: string): Array<string> =>
  readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".jsonl") && !f.split(/[\\/]/).includes("rejects"))
    .sort()
    .map((f) => join(dir, f))

interface SinkRow {
  readonly gen: Array<number>
  readonly id: string
  readonly estimate: number
  readonly utf8: number
}

/**
 * Reads the sink, checking every row has n answers (and n valid scores); returns the request
 * ids per row, its conversation_id, Rowwise's estimate of it and its UTF-8 bytes.
 */
const readRows = async (sink: string, c: Case): Promise<Array<SinkRow>> => {
  const out: Array<SinkRow> = []
  for (const file of jsonlFiles(sink)) {
    const lines = createInterface({ input: createReadStream(file, { encoding: "utf8" }), crlfDelay: Number.POSITIVE_INFINITY })
    for await (const line of lines) {
      if (line.trim() === "") continue
      const r = JSON.parse(line) as {
        conversation_id?: string
        synthesized_assistant_responses?: Array<{ content?: string }>
        synthesized_response_scoring_annotations?: Array<{ preference_score?: number }>
      }
      const answers = r.synthesized_assistant_responses ?? []
      if (answers.length !== c.n) throw new Error(`${c.id}: row ${out.length} has ${answers.length} answers, expected ${c.n}`)
      const gen = answers.map((a) => {
        const m = TAG.exec(a.content ?? "")
        if (!m) throw new Error(`${c.id}: row ${out.length} holds an answer the server did not send: ${String(a.content).slice(0, 40)}`)
        return Number(m[1])
      })
      if (c.judge) {
        const scores = r.synthesized_response_scoring_annotations ?? []
        if (scores.length !== c.n || scores.some((s) => typeof s.preference_score !== "number" || s.preference_score < 0)) {
          throw new Error(`${c.id}: row ${out.length} has ${scores.length} judgements (or a failed one), expected ${c.n} scored`)
        }
      }
      out.push({ gen, id: String(r.conversation_id), estimate: Rowwise.approxBytes(r) + PER_ROW_OVERHEAD, utf8: Buffer.byteLength(line) })
    }
  }
  return out
}

/** Checks that the sink's rows are the sample's rows in input order (by conversation_id). */
export const checkInputOrder = (what: string, sinkIds: ReadonlyArray<string>, sourceIds: ReadonlyArray<string>): void => {
  if (sinkIds.length !== sourceIds.length) throw new Error(`${what}: the sink holds ${sinkIds.length} rows, the source ${sourceIds.length}`)
  for (let i = 0; i < sourceIds.length; i++) {
    if (sinkIds[i] !== sourceIds[i]) {
      throw new Error(`${what}: row ${i} of the sink is conversation ${sinkIds[i]}, the source's row ${i} is ${sourceIds[i]} (not in input order)`)
    }
  }
}

const jobsOf = (s: ModelStamps, what: string): Array<Job> =>
  s.arrivals.map((a, i) => {
    const c = s.completions[i]
    if (c === null || c === undefined) throw new Error(`${what} request ${i} was never answered`)
    return { available: 0, arrival: a, completion: c }
  })

const runCase = async (ctx: Context, c: Case, fleet: FleetProcess): Promise<Measured> => {
  const sample = await ensureSample(c.rows, ctx.options.seed, ctx.dirs.data, ctx.log)
  const work = join(ctx.dirs.out, `llm-occupancy-${c.id}`)
  mkdirSync(work, { recursive: true })
  const cache = join(work, "cache.sqlite")
  for (const f of ["", "-wal", "-shm", "-journal"]) rmSync(`${cache}${f}`, { force: true })
  const sink = join(work, "sink")
  rmSync(sink, { recursive: true, force: true })
  const file = join(work, "llm-occupancy.pipeline.yaml")
  writeFileSync(file, pipelineText(c, parquetGlob(sample), sink, cache, fleet))
  await reset(fleet.control, c.mode)
  ctx.log(`llm-occupancy ${c.id}: ${c.title}`)
  const r = await runCli(["run", file, "--fresh", ...(c.bufferMb === undefined ? [] : ["--buffer-mb", String(c.bufferMb)])])
  if (r.code !== 0) throw new Error(`synthline run ${file} failed (exit ${r.code ?? r.signal}):\n${(r.stderr || r.stdout).slice(-1500)}`)
  const manifestPath = join(sink, "manifest.json")
  if (!existsSync(manifestPath)) throw new Error(`synthline run wrote no manifest at ${manifestPath}`)
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as ManifestLike & { rejects?: { count?: number } }
  const facts = validateManifest(manifest, c.rows)
  if (facts.rowsWritten !== facts.rowsRead) throw new Error(`${c.id}: wrote ${facts.rowsWritten} of ${facts.rowsRead} rows`)
  if ((manifest.rejects?.count ?? 0) !== 0) throw new Error(`${c.id}: ${manifest.rejects?.count} rows went to rejects`)
  const rows = await readRows(sink, c)
  if (rows.length !== c.rows) throw new Error(`${c.id}: the sink holds ${rows.length} rows, the manifest says ${c.rows}`)
  // The sample's rows in source order (the generator is deterministic in seed and index).
  const sourceIds: Array<string> = []
  const rowInputEstimate: Array<number> = []
  for (const s of records(ctx.options.seed, c.rows)) {
    sourceIds.push(s.conversation_id)
    rowInputEstimate.push(Rowwise.approxBytes(s) + PER_ROW_OVERHEAD)
  }
  checkInputOrder(c.id, rows.map((x) => x.id), sourceIds)
  const occ = await stamps(fleet.control)
  const g = occ.models.gen
  const jd = occ.models.judge
  if (!g || !jd) throw new Error("llm-occupancy server: no stamps for gen/judge")
  if (g.arrivals.length !== c.rows * c.n) throw new Error(`${c.id}: the server saw ${g.arrivals.length} generate requests for ${c.rows} rows × n ${c.n}`)
  const judgeExpected = c.judge ? c.rows * c.n : 0
  if (jd.arrivals.length !== judgeExpected) throw new Error(`${c.id}: the server saw ${jd.arrivals.length} judge requests, expected ${judgeExpected}`)
  const gen = jobsOf(g, "generate")
  const judgeRaw = jobsOf(jd, "judge")
  // Each generate id appears in exactly one row; each judge request quotes one generate answer.
  const rowOfGen = new Int32Array(gen.length).fill(-1)
  rows.forEach((r, i) => {
    for (const id of r.gen) {
      if (id >= gen.length || rowOfGen[id] !== -1) throw new Error(`${c.id}: answer id ${id} is out of range or in two rows`)
      rowOfGen[id] = i
    }
  })
  const rowDone = rows.map((r) => Math.max(...r.gen.map((id) => gen[id]!.completion)))
  const rowIds = rows.map((r) => ({ gen: r.gen, judge: [] as Array<number> }))
  const judge = judgeRaw.map((j, i) => {
    const parent = jd.parents[i] ?? -1
    const rowIndex = parent >= 0 && parent < gen.length ? rowOfGen[parent]! : -1
    if (rowIndex < 0) throw new Error(`${c.id}: judge request ${i} judges no answer the server gave`)
    rowIds[rowIndex]!.judge.push(i)
    return { ...j, available: rowDone[rowIndex]! }
  })
  const first = gen.reduce((m, j) => Math.min(m, j.arrival), Number.POSITIVE_INFINITY)
  ctx.log(
    `  ${c.id}: ${(r.wallMs / 1000).toFixed(1)} s, ${gen.length + judge.length} requests, peak RSS ${Math.round(r.peakRssBytes / 2 ** 20)} MB, CPU ${r.cpuMs === null ? "?" : Math.round(r.cpuMs)} ms (server ${Math.round(occ.cpu_ms)} ms)`
  )
  return {
    c,
    wallMs: r.wallMs,
    rssBytes: r.peakRssBytes,
    cpuMs: r.cpuMs,
    serverCpuMs: occ.cpu_ms,
    rows: rows.length,
    gen: gen.map((j) => ({ ...j, available: first })),
    judge,
    genStamps: g,
    rowIds,
    rowInputEstimate,
    rowEstimate: rows.map((x) => x.estimate),
    rowUtf8: rows.map((x) => x.utf8)
  }
}

const pct = (x: number) => 100 * x
const round = (x: number) => Math.round(x)

/** The occupancy and span rows of one generate-only or chain case. */
const figuresOf = (m: Measured, capacity: number): Array<ResultRow> => {
  const { c } = m
  const g = spanOf(m.gen)
  const genOcc = occupancy(m.gen, capacity, g.firstArrival, g.lastArrival)
  const ideal = g.sumLatency / capacity
  const spanRatio = (g.lastArrival - g.firstArrival) / ideal
  const replay = replayIdeal(
    m.rowIds.map((r) => ({
      gen: r.gen.map((id) => m.gen[id]!.completion - m.gen[id]!.arrival),
      judge: r.judge.map((id) => m.judge[id]!.completion - m.judge[id]!.arrival)
    })),
    capacity,
    capacity
  )
  const rg = spanOf(replay.gen)
  const common = {
    rows: m.rows,
    n: c.n,
    C: capacity,
    endpoints: ENDPOINTS,
    latency: c.mode,
    wall_ms: round(m.wallMs),
    rss_bytes: m.rssBytes,
    cli_cpu_ms: m.cpuMs,
    server_cpu_ms: round(m.serverCpuMs),
    gen_requests: g.requests,
    gen_per_endpoint: m.genStamps.perEndpoint
  }
  const genDetail = {
    ...common,
    window_ms: round(g.lastArrival - g.firstArrival),
    span_ms: round(g.lastArrival - g.firstArrival),
    ideal_ms: round(ideal),
    makespan_ms: round(g.lastCompletion - g.firstArrival),
    longest_latency_ms: round(g.longest),
    sum_latency_ms: round(g.sumLatency),
    ideal_client_replay: {
      occupancy_pct: pct(occupancy(replay.gen, capacity, rg.firstArrival, rg.lastArrival)),
      span_ms: round(rg.lastArrival - rg.firstArrival),
      makespan_ms: round(rg.lastCompletion - rg.firstArrival)
    }
  }
  const prefix = `llm-occupancy ${c.id}`
  const out: Array<ResultRow> = [
    row({
      name: `${prefix} gen occupancy`,
      unit: "% of C",
      figure: pct(genOcc),
      budget: { op: ">=", value: 95 },
      baseline: 100,
      ratio: genOcc,
      detail: genDetail
    }),
    row({
      name: `${prefix} gen span ÷ ideal`,
      unit: "",
      figure: spanRatio,
      budget: { op: "<=", value: 1.1 },
      baseline: null,
      ratio: null,
      detail: genDetail
    })
  ]
  if (c.judge) {
    const j = spanOf(m.judge)
    const rj = spanOf(replay.judge)
    const judgeWork = workOccupancy(m.judge, capacity, j.firstArrival, j.lastArrival)
    const upstreamWindow = occupancy(m.judge, capacity, j.firstArrival, g.lastArrival)
    const detail = {
      ...common,
      judge_requests: j.requests,
      window_ms: round(j.lastArrival - j.firstArrival),
      while_generating_pct: pct(upstreamWindow),
      while_generating_window_ms: round(g.lastArrival - j.firstArrival),
      span_ms: round(j.lastArrival - j.firstArrival),
      ideal_ms: round(j.sumLatency / capacity),
      makespan_ms: round(j.lastCompletion - g.firstArrival),
      longest_latency_ms: round(j.longest),
      sum_latency_ms: round(j.sumLatency),
      ideal_client_replay: {
        occupancy_pct: pct(workOccupancy(replay.judge, capacity, rj.firstArrival, rj.lastArrival)),
        while_generating_pct: pct(occupancy(replay.judge, capacity, rj.firstArrival, rg.lastArrival)),
        makespan_ms: round(rj.lastCompletion)
      }
    }
    out.push(
      row({
        name: `${prefix} judge occupancy (of work available)`,
        unit: "% of C",
        figure: pct(judgeWork),
        budget: { op: ">=", value: 95 },
        baseline: 100,
        ratio: judgeWork,
        detail
      }),
      row({
        name: `${prefix} judge occupancy while generating`,
        unit: "% of C",
        figure: pct(upstreamWindow),
        budget: null,
        baseline: pct(occupancy(replay.judge, capacity, rj.firstArrival, rg.lastArrival)),
        ratio: null,
        detail
      })
    )
  }
  return out
}

/** Row counts of the cases for `--rows N` (the figures are for N ≥ 6,000). */
const casesFor = (rows: number): ReadonlyArray<Case> => {
  const base = Math.min(rows, 6000)
  const scale = base / 6000
  const at = (n: number) => Math.max(50, Math.round(n * scale))
  return [
    { id: "a", title: `generate n=2, C=512, ${at(6000)} rows, log-normal`, rows: at(6000), n: 2, judge: false, perEndpoint: 128, mode: LOGNORMAL },
    { id: "b", title: `generate n=10, C=512, ${at(1200)} rows, log-normal`, rows: at(1200), n: 10, judge: false, perEndpoint: 128, mode: LOGNORMAL },
    { id: "c", title: `generate n=2 → judge, C=512 each, ${at(6000)} rows, log-normal`, rows: at(6000), n: 2, judge: true, perEndpoint: 128, mode: LOGNORMAL },
    { id: "d", title: `generate n=1, C=512, ${at(60_000)} rows, fixed 100 ms`, rows: at(60_000), n: 1, judge: false, perEndpoint: 128, mode: { latency: "fixed", fixed_ms: 100, straggler: null, answer_bytes: 16 } },
    ...E_BOUNDS.map(
      (mb): Case => ({
        id: `e${mb}`,
        title: `generate n=10, C=2048, ${at(4000)} rows, ${E_ANSWER_BYTES} B answers, log-normal + one ${STRAGGLER_MS / 1000} s straggler, --buffer-mb ${mb}`,
        rows: at(4000),
        n: 10,
        judge: false,
        perEndpoint: 512,
        mode: { ...LOGNORMAL, answer_bytes: E_ANSWER_BYTES, straggler: { model: "gen", index: STRAGGLER_INDEX, ms: STRAGGLER_MS } },
        bufferMb: mb
      })
    ),
    { id: "e0", title: `generate n=10, C=2048, ${at(4000)} rows, ${E_ANSWER_BYTES} B answers, log-normal, no straggler, default buffer`, rows: at(4000), n: 10, judge: false, perEndpoint: 512, mode: { ...LOGNORMAL, answer_bytes: E_ANSWER_BYTES } }
  ]
}

const MB = 1024 * 1024

export const llmOccupancy: Benchmark = {
  name: "llm-occupancy",
  description:
    "first-turn → synth/generate [→ synth/judge] against 4+4 local endpoints with log-normal answer times (median 400 ms, sigma 1.2): slot occupancy, span ÷ ideal, fixed-latency rate, RSS with a 60 s straggler",
  run: async (ctx) => {
    // SYNTHLINE_BENCH_OCCUPANCY_CASES=a,c runs only those cases (for working on one of them).
    const pick = (process.env.SYNTHLINE_BENCH_OCCUPANCY_CASES ?? "").split(",").filter((s) => s !== "")
    // `e` brings all of its runs (e64, e256, e0).
    const cases = casesFor(ctx.options.rows).filter((c) => pick.length === 0 || pick.includes(c.id) || (c.id.startsWith("e") && pick.includes("e")))
    const fleet = await startFleet()
    const results: Array<ResultRow> = []
    const runs = ctx.options.runs
    const median = <T>(xs: ReadonlyArray<T>, key: (x: T) => number): T => [...xs].sort((a, b) => key(a) - key(b))[Math.floor((xs.length - 1) / 2)]!
    try {
      const measured = new Map<string, Measured>()
      for (const c of cases) {
        const all: Array<Measured> = []
        for (let i = 0; i < runs; i++) all.push(await runCase(ctx, c, fleet))
        // The run with the median wall time stands for the case (its stamps are one consistent run).
        measured.set(c.id, median(all, (m) => m.wallMs))
      }
      for (const id of ["a", "b", "c"]) {
        const m = measured.get(id)
        if (m) results.push(...figuresOf(m, 512))
      }
      const d = measured.get("d")
      if (d) results.push(fixedRateRow(d))
      const e0 = measured.get("e0")
      const withStraggler = E_BOUNDS.flatMap((mb) => measured.get(`e${mb}`) ?? [])
      if (e0 && withStraggler.length > 0) results.push(...memoryRows(withStraggler, e0))
    } finally {
      fleet.child.kill("SIGTERM")
    }
    return results
  }
}

/** (d) fixed latency: requests/s between the first arrival and the last answer, ÷ C/L. */
const fixedRateRow = (d: Measured): ResultRow => {
  const ds = spanOf(d.gen)
  const rate = ds.requests / ((ds.lastCompletion - ds.firstArrival) / 1000)
  const limit = 512 / 0.1
  return row({
    name: "llm-occupancy d fixed 100 ms rate",
    unit: "% of C/L",
    figure: (100 * rate) / limit,
    budget: { op: ">=", value: 95 },
    baseline: 100,
    ratio: rate / limit,
    detail: {
      rows: d.rows,
      C: 512,
      requests_per_s: rate,
      limit_per_s: limit,
      served_ms: round(ds.lastCompletion - ds.firstArrival),
      occupancy_pct: pct(occupancy(d.gen, 512, ds.firstArrival, ds.lastArrival)),
      wall_ms: round(d.wallMs),
      whole_process_rows_per_s: d.rows / (d.wallMs / 1000),
      rss_bytes: d.rssBytes,
      cli_cpu_ms: d.cpuMs,
      // ≈ 1000 / limit_per_s or more means the client is CPU-bound, not scheduling-bound.
      cli_cpu_ms_per_request: d.cpuMs === null ? null : d.cpuMs / ds.requests,
      server_cpu_ms: round(d.serverCpuMs)
    }
  })
}

/**
 * (e) the reorder buffer's bound: peak RSS with one 60 s straggler at each bound, against the
 * same rows without it; the straggler's row and what the buffer held when it came back.
 */
const memoryRows = (runs: ReadonlyArray<Measured>, e0: Measured): Array<ResultRow> => {
  const sum = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0)
  const e0s = spanOf(e0.gen)
  // What a buffer without a bound would hold behind the straggler: the rows the run without it
  // finished within 60 s of its first request (here: all of them), Rowwise's estimate of them.
  const e0Done = e0.rowIds.map((r) => Math.max(...r.gen.map((id) => e0.gen[id]!.completion)))
  const unboundedRows = e0Done.flatMap((t, i) => (t - e0s.firstArrival <= STRAGGLER_MS ? [i] : []))
  const without = {
    rss_mb: e0.rssBytes / MB,
    wall_ms: round(e0.wallMs),
    occupancy_pct: pct(occupancy(e0.gen, 2048, e0s.firstArrival, e0s.lastArrival)),
    span_ms: round(e0s.lastArrival - e0s.firstArrival),
    ideal_ms: round(e0s.sumLatency / 2048),
    cli_cpu_ms: e0.cpuMs,
    estimated_mb_all_rows: sum(e0.rowEstimate) / MB,
    utf8_mb_all_rows: sum(e0.rowUtf8) / MB,
    rows_done_within_60_s: unboundedRows.length,
    estimated_mb_done_within_60_s: sum(unboundedRows.map((i) => e0.rowEstimate[i]!)) / MB
  }
  const out: Array<ResultRow> = []
  for (const m of runs) {
    const mb = m.c.bufferMb!
    const s = spanOf(m.gen)
    const straggler = m.gen[STRAGGLER_INDEX - 1]!
    const rowDone = m.rowIds.map((r) => Math.max(...r.gen.map((id) => m.gen[id]!.completion)))
    const stragglerRow = m.rowIds.findIndex((r) => r.gen.includes(STRAGGLER_INDEX - 1))
    // The rows after the straggler's that were finished when its answer came: all held in the buffer.
    const held = rowDone.flatMap((t, i) => (i > stragglerRow && t < straggler.completion ? [i] : []))
    // When admission stopped (the last row admitted, i.e. first request sent, before the release):
    // the rows from the straggler's on, done (counted at their output's estimate) and still
    // waiting on calls (counted at their input's, until their answers come).
    const rowFirst = m.rowIds.map((r) => Math.min(...r.gen.map((id) => m.gen[id]!.arrival)))
    const behind = rowFirst.flatMap((t, i) => (i >= stragglerRow && t < straggler.completion ? [i] : []))
    const stop = Math.max(...behind.map((i) => rowFirst[i]!))
    const doneAtStop = behind.filter((i) => rowDone[i]! <= stop)
    const openAtStop = behind.filter((i) => rowDone[i]! > stop)
    const mbOf = (xs: ReadonlyArray<number>, of: ReadonlyArray<number>) => sum(xs.map((i) => of[i]!)) / MB
    const detail = {
      rows: m.rows,
      n: m.c.n,
      C: 2048,
      answer_bytes: E_ANSWER_BYTES,
      buffer_mb: mb,
      straggler: { index: STRAGGLER_INDEX, ms: STRAGGLER_MS, row: stragglerRow },
      rss_mb: m.rssBytes / MB,
      rss_mb_without: e0.rssBytes / MB,
      rss_growth_mb: (m.rssBytes - e0.rssBytes) / MB,
      wall_ms: round(m.wallMs),
      occupancy_pct_while_straggler_out: pct(occupancy(m.gen, 2048, straggler.arrival, straggler.completion)),
      occupancy_pct: pct(occupancy(m.gen, 2048, s.firstArrival, s.lastArrival)),
      span_ms: round(s.lastArrival - s.firstArrival),
      makespan_ms: round(s.lastCompletion - s.firstArrival),
      held_at_release: {
        rows: held.length,
        estimated_mb: mbOf(held, m.rowEstimate),
        utf8_mb: mbOf(held, m.rowUtf8)
      },
      when_admission_stopped: {
        ms_after_first_request: round(stop - s.firstArrival),
        rows_done: doneAtStop.length,
        estimated_mb_done: mbOf(doneAtStop, m.rowEstimate),
        rows_waiting_on_calls: openAtStop.length,
        estimated_mb_waiting_as_admitted: mbOf(openAtStop, m.rowInputEstimate),
        estimated_mb_waiting_once_answered: mbOf(openAtStop, m.rowEstimate)
      },
      cli_cpu_ms: m.cpuMs,
      without
    }
    out.push(
      row({
        name: `llm-occupancy e peak RSS, ${STRAGGLER_MS / 1000} s straggler, --buffer-mb ${mb}`,
        unit: "MB",
        figure: m.rssBytes / MB,
        budget: null,
        baseline: e0.rssBytes / MB,
        ratio: m.rssBytes / e0.rssBytes,
        detail
      }),
      row({
        // Rowwise's own estimate of the rows it held while the straggler was out, against the bound.
        name: `llm-occupancy e reorder buffer at release (estimated), --buffer-mb ${mb}`,
        unit: "MB",
        figure: detail.held_at_release.estimated_mb,
        budget: null,
        baseline: mb,
        ratio: detail.held_at_release.estimated_mb / mb,
        detail
      }),
      row({
        name: `llm-occupancy e RSS with straggler − without, --buffer-mb ${mb}`,
        unit: "MB",
        figure: (m.rssBytes - e0.rssBytes) / MB,
        budget: { op: "<=", value: mb },
        baseline: null,
        ratio: null,
        detail
      })
    )
  }
  out.push(row({ name: "llm-occupancy e peak RSS, no straggler", unit: "MB", figure: e0.rssBytes / MB, budget: null, baseline: null, ratio: null, detail: without }))
  return out
}

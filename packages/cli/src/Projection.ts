/**
 * Estimates of a whole run from a sample (`synthline estimate`): the pipeline runs on N rows
 * spread over the input at a fixed stride, into a scratch folder (never the real sink), and its
 * manifest is scaled to the whole input — rows per stage, requests and tokens per model, DeepL
 * characters, cost and wall time at the configured concurrency.
 *
 * The sample: the input's rows are numbered in planning order (units in order, rows in a unit in
 * order) and row `floor((i + 0.5) * total / N)` is taken for i in 0..N-1. Units whose row count
 * planning does not know (gzip JSON lines) get one by counting the first such unit and
 * extrapolating the others by their bytes, unless the caller gives the total.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Effect, Stream } from "effect"
import { RunError, type SinkError, type SourceError, type StageError } from "@synthline/core/Errors"
import type * as Manifest from "@synthline/core/Manifest"
import type { ResolvedPipeline } from "@synthline/core/Pipeline"
import type * as Progress from "@synthline/core/Progress"
import { isRecord } from "@synthline/core/Row"
import * as Runner from "@synthline/core/Runner"
import type { AnySource, SourceEnv, WorkUnit } from "@synthline/core/Source"

/** Default sample size. */
export const defaultSampleRows: number = 200

/** How the input's total row count was found. */
export type TotalBasis = "planned" | "bytes" | "given"

/** What the sample was drawn from. */
export interface SampleInfo {
  /** Rows of the whole input (exact when `basis` is `planned`). */
  readonly rowsTotal: number
  readonly basis: TotalBasis
  /** How an unknown total was found, in words (absent when planning knew every unit's rows). */
  readonly note?: string | undefined
  readonly units: number
  readonly unitsSampled: number
  /** Rows asked for (the sample size, at most the input's rows). */
  readonly rowsAsked: number
}

/** Options of {@link sample}. */
export interface SampleOptions {
  /** Rows in the sample. Default {@link defaultSampleRows}. */
  readonly rows?: number | undefined
  /** The input's row count, when the caller knows it; replaces counting and extrapolating. */
  readonly rowsTotal?: number | undefined
  /** Folder the sample run writes into (its sink and branches go below it). */
  readonly scratch: string
}

/** Row positions `floor((i + 0.5) * total / n)`, i in 0..n-1: n rows spread evenly over `total`. */
export const stride = (total: number, n: number): ReadonlyArray<number> => {
  const k = Math.min(n, total)
  return Array.from({ length: k }, (_, i) => Math.floor(((i + 0.5) * total) / k))
}

const noReject = { reject: () => undefined }

/** Rows per unit, as planned, counted or extrapolated by bytes. */
const rowsPerUnit = (
  units: ReadonlyArray<WorkUnit>,
  source: AnySource,
  config: unknown,
  env: SourceEnv,
  given: number | undefined
): Effect.Effect<{ rows: ReadonlyArray<number>; basis: TotalBasis; note?: string }, RunError | SourceError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const unknown = units.filter((u) => u.rows === undefined)
    const known = units.reduce((n, u) => n + (u.rows ?? 0), 0)
    if (unknown.length === 0) {
      return given === undefined
        ? { rows: units.map((u) => u.rows ?? 0), basis: "planned" as const }
        : { rows: units.map((u) => u.rows ?? 0), basis: "given" as const, note: `--rows-total ${given} (planning counted ${known})` }
    }
    // A whole gzip file's unit carries no size: its file's size on disk stands for it.
    const fs = yield* FileSystem.FileSystem
    const sizes = new Map<WorkUnit, number>()
    for (const u of unknown) {
      const size =
        u.bytes ??
        (u.byteStart !== undefined && u.byteEnd !== undefined
          ? u.byteEnd - u.byteStart
          : yield* fs.stat(u.file).pipe(
              Effect.map((i) => Number(i.size)),
              Effect.orElseSucceed(() => 0)
            ))
      sizes.set(u, size)
    }
    const bytesOf = (u: WorkUnit): number => sizes.get(u) ?? 0
    const totalBytes = unknown.reduce((n, u) => n + bytesOf(u), 0)
    const byBytes = unknown.every((u) => bytesOf(u) > 0)
    if (given !== undefined) {
      const rest = Math.max(0, given - known)
      const share = (u: WorkUnit) => (byBytes ? Math.round((rest * bytesOf(u)) / totalBytes) : Math.round(rest / unknown.length))
      return {
        rows: units.map((u) => u.rows ?? share(u)),
        basis: "given" as const,
        note: `--rows-total ${given}; ${unknown.length} unit(s) without a planned row count were given their share ${byBytes ? "by bytes" : "evenly"}`
      }
    }
    if (!byBytes) {
      return yield* new RunError({
        reason: `${unknown.length} input unit(s) have neither a planned row count nor a size in bytes (${unknown[0]!.id}): give the input's row count with --rows-total`,
        exitCode: 2
      })
    }
    const first = unknown[0]!
    const counted = yield* Stream.runCount(source.read(first, config, noReject, env))
    const density = counted / bytesOf(first)
    const rows = units.map((u) => (u === first ? counted : (u.rows ?? Math.round(bytesOf(u) * density))))
    return {
      rows,
      basis: "bytes" as const,
      note:
        unknown.length === 1
          ? `${first.id} has no planned row count: its ${counted} rows were counted`
          : `estimated from bytes: ${counted} rows counted in ${first.id} (${bytesOf(first)} bytes), the other ${unknown.length - 1} unit(s) without a planned row count extrapolated by their size`
    }
  })

/**
 * The pipeline reading only a stride sample of its input, with its sink and branches moved into
 * `options.scratch`, and what the sample was drawn from.
 */
export const sample = (
  pipeline: ResolvedPipeline,
  options: SampleOptions
): Effect.Effect<{ readonly pipeline: ResolvedPipeline; readonly info: SampleInfo }, RunError | SourceError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const source = pipeline.source.def
    const env: SourceEnv = { baseDir: pipeline.baseDir }
    const units = yield* source.plan(pipeline.source.config, env)
    const counts = yield* rowsPerUnit(units, source, pipeline.source.config, env, options.rowsTotal)
    const planned = counts.rows.reduce((n, r) => n + r, 0)
    const rowsTotal = options.rowsTotal ?? planned
    const picks = new Map<string, Set<number>>()
    let start = 0
    let u = 0
    for (const p of stride(planned, options.rows ?? defaultSampleRows)) {
      while (u < units.length && p >= start + counts.rows[u]!) start += counts.rows[u++]!
      if (u >= units.length) break
      const id = units[u]!.id
      const set = picks.get(id) ?? new Set<number>()
      set.add(p - start)
      picks.set(id, set)
    }
    const chosen = units.filter((w) => picks.has(w.id)).map((w) => ({ ...w, rows: picks.get(w.id)!.size }))
    const def: AnySource = {
      ...source,
      plan: () => Effect.succeed(chosen),
      read: (unit, config, io, readEnv) => {
        const set = picks.get(unit.id) ?? new Set<number>()
        const last = Math.max(-1, ...set)
        return source.read(unit, config, io, readEnv).pipe(
          Stream.take(last + 1),
          Stream.zipWithIndex,
          Stream.filter(([, i]) => set.has(i)),
          Stream.map(([row]) => row)
        )
      }
    }
    const moved = new Map([...pipeline.branches].map(([name, b]) => [name, { ...b, config: { ...b.config, path: path.join(options.scratch, "branches", name) } }]))
    return {
      pipeline: {
        ...pipeline,
        source: { def, config: pipeline.source.config },
        sink: { ...pipeline.sink, config: { ...pipeline.sink.config, path: path.join(options.scratch, "main") } },
        branches: moved
      },
      info: {
        rowsTotal,
        basis: counts.basis,
        note: counts.note,
        units: units.length,
        unitsSampled: chosen.length,
        rowsAsked: Math.min(options.rows ?? defaultSampleRows, planned)
      }
    }
  })

/** Tokens of one answer, from a model's wire log. */
export interface AnswerTokens {
  readonly prompt: number
  readonly completion: number
}

/** What the sample run did: its manifest and, per model, the tokens of each answer that went over the wire. */
export interface SampleRun {
  readonly info: SampleInfo
  readonly manifest: Manifest.Manifest
  readonly answers: { readonly [model: string]: ReadonlyArray<AnswerTokens> }
}

/**
 * Runs the pipeline on a stride sample of its input in `options.scratch` (fresh each time, in one
 * thread, rejects tolerated), and reads back its manifest and each model's answers' tokens.
 */
export const runSample = (
  pipeline: ResolvedPipeline,
  options: SampleOptions & { readonly reporter?: Progress.Reporter | undefined }
): Effect.Effect<SampleRun, RunError | SinkError | SourceError | StageError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const { pipeline: sampled, info } = yield* sample(pipeline, options)
    const result = yield* Runner.run(sampled, {
      fresh: true,
      maxErrors: Number.MAX_SAFE_INTEGER,
      workers: 1,
      reporter: options.reporter
    })
    const state = path.join(options.scratch, "main", "_state")
    const files = yield* fs.readDirectory(state, { recursive: true }).pipe(Effect.orElseSucceed(() => []))
    const answers: { [model: string]: Array<AnswerTokens> } = {}
    for (const f of files) {
      const m = /(?:^|\/)llm-usage-(.+)\.log$/.exec(f)
      if (m === null) continue
      const text = yield* fs.readFileString(path.join(state, f)).pipe(Effect.orElseSucceed(() => ""))
      const list: Array<AnswerTokens> = []
      for (const line of text.split("\n")) {
        const [tag, , p, q] = line.split(" ")
        if (tag === "a") list.push({ prompt: Number(p) || 0, completion: Number(q) || 0 })
      }
      answers[decodeURIComponent(m[1]!)] = list
    }
    return { info, manifest: result.manifest, answers }
  })

/** One stage of the projection. */
export interface StageProjection {
  readonly id: string
  readonly rows_in: number
  readonly rows_out: number
}

/** Percentiles of tokens per answer in the sample. */
export interface Spread {
  readonly answers: number
  readonly prompt_p50: number
  readonly prompt_p95: number
  readonly completion_p50: number
  readonly completion_p95: number
  readonly total_p50: number
  readonly total_p95: number
}

/** One model (or DeepL) of the projection. */
export interface ModelProjection {
  readonly name: string
  /** Requests the whole input needs with an empty response cache (retries of the sample included). */
  readonly requests: number
  readonly prompt_tokens: number
  readonly completion_tokens: number
  /** DeepL: characters sent. */
  readonly characters?: number | undefined
  /** USD with an empty response cache, when the model has a `price`. */
  readonly usd?: number | undefined
  /** Requests in flight at once: concurrency × endpoints. */
  readonly slots?: number | undefined
  /** Mean time of one request in the sample, in ms. */
  readonly mean_latency_ms?: number | undefined
  /** requests × mean latency ÷ slots (or the request rate limit, when slower), in ms; absent in batch mode. */
  readonly wall_ms?: number | undefined
  readonly mode?: string | undefined
  /** Tokens per answer in the sample (answers that went over the wire). */
  readonly spread?: Spread | undefined
}

/** The projection of a whole run from a sample. */
export interface Projection {
  readonly sample: SampleInfo & { readonly rows_read: number; readonly rejected: number; readonly scale: number }
  readonly rows: {
    readonly read: number
    readonly written: number
    readonly rejected: number
    /** Rows into each branch and output of `outputs:`, by name. */
    readonly branches: { readonly [name: string]: number }
  }
  readonly stages: ReadonlyArray<StageProjection>
  readonly models: ReadonlyArray<ModelProjection>
  /** Sum of the models' costs (those with a price). */
  readonly usd?: number | undefined
  /** The slowest model's wall time: models of different stages work at the same time. */
  readonly wall_ms?: number | undefined
}

const num = (u: unknown): number => (typeof u === "number" && Number.isFinite(u) ? u : 0)

/** The value at quantile q (0..1) of sorted numbers, nearest rank. */
export const quantile = (sorted: ReadonlyArray<number>, q: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!

const spreadOf = (answers: ReadonlyArray<AnswerTokens>): Spread | undefined => {
  if (answers.length === 0) return undefined
  const s = (f: (a: AnswerTokens) => number) => answers.map(f).sort((a, b) => a - b)
  const p = s((a) => a.prompt)
  const c = s((a) => a.completion)
  const t = s((a) => a.prompt + a.completion)
  return {
    answers: answers.length,
    prompt_p50: quantile(p, 0.5),
    prompt_p95: quantile(p, 0.95),
    completion_p50: quantile(c, 0.5),
    completion_p95: quantile(c, 0.95),
    total_p50: quantile(t, 0.5),
    total_p95: quantile(t, 0.95)
  }
}

/** Scales a sample run to the whole input, with the `models` section for concurrency and rate limits. */
export const project = (run: SampleRun, models: unknown): Projection => {
  const m = run.manifest
  const read = m.source.rows_read
  const scale = read === 0 ? 0 : run.info.rowsTotal / read
  const up = (n: number) => Math.round(n * scale)
  const section = isRecord(models) ? models : {}
  const projected: Array<ModelProjection> = []
  for (const [name, raw] of Object.entries(m.model_usage)) {
    if (!isRecord(raw)) continue
    const config = isRecord(section[name]) ? section[name] : undefined
    const requests = num(raw.requests) + num(raw.cache_hits)
    const cost = isRecord(raw.cost) ? raw.cost : undefined
    if (typeof raw.characters === "number") {
      // DeepL: the characters the cache answered are sent too with an empty cache.
      const usd = cost === undefined ? undefined : Math.round((num(cost.usd) + num(cost.saved_by_cache_usd)) * scale * 100) / 100
      const characters = up(raw.characters + num(raw.cache_hit_characters))
      projected.push({ name, requests: up(requests), prompt_tokens: 0, completion_tokens: 0, characters, usd })
      continue
    }
    const endpoints = config !== undefined && Array.isArray(config.endpoints) ? Math.max(1, config.endpoints.length) : 1
    const slots = config !== undefined ? num(config.concurrency) * endpoints || undefined : undefined
    const mode = config !== undefined && typeof config.mode === "string" ? config.mode : undefined
    const sent = num(raw.requests)
    const busy = num(raw.busy_ms)
    const mean = sent > 0 && slots !== undefined ? (busy * Math.min(slots, sent)) / sent : undefined
    const total = up(requests)
    const rpm = config !== undefined ? num(config.requests_per_minute) : 0
    const wall =
      mode === "batch" || mean === undefined || slots === undefined
        ? undefined
        : Math.max((total * mean) / slots, rpm > 0 ? (total / rpm) * 60_000 : 0)
    projected.push({
      name,
      requests: total,
      prompt_tokens: up(num(raw.prompt_tokens) + num(raw.cache_hit_prompt_tokens)),
      completion_tokens: up(num(raw.completion_tokens) + num(raw.cache_hit_completion_tokens)),
      usd: cost === undefined ? undefined : Math.round((num(cost.usd) + num(cost.saved_by_cache_usd)) * scale * 100) / 100,
      slots,
      mean_latency_ms: mean === undefined ? undefined : Math.round(mean),
      wall_ms: wall === undefined ? undefined : Math.round(wall),
      mode,
      spread: spreadOf(run.answers[name] ?? [])
    })
  }
  const priced = projected.filter((p) => p.usd !== undefined)
  const walls = projected.flatMap((p) => (p.wall_ms === undefined ? [] : [p.wall_ms]))
  return {
    sample: { ...run.info, rows_read: read, rejected: m.rejects.count, scale },
    rows: {
      read: run.info.rowsTotal,
      written: up(m.outputs.main.rows),
      rejected: up(m.rejects.count),
      branches: Object.fromEntries(Object.entries(m.outputs.branches).map(([name, b]) => [name, up(b.rows)]))
    },
    stages: m.stages.map((s) => ({ id: s.id, rows_in: up(s.rows_in), rows_out: up(s.rows_out) })),
    models: projected,
    usd: priced.length === 0 ? undefined : Math.round(priced.reduce((n, p) => n + (p.usd ?? 0), 0) * 100) / 100,
    wall_ms: walls.length === 0 ? undefined : Math.max(...walls)
  }
}

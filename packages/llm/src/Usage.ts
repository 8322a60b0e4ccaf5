/**
 * Usage accounting per model and endpoint: requests, retries, failures by kind, cache hits,
 * prompt and completion tokens. Reported into the run manifest's `model_usage` and continued
 * when a run resumes: what went over the wire from a durable log of the run's state folder (so a
 * request a kill cut off is still counted), the rest from the last committed work unit.
 */
import { closeSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from "node:fs"
import type { Completion } from "./Chat.js"
import type { FailureKind } from "./Errors.js"

/** Counters of one endpoint. */
export interface EndpointUsage {
  requests: number
  errors: { [kind: string]: number }
  prompt_tokens: number
  completion_tokens: number
}

/** Counters of one model, as written into `manifest.model_usage[name]`. */
export interface ModelUsage {
  /** The model name sent in requests. */
  model: string
  /** Calls asked of the client (one per answer wanted). */
  calls: number
  /** Calls answered from the cache, with no request. */
  cache_hits: number
  /** HTTP requests sent, retries included. */
  requests: number
  /** Requests that were retries of an earlier failed attempt. */
  retries: number
  /** Calls that ended in an answer from the server. */
  completions: number
  /** Failed attempts by kind (retried or not). */
  errors: { [kind: string]: number }
  /** Calls that failed for good, by the kind of their last error. */
  failures: { [kind: string]: number }
  /** Answers cut off by the token limit (`finish_reason: length`). */
  truncated: number
  prompt_tokens: number
  completion_tokens: number
  /** Of `prompt_tokens`: those the provider served from its prompt cache (billed at `price.cached_input`). */
  cached_prompt_tokens: number
  /** Of the tokens: those of batch-mode answers (billed with `price.batch_discount` off). */
  batch_prompt_tokens: number
  batch_completion_tokens: number
  /** Tokens of the answers the response cache gave (what they cost when they were asked). */
  cache_hit_prompt_tokens: number
  cache_hit_completion_tokens: number
  /** Time the model had requests in flight, in ms (what `price.per_hour` is charged for). */
  busy_ms: number
  /** Per endpoint (base URL without credentials). */
  endpoints: { [endpoint: string]: EndpointUsage }
  /** The cost ledger, when the model has a `price`. */
  cost?: Cost
}

/** What a model's calls cost and what was saved, in USD (`manifest.model_usage[name].cost`). */
export interface Cost {
  /** What was paid for: tokens at their price (batch tokens with the discount off), plus hours. */
  usd: number
  /** What the cache hits would have cost had they been asked. */
  saved_by_cache_usd: number
  /** What batch mode took off the batch tokens' price. */
  saved_by_batch_usd: number
}

/** A price as the ledger reads it (the `price` of a model). */
export interface PriceLike {
  readonly input?: number | undefined
  readonly output?: number | undefined
  readonly cached_input?: number | undefined
  readonly batch_discount: number
  readonly per_hour?: number | undefined
}

const usd = (n: number): number => Math.round(n * 1e6) / 1e6

/** The cost ledger of a model's counters at a price (`batch`: the model runs in batch mode, so cache hits saved batch prices). */
export const cost = (u: ModelUsage, price: PriceLike, batch: boolean): Cost => {
  const input = price.input ?? 0
  const output = price.output ?? 0
  const cachedInput = price.cached_input ?? input
  const d = price.batch_discount
  const tokens = (prompt: number, completion: number) => (prompt * input + completion * output) / 1e6
  const onlinePrompt = Math.max(0, u.prompt_tokens - u.batch_prompt_tokens)
  const onlineCompletion = Math.max(0, u.completion_tokens - u.batch_completion_tokens)
  const cached = Math.min(onlinePrompt, u.cached_prompt_tokens)
  const online = ((onlinePrompt - cached) * input + cached * cachedInput + onlineCompletion * output) / 1e6
  const batchFull = tokens(u.batch_prompt_tokens, u.batch_completion_tokens)
  const hours = price.per_hour !== undefined ? (price.per_hour * u.busy_ms) / 3_600_000 : 0
  const hits = tokens(u.cache_hit_prompt_tokens, u.cache_hit_completion_tokens) * (batch ? 1 - d : 1)
  return {
    usd: usd(online + batchFull * (1 - d) + hours),
    saved_by_cache_usd: usd(hits),
    saved_by_batch_usd: usd(batchFull * d)
  }
}

/**
 * Adds `characters` sent to a service billed per character (DeepL) to a cost ledger at
 * `per1m` USD per 1M characters; `cached` characters the response cache answered count as saved.
 * The ledger is kept unrounded; {@link rounded} gives the manifest's figures.
 */
export const chargeCharacters = (ledger: Cost, per1m: number, characters: number, cached: number): void => {
  ledger.usd += (characters * per1m) / 1e6
  ledger.saved_by_cache_usd += (cached * per1m) / 1e6
}

/** A cost ledger with its figures rounded to a millionth of a dollar, as the manifest shows them. */
export const rounded = (c: Cost): Cost => ({ usd: usd(c.usd), saved_by_cache_usd: usd(c.saved_by_cache_usd), saved_by_batch_usd: usd(c.saved_by_batch_usd) })

/**
 * `total` shared out in whole numbers by `weights` (largest remainder; equal shares when the
 * weights are all 0): the parts add up to `total`.
 */
export const shareOut = (total: number, weights: ReadonlyArray<number>): Array<number> => {
  const sum = weights.reduce((a, w) => a + w, 0)
  const ws = sum > 0 ? weights : weights.map(() => 1)
  const wsum = sum > 0 ? sum : weights.length
  const exact = ws.map((w) => (total * w) / wsum)
  const parts = exact.map(Math.floor)
  let left = total - parts.reduce((a, p) => a + p, 0)
  const order = exact.map((x, i) => ({ i, r: x - Math.floor(x) })).sort((a, b) => b.r - a.r || a.i - b.i)
  for (let k = 0; left > 0 && k < order.length; k++, left--) parts[order[k]!.i]!++
  return parts
}

/**
 * The answers of one request that asked for several choices (`n`), each with its share of the
 * request's tokens: the server reports only the sums, so the prompt (and its cached part) is
 * shared out evenly and the completion tokens by answer length. The shares add up to what was
 * billed, so cache hits on them later count what they cost. An answer of one choice is itself.
 */
export const splitChoices = (answer: Omit<Completion, "cached">): Array<Completion> => {
  const choices = answer.choices ?? [{ content: answer.content, finish_reason: answer.finish_reason }]
  const even = choices.map(() => 1)
  const prompt = shareOut(answer.usage.prompt_tokens, even)
  const cached = shareOut(answer.usage.cached_tokens ?? 0, even)
  const completion = shareOut(answer.usage.completion_tokens, choices.map((c) => c.content.length))
  return choices.map((c, i) => ({
    content: c.content,
    finish_reason: c.finish_reason,
    usage:
      cached[i]! > 0
        ? { prompt_tokens: prompt[i]!, completion_tokens: completion[i]!, cached_tokens: cached[i]! }
        : { prompt_tokens: prompt[i]!, completion_tokens: completion[i]! },
    cached: false
  }))
}

/** Fresh counters, or counters continued from a recovered report. */
export const make = (model: string, endpoints: ReadonlyArray<string>, recovered: unknown): ModelUsage => {
  const base: ModelUsage = {
    model,
    calls: 0,
    cache_hits: 0,
    requests: 0,
    retries: 0,
    completions: 0,
    errors: {},
    failures: {},
    truncated: 0,
    prompt_tokens: 0,
    completion_tokens: 0,
    cached_prompt_tokens: 0,
    batch_prompt_tokens: 0,
    batch_completion_tokens: 0,
    cache_hit_prompt_tokens: 0,
    cache_hit_completion_tokens: 0,
    busy_ms: 0,
    endpoints: Object.fromEntries(
      endpoints.map((e) => [e, { requests: 0, errors: {}, prompt_tokens: 0, completion_tokens: 0 }])
    )
  }
  if (typeof recovered !== "object" || recovered === null) return base
  const r = recovered as Partial<ModelUsage>
  const num = (u: unknown): number => (typeof u === "number" ? u : 0)
  const counts = (u: unknown): { [k: string]: number } =>
    typeof u === "object" && u !== null ? Object.fromEntries(Object.entries(u).map(([k, v]) => [k, num(v)])) : {}
  const eps = typeof r.endpoints === "object" && r.endpoints !== null ? r.endpoints : {}
  for (const [e, v] of Object.entries(eps)) {
    base.endpoints[e] = {
      requests: num(v.requests),
      errors: counts(v.errors),
      prompt_tokens: num(v.prompt_tokens),
      completion_tokens: num(v.completion_tokens)
    }
  }
  return {
    ...base,
    calls: num(r.calls),
    cache_hits: num(r.cache_hits),
    requests: num(r.requests),
    retries: num(r.retries),
    completions: num(r.completions),
    errors: counts(r.errors),
    failures: counts(r.failures),
    truncated: num(r.truncated),
    prompt_tokens: num(r.prompt_tokens),
    completion_tokens: num(r.completion_tokens),
    cached_prompt_tokens: num(r.cached_prompt_tokens),
    batch_prompt_tokens: num(r.batch_prompt_tokens),
    batch_completion_tokens: num(r.batch_completion_tokens),
    cache_hit_prompt_tokens: num(r.cache_hit_prompt_tokens),
    cache_hit_completion_tokens: num(r.cache_hit_completion_tokens),
    busy_ms: num(r.busy_ms)
  }
}

/** Adds one to a by-kind counter. */
export const bump = (counts: { [kind: string]: number }, kind: FailureKind): void => {
  counts[kind] = (counts[kind] ?? 0) + 1
}

/**
 * The counters of what went over the wire — requests, retries, answers and their tokens, failed
 * attempts — kept in an append-only file of the run's state folder as they happen, so a resumed
 * run counts the requests a `kill -9` cut off too (the manifest's `requests` equals what the
 * servers received). The other counters (calls, cache hits, failures) follow the work units.
 */
export interface WireLog {
  /** A request goes out on endpoint `endpoint` (index into the endpoints). */
  readonly request: (endpoint: number) => void
  /** A retry starts. */
  readonly retry: () => void
  /** An answer came back. */
  readonly answer: (endpoint: number, promptTokens: number, completionTokens: number) => void
  /** Another answer of the request whose `answer` carried the tokens (`choices_per_request`): one more completion, no tokens. */
  readonly choice: () => void
  /** An attempt failed. */
  readonly error: (endpoint: number, kind: FailureKind) => void
  readonly close: () => void
}

/** The wire counters of {@link ModelUsage}. */
type Wire = Pick<ModelUsage, "requests" | "retries" | "completions" | "errors" | "prompt_tokens" | "completion_tokens" | "endpoints">

const wireOf = (u: ModelUsage): Wire => ({
  requests: u.requests,
  retries: u.retries,
  completions: u.completions,
  errors: u.errors,
  prompt_tokens: u.prompt_tokens,
  completion_tokens: u.completion_tokens,
  endpoints: u.endpoints
})

const endpointUsage = (u: ModelUsage, id: string): EndpointUsage =>
  (u.endpoints[id] ??= { requests: 0, errors: {}, prompt_tokens: 0, completion_tokens: 0 })

/**
 * Replays the wire log at `file` into `usage` (replacing its wire counters: the log holds every
 * request of the run, the work-unit snapshot only those before the last commit), compacts it to
 * one summary line and opens it for appending. Without a readable log, `usage` is kept as it is.
 */
export const openWireLog = (file: string, usage: ModelUsage, endpoints: ReadonlyArray<string>): WireLog => {
  let text: string | undefined
  try {
    text = readFileSync(file, "utf8")
  } catch {
    text = undefined
  }
  if (text !== undefined) replay(text, usage, endpoints)
  let fd: number | undefined
  try {
    // Compacted: the summary and the endpoint list, then one short line per event.
    const tmp = `${file}.tmp`
    writeFileSync(tmp, `s ${JSON.stringify(wireOf(usage))}\nE ${JSON.stringify(endpoints)}\n`)
    renameSync(tmp, file)
    fd = openSync(file, "a")
  } catch {
    fd = undefined
  }
  const write = (line: string): void => {
    if (fd === undefined) return
    try {
      writeSync(fd, line)
    } catch {
      // Counting is not worth stopping a run for: the work-unit snapshot still counts.
      fd = undefined
    }
  }
  // A request is written before its bytes go out (the log must count every request a server
  // may have received). What comes back (answers, errors, retries) waits for the next request's
  // write or the end of the event loop's turn: one write per turn instead of one per answer
  // (case d of the occupancy bench: 60,000 answers, about 0.6 s of the client's thread). A kill
  // can lose the answers of the last turn only, whose callers have not resumed yet.
  let pending = ""
  let scheduled = false
  const flush = (): void => {
    scheduled = false
    if (pending === "") return
    const lines = pending
    pending = ""
    write(lines)
  }
  const later = (line: string): void => {
    pending += line
    if (!scheduled) {
      scheduled = true
      setImmediate(flush)
    }
  }
  return {
    request: (e) => {
      const lines = `${pending}r ${e}\n`
      pending = ""
      write(lines)
    },
    retry: () => later("R\n"),
    answer: (e, p, q) => later(`a ${e} ${p} ${q}\n`),
    choice: () => later("c\n"),
    error: (e, kind) => later(`e ${e} ${kind}\n`),
    close: () => {
      flush()
      if (fd !== undefined) closeSync(fd)
      fd = undefined
    }
  }
}

/** Replaces the wire counters of `usage` with those a log holds; a log that does not parse changes nothing. */
const replay = (text: string, usage: ModelUsage, endpoints: ReadonlyArray<string>): void => {
  try {
    const replayed = make(usage.model, endpoints, undefined)
    let ids: ReadonlyArray<string> = endpoints
    for (const line of text.split("\n")) {
      const [tag, a, b, c] = line.split(" ")
      const id = ids[Number(a)]
      if (tag === "s") {
        // A summary: the counters when the log was last compacted (the rest of the line is JSON).
        const restored = make(usage.model, endpoints, JSON.parse(line.slice(2)))
        Object.assign(replayed, wireOf(restored))
      } else if (tag === "E") {
        const listed: unknown = JSON.parse(line.slice(2))
        if (Array.isArray(listed)) ids = listed.map(String)
      } else if (tag === "r" && id !== undefined) {
        replayed.requests++
        endpointUsage(replayed, id).requests++
      } else if (tag === "R") replayed.retries++
      else if (tag === "c") replayed.completions++
      else if (tag === "a" && id !== undefined) {
        const p = Number(b) || 0
        const q = Number(c) || 0
        const ep = endpointUsage(replayed, id)
        replayed.completions++
        replayed.prompt_tokens += p
        replayed.completion_tokens += q
        ep.prompt_tokens += p
        ep.completion_tokens += q
      } else if (tag === "e" && id !== undefined && b !== undefined) {
        replayed.errors[b] = (replayed.errors[b] ?? 0) + 1
        const ep = endpointUsage(replayed, id)
        ep.errors[b] = (ep.errors[b] ?? 0) + 1
      }
    }
    Object.assign(usage, wireOf(replayed))
  } catch {
    // A damaged log: keep the counters of the last committed work unit.
  }
}

/** A wire log that keeps nothing (outside a run). */
export const noWireLog: WireLog = {
  request: () => undefined,
  retry: () => undefined,
  answer: () => undefined,
  choice: () => undefined,
  error: () => undefined,
  close: () => undefined
}

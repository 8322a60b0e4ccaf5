/**
 * Usage accounting per model and endpoint: requests, retries, failures by kind, cache hits,
 * prompt and completion tokens. Reported into the run manifest's `model_usage` and continued
 * from the last committed work unit when a run resumes.
 */
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
  /** Per endpoint (base URL without credentials). */
  endpoints: { [endpoint: string]: EndpointUsage }
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
    completion_tokens: num(r.completion_tokens)
  }
}

/** Adds one to a by-kind counter. */
export const bump = (counts: { [kind: string]: number }, kind: FailureKind): void => {
  counts[kind] = (counts[kind] ?? 0) + 1
}

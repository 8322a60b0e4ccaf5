/**
 * The error union of @synthline/llm. A failed request names the model, the endpoint (without
 * credentials) and the server's own message; an API key never appears in any of them.
 */
import { Data } from "effect"

/** Why a request failed. */
export type FailureKind =
  | "rate_limited"
  | "server_error"
  | "timeout"
  | "connection"
  | "bad_response"
  | "bad_request"
  | "context_overflow"
  | "unauthorized"

/** Whether a kind of failure is worth another attempt. */
export const isRetryable = (kind: FailureKind): boolean =>
  kind === "rate_limited" || kind === "server_error" || kind === "timeout" || kind === "connection" || kind === "bad_response"

/** A request that failed (after its retries, when the kind is retryable). */
export class LlmRequestError extends Data.TaggedError("LlmRequestError")<{
  readonly model: string
  readonly endpoint: string
  readonly kind: FailureKind
  readonly status?: number | undefined
  /** The server's message, or what went wrong on the wire. */
  readonly detail: string
  readonly attempts: number
  /** For 429: the delay the server asked for, in ms. */
  readonly retryAfterMs?: number | undefined
}> {
  override get message(): string {
    const status = this.status !== undefined ? ` ${this.status}` : ""
    const tries = this.attempts > 1 ? ` after ${this.attempts} attempts` : ""
    return `model ${this.model} at ${this.endpoint}: ${this.kind}${status}${tries}: ${this.detail}`
  }
}

/** A model or cache that cannot be used as configured. */
export class LlmConfigError extends Data.TaggedError("LlmConfigError")<{
  readonly reason: string
}> {
  override get message(): string {
    return this.reason
  }
}

/** The SQLite response cache cannot be read or written (a damaged file, a full disk). Stops the run. */
export class LlmCacheError extends Data.TaggedError("LlmCacheError")<{
  readonly file: string
  readonly operation: "open" | "read" | "write"
  /** The cache mode, when opening. */
  readonly mode?: string | undefined
  /** What SQLite said. */
  readonly detail: string
  /** Whether the file itself is damaged (SQLite found it malformed or not a database). */
  readonly damaged: boolean
}> {
  override get message(): string {
    const what = this.damaged ? "the file is damaged" : "it cannot be used"
    return `cannot ${this.operation} the response cache ${this.file}${this.mode !== undefined ? ` (${this.mode})` : ""}: ${this.detail}. ${what[0]!.toUpperCase()}${what.slice(1)}: set cache: { mode: off } in the pipeline file to go on without it (answers are asked again and not stored), or delete ${this.file} (with its -wal and -shm files) to start an empty cache${this.damaged ? "" : ", or free disk space"}. Completed work units are kept: the same command resumes from the first unfinished one`
  }
}

/**
 * Every endpoint of a model has kept failing for longer than `down_limit`: the run stops (it
 * resumes when run again) instead of waiting on endpoints that do not answer.
 */
export class LlmUnavailableError extends Data.TaggedError("LlmUnavailableError")<{
  readonly model: string
  readonly endpoints: ReadonlyArray<string>
  /** How long they have all been failing, in ms. */
  readonly downMs: number
  /** The last failure, as the endpoint gave it. */
  readonly lastError: string
}> {
  override get message(): string {
    const s = Math.round(this.downMs / 1000)
    return `model ${this.model}: no endpoint has answered for ${s} s (${this.endpoints.join(", ")}); last error: ${this.lastError}. The run stops here: completed work units are kept, and the same command resumes once an endpoint answers (see down_limit in the models section)`
  }
}

/**
 * The next request would take the cost ledger past a budget (`models.<name>.budget` or the
 * pipeline's `budget`): the run stops before sending it, resumably, to go on with a raised budget.
 */
export class LlmBudgetError extends Data.TaggedError("LlmBudgetError")<{
  /** Whose budget: `model <name>` or `the pipeline`. */
  readonly whose: string
  /** Where the budget is set in the pipeline file. */
  readonly setting: string
  readonly budgetUsd: number
  /** Cost so far (answers paid for, plus requests in flight). */
  readonly spentUsd: number
  /** What the next request would cost, estimated. */
  readonly nextUsd: number
}> {
  override get message(): string {
    const $ = (n: number) => `$${n.toFixed(n >= 1 ? 2 : 4)}`
    return `budget reached: ${this.whose} has spent ${$(this.spentUsd)} of its budget of ${$(this.budgetUsd)} (${this.setting}), and the next request (about ${$(this.nextUsd)}) would pass it. The run stops here: completed work units are kept, and the same command resumes after ${this.setting} is raised`
  }
}

/** Whether a defect is one of the errors that stop a run (a damaged cache, a model that stays down, a budget reached). */
export const isFatal = (u: unknown): u is LlmCacheError | LlmUnavailableError | LlmBudgetError =>
  u instanceof LlmCacheError || u instanceof LlmUnavailableError || u instanceof LlmBudgetError

/** Every error of @synthline/llm. */
export type LlmError = LlmRequestError | LlmConfigError | LlmCacheError | LlmUnavailableError | LlmBudgetError

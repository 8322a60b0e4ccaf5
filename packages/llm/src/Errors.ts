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

/** Every error of @synthline/llm. */
export type LlmError = LlmRequestError | LlmConfigError

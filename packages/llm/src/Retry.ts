/**
 * Retries as Schedules, defined once: how a failed request to a model service (a chat call,
 * another route such as `/moderations`, a DeepL request) is tried again. Jittered exponential
 * backoff from a base delay, each delay capped, `Retry-After` honoured when the server sends it,
 * at most `maxRetries` retries, and only for retryable kinds of failure (429, 5xx, timeouts,
 * broken connections, unparsable answers). The model client, DeepL and every stage use it.
 */
import { Duration, Schedule } from "effect"
import type { ResolvedModel } from "./Config.js"
import { type FailureKind, isRetryable } from "./Errors.js"

/** What the schedule looks at in a failed attempt. */
export interface Failure {
  readonly kind: FailureKind
  /** The delay the server asked for (`Retry-After`), in ms. */
  readonly retryAfterMs?: number | undefined
}

/** How retries are spaced and when they stop. */
export interface Settings {
  /** The first backoff delay; doubled per retry, jittered (each delay is 50–100 % of the nominal one). */
  readonly base: Duration.DurationInput
  /** The longest backoff delay. */
  readonly max: Duration.DurationInput
  /** The longest delay a `Retry-After` may ask for (default: `max`). */
  readonly retryAfterMax?: Duration.DurationInput | undefined
  /** Retries after the first attempt; 0 tries once. */
  readonly maxRetries: number
  /** Which failures are tried again (default: {@link isRetryable} of the failure's kind). */
  readonly retryable?: ((kind: FailureKind) => boolean) | undefined
}

/**
 * The retry schedule: fed each failed attempt, it waits the next delay and continues while the
 * failure is retryable and retries are left; it ends (the caller gives up) otherwise.
 */
export const schedule = <F extends Failure>(settings: Settings): Schedule.Schedule<unknown, F> => {
  const max = Duration.decode(settings.max)
  const retryAfterMax = Duration.toMillis(settings.retryAfterMax ?? settings.max)
  const retryable = settings.retryable ?? isRetryable
  return Schedule.exponential(settings.base).pipe(
    Schedule.modifyDelay((_, d) => Duration.min(d, max)),
    Schedule.jitteredWith({ min: 0.5, max: 1 }),
    Schedule.intersect(Schedule.recurs(settings.maxRetries)),
    Schedule.intersect(Schedule.identity<F>()),
    Schedule.modifyDelay(([, f], d) => (f.retryAfterMs !== undefined ? Duration.millis(Math.min(retryAfterMax, f.retryAfterMs)) : d)),
    Schedule.whileInput((f: F) => retryable(f.kind))
  )
}

/** The retry schedule of a model from the `models` section: `retry_base`, `retry_max` (also capping `Retry-After`) and `max_retries`. */
export const ofModel = <F extends Failure>(model: Pick<ResolvedModel, "retry_base" | "retry_max" | "max_retries">): Schedule.Schedule<unknown, F> =>
  schedule<F>({ base: model.retry_base, max: model.retry_max, maxRetries: model.max_retries })

/**
 * The health of one model's endpoints: each endpoint's last failed attempt and when it failed
 * ({@link EndpointFailures}), what such a failure means for the endpoint's slot ({@link outcomeOf}),
 * and the watch that gives the model up when every endpoint keeps failing ({@link DownWatch}).
 */
import { LlmUnavailableError, isRetryable } from "../../Errors.js"
import type * as Provider from "../../Provider.js"
import type { Balancer, Outcome, Slot } from "../balancer.js"
import type { Admission } from "./admission.js"

/** How an attempt ended, for its endpoint's health: a 429 or a non-retryable failure counts neither way. */
export const outcomeOf = (failure: Provider.AttemptFailure | undefined): Outcome =>
  failure === undefined ? "ok" : failure.kind === "rate_limited" || !isRetryable(failure.kind) ? "neutral" : "failed"

/**
 * The last failed attempt on each endpoint, and when: what a call that never got a slot
 * reports, and how the client tells that every endpoint is down.
 */
export class EndpointFailures {
  /** Each endpoint's last failed attempt (undefined: none yet). */
  readonly last: Array<Provider.AttemptFailure | undefined>
  /** When each endpoint last had a failure that counts against its health (0: never). */
  readonly at: Array<number>

  constructor(readonly endpointIds: ReadonlyArray<string>) {
    this.last = endpointIds.map(() => undefined)
    this.at = endpointIds.map(() => 0)
  }

  /** A failure as errors show it: the endpoint, the kind, the status and the detail. */
  describe(index: number, f: Provider.AttemptFailure): string {
    return `${this.endpointIds[index]}: ${f.kind}${f.status !== undefined ? ` ${f.status}` : ""}: ${f.detail}`
  }

  /** The endpoint that failed last (the first one when none failed). */
  latest(): number {
    let last = 0
    for (let i = 1; i < this.at.length; i++) if (this.at[i]! > this.at[last]!) last = i
    return last
  }

  /** The notice that endpoint `slot` of model `model` starts cooling down until `until`. */
  cooldownNotice(model: string, slot: Slot, until: number): string {
    const f = this.last[slot.index]
    return `model ${model}: endpoint ${this.endpointIds[slot.index]} is cooling down until ${new Date(until).toISOString()} after ${slot.failures} failures in a row${f !== undefined ? ` (last: ${f.kind}${f.status !== undefined ? ` ${f.status}` : ""}: ${f.detail})` : ""}; its calls wait for another endpoint or its next probe`
  }
}

/**
 * Every endpoint down: since the streak's start no attempt succeeded and every endpoint failed.
 * Past `down_limit`, with calls still waiting, the model is given up (the run stops, resumably):
 * {@link down} is set and every waiting call is woken to see it.
 */
export class DownWatch {
  /** Set once the model is given up: every call dies with it. */
  down: LlmUnavailableError | undefined = undefined
  private streakStart: number | undefined = undefined
  private timer: ReturnType<typeof setTimeout> | undefined = undefined

  constructor(
    private readonly model: string,
    private readonly downLimitMs: number,
    private readonly failures: EndpointFailures,
    private readonly admission: Admission,
    private readonly balancer: Balancer
  ) {}

  /** Keeps each endpoint's last failure and the model's failing streak up to date. */
  observe(index: number, failure: Provider.AttemptFailure | undefined): void {
    if (failure === undefined) {
      this.streakStart = undefined
      return
    }
    this.failures.last[index] = failure
    if (outcomeOf(failure) !== "failed") return
    const t = Date.now()
    this.failures.at[index] = t
    if (this.streakStart === undefined) {
      this.streakStart = t
      this.arm(this.downLimitMs)
    }
  }

  /** Stops the timer. */
  close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }

  /** Checks again in `ms` (unless a check is already due). */
  private arm(ms: number): void {
    if (this.timer === undefined) this.timer = setTimeout(this.check, Math.max(1, ms))
  }

  /** Gives the model up when the streak is past `down_limit`, every endpoint failed in it and calls are waiting. */
  private readonly check = (): void => {
    this.timer = undefined
    if (this.streakStart === undefined || this.down !== undefined) return
    const t = Date.now()
    const since = this.streakStart
    if (t - since < this.downLimitMs) {
      this.arm(since + this.downLimitMs - t)
      return
    }
    const allFailed = this.failures.at.every((at) => at >= since)
    if (!allFailed || this.admission.backlog + this.admission.inFlight === 0) {
      this.arm(Math.min(this.downLimitMs, 1000))
      return
    }
    const last = this.failures.latest()
    const f = this.failures.last[last]
    this.down = new LlmUnavailableError({
      model: this.model,
      endpoints: this.failures.endpointIds,
      downMs: t - since,
      lastError: f !== undefined ? this.failures.describe(last, f) : "(none)"
    })
    this.balancer.fail()
    this.admission.notify()
  }
}

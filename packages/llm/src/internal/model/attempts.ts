/**
 * The attempt loop every call of one model shares: rate limits, an endpoint slot from the
 * balancer, the transport's attempt (its Effect form or its callback form), the usage it adds,
 * retries of retryable failures on the model's retry schedule, all within `call_timeout`; a
 * model found down stops it.
 */
import { Duration, Effect, Either, Schedule } from "effect"
import type { Completion } from "../../Chat.js"
import type { ResolvedModel } from "../../Config.js"
import { type LlmCacheError, LlmRequestError } from "../../Errors.js"
import * as Provider from "../../Provider.js"
import * as Retry from "../../Retry.js"
import * as Usage from "../../Usage.js"
import type { Slot } from "../balancer.js"
import type { Admission, QueueEntry } from "./admission.js"
import { type DownWatch, type EndpointFailures, outcomeOf } from "./health.js"
import type { Pacing } from "./pacing.js"
import { afterIo } from "./resume.js"

/** An attempt's result with the endpoint slot it used. */
export type Attempted<A> =
  | { readonly slot: Slot; readonly ok: true; readonly value: A }
  | { readonly slot: Slot; readonly ok: false; readonly failure: Provider.AttemptFailure }

/** One attempt of a call: `undefined` when no slot came before the deadline (or the model was given up). */
export type Attempt<A> = (entry: QueueEntry, deadline: number) => Effect.Effect<Attempted<A> | undefined>

/** Sleeps `ms` milliseconds (nothing when there is nothing to wait). */
export const sleep = (ms: number): Effect.Effect<void> => (ms <= 0 ? Effect.void : Effect.sleep(Duration.millis(ms)))

/** What an attempt's answer must carry: its token counts. */
type Answered = { readonly usage: Completion["usage"] }

/** The attempts of one model's calls. */
export class Attempts {
  private readonly timeoutMs: number
  private readonly callTimeoutMs: number
  /** How a call's retries are spaced: the model's retry schedule (`Retry.ofModel`). */
  private readonly retries: Schedule.Schedule<unknown, Provider.AttemptFailure>

  constructor(
    private readonly config: ResolvedModel,
    private readonly usage: Usage.ModelUsage,
    private readonly wire: Usage.WireLog,
    private readonly admission: Admission,
    private readonly pacing: Pacing,
    private readonly failures: EndpointFailures,
    private readonly watch: DownWatch
  ) {
    this.timeoutMs = Duration.toMillis(config.timeout)
    this.callTimeoutMs = Duration.toMillis(config.call_timeout)
    this.retries = Retry.ofModel<Provider.AttemptFailure>(config)
  }

  /** One attempt through the transport's Effect form: an endpoint slot, the attempt, the slot back. */
  attemptOnSlot<A>(
    attempt: (index: number, timeoutMs: number) => Effect.Effect<A, Provider.AttemptFailure>,
    entry: QueueEntry,
    deadline: number
  ): Effect.Effect<Attempted<A> | undefined> {
    const self = this
    return Effect.gen(function* () {
      const slot = yield* self.admission.balancer.acquireWithin(deadline - Date.now())
      if (slot === undefined) return undefined
      self.admission.taken(slot, entry)
      const result = yield* attempt(slot.index, Math.max(1, Math.min(self.timeoutMs, deadline - Date.now()))).pipe(
        Effect.either,
        Effect.onInterrupt(() => Effect.sync(() => self.admission.release(slot, "neutral")))
      )
      const r: Attempted<A> = result._tag === "Right" ? { slot, ok: true, value: result.right } : { slot, ok: false, failure: result.left }
      self.watch.observe(slot.index, r.ok ? undefined : r.failure)
      self.admission.release(slot, outcomeOf(r.ok ? undefined : r.failure))
      return r
    })
  }

  /**
   * One attempt through the transport's callback form. The request starts inside the callback
   * that frees its slot, and the slot is given back (starting the next waiting request) inside
   * the callback that ends it; the fiber hears of the result only after the I/O phase, so a
   * burst of answers turns into a burst of new requests before any answer is processed.
   * `stage` stages an answer in the response cache and gives the hook that calls on once the
   * answer is committed: the fiber resumes only then.
   */
  startOnSlot(
    start: NonNullable<Provider.Transport["start"]>,
    payload: object,
    entry: QueueEntry,
    deadline: number,
    stage?: (answer: Omit<Completion, "cached">) => ((go: () => void) => void) | undefined
  ): Effect.Effect<Attempted<Omit<Completion, "cached">> | undefined> {
    return Effect.async<Attempted<Omit<Completion, "cached">> | undefined>((resume) => {
      let slot: Slot | undefined
      let cancel: (() => void) | undefined
      const withdraw = this.admission.balancer.submit(
        (s) => {
          slot = s
          this.admission.taken(s, entry)
          cancel = start(s.index, payload, Math.max(1, Math.min(this.timeoutMs, deadline - Date.now())), (result) => {
            cancel = undefined
            const r: Attempted<Omit<Completion, "cached">> = Provider.isFailure(result)
              ? { slot: s, ok: false, failure: result }
              : { slot: s, ok: true, value: result }
            this.watch.observe(s.index, r.ok ? undefined : r.failure)
            this.admission.release(s, outcomeOf(r.ok ? undefined : r.failure))
            const go = () => afterIo(() => resume(Effect.succeed(r)))
            // A staged answer resumes its fiber once it is committed (on the cache's writer thread).
            const committed = r.ok && stage !== undefined ? stage(r.value) : undefined
            if (committed === undefined) go()
            else committed(go)
          })
        },
        { afterMs: deadline - Date.now(), run: () => resume(Effect.succeed(undefined)) }
      )
      return Effect.sync(() => {
        if (slot === undefined) withdraw()
        else if (cancel !== undefined) {
          cancel()
          cancel = undefined
          this.admission.release(slot, "neutral")
        }
      })
    })
  }

  /**
   * Runs a call: attempts (each paced by the rate limits, `estimate` tokens reserved) until one
   * succeeds, the retries run out or `call_timeout` passes. `onSuccess` stores the answer; its
   * failure stops the run.
   */
  run<A extends Answered>(
    estimate: number,
    attempt: Attempt<A>,
    onSuccess: (answer: A) => Either.Either<void, LlmCacheError> | undefined
  ): Effect.Effect<A, LlmRequestError> {
    const entry = this.admission.entry()
    const self = this
    const pacing = this.pacing
    return Effect.gen(function* () {
      const deadline = Date.now() + self.callTimeoutMs
      let driver: Schedule.ScheduleDriver<unknown, Provider.AttemptFailure> | undefined
      let last: { readonly index: number; readonly failure: Provider.AttemptFailure } | undefined
      for (let n = 1; ; n++) {
        if (self.watch.down !== undefined) return yield* Effect.die(self.watch.down)
        if (Date.now() >= deadline) return yield* self.outOfTime(n - 1, last)
        entry.enter()
        if (pacing.rpm !== undefined) yield* sleep(pacing.rpm.reserve(1))
        if (pacing.tpm !== undefined) yield* sleep(pacing.tpm.reserve(estimate))
        for (let wait = pacing.announced.take(estimate); wait > 0; wait = pacing.announced.take(estimate)) yield* sleep(wait)
        if (n > 1) {
          self.usage.retries++
          self.wire.retry()
        }
        const r = yield* attempt(entry, deadline)
        if (r === undefined) {
          // No slot before the deadline, or the model was given up while this call waited.
          if (pacing.tpm !== undefined) pacing.tpm.refund(estimate)
          if (self.watch.down !== undefined) return yield* Effect.die(self.watch.down)
          return yield* self.outOfTime(n - 1, last)
        }
        if (r.ok) {
          const answer = r.value
          self.countAnswer(r.slot.index, answer, estimate)
          // Committed to the cache before anyone sees it: a kill from here on never asks it again.
          const stored = onSuccess(answer)
          if (stored !== undefined && Either.isLeft(stored)) return yield* Effect.die(stored.left)
          return answer
        }
        const failure = r.failure
        last = { index: r.slot.index, failure }
        self.countError(r.slot.index, failure, estimate)
        driver ??= yield* Schedule.driver(self.retries)
        entry.enter()
        // The schedule sleeps the delay; it is done when the failure is not retryable or no retry is left.
        const again = yield* Effect.either(driver.next(failure))
        if (Either.isLeft(again)) return yield* self.gaveUp(n, r.slot.index, failure)
      }
    }).pipe(Effect.ensuring(Effect.sync(entry.leave)))
  }

  /** Counts an answer from endpoint `index` (and corrects the token bucket's `estimate` by its real tokens). */
  private countAnswer(index: number, answer: Answered, estimate: number): void {
    const usage = this.usage
    const ep = usage.endpoints[this.failures.endpointIds[index]!]!
    const tokens = answer.usage.prompt_tokens + answer.usage.completion_tokens
    if (this.pacing.tpm !== undefined && tokens > 0) this.pacing.tpm.refund(estimate - tokens)
    usage.completions++
    usage.prompt_tokens += answer.usage.prompt_tokens
    usage.completion_tokens += answer.usage.completion_tokens
    usage.cached_prompt_tokens += answer.usage.cached_tokens ?? 0
    ep.prompt_tokens += answer.usage.prompt_tokens
    ep.completion_tokens += answer.usage.completion_tokens
    this.wire.answer(index, answer.usage.prompt_tokens, answer.usage.completion_tokens)
  }

  /** Counts a failed attempt on endpoint `index` (and gives its `estimate` tokens back). */
  private countError(index: number, failure: Provider.AttemptFailure, estimate: number): void {
    const ep = this.usage.endpoints[this.failures.endpointIds[index]!]!
    if (this.pacing.tpm !== undefined) this.pacing.tpm.refund(estimate)
    Usage.bump(this.usage.errors, failure.kind)
    Usage.bump(ep.errors, failure.kind)
    this.wire.error(index, failure.kind)
  }

  /** The failure of a call whose last attempt, its `n`th on endpoint `index`, failed for good. */
  private gaveUp(n: number, index: number, failure: Provider.AttemptFailure): LlmRequestError {
    Usage.bump(this.usage.failures, failure.kind)
    return new LlmRequestError({
      model: this.config.name,
      endpoint: this.failures.endpointIds[index]!,
      kind: failure.kind,
      status: failure.status,
      detail: failure.detail,
      attempts: n,
      retryAfterMs: failure.retryAfterMs
    })
  }

  /** The failure of a call that ran out of `call_timeout`: its own last error, else its endpoints' latest. */
  private outOfTime(
    n: number,
    own: { readonly index: number; readonly failure: Provider.AttemptFailure } | undefined
  ): LlmRequestError {
    const index = own?.index ?? this.failures.latest()
    const f = own?.failure ?? this.failures.last[index]
    const kind = f?.kind ?? "timeout"
    Usage.bump(this.usage.failures, kind)
    return new LlmRequestError({
      model: this.config.name,
      endpoint: this.failures.endpointIds[index]!,
      kind,
      status: f?.status,
      detail: `${f?.detail ?? "no endpoint took the request"} (gave up at call_timeout ${Duration.format(this.config.call_timeout)}, retries and waits included)`,
      attempts: n
    })
  }
}

import { describe, expect, it } from "vitest"
import { Chunk, Duration, Effect, Schedule, Schema } from "effect"
import { ModelsSection } from "../src/Config.js"
import type { FailureKind } from "../src/Errors.js"
import * as Retry from "../src/Retry.js"

/**
 * The delays (ms) the schedule waits for a sequence of failed attempts, until it gives up: one
 * per retry. (`Schedule.run` also emits the output of the step that ends the schedule: left out.)
 */
const delays = (schedule: Schedule.Schedule<unknown, Retry.Failure>, failures: ReadonlyArray<Retry.Failure>): Array<number> =>
  Chunk.toArray(Effect.runSync(Schedule.run(Schedule.delays(schedule), Date.now(), failures))).map(Duration.toMillis).slice(0, -1)

const failing = (kind: FailureKind, n: number, retryAfterMs?: number): Array<Retry.Failure> =>
  Array.from({ length: n }, () => ({ kind, retryAfterMs }))

describe("Retry.schedule", () => {
  const settings = { base: "100 millis", max: "1 second", maxRetries: 4 } as const

  it("retries retryable failures with jittered exponential backoff, at most maxRetries times", () => {
    for (const kind of ["rate_limited", "server_error", "timeout", "connection", "bad_response"] as const) {
      const d = delays(Retry.schedule(settings), failing(kind, 10))
      expect(d).toHaveLength(4)
      // Nominal 100, 200, 400, 800 ms, each jittered to 50–100 % of it.
      d.forEach((ms, i) => {
        expect(ms).toBeGreaterThanOrEqual(50 * 2 ** i)
        expect(ms).toBeLessThanOrEqual(100 * 2 ** i)
      })
    }
  })

  it("gives up at once on a failure that is not retryable, also after retryable ones", () => {
    for (const kind of ["bad_request", "unauthorized", "context_overflow"] as const) {
      expect(delays(Retry.schedule(settings), failing(kind, 3))).toEqual([])
    }
    expect(delays(Retry.schedule(settings), [{ kind: "server_error" }, { kind: "bad_request" }, { kind: "server_error" }])).toHaveLength(1)
    // A custom rule replaces the default one.
    expect(delays(Retry.schedule({ ...settings, retryable: (k) => k === "bad_request" }), failing("bad_request", 9))).toHaveLength(4)
    expect(delays(Retry.schedule({ ...settings, retryable: (k) => k === "bad_request" }), failing("server_error", 9))).toEqual([])
  })

  it("waits what Retry-After asks instead of the backoff, capped at max (or retryAfterMax)", () => {
    expect(delays(Retry.schedule(settings), failing("rate_limited", 9, 321))).toEqual([321, 321, 321, 321])
    expect(delays(Retry.schedule(settings), failing("rate_limited", 9, 0))).toEqual([0, 0, 0, 0])
    expect(delays(Retry.schedule(settings), failing("server_error", 9, 60_000))).toEqual([1000, 1000, 1000, 1000])
    expect(delays(Retry.schedule({ ...settings, maxRetries: 1, retryAfterMax: "5 seconds" }), failing("rate_limited", 9, 60_000))).toEqual([5000])
    // Retry-After does not make a failure retryable that is not.
    expect(delays(Retry.schedule(settings), failing("bad_request", 9, 10))).toEqual([])
  })

  it("caps every backoff delay at max, and tries once with maxRetries 0", () => {
    const d = delays(Retry.schedule({ base: "400 millis", max: "1 second", maxRetries: 8 }), failing("timeout", 20))
    expect(d).toHaveLength(8)
    for (const ms of d) expect(ms).toBeLessThanOrEqual(1000)
    // From the third retry on the nominal delay (1.6 s, 3.2 s, …) is capped: 0.5–1 s.
    for (const ms of d.slice(2)) expect(ms).toBeGreaterThanOrEqual(500)
    expect(delays(Retry.schedule({ ...settings, maxRetries: 0 }), failing("server_error", 3))).toEqual([])
  })

  it("takes a model's retry_base, retry_max and max_retries", () => {
    const model = Schema.decodeUnknownSync(ModelsSection)({ m: { model: "x", retry_base: "10ms", retry_max: "15ms", max_retries: 3 } }).m!
    const d = delays(Retry.ofModel(model), failing("server_error", 9))
    expect(d).toHaveLength(3)
    expect(d[0]).toBeGreaterThanOrEqual(5)
    for (const ms of d) expect(ms).toBeLessThanOrEqual(15)
    expect(delays(Retry.ofModel(model), failing("rate_limited", 9, 10_000))).toEqual([15, 15, 15])
  })
})

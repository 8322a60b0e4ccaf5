import { describe, expect, it } from "vitest"
import { Effect } from "effect"
import { TokenBucket } from "../../src/internal/bucket.js"
import { HeaderLimits, parse, resetMs } from "../../src/internal/limits.js"
import * as TestServer from "../../src/TestServer.js"
import { ask, client, run } from "../support.js"

describe("rate-limit headers", () => {
  it("reads OpenAI's and Anthropic's headers and their reset formats", () => {
    expect(resetMs("6m0s")).toBe(360_000)
    expect(resetMs("1h2m3.5s")).toBe(3_723_500)
    expect(resetMs("20ms")).toBe(20)
    expect(resetMs("2")).toBe(2000)
    expect(resetMs(new Date(10_000).toISOString(), 4000)).toBe(6000)
    expect(
      parse({ "x-ratelimit-limit-requests": "500", "x-ratelimit-remaining-requests": "499", "x-ratelimit-reset-requests": "120ms", "x-ratelimit-limit-tokens": "30000", "x-ratelimit-remaining-tokens": "29000", "x-ratelimit-reset-tokens": "2s" })
    ).toEqual({ requests: { limit: 500, remaining: 499, resetMs: 120 }, tokens: { limit: 30000, remaining: 29000, resetMs: 2000 } })
    expect(parse({ "anthropic-ratelimit-requests-limit": "50", "anthropic-ratelimit-requests-remaining": "0", "anthropic-ratelimit-requests-reset": new Date(3000).toISOString() }, 1000)).toEqual({
      requests: { limit: 50, remaining: 0, resetMs: 2000 },
      tokens: undefined
    })
    expect(parse({ "x-other": "1" })).toBeUndefined()
  })

  it("holds requests once what remains is used up, until the window resets", () => {
    let t = 0
    const h = new HeaderLimits(() => t)
    h.update({ requests: { remaining: 2, resetMs: 100 }, tokens: { remaining: 1000, resetMs: 50 } })
    expect(h.take(400)).toBe(0)
    expect(h.take(400)).toBe(0)
    expect(h.take(1)).toBe(100) // no request left
    t = 60
    expect(h.take(1)).toBe(40)
    t = 100
    expect(h.take(5000)).toBe(0) // both windows reset: unknown again until the next answer
  })

  it("adapts a bucket to the announced limit, the configured one staying the ceiling", () => {
    const t = 0
    const b = new TokenBucket(600, 20, () => t)
    b.adapt(1200, undefined, 600)
    expect(b.perMinute).toBe(600)
    b.adapt(60, 1, 600)
    expect(b.perMinute).toBe(60)
    expect(b.reserve(1)).toBe(0)
    expect(b.reserve(1)).toBe(1000)
  })

  for (const style of ["openai", "anthropic"] as const) {
    it(`slows down before the server's limit (${style} headers): a burst after the first answer gets no 429`, async () => {
      const server = await TestServer.start({ rateLimit: { requests: 5, windowMs: 400, style } })
      try {
        const usage = await run(
          Effect.gen(function* () {
            const m = yield* (yield* client({ m: { model: "x", endpoints: [server.baseUrl], concurrency: 8, retry_base: "10ms" } })).get("m")
            yield* m.complete(ask("first"))
            const answers = yield* Effect.all(
              Array.from({ length: 14 }, (_, i) => m.complete(ask(`q${i}`))),
              { concurrency: "unbounded" }
            )
            expect(answers).toHaveLength(14)
            return m.usage()
          })
        )
        expect(usage.errors.rate_limited ?? 0).toBe(0)
        expect(server.counts.faults).toBe(0)
        expect(usage.completions).toBe(15)
      } finally {
        await server.close()
      }
    })
  }

  it("the test server does answer 429 to a burst no header announced", async () => {
    const server = await TestServer.start({ rateLimit: { requests: 5, windowMs: 400 } })
    try {
      const usage = await run(
        Effect.gen(function* () {
          const m = yield* (yield* client({ m: { model: "x", endpoints: [server.baseUrl], concurrency: 8, retry_base: "10ms" } })).get("m")
          yield* Effect.all(
            Array.from({ length: 8 }, (_, i) => m.complete(ask(`q${i}`))),
            { concurrency: "unbounded" }
          )
          return m.usage()
        })
      )
      expect(usage.errors.rate_limited).toBeGreaterThan(0)
      expect(usage.completions).toBe(8)
    } finally {
      await server.close()
    }
  })
})

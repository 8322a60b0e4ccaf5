import { describe, expect, it } from "vitest"
import { Effect, Fiber } from "effect"
import { Balancer } from "../../src/internal/balancer.js"
import { TokenBucket } from "../../src/internal/bucket.js"

const take = (b: Balancer) => Effect.runSync(b.acquire)

describe("Balancer", () => {
  it("gives each request to the endpoint with the fewest outstanding requests, within each one's capacity", () => {
    const b = new Balancer([2, 2], 3, 1000, 8000, () => 0)
    const got = [take(b), take(b), take(b), take(b)].map((s) => s.index)
    expect(got.sort()).toEqual([0, 0, 1, 1])
    b.release(b.slots[1]!, "ok")
    expect(take(b).index).toBe(1)
  })

  it("queues callers when every endpoint is full and serves them in arrival order", async () => {
    const b = new Balancer([1], 3, 1000, 8000, () => 0)
    const first = take(b)
    const waiting = Effect.runFork(b.acquire)
    expect(waiting.unsafePoll()).toBe(null)
    b.release(first, "ok")
    const next = await Effect.runPromise(Fiber.join(waiting))
    expect(next.index).toBe(0)
  })

  it("runs a submitted job at once when there is room, else inside the release that frees a slot, in arrival order; a withdrawn job never runs", async () => {
    const b = new Balancer([1], 3, 1000, 8000, () => 0)
    const ran: Array<string> = []
    b.submit(() => ran.push("a"))
    expect(ran).toEqual(["a"])
    b.submit(() => ran.push("b"))
    const withdrawC = b.submit(() => ran.push("c"))
    b.submit(() => ran.push("d"))
    // Mixed with Effect callers, the queue stays in arrival order.
    const waiting = Effect.runFork(b.acquire)
    expect(ran).toEqual(["a"])
    withdrawC()
    b.release(b.slots[0]!, "ok")
    // Synchronously, before release returns: the next job holds the slot.
    expect(ran).toEqual(["a", "b"])
    expect(b.slots[0]!.outstanding).toBe(1)
    b.release(b.slots[0]!, "ok")
    expect(ran).toEqual(["a", "b", "d"])
    expect(waiting.unsafePoll()).toBe(null)
    b.release(b.slots[0]!, "ok")
    expect(b.slots[0]!.outstanding).toBe(1)
    expect((await Effect.runPromise(Fiber.join(waiting))).index).toBe(0)
  })

  it("cools a failing endpoint down, probes it with one request, and doubles the cool-down when the probe fails", () => {
    let now = 0
    const b = new Balancer([4, 4], 2, 1000, 8000, () => now)
    const bad = b.slots[0]!
    // Two failures in a row on endpoint 0: it cools down for 1 s.
    const a = take(b)
    const c = take(b)
    expect([a.index, c.index]).toEqual([0, 1])
    b.release(a, "failed")
    const again = take(b) // fewest outstanding: endpoint 0
    expect(again.index).toBe(0)
    b.release(again, "failed")
    b.release(c, "ok")
    expect(b.cooling(bad)).toBe(true)
    for (let i = 0; i < 4; i++) expect(take(b).index).toBe(1) // all load elsewhere
    now = 1000
    // Cool-down over: one probe only.
    const probe = take(b)
    expect(probe.index).toBe(0)
    expect(b.slots[1]!.outstanding).toBe(4)
    // Probe fails: cooled down again for 2 s.
    b.release(probe, "failed")
    expect(b.cooling(bad)).toBe(true)
    now = 2999
    expect(b.cooling(bad)).toBe(true)
    now = 3000
    const probe2 = take(b)
    expect(probe2.index).toBe(0)
    b.release(probe2, "ok")
    // Recovered: full capacity again.
    expect([take(b), take(b), take(b), take(b)].map((s) => s.index)).toEqual([0, 0, 0, 0])
  })
})

describe("TokenBucket", () => {
  it("hands out reservations paced at the rate and takes refunds up to its capacity", () => {
    let now = 0
    const b = new TokenBucket(600, 20, () => now) // 10 per second
    expect(b.reserve(20)).toBe(0)
    expect(b.reserve(5)).toBe(500)
    expect(b.reserve(5)).toBe(1000)
    now = 1000
    expect(b.reserve(1)).toBe(100)
    b.refund(100)
    expect(b.reserve(20)).toBe(0)
  })
})

import { afterAll, beforeAll, describe, expect, it } from "vitest"
// harness.ts first: it and llm-occupancy.ts import each other, and its `benchmarks` list needs llm-occupancy's export.
import "../src/harness.js"
import { checkInputOrder, type Job, inFlightIntegral, occupancy, replayIdeal, spanOf, workOccupancy } from "../src/llm-occupancy.js"
import { defaultMode, drawLatency, type Fleet, startFleet } from "../src/llm-occupancy-server.js"

const job = (arrival: number, completion: number, available = 0): Job => ({ available, arrival, completion })

describe("llm-occupancy measures", () => {
  it("occupancy is the time-averaged share of C in flight over the window", () => {
    // Two slots: one busy 0–10, the other 0–5 then 6–10 (a 1 ms gap): 19 of 20 slot-ms.
    const jobs = [job(0, 10), job(0, 5), job(6, 10)]
    expect(inFlightIntegral(jobs, 0, 10)).toBe(19)
    expect(occupancy(jobs, 2, 0, 10)).toBeCloseTo(0.95)
    // Only the part inside the window counts.
    expect(inFlightIntegral(jobs, 2, 4)).toBe(4)
    expect(occupancy(jobs, 2, 5, 5)).toBeNaN()
  })

  it("workOccupancy only asks for the slots that had work", () => {
    // C = 4, but from 0 to 10 only one request was available: in flight at once, so 100 %.
    expect(workOccupancy([job(0, 10, 0)], 4, 0, 10)).toBeCloseTo(1)
    // Available at 0 but sent at 5: half the possible slot time was used.
    expect(workOccupancy([job(5, 10, 0)], 4, 0, 10)).toBeCloseTo(0.5)
    // Plenty of work (6 available, C = 2) but one slot idle 0–5: 15 of 20.
    const jobs = [job(0, 10, 0), job(5, 10, 0), job(10, 20, 0), job(10, 20, 0), job(20, 30, 0), job(20, 30, 0)]
    expect(workOccupancy(jobs, 2, 0, 10)).toBeCloseTo(0.75)
  })

  it("spanOf and the ideal replay: every slot refilled at once, judge calls as soon as their row is done", () => {
    const rows = [
      { gen: [10, 30], judge: [5, 5] },
      { gen: [10, 10], judge: [5, 5] }
    ]
    const { gen, judge } = replayIdeal(rows, 2, 2)
    // Slots: 0–10, 0–30; row 1's calls at 10–20 and 20–30; row 0 done at 30, row 1 at 30.
    expect(gen.map((j) => [j.arrival, j.completion])).toEqual([
      [0, 10],
      [0, 30],
      [10, 20],
      [20, 30]
    ])
    expect(judge.map((j) => j.arrival)).toEqual([30, 30, 35, 35])
    const s = spanOf(gen)
    expect(s).toMatchObject({ requests: 4, firstArrival: 0, lastArrival: 20, lastCompletion: 30, sumLatency: 60, longest: 30 })
    expect(occupancy(gen, 2, s.firstArrival, s.lastArrival)).toBe(1)
  })

  it("checkInputOrder accepts the source's rows in order and rejects a swap or a missing row", () => {
    expect(() => checkInputOrder("x", ["a", "b", "c"], ["a", "b", "c"])).not.toThrow()
    expect(() => checkInputOrder("x", ["a", "c", "b"], ["a", "b", "c"])).toThrow(/row 1 of the sink is conversation c.*not in input order/)
    expect(() => checkInputOrder("x", ["a", "b"], ["a", "b", "c"])).toThrow(/holds 2 rows, the source 3/)
  })
})

describe("llm-occupancy server", () => {
  let fleet: Fleet
  beforeAll(async () => {
    fleet = await startFleet(2)
  })
  afterAll(() => fleet.close())

  const chat = async (url: string, content: string, seed: number) => {
    const r = await fetch(`${url}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "m", seed, messages: [{ role: "user", content }] })
    })
    const body = (await r.json()) as { choices: Array<{ message: { content: string } }> }
    return body.choices[0]!.message.content
  }

  it("draws log-normal latencies, deterministic in the request, median ≈ 400 ms, capped", () => {
    const req = (i: number) => ({ model: "m", messages: [{ role: "user", content: `q${i}` }], seed: i, temperature: undefined, max_tokens: undefined, body: {} })
    const draws = Array.from({ length: 4000 }, (_, i) => drawLatency(defaultMode, "gen", req(i), 0))
    expect(drawLatency(defaultMode, "gen", req(7), 0)).toBe(draws[7])
    expect(drawLatency(defaultMode, "gen", req(7), 1)).not.toBe(draws[7])
    const sorted = [...draws].sort((a, b) => a - b)
    expect(sorted[2000]!).toBeGreaterThan(350)
    expect(sorted[2000]!).toBeLessThan(450)
    // p99 of median 400, sigma 1.2: 400 · e^(1.2 · 2.326) ≈ 6.5 s.
    expect(sorted[3960]!).toBeGreaterThan(4500)
    expect(sorted[3960]!).toBeLessThan(9000)
    expect(Math.max(...draws)).toBeLessThanOrEqual(15_000)
  })

  it("stamps each request per model, tags generate answers, and judge answers name the answer they judge", async () => {
    fleet.reset({ latency: "fixed", fixed_ms: 20, answer_bytes: 200, straggler: { model: "gen", index: 2, ms: 300 } })
    const t0 = Date.now()
    const [a, b] = await Promise.all([chat(fleet.endpoints.gen![0]!, "first", 1), chat(fleet.endpoints.gen![1]!, "second", 2)])
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290)
    expect(a).toMatch(/^«g:[01]» /)
    expect(a!.length).toBeGreaterThan(200)
    const verdict = await chat(fleet.endpoints.judge![0]!, `[Instruction]\nfirst\n\n${b}\n\nRate it.`, 3)
    expect(verdict).toMatch(/Rating: \[\[\d+\]\]$/)
    const occ = fleet.occupancy()
    const gen = occ.models.gen!
    expect(gen.arrivals).toHaveLength(2)
    expect(gen.completions.every((c) => typeof c === "number")).toBe(true)
    expect([...gen.drawn].sort((x, y) => x - y)).toEqual([20, 300])
    expect(gen.perEndpoint).toEqual([1, 1])
    expect(occ.models.judge!.parents).toEqual([Number(/«g:(\d+)»/.exec(b!)![1])])
    fleet.reset({})
    expect(fleet.occupancy().models.gen!.arrivals).toHaveLength(0)
  })
})

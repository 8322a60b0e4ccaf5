/**
 * The worker pool's heap cap, and the coordinator's answers to a unit redone after its worker
 * ran out of memory: the same answers, the decider and its journal seeing each request once.
 */
import { describe, expect, it } from "@effect/vitest"
import { Coordinator, type Either } from "../../src/internal/exec/central.js"
import { heapMbFor } from "../../src/internal/exec/pool.js"
import type { Decider } from "../../src/Stage.js"

describe("worker pool", () => {
  it("caps a worker's heap from the largest unit (at least 96 MB), and not at all when a unit's size is unknown", () => {
    // A 10,000-row unit of the bench's LMSYS-shaped parquet.
    expect(heapMbFor([{ id: "a", file: "a", rows: 10_000, bytes: 18_641_141 }])).toBe(102)
    expect(heapMbFor([{ id: "a", file: "a", rows: 500, bytes: 900_000 }])).toBe(96)
    expect(heapMbFor([{ id: "a", file: "a", rows: 10_000, bytes: 1_000_000 }, { id: "b", file: "b", rows: 40_000 }])).toBe(248)
    expect(heapMbFor([{ id: "a", file: "a", rows: 10 }, { id: "b", file: "b" }])).toBeUndefined()
  })

  it("a redone unit gets the answers it had, in order; a request its dead worker left waiting is dropped", () => {
    const asked: Array<string> = []
    const journal: Array<string> = []
    const decider = {
      decide: (request: unknown, append: (entry: string) => void) => {
        asked.push(String(request))
        append(`saw ${String(request)}`)
        return `${String(request)} is #${asked.length}`
      }
    }
    const c = new Coordinator(new Map([[0, decider]]), 0, (_stage, seq, entry) => void journal.push(`${seq}: ${entry}`))
    const replies: Array<string> = []
    const reply = (r: Either) => void replies.push(r.ok ? String(r.value) : `error ${r.error}`)
    c.request(0, 0, "x", reply)
    // Unit 1 asks before unit 0 is past the stage: it waits.
    c.request(0, 1, "y", reply)
    expect(replies).toEqual(["x is #1"])
    // Both workers die: unit 0 is redone (it had its answer), unit 1's waiting request goes.
    c.redo(0)
    c.redo(1)
    c.request(0, 0, "x", reply)
    c.close(0, 0)
    expect(replies).toEqual(["x is #1", "x is #1"])
    c.request(0, 1, "y", reply)
    c.closeAll(1)
    expect(replies).toEqual(["x is #1", "x is #1", "y is #2"])
    expect(asked).toEqual(["x", "y"])
    expect(journal).toEqual(["0: saw x", "1: saw y"])
  })

  it("an independent decider answers every request at once, whatever unit asks and in any order, beside an ordered one", () => {
    const index = new Map([["a", "first-a"]])
    const lookups = { decide: (ids: unknown) => (ids as Array<string>).map((id) => index.get(id) ?? null) }
    let seen = 0
    const ordered = { decide: (request: unknown) => `${String(request)} after ${seen++}` }
    const deciders = new Map<number, Decider<unknown, unknown>>([
      [0, ordered],
      [1, lookups]
    ])
    const c = new Coordinator(deciders, 0, () => undefined, new Set([1]))
    const replies: Array<unknown> = []
    const reply = (r: Either) => void replies.push(r.ok ? r.value : `error ${r.error}`)
    // Unit 2 asks the independent stage twice (two chunks) before units 0 and 1 are anywhere: answered.
    c.request(1, 2, ["a", "b"], reply)
    c.request(1, 2, ["b"], reply)
    expect(replies).toEqual([["first-a", null], [null]])
    // The ordered stage still waits for unit 0.
    c.request(0, 1, "y", reply)
    expect(replies).toHaveLength(2)
    c.request(0, 0, "x", reply)
    c.close(0, 0)
    expect(replies.slice(2)).toEqual(["x after 0", "y after 1"])
  })
})

/**
 * The worker pool's heap cap, and the coordinator's answers to a unit redone after its worker
 * ran out of memory: the same answers, the decider and its journal seeing each request once.
 */
import { describe, expect, it } from "@effect/vitest"
import { Coordinator, type Either } from "../../src/internal/exec/central.js"
import { heapMbFor } from "../../src/internal/exec/pool.js"

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
})

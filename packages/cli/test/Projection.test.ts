import { describe, expect, it } from "@effect/vitest"
import * as Projection from "../src/Projection.js"

describe("Projection.stride", () => {
  it("spreads n rows evenly over the input, the same ones every time, each once", () => {
    expect(Projection.stride(10, 5)).toEqual([1, 3, 5, 7, 9])
    expect(Projection.stride(1000, 4)).toEqual([125, 375, 625, 875])
    // A sample larger than the input takes every row.
    expect(Projection.stride(3, 200)).toEqual([0, 1, 2])
    const picks = Projection.stride(1_000_003, 200)
    expect(new Set(picks).size).toBe(200)
    expect(picks.every((p, i) => p >= 0 && p < 1_000_003 && (i === 0 || p > picks[i - 1]!))).toBe(true)
    // Every tenth of the input holds a tenth of the sample.
    for (let d = 0; d < 10; d++) expect(picks.filter((p) => Math.floor((p * 10) / 1_000_003) === d)).toHaveLength(20)
  })
})

describe("Projection.quantile", () => {
  it("takes the nearest rank, so p95 of 100 answers is the 95th smallest", () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1)
    expect(Projection.quantile(sorted, 0.5)).toBe(50)
    expect(Projection.quantile(sorted, 0.95)).toBe(95)
    expect(Projection.quantile([7], 0.95)).toBe(7)
    expect(Projection.quantile([], 0.5)).toBe(0)
  })
})

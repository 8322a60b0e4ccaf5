import { describe, expect, it } from "@effect/vitest"
import { digest, FirstSeen, hash128, seededUnit, unit } from "../../src/internal/hash.js"

describe("internal/hash", () => {
  it("is MurmurHash3_x86_128 of the UTF-16LE bytes, pinned so sampling and journals stay stable", () => {
    expect(digest("")).toBe("00000000000000000000000000000000")
    expect(digest("hello")).toBe("498e49896c081b4802cf3f742cf72941")
    expect(digest("こんにちは世界")).toBe("69bfbea94f58cabca07c379df53c1187")
    expect(seededUnit(42, "core/sample", "33f01939a744455c869cb234afca47f1")).toBe(0.27777341148276324)
    expect(hash128("hello").map((w) => w.toString(16).padStart(8, "0")).join("")).toBe(digest("hello"))
  })

  it("gives different hashes for different inputs, seeds and tails", () => {
    const seen = new Set<string>()
    for (let n = 0; n < 20; n++) seen.add(digest("a".repeat(n)))
    seen.add(digest("hello", 1))
    seen.add(digest("hello"))
    expect(seen.size).toBe(22)
    expect(seededUnit(1, "core/sample", "x")).not.toBe(seededUnit(1, "core/sample", "x", 1))
  })

  it("spreads units uniformly over [0, 1)", () => {
    const buckets = new Array<number>(10).fill(0)
    let outside = 0
    for (let i = 0; i < 100_000; i++) {
      const u = unit(`row-${i}`)
      if (u < 0 || u >= 1) outside++
      else buckets[Math.floor(u * 10)]!++
    }
    expect(outside).toBe(0)
    for (const b of buckets) expect(Math.abs(b - 10_000)).toBeLessThan(500)
  })

  it("FirstSeen keeps the first value per text through growth, and restores from digests", () => {
    const a = new FirstSeen()
    for (let i = 0; i < 5000; i++) {
      expect(a.firstOrSet(`text ${i}`, `first ${i}`)).toBeUndefined()
      expect(a.lastDigest()).toBe(digest(`text ${i}`))
    }
    for (let i = 0; i < 5000; i++) expect(a.firstOrSet(`text ${i}`, "later")).toBe(`first ${i}`)
    expect(a.size).toBe(5000)
    const b = new FirstSeen()
    for (let i = 0; i < 5000; i++) b.firstOrSetDigest(digest(`text ${i}`), `first ${i}`)
    for (let i = 0; i < 5000; i++) expect(b.firstOrSet(`text ${i}`, "later")).toBe(`first ${i}`)
    expect(b.firstOrSet("new", "v")).toBeUndefined()
  })

  it("FirstSeen gives back LMSYS-style ids (32 lowercase hex digits, kept as words) and any other id exactly, through growth", () => {
    const seen = new FirstSeen()
    // Ids like LMSYS-Chat-1M's, with leading zeros; uppercase hex and other strings are kept as strings.
    const idOf = (i: number): string =>
      i % 3 === 0 ? digest(`id ${i}`) : i % 3 === 1 ? `0000${digest(`id ${i}`).slice(4)}` : i % 2 === 0 ? digest(`id ${i}`).toUpperCase() : `conv-${i}`
    for (let i = 0; i < 20_000; i++) expect(seen.firstOrSet(`text ${i}`, idOf(i))).toBeUndefined()
    expect(seen.size).toBe(20_000)
    for (let i = 0; i < 20_000; i++) expect(seen.firstOrSet(`text ${i}`, "later")).toBe(idOf(i))
  })
})

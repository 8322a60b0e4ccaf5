/** The first-pass index: blocks spilled to disk past the memory budget give the clusters of an index held in memory. */
import { describe, expect, it } from "vitest"
import { LshIndex } from "../src/internal/lsh.js"
import type { SignedBatch } from "../src/internal/sign.js"
import { permutations } from "../src/MinHash.js"

const NUM_PERM = 16
const BANDS = 4

/** `count` rows from `first` on; every 1000th row repeats row `k − 500` (same signature and bands), others are random. */
const batch = (first: number, count: number): SignedBatch => {
  const ids: Array<string> = []
  const idEnds = new Int32Array(count)
  const sig8 = new Uint8Array(count * NUM_PERM)
  const bandHashes = new Int32Array(count * BANDS)
  let length = 0
  for (let k = 0; k < count; k++) {
    const row = first + k
    const copyOf = row % 1000 === 999 ? row - 500 : row
    let t = copyOf * 2654435761
    for (let p = 0; p < NUM_PERM; p++) {
      t = Math.imul(t ^ (t >>> 15), 0x2c1b3c6d) + p
      sig8[k * NUM_PERM + p] = t & 0xff
    }
    for (let b = 0; b < BANDS; b++) bandHashes[k * BANDS + b] = Math.imul(copyOf + 1, 0x9e3779b1) ^ (b * 7919)
    const id = `row-${row}`
    ids.push(id)
    length += id.length
    idEnds[k] = length
  }
  return { count, read: count, texts: count, ids: ids.join(""), idEnds, sig8, bandHashes }
}

const resolveWith = (budgetBytes: number) => {
  const index = new LshIndex(permutations(NUM_PERM), BANDS, 4, budgetBytes)
  const rows = 200_000
  for (let first = 0; first < rows; first += 10_000) index.addBatch(batch(first, 10_000))
  const r = index.resolve(0.8)
  return { firstOf: [...r.firstOf].sort(), spilled: index.spilledBlocks, rows: r.rows }
}

describe("LshIndex", () => {
  it("spills the oldest blocks past its budget and resolves the same clusters as in memory", () => {
    const inMemory = resolveWith(Number.POSITIVE_INFINITY)
    expect(inMemory.spilled).toBe(0)
    expect(inMemory.rows).toBe(200_000)
    expect(inMemory.firstOf).toHaveLength(200)
    expect(inMemory.firstOf).toContainEqual(["row-1999", "row-1499"])
    const spilled = resolveWith(0)
    // 200,000 rows are four 65,536-row blocks: every one but the last goes to the file.
    expect(spilled.spilled).toBe(3)
    expect(spilled.firstOf).toEqual(inMemory.firstOf)
  })
})

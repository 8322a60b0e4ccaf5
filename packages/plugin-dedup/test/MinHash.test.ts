import { describe, expect, it } from "vitest"
import {
  candidateProbability,
  isSpaceless,
  murmur3,
  optimalBanding,
  permutations,
  shingles,
  signature,
  similarity,
  unitOf
} from "../src/MinHash.js"
import { pseudoText } from "./support.js"

const jaccard = (a: Int32Array, b: Int32Array): number => {
  const A = new Set(a)
  const B = new Set(b)
  let inter = 0
  for (const x of A) if (B.has(x)) inter++
  return inter / (A.size + B.size - inter)
}

describe("MinHash", () => {
  it("murmur3 gives the reference MurmurHash3 x86_32 values for one-byte code units", () => {
    // Reference values of MurmurHash3_x86_32 over the bytes; our blocks are UTF-16 code units,
    // so only the empty string coincides with the byte-wise reference.
    expect(murmur3("", 0)).toBe(0)
    expect(murmur3("", 1)).toBe(0x514e28b7)
    expect(murmur3("abc")).not.toBe(murmur3("abd"))
    expect(murmur3("abcdef", 0, 1, 4)).toBe(murmur3("bcd"))
  })

  it("tells text written without spaces from text with words", () => {
    expect(isSpaceless("東京の天気について教えてください")).toBe(true)
    expect(isSpaceless("请用中文写一首关于秋天的诗")).toBe(true)
    expect(isSpaceless("Write a poem about 秋")).toBe(false)
    expect(isSpaceless("Напиши стихотворение об осени")).toBe(false)
    expect(unitOf("日本語の文章です", "auto")).toBe("char")
    expect(unitOf("日本語の文章です", "word")).toBe("word")
  })

  it("shingles ignore punctuation and runs of whitespace; a short text is one shingle", () => {
    expect(shingles("hello, world!  how are you?", "word", 3)).toEqual(shingles("hello world how are you", "word", 3))
    expect(shingles("Hello, world!", "word", 3)).toHaveLength(1)
    expect(shingles("  ...  ", "word", 3)).toHaveLength(0)
    expect(shingles("東京、大阪。", "char", 5)).toHaveLength(1)
    expect(shingles("東京の天気について", "char", 5)).toHaveLength(5)
  })

  it("estimates Jaccard similarity without bias, within the expected spread for 128 hash functions", () => {
    const perms = permutations(128)
    const errors: Array<number> = []
    for (let t = 0; t < 300; t++) {
      const words = pseudoText(t, 40 + (t % 80)).split(" ")
      const edited = [...words]
      for (let k = 0; k <= t % 6; k++) edited[(t * 7 + k * 13) % edited.length] = `edit${k}`
      const a = shingles(words.join(" "), "word", 3)
      const b = shingles(edited.join(" "), "word", 3)
      errors.push(similarity(signature(a, perms), signature(b, perms).slice()) - jaccard(a, b))
    }
    const mean = errors.reduce((x, y) => x + y, 0) / errors.length
    const sd = Math.sqrt(errors.reduce((x, y) => x + (y - mean) ** 2, 0) / errors.length)
    expect(Math.abs(mean)).toBeLessThan(0.01)
    expect(sd).toBeLessThan(0.06)
  })

  it("chooses bands and rows by the S-curve optimisation", () => {
    expect(optimalBanding(0.8, 128)).toEqual({ bands: 9, rows: 13 })
    const recallFirst = optimalBanding(0.8, 128, 0.2, 0.8)
    expect(recallFirst).toEqual({ bands: 12, rows: 10 })
    expect(candidateProbability(0.9, recallFirst.bands, recallFirst.rows)).toBeGreaterThan(0.99)
    expect(candidateProbability(0.3, recallFirst.bands, recallFirst.rows)).toBeLessThan(0.001)
    const low = optimalBanding(0.5, 128)
    expect(low.bands).toBeGreaterThan(9)
  })
})

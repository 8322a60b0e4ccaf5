/**
 * The response cache's key filter: a lookup of a key the file cannot hold reads nothing, and no
 * key the file holds, or this process stored, is ever missed (a missed key would be a paid
 * request sent again).
 */
import { describe, expect, it } from "vitest"
import { createHash } from "node:crypto"
import { join } from "node:path"
import { Effect } from "effect"
import * as Cache from "../src/Cache.js"
import { Bloom, KeyFilter } from "../src/internal/keyFilter.js"
import { tempDir } from "./support.js"

const work = tempDir("key-filter")
const keyOf = (i: number): string => createHash("sha256").update(`request ${i}`).digest("hex")
const answer = (content: string) => ({ content, finish_reason: "stop", usage: { prompt_tokens: 1, completion_tokens: 2 } })

/** A file's keys in key order, and how many pages of them were read. */
const fakeFile = (keys: ReadonlyArray<string>) => {
  const sorted = [...keys].sort()
  const file = { pages: 0, keys: sorted }
  const page = (after: string, limit: number): ReadonlyArray<string> => {
    file.pages++
    let lo = 0
    let hi = file.keys.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (file.keys[mid]! > after) hi = mid
      else lo = mid + 1
    }
    return file.keys.slice(lo, lo + limit)
  }
  return { file, page }
}

describe("key filter", () => {
  it("a Bloom filter misses no key it holds, and says maybe for few it does not", () => {
    const bloom = new Bloom(100_000)
    for (let i = 0; i < 100_000; i++) bloom.add(keyOf(i))
    for (let i = 0; i < 100_000; i++) expect(bloom.mayHave(keyOf(i))).toBe(true)
    let maybe = 0
    for (let i = 100_000; i < 200_000; i++) if (bloom.mayHave(keyOf(i))) maybe++
    expect(maybe / 100_000).toBeLessThan(0.005)
  })

  it("reads the file at every lookup until its keys are scanned, a page per miss; then only for keys it may hold", () => {
    const held = Array.from({ length: 1000 }, (_, i) => keyOf(i))
    const { file, page } = fakeFile(held)
    const filter = new KeyFilter(page, () => [])
    let misses = 0
    while (filter.mustRead(keyOf(1_000_000 + misses))) {
      filter.missed()
      misses++
    }
    // 1,000 keys in pages of 64: 16 pages, the last one short.
    expect(misses).toBe(16)
    expect(file.pages).toBe(16)
    for (const k of held) expect(filter.mustRead(k)).toBe(true)
    let read = 0
    for (let i = 2000; i < 12_000; i++) if (filter.mustRead(keyOf(i))) read++
    expect(read).toBeLessThan(20)
    filter.stored(keyOf(5000))
    expect(filter.mustRead(keyOf(5000))).toBe(true)
  })

  it("grows past the keys it was sized for, scans the file again, and keeps the keys not committed yet", () => {
    const { file, page } = fakeFile([])
    const pending = new Set<string>()
    const filter = new KeyFilter(page, () => pending)
    filter.missed()
    expect(filter.mustRead(keyOf(-1))).toBe(false)
    // 262,144 keys fit the smallest filter; one more grows it. The committed ones are in the file.
    const n = 262_145
    for (let i = 0; i < n - 1; i++) {
      filter.stored(keyOf(i))
      file.keys.push(keyOf(i))
    }
    pending.add(keyOf(n - 1))
    filter.stored(keyOf(n - 1))
    file.keys.sort()
    // Growing starts the scan over: every lookup reads the file until it is done.
    expect(filter.mustRead(keyOf(-1))).toBe(true)
    while (filter.mustRead(keyOf(-2))) filter.missed()
    for (let i = 0; i < n; i++) expect(filter.mustRead(keyOf(i))).toBe(true)
  })

  it("through the cache: answers in the file before it opened and answers stored since are found, others read nothing", async () => {
    const file = join(work, "filter.sqlite")
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const cache = yield* Cache.open(file, "read-write")
          for (let i = 0; i < 500; i++) cache.put(keyOf(i), "m", answer(`answer ${i}`))
        })
      )
    )
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const cache = yield* Cache.open(file, "read-write")
          // Lookups interleaved with misses: the scan runs while the earlier answers are asked for.
          for (let i = 0; i < 500; i++) {
            expect(cache.get(keyOf(10_000 + i))).toBeUndefined()
            expect(cache.get(keyOf(i))?.content).toBe(`answer ${i}`)
          }
          cache.stage(keyOf(600), "m", answer("staged"))
          expect(cache.get(keyOf(600))?.content).toBe("staged")
          cache.commit()
          expect(cache.get(keyOf(600))?.content).toBe("staged")
          cache.put(keyOf(601), "m", answer("stored"))
          expect(cache.get(keyOf(601))?.content).toBe("stored")
        })
      )
    )
  })
})

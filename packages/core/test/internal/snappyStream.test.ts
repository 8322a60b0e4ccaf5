import { describe, expect, it } from "@effect/vitest"
import { snappyUncompress } from "hyparquet/src/snappy.js"
import { snappyCompress } from "hyparquet-writer/src/snappy.js"
import { history, SnappyReader, TooFarBack } from "../../src/internal/io/snappyStream.js"
import { farSnappy } from "../support/parquetFiles.js"

/** Byte arrays compared at once (toEqual walks them element by element: seconds for megabytes). */
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))

/** Text-like bytes: letters, with runs copied from up to 1,000 bytes back (so snappy finds matches). */
const textish = (size: number, seed: number): Uint8Array => {
  let s = seed
  const rnd = () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff
    return s / 0x7fffffff
  }
  const out = new Uint8Array(size)
  for (let i = 0; i < size; i++) out[i] = i === 0 || rnd() < 0.3 ? 97 + Math.floor(rnd() * 20) : out[Math.max(0, i - 1 - Math.floor(rnd() * 1000))]!
  return out
}

describe("internal/io/snappyStream", () => {
  it("reads a stream in pieces of any size, skipping some, exactly as decompressing it whole", () => {
    for (const [size, seed] of [[1, 1], [100, 2], [70_000, 3], [900_000, 4], [3_000_000, 5]] as const) {
      const data = textish(size, seed)
      const compressed = snappyCompress(data)
      const whole = new Uint8Array(size)
      snappyUncompress(compressed, whole)
      expect(same(whole, data)).toBe(true)
      // A small buffer, so it is compacted and grown many times.
      const reader = new SnappyReader(compressed, 1 << 16)
      expect(reader.total).toBe(size)
      const got = new Uint8Array(size)
      let at = 0
      let k = 0
      while (at < size) {
        const n = Math.min(size - at, [1, 4, 333, 70_000, 600_000][k++ % 5]!)
        if (k % 3 === 0) {
          reader.skip(n)
          got.set(data.subarray(at, at + n), at)
        } else if (k % 3 === 1) got.set(reader.read(n), at)
        else reader.readInto(n, got, at)
        at += n
        expect(reader.position).toBe(at)
      }
      expect(same(got, data)).toBe(true)
      expect(() => reader.read(1)).toThrow(/ends at byte/)
    }
  })

  it("reads little-endian lengths and fails on truncated input", () => {
    const data = new Uint8Array([7, 1, 0, 0, 200, 0, 0, 1, 42])
    const reader = new SnappyReader(snappyCompress(data))
    expect([reader.u32(), reader.u32()]).toEqual([263, 200 + 0x1000000])
    expect(reader.read(1)[0]).toBe(42)
    const cut = snappyCompress(textish(50_000, 9))
    expect(() => new SnappyReader(cut.subarray(0, cut.length - 100)).skip(50_000)).toThrow(/snappy|premature/)
  })

  it("fails with TooFarBack when a back reference reaches past the bytes it keeps", () => {
    // Rows of 400 KB repeating: copies from 400 KB back, after literals that let the reader drop
    // all but the last `history` bytes.
    const period = 400 * 1024
    expect(period).toBeGreaterThan(history)
    const row = textish(period, 7)
    const data = new Uint8Array(period * 6)
    for (let k = 0; k < 6; k++) data.set(row, k * period)
    const far = farSnappy(period)(data)
    const whole = new Uint8Array(data.length)
    snappyUncompress(far, whole)
    expect(same(whole, data)).toBe(true)
    const reader = new SnappyReader(far, 1 << 16)
    expect(() => {
      for (let at = 0; at < data.length; at += 64 * 1024) reader.skip(64 * 1024)
    }).toThrow(TooFarBack)
  })
})

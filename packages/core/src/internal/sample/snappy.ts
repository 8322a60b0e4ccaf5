/**
 * A fast raw-snappy compressor for the sample parquet writer: the reference algorithm (64 KiB
 * blocks, 14-bit hash table, skip acceleration on incompressible input) writing straight into a
 * reusable output buffer, about twice as fast as a generic byte-writer based port. Output is
 * standard snappy, readable by every parquet reader.
 */

const BLOCK = 1 << 16
const HASH_BITS = 14
const SHIFT = 32 - HASH_BITS
const INPUT_MARGIN = 15

const table = new Uint16Array(1 << HASH_BITS)
let out = new Uint8Array(1 << 20)

/** The worst-case compressed size of `n` bytes. */
const maxCompressedLength = (n: number): number => 32 + n + Math.floor(n / 6)

const load32 = (a: DataView, i: number): number => a.getInt32(i, true)

const hash = (v: number): number => Math.imul(v, 0x1e35a7bd) >>> SHIFT

const emitLiteral = (out: Uint8Array, input: Uint8Array, from: number, len: number, pos: number): number => {
  const n = len - 1
  if (n < 60) {
    out[pos++] = n << 2
  } else if (n < 0x100) {
    out[pos++] = 60 << 2
    out[pos++] = n
  } else if (n < 0x10000) {
    out[pos++] = 61 << 2
    out[pos++] = n & 0xff
    out[pos++] = n >>> 8
  } else if (n < 0x1000000) {
    out[pos++] = 62 << 2
    out[pos++] = n & 0xff
    out[pos++] = (n >>> 8) & 0xff
    out[pos++] = n >>> 16
  } else {
    out[pos++] = 63 << 2
    out[pos++] = n & 0xff
    out[pos++] = (n >>> 8) & 0xff
    out[pos++] = (n >>> 16) & 0xff
    out[pos++] = n >>> 24
  }
  if (len < 32) {
    for (let i = 0; i < len; i++) out[pos + i] = input[from + i]
  } else {
    out.set(input.subarray(from, from + len), pos)
  }
  return pos + len
}

const emitCopyUpTo64 = (out: Uint8Array, offset: number, len: number, pos: number): number => {
  if (len < 12 && offset < 2048) {
    out[pos++] = 1 | ((len - 4) << 2) | ((offset >>> 8) << 5)
    out[pos++] = offset & 0xff
  } else {
    out[pos++] = 2 | ((len - 1) << 2)
    out[pos++] = offset & 0xff
    out[pos++] = offset >>> 8
  }
  return pos
}

const emitCopy = (out: Uint8Array, offset: number, len: number, pos: number): number => {
  while (len >= 68) {
    pos = emitCopyUpTo64(out, offset, 64, pos)
    len -= 64
  }
  if (len > 64) {
    pos = emitCopyUpTo64(out, offset, 60, pos)
    len -= 60
  }
  return emitCopyUpTo64(out, offset, len, pos)
}

const compressBlock = (out: Uint8Array, table: Uint16Array, input: Uint8Array, view: DataView, start: number, end: number, pos: number): number => {
  let nextEmit = start
  if (end - start >= INPUT_MARGIN) {
    table.fill(0)
    const ipLimit = end - INPUT_MARGIN
    let ip = start + 1
    let nextValue = load32(view, ip)
    let nextHash = hash(nextValue)
    outer: for (;;) {
      let skip = 32
      let nextIp = ip
      let candidate = 0
      let current = 0
      do {
        ip = nextIp
        const h = nextHash
        current = nextValue
        nextIp = ip + (skip++ >>> 5)
        if (nextIp > ipLimit) break outer
        nextValue = load32(view, nextIp)
        nextHash = hash(nextValue)
        candidate = start + table[h]
        table[h] = ip - start
      } while (current !== load32(view, candidate))

      pos = emitLiteral(out, input, nextEmit, ip - nextEmit, pos)

      for (;;) {
        const base = ip
        let matched = 4
        while (ip + matched + 4 <= end && load32(view, ip + matched) === load32(view, candidate + matched)) matched += 4
        while (ip + matched < end && input[ip + matched] === input[candidate + matched]) matched++
        ip += matched
        pos = emitCopy(out, base - candidate, matched, pos)
        nextEmit = ip
        if (ip >= ipLimit) break outer
        table[hash(load32(view, ip - 1))] = ip - 1 - start
        current = load32(view, ip)
        const h = hash(current)
        candidate = start + table[h]
        table[h] = ip - start
        if (current !== load32(view, candidate)) break
      }
      ip++
      nextValue = load32(view, ip)
      nextHash = hash(nextValue)
    }
  }
  if (nextEmit < end) pos = emitLiteral(out, input, nextEmit, end - nextEmit, pos)
  return pos
}

/** Snappy-compresses `input`; the result is a view valid until the next call. */
export const snappyCompress = (input: Uint8Array): Uint8Array => {
  const need = maxCompressedLength(input.length)
  if (out.length < need) out = new Uint8Array(Math.max(need, out.length * 2))
  let pos = 0
  let n = input.length
  while (n > 0x7f) {
    out[pos++] = (n & 0x7f) | 0x80
    n >>>= 7
  }
  out[pos++] = n
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength)
  for (let start = 0; start < input.length; start += BLOCK) {
    pos = compressBlock(out, table, input, view, start, Math.min(input.length, start + BLOCK), pos)
  }
  return out.subarray(0, pos)
}

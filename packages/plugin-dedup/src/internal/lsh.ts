/**
 * The near-duplicate index of the first pass: per row its id, an 8-bit MinHash signature and one
 * 32-bit hash per LSH band, in fixed-size blocks of typed arrays (no copy when it grows). When
 * every row is in, each band is sorted once (one packed Float64Array at a time), rows sharing a
 * band hash are verified by their estimated Jaccard similarity and joined by union-find, the
 * smallest row index of a cluster being its root: the first occurrence in input order.
 *
 * Memory is bounded by `budgetBytes`: once the full blocks held exceed it, the oldest are
 * written to a temporary file (unlinked as soon as it is open, so nothing is left behind even
 * if the process is killed) and read back from there: a band's hashes block by block when the
 * band is sorted, and the two signatures of a candidate pair (2 × num_perm bytes) when it is
 * verified. What stays in memory is the ids, the blocks within the budget and, while resolving,
 * 12 bytes per row (the sort keys of one band and the union-find parents).
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { bandHash, type Permutations, similarity8 } from "../MinHash.js"
import type { SignedBatch } from "./sign.js"

const BLOCK_BITS = 16
const BLOCK = 1 << BLOCK_BITS
const MASK = BLOCK - 1
/** Earlier members of a bucket a row is compared with, at most. */
const MAX_COMPARISONS = 16

/** What resolving the index found. */
export interface Resolution {
  /** conversation_id of every row that is a near-duplicate → conversation_id of its cluster's first row. */
  readonly firstOf: Map<string, string>
  /** Rows indexed (with a non-empty text). */
  readonly rows: number
  /** Clusters of two or more rows. */
  readonly clusters: number
  /** Candidate pairs compared (rows sharing a band with an earlier row). */
  readonly compared: number
}

/** The first-pass index. */
export class LshIndex {
  /** Ids in batches: one joined string and its end offsets per batch, and the row each batch starts at. */
  private readonly idText: Array<string> = []
  private readonly idEnds: Array<Int32Array> = []
  private readonly idStart: Array<number> = []
  /** Ids added one at a time, not yet joined into a batch. */
  private loose: Array<string> = []
  /** Blocks in memory (`undefined` once spilled). */
  private readonly sigBlocks: Array<Uint8Array | undefined> = []
  private readonly bandBlocks: Array<Array<Int32Array | undefined>>
  private n = 0
  /** The spill file, once a block has been written there, and where each spilled block lies in it. */
  private fd: number | undefined
  private fileBytes = 0
  private readonly spilledAt: Array<number | undefined> = []
  private held = 0
  private readonly blockBytes: number
  private readonly sigA: Uint8Array
  private readonly sigB: Uint8Array
  /** Blocks written to the spill file, for reports and tests. */
  spilledBlocks = 0

  constructor(
    readonly perms: Permutations,
    readonly bands: number,
    readonly rows: number,
    /** Bytes of signature and band blocks kept in memory before the oldest go to the spill file. */
    readonly budgetBytes: number = Number.POSITIVE_INFINITY
  ) {
    this.bandBlocks = Array.from({ length: bands }, () => [])
    this.blockBytes = BLOCK * (perms.numPerm + 4 * bands)
    this.sigA = new Uint8Array(perms.numPerm)
    this.sigB = new Uint8Array(perms.numPerm)
  }

  /** Writes the oldest block still in memory to the spill file. */
  private spillOne(): void {
    const k = this.sigBlocks.findIndex((b) => b !== undefined)
    if (k < 0 || k === this.sigBlocks.length - 1) return
    if (this.fd === undefined) {
      const dir = mkdtempSync(join(tmpdir(), "synthline-near-dedup-"))
      const file = join(dir, "index.bin")
      this.fd = openSync(file, "w+")
      // Unlinked at once: the file lives as long as the descriptor.
      rmSync(dir, { recursive: true, force: true })
    }
    const at = this.fileBytes
    const sig = this.sigBlocks[k]!
    writeSync(this.fd, sig, 0, sig.length, at)
    let pos = at + sig.length
    for (let b = 0; b < this.bands; b++) {
      const h = this.bandBlocks[b]![k]!
      writeSync(this.fd, new Uint8Array(h.buffer, h.byteOffset, h.byteLength), 0, h.byteLength, pos)
      pos += h.byteLength
      this.bandBlocks[b]![k] = undefined
    }
    this.fileBytes = pos
    this.spilledAt[k] = at
    this.sigBlocks[k] = undefined
    this.held -= this.blockBytes
    this.spilledBlocks++
  }

  /** Band `b`'s hashes of block `k`, from memory or read back into `scratch`. */
  private bandBlock(b: number, k: number, scratch: Int32Array): Int32Array {
    const inMemory = this.bandBlocks[b]![k]
    if (inMemory !== undefined) return inMemory
    const pos = this.spilledAt[k]! + BLOCK * this.perms.numPerm + b * BLOCK * 4
    readSync(this.fd!, new Uint8Array(scratch.buffer), 0, BLOCK * 4, pos)
    return scratch
  }

  /** Row `i`'s signature bytes: its block and offset in memory, or read back into `into`. */
  private sigOf(i: number, into: Uint8Array): readonly [Uint8Array, number] {
    const k = i >>> BLOCK_BITS
    const p = this.perms.numPerm
    const inMemory = this.sigBlocks[k]
    if (inMemory !== undefined) return [inMemory, (i & MASK) * p]
    readSync(this.fd!, into, 0, p, this.spilledAt[k]! + (i & MASK) * p)
    return [into, 0]
  }

  /** Rows added so far. */
  get size(): number {
    return this.n
  }

  /** Bytes held by the typed arrays (signatures and band hashes) and the ids, for reports. */
  get bytes(): number {
    let ids = 0
    for (let k = 0; k < this.idText.length; k++) ids += 2 * this.idText[k]!.length + 4 * this.idEnds[k]!.length
    return this.held + ids
  }

  private reserve(i: number): void {
    if ((i & MASK) === 0) {
      this.sigBlocks.push(new Uint8Array(BLOCK * this.perms.numPerm))
      for (const b of this.bandBlocks) b.push(new Int32Array(BLOCK))
      this.held += this.blockBytes
      while (this.held > this.budgetBytes && this.sigBlocks.findIndex((b) => b !== undefined) < this.sigBlocks.length - 1) this.spillOne()
    }
  }

  private flushLoose(): void {
    if (this.loose.length === 0) return
    const ends = new Int32Array(this.loose.length)
    let at = 0
    for (let k = 0; k < this.loose.length; k++) ends[k] = at += this.loose[k]!.length
    this.idStart.push(this.n - this.loose.length)
    this.idText.push(this.loose.join(""))
    this.idEnds.push(ends)
    this.loose = []
  }

  /** Appends a batch of signed rows (see `sign.ts`), in order. */
  addBatch(batch: SignedBatch): void {
    if (batch.count === 0) return
    this.flushLoose()
    const numPerm = this.perms.numPerm
    const bands = this.bands
    this.idStart.push(this.n)
    this.idText.push(batch.ids)
    this.idEnds.push(batch.idEnds)
    for (let k = 0; k < batch.count; k++) {
      const i = this.n++
      this.reserve(i)
      const block = i >>> BLOCK_BITS
      const at = i & MASK
      this.sigBlocks[block]!.set(batch.sig8.subarray(k * numPerm, (k + 1) * numPerm), at * numPerm)
      for (let b = 0; b < bands; b++) this.bandBlocks[b]![block]![at] = batch.bandHashes[k * bands + b]!
    }
  }

  /** The id of row `i`. */
  private id(i: number): string {
    // The last batch starting at or before i.
    let lo = 0
    let hi = this.idStart.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (this.idStart[mid]! <= i) lo = mid
      else hi = mid - 1
    }
    const k = i - this.idStart[lo]!
    const ends = this.idEnds[lo]!
    return this.idText[lo]!.slice(k === 0 ? 0 : ends[k - 1]!, ends[k]!)
  }

  /** Adds a row: its id and its full signature. */
  add(id: string, sig: Int32Array): void {
    const i = this.n++
    const block = i >>> BLOCK_BITS
    const at = i & MASK
    this.reserve(i)
    this.loose.push(id)
    const sigs = this.sigBlocks[block]!
    const numPerm = this.perms.numPerm
    const base = at * numPerm
    for (let k = 0; k < numPerm; k++) sigs[base + k] = sig[k]! & 0xff
    for (let b = 0; b < this.bands; b++) this.bandBlocks[b]![block]![at] = bandHash(sig, b, this.rows)
  }

  private estimate(i: number, j: number): number {
    const [a, ao] = this.sigOf(i, this.sigA)
    const [b, bo] = this.sigOf(j, this.sigB)
    return similarity8(a, ao, b, bo, this.perms.numPerm)
  }

  /** Clusters the rows: pairs sharing a band and estimated at `threshold` or more are joined. */
  resolve(threshold: number): Resolution {
    this.flushLoose()
    const n = this.n
    const parent = new Int32Array(n)
    for (let i = 0; i < n; i++) parent[i] = i
    const find = (x: number): number => {
      while (parent[x] !== x) {
        parent[x] = parent[parent[x]!]!
        x = parent[x]!
      }
      return x
    }
    // Keys pack (band hash, row index) into a double: idxBits for the index, the rest of the 53 bits for the hash.
    const idxBits = Math.max(1, Math.ceil(Math.log2(n + 1)))
    const hashBits = Math.min(32, 53 - idxBits)
    const shift = 32 - hashBits
    const scale = 2 ** idxBits
    let compared = 0
    const keys = new Float64Array(n)
    const scratch = new Int32Array(BLOCK)
    for (let b = 0; b < this.bands; b++) {
      const blocks = this.bandBlocks[b]!
      for (let k = 0; k * BLOCK < n; k++) {
        const hashes = this.bandBlock(b, k, scratch)
        const end = Math.min(n, (k + 1) * BLOCK)
        for (let i = k * BLOCK; i < end; i++) keys[i] = (hashes[i & MASK]! >>> 0 >>> shift) * scale + i
      }
      keys.sort()
      let start = 0
      while (start < n) {
        const h = Math.floor(keys[start]! / scale)
        let end = start + 1
        while (end < n && Math.floor(keys[end]! / scale) === h) end++
        for (let p = start + 1; p < end; p++) {
          const j = keys[p]! % scale
          const limit = Math.min(p, start + MAX_COMPARISONS)
          for (let q = start; q < limit; q++) {
            const i = keys[q]! % scale
            const ri = find(i)
            const rj = find(j)
            if (ri === rj) break
            compared++
            if (this.estimate(i, j) >= threshold) {
              if (ri < rj) parent[rj] = ri
              else parent[ri] = rj
              break
            }
          }
        }
        start = end
      }
      // The band's hashes are no longer needed.
      blocks.length = 0
    }
    const firstOf = new Map<string, string>()
    const roots = new Set<number>()
    for (let i = 0; i < n; i++) {
      const r = find(i)
      if (r === i) continue
      roots.add(r)
      const id = this.id(i)
      const first = this.id(r)
      if (id !== first && !firstOf.has(id)) firstOf.set(id, first)
    }
    if (this.fd !== undefined) closeSync(this.fd)
    this.fd = undefined
    return { firstOf, rows: n, clusters: roots.size, compared }
  }
}

/**
 * What the first pass of `dedup/near-dedup` computes per row, wherever it runs (the runner's
 * thread or a signing worker, see `signPool.ts`): the row's `conversation_id`, its 8-bit MinHash
 * signature (the low byte of each value, b-bit MinHash) and one 32-bit hash per LSH band. Rows
 * are gathered into batches of typed arrays (one per work unit), which travel between threads
 * without a copy and are appended to the index in unit order.
 */
import { getPath, parsePath, type Row } from "@synthline/core/Row"
import { bandHash, permutations, shingles, signature, type Tokens, unitOf } from "../MinHash.js"

/** How rows are signed: plain data, so a signing worker can be started with it. */
export interface SignSpec {
  /** Dotted path of the text. */
  readonly field: string
  readonly numPerm: number
  readonly bands: number
  readonly rows: number
  readonly tokens: Tokens
  readonly ngram: number
  readonly charNgram: number
  readonly normalize: "whitespace-case" | "exact"
}

/** The signed rows of one work unit (rows without an id string or without tokens are left out). */
export interface SignedBatch {
  /** Rows in the batch. */
  readonly count: number
  /** Rows read for it, and those of them with an id and a string at the field (signed unless it has no tokens). */
  readonly read: number
  readonly texts: number
  /** The rows' ids joined into one string (one string per batch, not one per row). */
  readonly ids: string
  /** Where each id ends in `ids` (id `k` is `ids.slice(k === 0 ? 0 : idEnds[k - 1], idEnds[k])`). */
  readonly idEnds: Int32Array
  /** `count × numPerm` signature bytes. */
  readonly sig8: Uint8Array
  /** `count × bands` band hashes. */
  readonly bandHashes: Int32Array
}

const NON_ASCII = /[\u0080-\uffff]/

/**
 * `core/dedup`'s `whitespace-case` normalization as far as shingles see it (whitespace only
 * separates tokens): NFKC — skipped for ASCII text, which it leaves unchanged — and lowercase.
 */
export const foldText = (text: string): string => (NON_ASCII.test(text) ? text.normalize("NFKC") : text).toLowerCase()

/**
 * The shingler and signer of a spec: text → full 32-bit signature, or `undefined` for a text
 * with no tokens. The signature array is reused between calls.
 */
export const textSigner = (spec: Omit<SignSpec, "field" | "bands" | "rows">): ((text: string) => Int32Array | undefined) => {
  const perms = permutations(spec.numPerm)
  const sig = new Int32Array(spec.numPerm)
  const normalize = spec.normalize === "exact" ? (s: string) => s : foldText
  return (text) => {
    const t = normalize(text)
    const unit = unitOf(t, spec.tokens)
    const hs = shingles(t, unit, unit === "char" ? spec.charNgram : spec.ngram)
    return hs.length === 0 ? undefined : signature(hs, perms, sig)
  }
}

/** Signs rows into batches: `add` each chunk of a unit's rows, then `take` the unit's batch. */
export const batcher = (spec: SignSpec) => {
  const keys = parsePath(spec.field)
  const sign = textSigner(spec)
  const { numPerm, bands, rows } = spec
  let ids: Array<string> = []
  let ends = new Int32Array(1024)
  let sig8 = new Uint8Array(1024 * numPerm)
  let bandHashes = new Int32Array(1024 * bands)
  let count = 0
  let length = 0
  let read = 0
  let texts = 0
  const grow = (): void => {
    const cap = ends.length * 2
    const e = new Int32Array(cap)
    e.set(ends)
    ends = e
    const s = new Uint8Array(cap * numPerm)
    s.set(sig8)
    sig8 = s
    const h = new Int32Array(cap * bands)
    h.set(bandHashes)
    bandHashes = h
  }
  return {
    add: (chunk: ReadonlyArray<Row>): void => {
      read += chunk.length
      for (const row of chunk) {
        const id = row.conversation_id
        const text = getPath(row, keys)
        if (typeof id !== "string" || typeof text !== "string") continue
        texts++
        const sig = sign(text)
        if (sig === undefined) continue
        if (count === ends.length) grow()
        ids.push(id)
        length += id.length
        ends[count] = length
        const base = count * numPerm
        for (let k = 0; k < numPerm; k++) sig8[base + k] = sig[k]! & 0xff
        const hb = count * bands
        for (let b = 0; b < bands; b++) bandHashes[hb + b] = bandHash(sig, b, rows)
        count++
      }
    },
    take: (): SignedBatch => {
      const batch: SignedBatch = {
        count,
        read,
        texts,
        ids: ids.join(""),
        idEnds: ends.slice(0, count),
        sig8: sig8.slice(0, count * numPerm),
        bandHashes: bandHashes.slice(0, count * bands)
      }
      ids = []
      count = 0
      length = 0
      read = 0
      texts = 0
      return batch
    }
  }
}

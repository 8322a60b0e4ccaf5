/**
 * MinHash over n-gram shingles, and the LSH band/row choice: the primitives behind
 * `dedup/near-dedup` and the n-gram sets of `dedup/decontaminate`. Texts are split into tokens
 * (runs of letters and digits; punctuation and whitespace only separate them), words for text
 * written with spaces and characters for Japanese and Chinese; shingles are hashed with 32-bit
 * MurmurHash3 (`Math.imul`, over UTF-16 code units, no encoding step) and a signature keeps, for
 * each of `numPerm` hash functions, the least value over the shingles.
 */

// ---------------------------------------------------------------------------------------------
// Hashing

const C1 = 0xcc9e2d51
const C2 = 0x1b873593

/** MurmurHash3's 32-bit finalizer: a bijection on 32-bit integers that mixes every bit. */
export const fmix32 = (h: number): number => {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

const mixK = (k: number): number => Math.imul((Math.imul(k, C1) << 15) | (Math.imul(k, C1) >>> 17), C2)

const mixH = (h: number, k: number): number => {
  h ^= mixK(k)
  h = (h << 13) | (h >>> 19)
  return (Math.imul(h, 5) + 0xe6546b64) | 0
}

/**
 * MurmurHash3 x86 32-bit of `s.slice(start, end)` taken as 16-bit code units (two per block),
 * without copying the slice. Unsigned result.
 */
export const murmur3 = (s: string, seed = 0, start = 0, end: number = s.length): number => {
  let h = seed | 0
  let i = start
  for (; i + 1 < end; i += 2) h = mixH(h, s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16))
  if (i < end) h ^= mixK(s.charCodeAt(i))
  return fmix32(h ^ ((end - start) * 2))
}

/** Hash of a sequence of 32-bit hashes `xs[start..start+n)` (a word n-gram), MurmurHash3-style. */
export const hashSeq = (xs: ArrayLike<number>, start: number, n: number, seed = 0): number => {
  let h = seed | 0
  for (let i = start; i < start + n; i++) h = mixH(h, xs[i]!)
  return fmix32(h ^ (n * 4))
}

// ---------------------------------------------------------------------------------------------
// Tokens and shingles

/** How a text is cut into tokens: words, characters, or by the text (`auto`). */
export type Tokens = "auto" | "word" | "char"

/** Letters, digits and combining marks: what tokens are made of. */
const TOKEN = /[\p{L}\p{N}\p{M}]+/gu
/** Han, Hiragana and Katakana: scripts written without spaces between words. */
const SPACELESS = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/gu
const LETTER = /[\p{L}\p{N}]/gu
const MAYBE_SPACELESS = /[\u2e80-\uffff]/
const NON_ASCII = /[\u0080-\uffff]/

/** Whether an ASCII code unit is a letter or digit (in ASCII exactly what `TOKEN` matches). */
const isAsciiToken = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57)

/** The word hashes of an ASCII text: `murmur3(word, 2)` of each token, without cutting the words out. */
const asciiWordHashes = (text: string): Int32Array => {
  let hs = new Int32Array(64)
  let n = 0
  const len = text.length
  let i = 0
  while (i < len) {
    while (i < len && !isAsciiToken(text.charCodeAt(i))) i++
    if (i === len) break
    const start = i
    while (i < len && isAsciiToken(text.charCodeAt(i))) i++
    if (n === hs.length) {
      const grown = new Int32Array(n * 2)
      grown.set(hs)
      hs = grown
    }
    hs[n++] = murmur3(text, 2, start, i)
  }
  return hs.subarray(0, n)
}

/**
 * Whether a text is written without spaces between words (Japanese, Chinese): at least 30% of
 * its letters and digits are Han, Hiragana or Katakana.
 */
export const isSpaceless = (text: string): boolean => {
  // Han, Hiragana and Katakana all lie at or above U+2E80 (supplementary ones as surrogates).
  if (!MAYBE_SPACELESS.test(text)) return false
  const cjk = text.match(SPACELESS)?.length ?? 0
  if (cjk === 0) return false
  const letters = text.match(LETTER)?.length ?? 0
  return cjk >= 0.3 * letters
}

/** The unit a text is shingled in under `tokens`. */
export const unitOf = (text: string, tokens: Tokens): "word" | "char" =>
  tokens === "auto" ? (isSpaceless(text) ? "char" : "word") : tokens

/** The word tokens of a text (runs of letters, digits and marks). */
export const words = (text: string): Array<string> => text.match(TOKEN) ?? []

/** The text's letters, digits and marks with everything else removed (what character n-grams run over). */
export const letters = (text: string): string => (text.match(TOKEN) ?? []).join("")

/**
 * The hashed n-gram shingles of a text: word n-grams (of its {@link words}) or character
 * n-grams (of its {@link letters}). A text shorter than `n` tokens gives one shingle, the whole
 * token sequence; an empty text gives none.
 */
export const shingles = (text: string, unit: "word" | "char", n: number): Int32Array => {
  if (unit === "char") {
    const s = letters(text)
    if (s.length === 0) return new Int32Array(0)
    if (s.length <= n) return Int32Array.of(murmur3(s, 1))
    const out = new Int32Array(s.length - n + 1)
    for (let i = 0; i < out.length; i++) out[i] = murmur3(s, 1, i, i + n)
    return out
  }
  let hs: Int32Array
  if (NON_ASCII.test(text)) {
    const ws = words(text)
    hs = new Int32Array(ws.length)
    for (let i = 0; i < ws.length; i++) hs[i] = murmur3(ws[i]!, 2)
  } else hs = asciiWordHashes(text)
  const count = hs.length
  if (count === 0) return new Int32Array(0)
  if (count <= n) return Int32Array.of(hashSeq(hs, 0, count, 3))
  const out = new Int32Array(count - n + 1)
  for (let i = 0; i < out.length; i++) out[i] = hashSeq(hs, i, n, 3)
  return out
}

// ---------------------------------------------------------------------------------------------
// Signatures

/** The hash functions of a signature: `numPerm` (xor, odd multiplier) pairs drawn from a seed. */
export interface Permutations {
  readonly numPerm: number
  readonly xor: Int32Array
  readonly mul: Int32Array
}

/** `numPerm` hash functions derived from `seed` (the same seed always gives the same functions). */
export const permutations = (numPerm: number, seed = 0x5eed): Permutations => {
  const xor = new Int32Array(numPerm)
  const mul = new Int32Array(numPerm)
  let s = seed >>> 0
  const next = (): number => {
    // splitmix32
    s = (s + 0x9e3779b9) | 0
    return fmix32(s)
  }
  for (let i = 0; i < numPerm; i++) {
    xor[i] = next()
    mul[i] = next() | 1
  }
  return { numPerm, xor, mul }
}

/**
 * The MinHash signature of a shingle set into `out` (length `numPerm`): for each hash function
 * `h_i(x) = xorshift16(mul_i × (x ^ xor_i))` (a bijection on 32-bit integers, compared as
 * signed integers so the loop stays in small-integer arithmetic), the least value over the
 * shingles (`0x7fffffff` when there are none).
 */
export const signature = (hashes: Int32Array, perms: Permutations, out: Int32Array = new Int32Array(perms.numPerm)): Int32Array => {
  const { numPerm, xor, mul } = perms
  const n = hashes.length
  let i = 0
  // Four functions per pass over the shingles (the same values as one at a time, with a quarter of the loads and loop steps).
  for (; i + 3 < numPerm; i += 4) {
    const x0 = xor[i]!
    const x1 = xor[i + 1]!
    const x2 = xor[i + 2]!
    const x3 = xor[i + 3]!
    const m0 = mul[i]!
    const m1 = mul[i + 1]!
    const m2 = mul[i + 2]!
    const m3 = mul[i + 3]!
    let a = 0x7fffffff
    let b = 0x7fffffff
    let c = 0x7fffffff
    let d = 0x7fffffff
    for (let j = 0; j < n; j++) {
      const h = hashes[j]!
      let v = Math.imul(h ^ x0, m0)
      v ^= v >>> 16
      if (v < a) a = v
      v = Math.imul(h ^ x1, m1)
      v ^= v >>> 16
      if (v < b) b = v
      v = Math.imul(h ^ x2, m2)
      v ^= v >>> 16
      if (v < c) c = v
      v = Math.imul(h ^ x3, m3)
      v ^= v >>> 16
      if (v < d) d = v
    }
    out[i] = a
    out[i + 1] = b
    out[i + 2] = c
    out[i + 3] = d
  }
  for (; i < numPerm; i++) {
    const xo = xor[i]!
    const mu = mul[i]!
    let m = 0x7fffffff
    for (let j = 0; j < n; j++) {
      let v = Math.imul(hashes[j]! ^ xo, mu)
      v ^= v >>> 16
      if (v < m) m = v
    }
    out[i] = m
  }
  return out
}

/** The share of positions where two signatures agree: an unbiased estimate of the Jaccard similarity. */
export const similarity = (a: Int32Array, b: Int32Array): number => {
  let same = 0
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++
  return same / a.length
}

/**
 * Jaccard estimate from 8-bit signatures (the low byte of each value, b-bit MinHash): two
 * different values agree by chance with probability 1/256, so `(share − 1/256) / (1 − 1/256)`.
 */
export const similarity8 = (a: Uint8Array, aOffset: number, b: Uint8Array, bOffset: number, numPerm: number): number => {
  let same = 0
  for (let i = 0; i < numPerm; i++) if (a[aOffset + i] === b[bOffset + i]) same++
  return Math.max(0, (same / numPerm - 1 / 256) / (1 - 1 / 256))
}

/** The hash of band `band` (`rows` consecutive signature values). */
export const bandHash = (sig: Int32Array, band: number, rows: number): number => hashSeq(sig, band * rows, rows, 0x0b00 + band)

// ---------------------------------------------------------------------------------------------
// Bands and rows

/** Probability that a pair of Jaccard similarity `s` shares at least one of `b` bands of `r` rows. */
export const candidateProbability = (s: number, b: number, r: number): number => 1 - (1 - s ** r) ** b

const integrate = (f: (x: number) => number, a: number, b: number): number => {
  // Simpson's rule, 200 intervals.
  const n = 200
  const h = (b - a) / n
  let sum = f(a) + f(b)
  for (let i = 1; i < n; i++) sum += f(a + i * h) * (i % 2 === 1 ? 4 : 2)
  return (sum * h) / 3
}

/** An LSH layout: `bands` bands of `rows` signature values each. */
export interface Banding {
  readonly bands: number
  readonly rows: number
}

/**
 * The usual S-curve optimisation (as datasketch's `MinHashLSH`): the `bands × rows ≤ numPerm`
 * minimising `fpWeight ×` (area under the candidate curve below `threshold`, false positives) `+
 * fnWeight ×` (area above the curve from `threshold` to 1, false negatives).
 */
export const optimalBanding = (threshold: number, numPerm: number, fpWeight = 0.5, fnWeight = 0.5): Banding => {
  let best: Banding = { bands: 1, rows: numPerm }
  let bestError = Number.POSITIVE_INFINITY
  for (let b = 1; b <= numPerm; b++) {
    for (let r = 1; r <= Math.floor(numPerm / b); r++) {
      const fp = integrate((s) => candidateProbability(s, b, r), 0, threshold)
      const fn = integrate((s) => 1 - candidateProbability(s, b, r), threshold, 1)
      const error = fpWeight * fp + fnWeight * fn
      if (error < bestError) {
        bestError = error
        best = { bands: b, rows: r }
      }
    }
  }
  return best
}

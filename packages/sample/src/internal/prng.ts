/**
 * A small, fast, seedable PRNG (sfc32) for the sample generator. Each row reseeds the same
 * generator from a hash of `(seed, stream, index)`, so the i-th row depends only on `(seed, i)`
 * and rows can be generated in any order, on any shard, with no allocation per row.
 */

/** Mixes a 32-bit value (murmur3 finalizer). */
const fmix32 = (h: number): number => {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** Splits a (possibly > 32-bit) non-negative or negative integer into two 32-bit words. */
const lo32 = (n: number): number => (n % 0x1_0000_0000) >>> 0
const hi32 = (n: number): number => Math.floor(n / 0x1_0000_0000) >>> 0

/** A seedable sfc32 generator with helpers; reseed it rather than allocating a new one. */
export class Rng {
  private a = 0
  private b = 0
  private c = 0
  private d = 1

  /** Reseeds from `(seed, stream, index)`; all three are integers. */
  reseed(seed: number, stream: number, index: number): this {
    const s0 = lo32(seed)
    const s1 = hi32(seed)
    const i0 = lo32(index)
    const i1 = hi32(index)
    this.a = fmix32(s0 ^ 0x9e3779b9 ^ Math.imul(stream + 1, 0x632be5ab))
    this.b = fmix32(s1 ^ 0x243f6a88 ^ fmix32(i0 + 0x7f4a7c15))
    this.c = fmix32(i0 ^ 0xb7e15162 ^ fmix32(s0 + stream))
    this.d = fmix32(i1 ^ 0x3c6ef372 ^ fmix32(i0 ^ 0x5bd1e995)) | 1
    for (let k = 0; k < 12; k++) this.next()
    return this
  }

  /** Next unsigned 32-bit integer. */
  next(): number {
    const a = this.a
    const b = this.b
    const c = this.c
    const d = this.d
    const t = (((a + b) | 0) + d) | 0
    this.d = (d + 1) | 0
    this.a = b ^ (b >>> 9)
    this.b = (c + (c << 3)) | 0
    this.c = ((c << 21) | (c >>> 11)) + t
    this.c |= 0
    return t >>> 0
  }

  /** Uniform float in [0, 1). */
  float(): number {
    return this.next() / 0x1_0000_0000
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n)
  }

  /** Uniform integer in [lo, hi] (inclusive). */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1)
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p
  }

  /** A uniformly chosen element. */
  pick<A>(items: ReadonlyArray<A>): A {
    return items[this.int(items.length)]
  }

  /** A standard normal deviate (Box-Muller, one of the pair). */
  normal(): number {
    const u = 1 - this.float()
    const v = this.float()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }

  /** A log-normal deviate with the given mean and shape sigma. */
  logNormal(mean: number, sigma: number): number {
    const mu = Math.log(mean) - (sigma * sigma) / 2
    return Math.exp(mu + sigma * this.normal())
  }

  /** `n` characters drawn uniformly from `alphabet`. */
  chars(alphabet: string, n: number): string {
    let s = ""
    for (let i = 0; i < n; i++) s += alphabet[this.int(alphabet.length)]
    return s
  }

  /** `n` decimal digits. */
  digits(n: number): string {
    return this.chars("0123456789", n)
  }
}

/** A weighted choice table, built once and sampled in O(log n). */
export class Weighted<A> {
  private readonly cumulative: Float64Array
  private readonly total: number

  constructor(
    readonly items: ReadonlyArray<A>,
    weights: ReadonlyArray<number>
  ) {
    this.cumulative = new Float64Array(weights.length)
    let sum = 0
    for (let i = 0; i < weights.length; i++) {
      sum += weights[i]
      this.cumulative[i] = sum
    }
    this.total = sum
  }

  /** Builds a table from `[item, weight]` pairs. */
  static of<A>(pairs: ReadonlyArray<readonly [A, number]>): Weighted<A> {
    return new Weighted(
      pairs.map((p) => p[0]),
      pairs.map((p) => p[1])
    )
  }

  /** The probability of the item at `index`. */
  share(index: number): number {
    return (this.cumulative[index] - (index === 0 ? 0 : this.cumulative[index - 1])) / this.total
  }

  /** Index of a weighted random item. */
  index(rng: Rng): number {
    const x = rng.float() * this.total
    let lo = 0
    let hi = this.cumulative.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.cumulative[mid] > x) hi = mid
      else lo = mid + 1
    }
    return lo
  }

  /** A weighted random item. */
  pick(rng: Rng): A {
    return this.items[this.index(rng)]
  }
}

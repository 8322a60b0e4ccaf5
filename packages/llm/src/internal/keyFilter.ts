/**
 * The keys a response cache file may hold, so a lookup of a key it cannot hold costs no SQLite
 * read: a Bloom filter (three probes) over every key the file held when it was scanned and every
 * key this process stored since. A "no" is certain; a "maybe" is read from the file.
 *
 * The file's keys are scanned a page at a time, one page after each lookup that missed, so a
 * run over a large cache that asks little never pays for a full scan, and an empty or small one
 * is scanned after its first misses. Until the scan is complete every lookup reads the file.
 * The filter grows (and the scan starts over) when it holds more keys than it was sized for.
 */

/** Keys read per step of the scan: about 40 µs, a few times one lookup that missed. */
const PAGE = 64

/** Filter bits per key it is sized for: 0.1 % false positives at that load, 3 % at four times it. */
const BITS_PER_KEY = 32

/** Smallest filter: 2^23 bits (1 MiB), sized for 262,144 keys. */
const MIN_BITS = 1 << 23

/** Largest filter: 2^28 bits (32 MiB); past its 8 million keys false positives rise slowly (4 % at 32 million). */
const MAX_BITS = 1 << 28

/** 32-bit FNV-1a of a string's UTF-16 code units. */
const fnv1a = (s: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/** The finalizer of MurmurHash3: a second, independent-looking hash of `h`. */
const mix = (h: number): number => {
  let x = h ^ (h >>> 16)
  x = Math.imul(x, 0x85ebca6b)
  x ^= x >>> 13
  x = Math.imul(x, 0xc2b2ae35)
  return (x ^ (x >>> 16)) >>> 0
}

/** A Bloom filter of strings with three probes (double hashing). */
export class Bloom {
  private readonly words: Int32Array
  private readonly mask: number
  /** How many keys it was sized for. */
  readonly capacity: number
  /** Keys added (duplicates counted again). */
  added = 0
  private readonly probes = new Int32Array(3)

  constructor(expected: number) {
    let bits = MIN_BITS
    while (bits < expected * BITS_PER_KEY && bits < MAX_BITS) bits *= 2
    this.words = new Int32Array(bits >>> 5)
    this.mask = bits - 1
    this.capacity = Math.floor(bits / BITS_PER_KEY)
  }

  /** The three bits of `key`, into {@link probes}. */
  private probe(key: string): Int32Array {
    const a = fnv1a(key)
    const b = mix(a) | 1
    const p = this.probes
    for (let i = 0; i < 3; i++) p[i] = (a + Math.imul(i, b)) & this.mask
    return p
  }

  add(key: string): void {
    for (const bit of this.probe(key)) this.words[bit >>> 5]! |= 1 << (bit & 31)
    this.added++
  }

  mayHave(key: string): boolean {
    for (const bit of this.probe(key)) if ((this.words[bit >>> 5]! & (1 << (bit & 31))) === 0) return false
    return true
  }
}

/** Reads the file's keys after `after` in key order, at most `limit` of them. */
export type KeyPage = (after: string, limit: number) => ReadonlyArray<string>

/** The keys a cache file may hold: {@link Bloom} plus the scan of the file that fills it. */
export class KeyFilter {
  private bloom = new Bloom(0)
  /** The last key scanned; `undefined` once the scan is complete. */
  private cursor: string | undefined = ""
  /** Whether the filter is given up (the file could not be scanned): every lookup reads the file. */
  private off = false

  /**
   * @param page reads the file's keys in key order
   * @param pending the keys stored and not committed yet (a scan from the start may pass their place before they are)
   */
  constructor(
    private readonly page: KeyPage,
    private readonly pending: () => Iterable<string>
  ) {}

  /** Whether a lookup of `key` must read the file: `false` only when the file certainly lacks it. */
  mustRead(key: string): boolean {
    return this.off || this.cursor !== undefined || this.bloom.mayHave(key)
  }

  /** A lookup read the file and found nothing: scan the next page while the scan is incomplete. */
  missed(): void {
    if (this.off || this.cursor === undefined) return
    try {
      const keys = this.page(this.cursor, PAGE)
      for (const k of keys) this.bloom.add(k)
      this.cursor = keys.length < PAGE ? undefined : keys[keys.length - 1]!
      if (this.bloom.added > this.bloom.capacity) this.grow()
    } catch {
      // A file that cannot be scanned is read at every lookup, which reports its error.
      this.off = true
    }
  }

  /** `key` is (about to be) stored in the file. */
  stored(key: string): void {
    this.bloom.add(key)
    if (this.cursor === undefined && this.bloom.added > this.bloom.capacity) this.grow()
  }

  /** A filter sized for four times the keys, filled by a scan from the start (the file holds every key stored). */
  private grow(): void {
    // At the largest size there is nothing to grow to (and no 32 MiB filter to make per store).
    if (this.bloom.capacity >= MAX_BITS / BITS_PER_KEY) return
    const next = new Bloom(this.bloom.capacity * 4)
    for (const k of this.pending()) next.add(k)
    this.bloom = next
    this.cursor = ""
  }
}

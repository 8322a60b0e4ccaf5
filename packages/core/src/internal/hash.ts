/**
 * Fast deterministic hashing for stages: MurmurHash3 (x86, 128-bit) over the UTF-16LE code
 * units of a string, computed without allocating. Used for dedup keys ({@link digest}, 128
 * bits, so accidental collisions are negligible even over billions of rows) and for
 * seeded sampling ({@link seededUnit}: every random choice derives from
 * `(seed, stage id, conversation_id, index)`, see DESIGN §3 "Randomness").
 *
 * Not a cryptographic hash: it resists accidental collisions, not crafted ones.
 */

const C1 = 0x239b961b
const C2 = 0xab0e9789
const C3 = 0x38b34ae5
const C4 = 0xa1e38b93

const rotl = (x: number, r: number): number => (x << r) | (x >>> (32 - r))

const fmix = (h0: number): number => {
  let h = h0
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h
}

/** The four 32-bit lanes of the last hash (reused; read right after {@link murmur128}). */
const out = new Uint32Array(4)

/**
 * MurmurHash3_x86_128 of the string's UTF-16LE bytes with a 32-bit seed; writes the
 * result (h1..h4) into the shared `out` buffer.
 */
const murmur128 = (text: string, seed: number): void => {
  const len = text.length
  let h1 = seed | 0
  let h2 = h1
  let h3 = h1
  let h4 = h1
  const blocks = len - (len % 8)
  let i = 0
  for (; i < blocks; i += 8) {
    let k1 = text.charCodeAt(i) | (text.charCodeAt(i + 1) << 16)
    let k2 = text.charCodeAt(i + 2) | (text.charCodeAt(i + 3) << 16)
    let k3 = text.charCodeAt(i + 4) | (text.charCodeAt(i + 5) << 16)
    let k4 = text.charCodeAt(i + 6) | (text.charCodeAt(i + 7) << 16)

    k1 = Math.imul(rotl(Math.imul(k1, C1), 15), C2)
    h1 ^= k1
    h1 = rotl(h1, 19)
    h1 = (h1 + h2) | 0
    h1 = (Math.imul(h1, 5) + 0x561ccd1b) | 0

    k2 = Math.imul(rotl(Math.imul(k2, C2), 16), C3)
    h2 ^= k2
    h2 = rotl(h2, 17)
    h2 = (h2 + h3) | 0
    h2 = (Math.imul(h2, 5) + 0x0bcaa747) | 0

    k3 = Math.imul(rotl(Math.imul(k3, C3), 17), C4)
    h3 ^= k3
    h3 = rotl(h3, 15)
    h3 = (h3 + h4) | 0
    h3 = (Math.imul(h3, 5) + 0x96cd1c35) | 0

    k4 = Math.imul(rotl(Math.imul(k4, C4), 18), C1)
    h4 ^= k4
    h4 = rotl(h4, 13)
    h4 = (h4 + h1) | 0
    h4 = (Math.imul(h4, 5) + 0x32ac3b17) | 0
  }
  // Tail: 0..7 code units, packed little-endian into k1..k4 (lanes mixed only when used).
  const rem = len - blocks
  if (rem > 0) {
    let k1 = 0
    let k2 = 0
    let k3 = 0
    let k4 = 0
    for (let j = 0; j < rem; j++) {
      const c = text.charCodeAt(i + j) << ((j & 1) * 16)
      if (j < 2) k1 |= c
      else if (j < 4) k2 |= c
      else if (j < 6) k3 |= c
      else k4 |= c
    }
    if (rem > 6) h4 ^= Math.imul(rotl(Math.imul(k4, C4), 18), C1)
    if (rem > 4) h3 ^= Math.imul(rotl(Math.imul(k3, C3), 17), C4)
    if (rem > 2) h2 ^= Math.imul(rotl(Math.imul(k2, C2), 16), C3)
    h1 ^= Math.imul(rotl(Math.imul(k1, C1), 15), C2)
  }
  // Finalization (length in bytes).
  const bytes = len * 2
  h1 ^= bytes
  h2 ^= bytes
  h3 ^= bytes
  h4 ^= bytes
  h1 = (h1 + h2 + h3 + h4) | 0
  h2 = (h2 + h1) | 0
  h3 = (h3 + h1) | 0
  h4 = (h4 + h1) | 0
  h1 = fmix(h1)
  h2 = fmix(h2)
  h3 = fmix(h3)
  h4 = fmix(h4)
  h1 = (h1 + h2 + h3 + h4) | 0
  h2 = (h2 + h1) | 0
  h3 = (h3 + h1) | 0
  h4 = (h4 + h1) | 0
  out[0] = h1
  out[1] = h2
  out[2] = h3
  out[3] = h4
}

const hex8 = (n: number): string => n.toString(16).padStart(8, "0")

/** The 128-bit hash of a string as 32 lowercase hex digits (a compact, stable map key). */
export const digest = (text: string, seed = 0): string => {
  murmur128(text, seed)
  return hex8(out[0]!) + hex8(out[1]!) + hex8(out[2]!) + hex8(out[3]!)
}

/** The 128-bit hash of a string as four unsigned 32-bit words (h1..h4). */
export const hash128 = (text: string, seed = 0): readonly [number, number, number, number] => {
  murmur128(text, seed)
  return [out[0]!, out[1]!, out[2]!, out[3]!]
}

/** Writes the 128-bit hash of a string into `to[at..at+3]` (h1..h4). */
export const hashInto = (text: string, to: Uint32Array, at: number, seed = 0): void => {
  murmur128(text, seed)
  to[at] = out[0]!
  to[at + 1] = out[1]!
  to[at + 2] = out[2]!
  to[at + 3] = out[3]!
}

/** 32 lowercase hex digits of the hash held in `words[at..at+3]`. */
export const hexOf = (words: Uint32Array, at: number): string =>
  hex8(words[at]!) + hex8(words[at + 1]!) + hex8(words[at + 2]!) + hex8(words[at + 3]!)

/** A uniform number in [0, 1) from the hash of a string (53 bits of it). */
export const unit = (text: string, seed = 0): number => {
  murmur128(text, seed)
  // 32 high bits from h1, 21 from h2: exactly representable in a double.
  return (out[0]! * 2 ** 21 + (out[1]! >>> 11)) / 2 ** 53
}

/**
 * A uniform number in [0, 1) determined by `(seed, stageId, conversationId, index)`: the
 * same inputs give the same number in every run, resumed run and shard.
 */
export const seededUnit = (seed: number, stageId: string, conversationId: string, index = 0): number =>
  // Seed, stage id and index never contain U+001F, so the concatenation is unambiguous.
  unit(`${seed}\u001f${stageId}\u001f${conversationId}\u001f${index}`)

/** Word `w` (0 to 3) of 32 hex digits: the inverse of {@link hexOf}. */
const hexWord = (hex: string, w: number): number => Number.parseInt(hex.slice(8 * w, 8 * w + 8), 16)

/** 32 lowercase hex digits: a value {@link FirstSeen} keeps as four 32-bit words. */
const HEX32 = /^[0-9a-f]{32}$/

/**
 * A map from 128-bit text hashes to string values, in typed arrays: open addressing with linear
 * probing (load ≤ 1/2) over a slot table of entry numbers, the hashes stored once per entry, in
 * entry order. A value of 32 lowercase hex digits (an LMSYS-Chat-1M `conversation_id`) is kept
 * as four 32-bit words too, other values as strings. 40 to 80 bytes per entry with such values
 * (at most 80 MB for a million), against ~190 bytes for a `Map` keyed by hex strings. Used by `core/dedup` to
 * remember first occurrences.
 */
export class FirstSeen {
  /** Each entry's hash, four words per entry, in entry order. */
  private keys = new Uint32Array(4 * 512)
  /** Each entry's value as four words, where it is 32 hex digits. */
  private words = new Uint32Array(4 * 512)
  /** Values that are not 32 lowercase hex digits, by entry. */
  private readonly others = new Map<number, string>()
  private count = 0
  /** Entry number + 1; 0 marks an empty slot. */
  private slots = new Int32Array(1024)
  private mask = 1023
  private readonly last = new Uint32Array(4)

  /** Number of distinct hashes stored. */
  get size(): number {
    return this.count
  }

  /** The value stored for the hash of `text`, or else stores `value` and returns undefined. */
  firstOrSet(text: string, value: string): string | undefined {
    murmur128(text, 0)
    this.last.set(out)
    return this.firstOrSetWords(out[0]!, out[1]!, out[2]!, out[3]!, value)
  }

  /** Like {@link firstOrSet} for a hash given as 32 hex digits (as {@link digest} writes it). */
  firstOrSetDigest(hex: string, value: string): string | undefined {
    return this.firstOrSetWords(hexWord(hex, 0), hexWord(hex, 1), hexWord(hex, 2), hexWord(hex, 3), value)
  }

  /** The hash of the last text given to {@link firstOrSet}, as 32 hex digits (equal to `digest(text)`). */
  lastDigest(): string {
    return hex8(this.last[0]!) + hex8(this.last[1]!) + hex8(this.last[2]!) + hex8(this.last[3]!)
  }

  /** Like {@link firstOrSet} for a hash given as four 32-bit words (as {@link hashInto} writes them). */
  firstOrSetWords(h1: number, h2: number, h3: number, h4: number, value: string): string | undefined {
    const i = this.find(this.slots, this.mask, h1, h2, h3, h4)
    const at = this.slots[i]!
    if (at !== 0) return this.valueOf(at - 1)
    const e = this.count++
    if (4 * this.count > this.keys.length) this.growEntries()
    const k = e * 4
    this.keys[k] = h1
    this.keys[k + 1] = h2
    this.keys[k + 2] = h3
    this.keys[k + 3] = h4
    if (HEX32.test(value)) {
      for (let w = 0; w < 4; w++) this.words[k + w] = hexWord(value, w)
    } else this.others.set(e, value)
    this.slots[i] = e + 1
    if (this.count * 2 > this.slots.length) this.growSlots()
    return undefined
  }

  /** Entry `e`'s value. */
  private valueOf(e: number): string {
    const other = this.others.get(e)
    return other ?? hexOf(this.words, e * 4)
  }

  /** The slot holding the hash, or the empty slot where it belongs. */
  private find(slots: Int32Array, mask: number, h1: number, h2: number, h3: number, h4: number): number {
    const keys = this.keys
    let i = h1 & mask
    for (;;) {
      const at = slots[i]!
      if (at === 0) return i
      const k = (at - 1) * 4
      if (keys[k] === h1 && keys[k + 1] === h2 && keys[k + 2] === h3 && keys[k + 3] === h4) return i
      i = (i + 1) & mask
    }
  }

  /** Doubles the room for entries' hashes and values (the slot table is untouched). */
  private growEntries(): void {
    const keys = new Uint32Array(this.keys.length * 2)
    keys.set(this.keys)
    this.keys = keys
    const words = new Uint32Array(this.words.length * 2)
    words.set(this.words)
    this.words = words
  }

  /** Doubles the slot table and places every entry again. */
  private growSlots(): void {
    const capacity = this.slots.length * 2
    const slots = new Int32Array(capacity)
    const mask = capacity - 1
    for (let e = 0; e < this.count; e++) {
      const k = e * 4
      slots[this.find(slots, mask, this.keys[k]!, this.keys[k + 1]!, this.keys[k + 2]!, this.keys[k + 3]!)] = e + 1
    }
    this.slots = slots
    this.mask = mask
  }
}

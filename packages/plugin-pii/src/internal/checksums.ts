/**
 * Check digits and checksums of the formats the detectors validate: Luhn (payment cards),
 * ISO 13616 mod-97 with per-country lengths (IBAN), US SSN area/group/serial rules,
 * base58check and bech32/bech32m (Bitcoin), EIP-55 (Ethereum), the Japanese My Number check
 * digit and the NHS number mod 11. Each works on an already extracted candidate.
 */
import { keccak_256 } from "@noble/hashes/sha3.js"
import { createHash } from "node:crypto"

/** Luhn check over a string of ASCII digits. */
export const luhn = (digits: string): boolean => {
  let sum = 0
  let double = false
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48
    if (double) {
      d *= 2
      if (d > 9) d -= 9
    }
    sum += d
    double = !double
  }
  return sum % 10 === 0
}

/** A card issuer range: prefix bounds (inclusive, same number of digits) and allowed lengths. */
type Issuer = readonly [low: number, high: number, minLength: number, maxLength: number]

/** Issuer prefixes and lengths (Visa, Mastercard, Amex, Discover, JCB, UnionPay, Diners, Maestro, Mir). */
const issuers: ReadonlyArray<Issuer> = [
  [4, 4, 16, 16], // Visa (13-digit numbers are retired; 19-digit below)
  [4, 4, 19, 19],
  [51, 55, 16, 16], // Mastercard
  [2221, 2720, 16, 16],
  [34, 34, 15, 15], // American Express
  [37, 37, 15, 15],
  [6011, 6011, 16, 19], // Discover
  [644, 649, 16, 19],
  [65, 65, 16, 19],
  [3528, 3589, 16, 19], // JCB
  [62, 62, 16, 19], // UnionPay
  [300, 305, 14, 19], // Diners Club
  [3095, 3095, 14, 19],
  [36, 36, 14, 19],
  [38, 39, 14, 19],
  [5018, 5018, 12, 19], // Maestro
  [5020, 5020, 12, 19],
  [5038, 5038, 12, 19],
  [5893, 5893, 12, 19],
  [6304, 6304, 12, 19],
  [6759, 6759, 12, 19],
  [6761, 6763, 12, 19],
  [2200, 2204, 16, 19] // Mir
]

/** Whether a digit string has a real issuer prefix and length and passes Luhn. */
export const cardValid = (digits: string): boolean => {
  const n = digits.length
  if (n < 12 || n > 19) return false
  let known = false
  for (const [low, high, min, max] of issuers) {
    if (n < min || n > max) continue
    const width = String(low).length
    const p = Number(digits.slice(0, width))
    if (p >= low && p <= high) {
      known = true
      break
    }
  }
  return known && luhn(digits)
}

/** IBAN length per country (SWIFT IBAN registry). */
export const ibanLengths: { readonly [country: string]: number } = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29, BY: 28,
  CH: 21, CR: 22, CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18,
  FK: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HN: 28, HR: 21, HU: 28,
  IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20,
  LU: 20, LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MN: 20, MR: 27, MT: 31, MU: 30, NI: 28,
  NL: 18, NO: 15, OM: 23, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, RU: 33, SA: 24,
  SC: 31, SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26,
  UA: 29, VA: 22, VG: 24, XK: 20, YE: 30
}

/** ISO 13616 mod-97 of a compact upper-case IBAN (country and check digits moved to the end). */
export const ibanMod97 = (compact: string): number => {
  let rem = 0
  const n = compact.length
  for (let k = 0; k < n; k++) {
    const c = compact.charCodeAt((k + 4) % n)
    if (c >= 65 && c <= 90) rem = (rem * 100 + (c - 55)) % 97
    else rem = (rem * 10 + (c - 48)) % 97
  }
  return rem
}

/** Whether a compact upper-case IBAN has its country's length, check digits 02..98 and mod-97 = 1. */
export const ibanValid = (compact: string): boolean => {
  const length = ibanLengths[compact.slice(0, 2)]
  if (length === undefined || compact.length !== length) return false
  const check = Number(compact.slice(2, 4))
  return check >= 2 && check <= 98 && ibanMod97(compact) === 1
}

/** Numbers the SSA has published in advertising (never valid). */
const advertisedSsns = new Set(["078051120", "219099999", "457555462"])

/** US SSN rules: area not 000, 666 or 900-999; group not 00; serial not 0000; not a published example. */
export const ssnValid = (area: string, group: string, serial: string): boolean => {
  const a = Number(area)
  return a !== 0 && a !== 666 && a < 900 && group !== "00" && serial !== "0000" && !advertisedSsns.has(area + group + serial)
}

const BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
const base58Index = new Int8Array(128).fill(-1)
for (let i = 0; i < BASE58.length; i++) base58Index[BASE58.charCodeAt(i)] = i

/** Whether a character code is in the base58 alphabet. */
export const isBase58 = (c: number): boolean => c < 128 && base58Index[c] >= 0

/** Decodes base58 into bytes (leading `1`s become zero bytes); undefined for a foreign character. */
const base58Decode = (s: string): Uint8Array | undefined => {
  const bytes: Array<number> = []
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    let carry = c < 128 ? base58Index[c] : -1
    if (carry < 0) return undefined
    for (let j = 0; j < bytes.length; j++) {
      carry += bytes[j] * 58
      bytes[j] = carry & 0xff
      carry >>= 8
    }
    while (carry > 0) {
      bytes.push(carry & 0xff)
      carry >>= 8
    }
  }
  for (let i = 0; i < s.length && s.charCodeAt(i) === 49; i++) bytes.push(0)
  return Uint8Array.from(bytes.reverse())
}

const sha256 = (b: Uint8Array): Buffer => createHash("sha256").update(b).digest()

/**
 * Whether `s` is a Bitcoin base58check address: 25 bytes, version 0x00 (P2PKH, `1…`) or 0x05
 * (P2SH, `3…`), double-SHA-256 checksum.
 */
export const base58checkAddressValid = (s: string): boolean => {
  const bytes = base58Decode(s)
  if (bytes === undefined || bytes.length !== 25) return false
  const version = bytes[0]
  if (!((version === 0x00 && s[0] === "1") || (version === 0x05 && s[0] === "3"))) return false
  const check = sha256(sha256(bytes.subarray(0, 21)))
  return check[0] === bytes[21] && check[1] === bytes[22] && check[2] === bytes[23] && check[3] === bytes[24]
}

const BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
const bech32Index = new Int8Array(128).fill(-1)
for (let i = 0; i < BECH32.length; i++) {
  bech32Index[BECH32.charCodeAt(i)] = i
  bech32Index[BECH32.toUpperCase().charCodeAt(i)] = i
}

/** Whether a character code is in the bech32 data alphabet (either case). */
export const isBech32 = (c: number): boolean => c < 128 && bech32Index[c] >= 0

const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3]

const polymodStep = (chk: number, v: number): number => {
  const top = chk >>> 25
  chk = ((chk & 0x1ffffff) << 5) ^ v
  for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GEN[i]
  return chk
}

/**
 * Whether `s` is a segwit address (BIP 173 / BIP 350): hrp `bc` or `tb`, one case, bech32
 * checksum for witness version 0 (20- or 32-byte program) and bech32m for versions 1-16.
 */
export const segwitAddressValid = (s: string): boolean => {
  if (s.length < 14 || s.length > 90) return false
  const lower = s.toLowerCase()
  if (s !== lower && s !== s.toUpperCase()) return false
  const sep = lower.lastIndexOf("1")
  const hrp = lower.slice(0, sep)
  if (hrp !== "bc" && hrp !== "tb") return false
  const dataLength = lower.length - sep - 1
  if (dataLength < 7) return false
  let chk = 1
  for (let i = 0; i < hrp.length; i++) chk = polymodStep(chk, hrp.charCodeAt(i) >>> 5)
  chk = polymodStep(chk, 0)
  for (let i = 0; i < hrp.length; i++) chk = polymodStep(chk, hrp.charCodeAt(i) & 31)
  const data: Array<number> = []
  for (let i = sep + 1; i < lower.length; i++) {
    const d = bech32Index[lower.charCodeAt(i)]
    if (d === undefined || d < 0) return false
    data.push(d)
    chk = polymodStep(chk, d)
  }
  const version = data[0]
  const constant = version === 0 ? 1 : 0x2bc830a3
  if (chk >>> 0 !== constant || version > 16) return false
  // Witness program: 5-bit groups (without version and checksum) to bytes, no leftover bits.
  let acc = 0
  let bits = 0
  let bytes = 0
  for (let i = 1; i < data.length - 6; i++) {
    acc = (acc << 5) | data[i]
    bits += 5
    while (bits >= 8) {
      bits -= 8
      bytes++
    }
    acc &= (1 << bits) - 1
  }
  if (bits >= 5 || acc !== 0) return false
  return version === 0 ? bytes === 20 || bytes === 32 : bytes >= 2 && bytes <= 40
}

/**
 * Whether a 40-hex-digit Ethereum address body is acceptable: all one case (no checksum), or
 * mixed case matching its EIP-55 checksum (Keccak-256 of the lower-case hex).
 */
export const ethereumAddressValid = (hex40: string): boolean => {
  const lower = hex40.toLowerCase()
  if (hex40 === lower || hex40 === hex40.toUpperCase()) return true
  const hash = keccak_256(new TextEncoder().encode(lower))
  for (let i = 0; i < 40; i++) {
    const c = hex40.charCodeAt(i)
    if (c < 65) continue // a digit
    const nibble = (hash[i >> 1] >> (i % 2 === 0 ? 4 : 0)) & 15
    const upper = c <= 70
    if (upper !== nibble >= 8) return false
  }
  return true
}

/** The Japanese Individual Number (My Number) check digit rule over 12 ASCII digits. */
export const myNumberValid = (d: string): boolean => {
  if (d.length !== 12) return false
  let sum = 0
  for (let n = 1; n <= 11; n++) {
    const p = d.charCodeAt(11 - n) - 48
    const q = n <= 6 ? n + 1 : n - 5
    sum += p * q
  }
  const r = sum % 11
  const check = r <= 1 ? 0 : 11 - r
  return check === d.charCodeAt(11) - 48
}

/** The NHS number mod 11 rule over 10 ASCII digits (weights 10..2; 10 is never a check digit). */
export const nhsValid = (d: string): boolean => {
  if (d.length !== 10) return false
  let sum = 0
  let same = true
  for (let i = 0; i < 9; i++) {
    sum += (d.charCodeAt(i) - 48) * (10 - i)
    if (d[i] !== d[0]) same = false
  }
  if (same && d[9] === d[0]) return false
  const check = 11 - (sum % 11)
  if (check === 10) return false
  return (check === 11 ? 0 : check) === d.charCodeAt(9) - 48
}

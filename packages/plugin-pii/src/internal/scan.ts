/**
 * The detectors: hand-written scanners over character codes, each started by a cheap trigger
 * (`indexOf` of `@`, `://` or `:`, or a regular expression made only of literals and bounded
 * character classes), so every pass is linear in the text and most text is skipped natively.
 *
 * - digits: one pass over digit runs; groups digits and single separators into a cluster and
 *   classifies it (IPv4, payment card, SSN, My Number, NHS, phone); tokens that start like an
 *   IBAN, a bech32, base58 or Ethereum address are checked where the digit is found.
 * - `@`: e-mail addresses. `://`: URLs with credentials or tokens. `:`: IPv6 and MAC.
 * - API keys, JWTs and PEM private keys from literal triggers (`_`, `k-`, `yJ`, upper-case
 *   prefixes); MAC addresses with dashes from one bounded expression.
 */
import type { PiiType } from "@synthline/core/Record"
import {
  base58checkAddressValid,
  cardValid,
  ethereumAddressValid,
  ibanLengths,
  ibanValid,
  isBase58,
  isBech32,
  myNumberValid,
  nhsValid,
  segwitAddressValid,
  ssnValid
} from "./checksums.js"

/** The detected kinds of personal data (core's one table of them). */
export type Kind = PiiType

/** A found span (UTF-16 offsets, end exclusive). */
export interface Found {
  readonly type: Kind
  readonly start: number
  readonly end: number
}

/** Scanner options. */
export interface ScanOptions {
  readonly keepPrivateIps: boolean
  readonly keepLoopbackIps: boolean
  readonly allUrls: boolean
}

// ---------------------------------------------------------------------------------------------
// Character classes

const SPACE = 32
const PLUS = 43
const LPAREN = 40
const RPAREN = 41
const DASH = 45
const DOT = 46
const SLASH = 47
const COLON = 58
const COMMA = 44
const AT = 64
const UNDERSCORE = 95

const isDigit = (c: number): boolean => c >= 48 && c <= 57
const isUpper = (c: number): boolean => c >= 65 && c <= 90
const isLower = (c: number): boolean => c >= 97 && c <= 122
const isAlpha = (c: number): boolean => isUpper(c) || isLower(c)
const isAlnum = (c: number): boolean => isDigit(c) || isUpper(c) || isLower(c)
const isWord = (c: number): boolean => isAlnum(c) || c === UNDERSCORE
const isHex = (c: number): boolean => isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102)
const isB64url = (c: number): boolean => isAlnum(c) || c === DASH || c === UNDERSCORE

/** Code at `i`, or -1 outside the text. */
const at = (t: string, i: number): number => (i >= 0 && i < t.length ? t.charCodeAt(i) : -1)

/** End of the run of word characters starting at `i`. */
const skipWord = (t: string, i: number): number => {
  while (i < t.length && isWord(t.charCodeAt(i))) i++
  return i
}

// ---------------------------------------------------------------------------------------------
// IP addresses

const isNetmask = (o: ReadonlyArray<number>): boolean => {
  if (o[0] !== 255) return false
  const masks = [0, 128, 192, 224, 240, 248, 252, 254, 255]
  return o.every((x) => masks.includes(x))
}

/** 0 public, 1 private, 2 loopback/unspecified, -1 not reportable (netmask). */
const ipv4Class = (o: ReadonlyArray<number>): number => {
  const [a, b] = o
  if (isNetmask(o)) return -1
  if (a === 127 || (a === 0 && o[1] === 0 && o[2] === 0 && o[3] === 0)) return 2
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254) || (a === 100 && b >= 64 && b <= 127)) return 1
  return 0
}

const ipKept = (cls: number, o: ScanOptions): boolean => cls < 0 || (cls === 1 && o.keepPrivateIps) || (cls === 2 && o.keepLoopbackIps)

/** Parses an IPv6 candidate; returns its class (0 public, 1 private, 2 loopback) or -1 when invalid. */
export const ipv6Class = (s: string): number => {
  const dbl = s.indexOf("::")
  if (dbl >= 0 && s.indexOf("::", dbl + 1) >= 0) return -1
  if (s.length < 2) return -1
  const parts = dbl >= 0 ? [s.slice(0, dbl), s.slice(dbl + 2)] : [s]
  const groups: Array<string> = []
  let dotted: Array<number> | undefined
  let hexDigits = 0
  for (let p = 0; p < parts.length; p++) {
    const part = parts[p]
    if (part === "") continue
    const gs = part.split(":")
    for (let i = 0; i < gs.length; i++) {
      const g = gs[i]
      const last = p === parts.length - 1 && i === gs.length - 1
      if (last && g.includes(".")) {
        const o = g.split(".")
        if (o.length !== 4) return -1
        const n = o.map((x) => (/^(?:0|[1-9][0-9]{0,2})$/.test(x) ? Number(x) : 256))
        if (n.some((x) => x > 255)) return -1
        dotted = n
        groups.push("0", "0")
        continue
      }
      if (g.length < 1 || g.length > 4) return -1
      for (let k = 0; k < g.length; k++) if (!isHex(g.charCodeAt(k))) return -1
      hexDigits += g.length
      groups.push(g)
    }
  }
  if (dbl >= 0 ? groups.length > 7 : groups.length !== 8) return -1
  const lower = s.toLowerCase()
  if (lower === "::1" || lower === "::") return 2
  // Short compressed forms ("1::2", "a::b") are slices and scopes in code far more often than addresses.
  if (hexDigits < 5 && dotted === undefined) return -1
  const first = dbl === 0 ? 0 : Number.parseInt(groups[0], 16)
  if ((first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80) return 1
  if (dotted !== undefined && lower.startsWith("::ffff:")) return ipv4Class(dotted)
  return 0
}

// ---------------------------------------------------------------------------------------------
// Digit clusters: groups of digits joined by single separators

const MAX_GROUPS = 12
const gStart = new Int32Array(MAX_GROUPS) // group start (at "(" for paren groups)
const gEnd = new Int32Array(MAX_GROUPS) // group end (after ")")
const gDs = new Int32Array(MAX_GROUPS) // digits start
const gDe = new Int32Array(MAX_GROUPS) // digits end
const gParen = new Uint8Array(MAX_GROUPS)
const gSep = new Int32Array(MAX_GROUPS) // separator before the group (0: none or right after ")")

const contextBefore = (t: string, start: number, words: ReadonlyArray<string>): boolean => {
  const before = t.slice(Math.max(0, start - 40), start).toLowerCase()
  for (const w of words) if (before.includes(w)) return true
  return false
}

const nhsContext = ["nhs"]
const myNumberContext = ["my number", "mynumber", "マイナンバー", "個人番号"]
/** A version number, not an address: "version 1.2.3.4", "v1.2.3.4" is already a word. */
const versionBefore = /(?:^|[^A-Za-z])(?:version|release|build|ver\.?)\s*$/i
const afterVersionWord = (t: string, start: number): boolean => versionBefore.test(t.slice(Math.max(0, start - 16), start))

/** Country calling codes of two digits; three-digit codes start with one of `cc3`; one-digit are 1 and 7. */
const cc2 = new Set([
  "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47", "48", "49", "51", "52", "53", "54",
  "55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98"
])
const cc3 = new Set(["21", "22", "23", "24", "25", "26", "29", "35", "37", "38", "42", "50", "59", "67", "68", "69", "80", "85", "87", "88", "96", "97", "99"])

const countryCode = (d: string): string | undefined => {
  if (d[0] === "1" || d[0] === "7") return d[0]
  const two = d.slice(0, 2)
  if (cc2.has(two)) return two
  if (cc3.has(two) && d.length >= 3) return d.slice(0, 3)
  return undefined
}

/** North American numbering plan: area and exchange codes start with 2-9. */
const nanp = (n: string): boolean => n.length === 10 && n[0] >= "2" && n[3] >= "2"

/** Whether a national significant number fits its country (with a `+` prefix). */
const nationalOk = (cc: string, n: string): boolean => {
  const len = n.length
  if (cc.length + len > 15) return false
  switch (cc) {
    case "1":
      return nanp(n)
    case "7":
      return len === 10 && "3489".includes(n[0])
    case "44":
      return (len === 9 || len === 10) && n[0] !== "0"
    case "49":
      return len >= 6 && len <= 13 && n[0] !== "0"
    case "33":
      return len === 9 && n[0] !== "0"
    case "81":
      return (len === 9 || len === 10) && n[0] !== "0"
    case "86":
      return len >= 9 && len <= 11 && n[0] !== "0"
    case "55":
      return (len === 10 || len === 11) && n[0] !== "0"
    case "91":
      return len === 10 && n[0] !== "0"
    case "39":
      return len >= 6 && len <= 11
    default:
      return len >= 6 && len <= 12 && n[0] !== "0"
  }
}

/** Scratch description of a window of groups. */
interface Win {
  a: number
  b: number
  plus: boolean
  digits: string
  lens: Array<number>
  sepSpace: number
  sepDash: number
  sepDot: number
  sepNone: number
  parenFirst: boolean
  parenOther: boolean
}

const win: Win = { a: 0, b: 0, plus: false, digits: "", lens: [], sepSpace: 0, sepDash: 0, sepDot: 0, sepNone: 0, parenFirst: false, parenOther: false }

const fillWindow = (t: string, a: number, b: number, plus: boolean): Win => {
  win.a = a
  win.b = b
  win.plus = plus
  win.lens.length = 0
  win.sepSpace = win.sepDash = win.sepDot = win.sepNone = 0
  win.parenFirst = win.parenOther = false
  let digits = ""
  for (let g = a; g < b; g++) {
    digits += t.slice(gDs[g], gDe[g])
    win.lens.push(gDe[g] - gDs[g])
    if (gParen[g] === 1) {
      if (g === a) win.parenFirst = true
      else win.parenOther = true
    }
    if (g > a) {
      const s = gSep[g]
      if (s === SPACE) win.sepSpace++
      else if (s === DASH) win.sepDash++
      else if (s === DOT) win.sepDot++
      else win.sepNone++
    }
  }
  win.digits = digits
  return win
}

const lensAre = (w: Win, ...l: ReadonlyArray<number>): boolean => w.lens.length === l.length && w.lens.every((x, i) => x === l[i])
const seps = (w: Win): number => w.lens.length - 1
const onlySep = (w: Win, which: number): boolean =>
  seps(w) === (which === SPACE ? w.sepSpace : which === DASH ? w.sepDash : w.sepDot) && seps(w) > 0

const cardGrouping = (w: Win): boolean => {
  const k = w.lens.length
  if (k === 1) return true
  if (!(onlySep(w, SPACE) || onlySep(w, DASH))) return false
  let fours = true
  for (let i = 0; i < k - 1; i++) if (w.lens[i] !== 4) fours = false
  if (fours && w.lens[k - 1] >= 1 && w.lens[k - 1] <= 4) return true
  return lensAre(w, 4, 6, 5) || lensAre(w, 4, 6, 4)
}

/** Whether a window is a phone number (E.164 with `+`, or a national format of US, UK, DE, FR, JP, CN, BR, IN, RU). */
const isPhone = (t: string, w: Win): boolean => {
  const k = w.lens.length
  if (w.sepDot > 0 && w.sepDot !== seps(w)) return false
  if (w.plus) {
    // "+44 (0) 20 ..." carries the trunk zero in parentheses; it is not dialled.
    let digits = w.digits
    if (w.parenOther) {
      digits = ""
      for (let g = w.a; g < w.b; g++) {
        const d = t.slice(gDs[g], gDe[g])
        if (!(gParen[g] === 1 && d === "0")) digits += d
      }
    }
    if (digits.length < 8 || digits.length > 15) return false
    const firstLen = w.lens[0]
    const first = digits.slice(0, firstLen)
    const cc = k > 1 && firstLen <= 3 && countryCode(first) === first ? first : countryCode(digits)
    return cc !== undefined && nationalOk(cc, digits.slice(cc.length))
  }
  const d = w.digits
  const total = d.length
  if (k === 1) return total === 11 && d[0] === "1" && d[1] >= "3"
  if (w.parenOther && !(d[0] === "8" && w.lens[0] === 1)) return false
  for (const l of w.lens) if (l > 8) return false
  if (d[0] === "0") {
    if (d[1] === "0" || total < 10 || total > 12 || k > 5) return false
    if (w.sepDot > 0) return k === 5 && w.lens.every((l) => l === 2)
    // "(012) 555-0123" is a North American shape, whose area codes never start with 0.
    if (lensAre(w, 3, 3, 4) && (w.parenFirst || w.sepDash !== 2)) return false
    for (let i = 1; i < k; i++) if (w.lens[i] < 2) return false
    return w.lens[0] >= 2 && w.lens[0] <= 6
  }
  if (d[0] === "8" && w.lens[0] === 1 && total === 11) return lensAre(w, 1, 3, 3, 2, 2) && "3489".includes(d[1])
  if (d[0] === "1" && w.lens[0] === 1 && total === 11) return lensAre(w, 1, 3, 3, 4) && nanp(d.slice(1))
  if (total === 10) {
    // Spaces only ("943 476 5919") is the NHS number's grouping; US numbers use "-", "." or "(…)".
    if (lensAre(w, 3, 3, 4)) return nanp(d) && (w.parenFirst || w.sepSpace < 2)
    if (lensAre(w, 3, 3, 2, 2)) return w.parenFirst && "3489".includes(d[0])
    if (lensAre(w, 2, 4, 4)) return w.parenFirst && d[0] !== "0"
    if (lensAre(w, 5, 5)) return w.sepSpace === 1 && d[0] >= "6"
    return false
  }
  if (total === 11) {
    if (lensAre(w, 2, 5, 4)) return d[2] === "9" && (w.parenFirst || w.sepSpace >= 1)
    if (lensAre(w, 3, 4, 4)) return d[0] === "1" && d[1] >= "3" && !w.parenFirst
  }
  return false
}

/** What a window is: a kind, "keep" (a valid value not to report, e.g. a private IP), or undefined. */
const classify = (t: string, w: Win, o: ScanOptions, start: number, whole: boolean): Kind | "keep" | undefined => {
  const k = w.lens.length
  const d = w.digits
  if (!w.plus && !w.parenFirst && !w.parenOther) {
    if (k === 4 && onlySep(w, DOT)) {
      const oct: Array<number> = []
      for (let g = w.a; g < w.b; g++) {
        const s = t.slice(gDs[g], gDe[g])
        if (s.length > 3 || (s.length > 1 && s[0] === "0")) return "keep"
        oct.push(Number(s))
      }
      if (oct.some((x) => x > 255)) return "keep"
      if (afterVersionWord(t, start)) return "keep"
      return ipKept(ipv4Class(oct), o) ? "keep" : "IP_ADDRESS"
    }
    if (d.length >= 12 && d.length <= 19 && cardGrouping(w)) {
      if (cardValid(d)) return "CREDIT_CARD"
      // Grouped like a card (or a long bare number): consumed whole, so no part of it becomes a phone.
      if (d.length >= 13 && (k >= 3 || k === 1)) return "keep"
    }
    if (k === 3 && lensAre(w, 3, 2, 4) && (onlySep(w, DASH) || onlySep(w, SPACE))) {
      return ssnValid(d.slice(0, 3), d.slice(3, 5), d.slice(5)) ? "US_SSN" : "keep"
    }
    if (k === 3 && lensAre(w, 4, 4, 4) && (onlySep(w, DASH) || onlySep(w, SPACE)) && myNumberValid(d)) return "JP_MY_NUMBER"
    if (k === 1 && d.length === 12 && myNumberValid(d) && contextBefore(t, start, myNumberContext)) return "JP_MY_NUMBER"
    if (k === 3 && lensAre(w, 3, 3, 4) && onlySep(w, SPACE) && nhsValid(d)) return "UK_NHS"
    if (k === 1 && d.length === 10 && nhsValid(d) && contextBefore(t, start, nhsContext)) return "UK_NHS"
  }
  // A phone number starts the run of digit groups (or with "("); "04 08 15 16 23 42" is a list.
  if (whole && isPhone(t, w)) return "PHONE"
  if (!w.plus && k === 3 && lensAre(w, 3, 3, 4) && onlySep(w, DASH) && nhsValid(d)) return "UK_NHS"
  return undefined
}

const windowStart = (w: Win, clusterStart: number): number => (w.plus ? clusterStart : gStart[w.a])

/** Classifies groups [0, n) of a cluster: longest window first from each group, windows meeting at spaces. */
const classifyCluster = (t: string, n: number, plus: boolean, clusterStart: number, o: ScanOptions, out: Array<Found>): void => {
  // Most clusters are plain numbers ("2023", "3.5"): nothing shorter than 8 digits is a finding
  // except a dotted quad, which has 4 groups.
  if (n < 4) {
    let digits = 0
    for (let g = 0; g < n; g++) digits += gDe[g] - gDs[g]
    if (digits < 8) return
  }
  let a = 0
  while (a < n) {
    if (a > 0 && gSep[a] !== SPACE) {
      a++
      continue
    }
    let matched = false
    for (let b = Math.min(n, a + 7); b > a; b--) {
      if (b < n && gSep[b] !== SPACE) continue
      const w = fillWindow(t, a, b, plus && a === 0)
      const s = windowStart(w, clusterStart)
      const list = b < n && gDe[b] - gDs[b] <= 2 && w.lens.every((l) => l <= 2)
      const kind = classify(t, w, o, s, (a === 0 || gParen[a] === 1) && !list)
      if (kind === undefined) continue
      if (kind !== "keep") out.push({ type: kind, start: s, end: gEnd[b - 1] })
      a = b
      matched = true
      break
    }
    if (!matched) a++
  }
}

/** Tries an IBAN starting at `s` (two upper-case letters, two digits). Returns its end, or -1; `consumed` gets the end of an IBAN-shaped run that failed its checksum. */
const tryIban = (t: string, s: number, out: Array<Found>): number => {
  const length = ibanLengths[t.slice(s, s + 2)]
  if (length === undefined) return -1
  let compact = ""
  let k = s
  while (compact.length < length && k < t.length) {
    const c = t.charCodeAt(k)
    if (isUpper(c) || isDigit(c)) {
      compact += t[k]
      k++
    } else if (c === SPACE && compact.length >= 4 && k > s && t.charCodeAt(k - 1) !== SPACE && isAlnum(at(t, k + 1))) k++
    else break
  }
  if (compact.length !== length || isWord(at(t, k))) return -1
  if (ibanValid(compact)) out.push({ type: "IBAN", start: s, end: k })
  return k
}

/** Tries a bech32 segwit address starting at `s` (`bc1`/`tb1`). Returns its end or -1. */
const tryBech32 = (t: string, s: number, out: Array<Found>): number => {
  let k = s + 3
  while (k < t.length && k - s <= 90 && isBech32(t.charCodeAt(k))) k++
  if (isWord(at(t, k))) return -1
  if (!segwitAddressValid(t.slice(s, k))) return -1
  out.push({ type: "CRYPTO", start: s, end: k })
  return k
}

/** Tries a base58check address (`1…`/`3…`) or an Ethereum address (`0x…`) starting at `s`. Returns its end or -1. */
const tryCryptoToken = (t: string, s: number, out: Array<Found>): number => {
  const c0 = t.charCodeAt(s)
  if (c0 === 48 && (at(t, s + 1) | 32) === 120) {
    let k = s + 2
    while (k < t.length && k - s <= 42 && isHex(t.charCodeAt(k))) k++
    if (k - s !== 42 || isWord(at(t, k))) return -1
    const body = t.slice(s + 2, k)
    if (/^0+$/.test(body) || !ethereumAddressValid(body)) return -1
    out.push({ type: "CRYPTO", start: s, end: k })
    return k
  }
  if (c0 !== 49 && c0 !== 51) return -1
  let k = s
  while (k < t.length && k - s <= 35 && isBase58(t.charCodeAt(k))) k++
  const len = k - s
  if (len < 26 || len > 35 || isWord(at(t, k))) return -1
  if (!base58checkAddressValid(t.slice(s, k))) return -1
  out.push({ type: "CRYPTO", start: s, end: k })
  return k
}

/** Where a digit at `d` inside a word may start a token we know (IBAN, bech32); returns the new scan position or -1. */
const tokenInWord = (t: string, d: number, out: Array<Found>): number => {
  const c1 = at(t, d - 1)
  const c2 = at(t, d - 2)
  if (isWord(at(t, d - 3))) return -1
  if (isUpper(c1) && isUpper(c2) && isDigit(at(t, d + 1))) return tryIban(t, d - 2, out)
  if (t.charCodeAt(d) === 49) {
    const hrp = t.slice(d - 2, d).toLowerCase()
    if (hrp === "bc" || hrp === "tb") return tryBech32(t, d - 2, out)
  }
  return -1
}

const digitRe = /[0-9]/g

/** The digit pass: phones, cards, SSNs, IPv4, My Number, NHS, and tokens starting with digits. */
export const scanDigits = (t: string, o: ScanOptions, out: Array<Found>): void => {
  let pos = 0
  const len = t.length
  while (pos < len) {
    digitRe.lastIndex = pos
    // test() instead of exec(): no match object per digit run (the pass runs over every number).
    if (!digitRe.test(t)) return
    const d = digitRe.lastIndex - 1
    let start = d
    let plus = false
    const p1 = at(t, d - 1)
    if (p1 === PLUS) {
      start = d - 1
      plus = true
    } else if (p1 === LPAREN) {
      // "(" starts the cluster only when it closes a group of 1-5 digits: "(212) 555-1234".
      let k = d
      while (k < d + 5 && isDigit(at(t, k))) k++
      if (at(t, k) === RPAREN) start = d - 1
    }
    const b1 = at(t, start - 1)
    const b2 = at(t, start - 2)
    if (
      isWord(b1) ||
      ((b1 === DOT || b1 === DASH || b1 === SLASH || b1 === COMMA || b1 === PLUS) && isAlnum(b2)) ||
      (b1 === COLON && isDigit(b2)) ||
      b1 === AT
    ) {
      const end = plus || start !== d ? -1 : tokenInWord(t, d, out)
      pos = end > d ? end : skipWord(t, d)
      continue
    }
    // Read the groups.
    let i = start
    if (plus) i++
    let n = 0
    let overflow = false
    let sep = 0
    while (true) {
      const c = at(t, i)
      let gs: number
      let ge: number
      let ds: number
      let de: number
      let paren = 0
      if (c === LPAREN) {
        let k = i + 1
        while (k < i + 6 && isDigit(at(t, k))) k++
        if (k > i + 1 && at(t, k) === RPAREN) {
          paren = 1
          gs = i
          ds = i + 1
          de = k
          ge = k + 1
        } else break
      } else if (isDigit(c)) {
        let k = i
        while (isDigit(at(t, k))) k++
        gs = ds = i
        ge = de = k
      } else break
      if (n === MAX_GROUPS) {
        overflow = true
        i = ge
      } else {
        gStart[n] = gs
        gEnd[n] = ge
        gDs[n] = ds
        gDe[n] = de
        gParen[n] = paren
        gSep[n] = sep
        n++
        i = ge
      }
      const s = at(t, i)
      const s1 = at(t, i + 1)
      if ((s === SPACE || s === DASH || s === DOT) && (isDigit(s1) || (s !== DOT && s1 === LPAREN && isDigit(at(t, i + 2))))) {
        sep = s
        i++
      } else if (paren === 1 && isDigit(s)) sep = 0
      else break
    }
    if (overflow) {
      pos = skipWord(t, i)
      continue
    }
    // Right boundary.
    const r = at(t, i)
    const r1 = at(t, i + 1)
    const glued =
      isWord(r) || r === AT || ((r === COLON || r === SLASH || r === COMMA) && isDigit(r1)) || ((r === DOT || r === DASH) && isWord(r1))
    if (glued) {
      const last = n - 1
      if (gParen[last] === 0 && (last === 0 ? !plus : gSep[last] === SPACE)) {
        const end = tryCryptoToken(t, gStart[last], out)
        if (end > 0) {
          if (last > 0) classifyCluster(t, last, plus, start, o, out)
          pos = end
          continue
        }
      }
      if (n >= 2 && gSep[last] === SPACE) n = last
      else n = 0
      i = skipWord(t, i)
    }
    if (n > 0) classifyCluster(t, n, plus, start, o, out)
    pos = Math.max(i, d + 1)
  }
}

// ---------------------------------------------------------------------------------------------
// E-mail

const isLocal = (c: number): boolean =>
  isAlnum(c) || c === DOT || c === UNDERSCORE || c === PLUS || c === DASH || c === 37 /* % */ || c === 39 /* ' */
const isDomain = (c: number): boolean => isAlnum(c) || c === DASH || c === DOT

/** File extensions that follow `@2x`-style asset names and are not top-level domains in practice. */
const notTlds = new Set(["png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "tif", "tiff", "js", "ts", "css", "map", "json", "pdf"])

/** Whether position `s` is inside the authority of a `scheme://` URL (userinfo, not an address). */
const inUrlAuthority = (t: string, s: number): boolean => {
  let k = s
  const limit = Math.max(0, s - 256)
  while (k > limit) {
    const c = t.charCodeAt(k - 1)
    if (c <= SPACE || c === SLASH) break
    k--
  }
  return k >= 3 && t.charCodeAt(k - 1) === SLASH && t.charCodeAt(k - 2) === SLASH && t.charCodeAt(k - 3) === COLON
}

/** The e-mail pass. */
export const scanEmail = (t: string, out: Array<Found>): void => {
  let pos = 0
  let floor = 0
  while (true) {
    const a = t.indexOf("@", pos)
    if (a < 0) return
    pos = a + 1
    // Local part, at most 64 characters, not crossing a previous address.
    let s = a
    const limit = Math.max(floor, a - 64)
    while (s > limit && isLocal(t.charCodeAt(s - 1))) s--
    if (s === limit && s > floor && isLocal(at(t, s - 1))) continue
    while (s < a && (t.charCodeAt(s) === DOT || t.charCodeAt(s) === 39)) s++
    if (s === a || t.charCodeAt(a - 1) === DOT) continue
    // Domain, at most 253 characters.
    let e = a + 1
    while (e < t.length && e - a <= 254 && isDomain(t.charCodeAt(e))) e++
    while (e > a + 1 && (t.charCodeAt(e - 1) === DOT || t.charCodeAt(e - 1) === DASH)) e--
    if (e - a > 254 || isWord(at(t, e)) || at(t, e) === AT) continue
    const domain = t.slice(a + 1, e)
    const labels = domain.split(".")
    if (labels.length < 2) continue
    let ok = true
    for (const l of labels) {
      if (l.length === 0 || l.length > 63 || l[0] === "-" || l[l.length - 1] === "-") ok = false
    }
    const tld = labels[labels.length - 1].toLowerCase()
    if (!ok || !(/^[a-z]{2,24}$/.test(tld) || /^xn--[a-z0-9-]{1,59}$/.test(tld)) || notTlds.has(tld)) continue
    const local = t.slice(s, a)
    if (local.includes("..") || inUrlAuthority(t, s)) continue
    out.push({ type: "EMAIL", start: s, end: e })
    pos = e
    floor = e
  }
}

// ---------------------------------------------------------------------------------------------
// URLs with credentials or tokens

const isUrlChar = (c: number): boolean =>
  c > 32 && c < 127 && c !== 34 && c !== 39 && c !== 60 && c !== 62 && c !== 96 && c !== 123 && c !== 125 && c !== 124 && c !== 92 && c !== 94
const isSchemeChar = (c: number): boolean => isAlnum(c) || c === PLUS || c === DASH || c === DOT

/** Query or fragment parameter names whose values are secrets. */
const tokenParams = new Set([
  "token", "access_token", "refresh_token", "id_token", "auth", "auth_token", "authtoken", "api_key", "apikey", "api-key", "key",
  "secret", "client_secret", "password", "passwd", "pwd", "pass", "sig", "signature", "x-amz-signature", "x-amz-credential",
  "x-amz-security-token", "sessionid", "session_id", "session", "sid", "jwt", "private_token", "code", "oauth_token", "ticket"
])

const urlHasSecret = (u: string, schemeEnd: number): boolean => {
  const restStart = schemeEnd + 3
  let authEnd = u.length
  for (let k = restStart; k < u.length; k++) {
    const c = u.charCodeAt(k)
    if (c === SLASH || c === 63 || c === 35) {
      authEnd = k
      break
    }
  }
  const authority = u.slice(restStart, authEnd)
  const atSign = authority.lastIndexOf("@")
  if (atSign > 0) {
    const userinfo = authority.slice(0, atSign)
    const colon = userinfo.indexOf(":")
    if (colon >= 0 && colon < userinfo.length - 1) return true
    if (colon < 0 && userinfo.length >= 20 && /[0-9]/.test(userinfo) && /[A-Za-z]/.test(userinfo)) return true
  }
  const q = u.indexOf("?", authEnd)
  const h = u.indexOf("#", authEnd)
  const from = q >= 0 ? q : h
  if (from < 0) return false
  for (const pair of u.slice(from + 1).split(/[&;#?]/)) {
    const eq = pair.indexOf("=")
    if (eq <= 0) continue
    const name = pair.slice(0, eq).toLowerCase()
    const value = pair.slice(eq + 1)
    if (value.length >= 6 && tokenParams.has(name)) return true
  }
  return false
}

/** The URL pass: `scheme://…` with userinfo credentials or a secret query/fragment parameter (or any, with `allUrls`). */
export const scanUrl = (t: string, all: boolean, out: Array<Found>): void => {
  let pos = 0
  let floor = 0
  while (true) {
    const c = t.indexOf("://", pos)
    if (c < 0) return
    pos = c + 3
    let s = c
    while (s > floor && c - s < 32 && isSchemeChar(t.charCodeAt(s - 1))) s--
    while (s < c && !isAlpha(t.charCodeAt(s))) s++
    if (s === c || isWord(at(t, s - 1))) continue
    let e = c + 3
    while (e < t.length && e - c < 8192 && isUrlChar(t.charCodeAt(e))) e++
    // Trailing punctuation belongs to the sentence; a ")" only when no "(" was opened.
    while (e > c + 3) {
      const l = t.charCodeAt(e - 1)
      if (l === DOT || l === COMMA || l === 59 || l === COLON || l === 33 || l === 63 || l === 93) e--
      else if (l === RPAREN && t.lastIndexOf("(", e - 1) < s) e--
      else break
    }
    if (e <= c + 3) continue
    const u = t.slice(s, e)
    if (all || urlHasSecret(u, c - s)) {
      out.push({ type: "URL", start: s, end: e })
      floor = e
    }
    pos = Math.max(pos, e)
  }
}

// ---------------------------------------------------------------------------------------------
// IPv6 and MAC (colon forms)

const isHc = (c: number): boolean => isHex(c) || c === COLON

/** The colon pass: IPv6 addresses and colon-separated MAC addresses. */
export const scanColon = (t: string, o: ScanOptions, out: Array<Found>): void => {
  let pos = 0
  let floor = 0
  while (true) {
    const c = t.indexOf(":", pos)
    if (c < 0) return
    pos = c + 1
    if (!isHc(at(t, c - 1)) || !isHc(at(t, c + 1))) continue
    let s = c
    while (s > floor && c - s < 40 && isHc(t.charCodeAt(s - 1))) s--
    let e = c + 1
    while (e < t.length && e - s < 50 && (isHc(t.charCodeAt(e)) || t.charCodeAt(e) === DOT)) e++
    pos = e
    while (e > c && t.charCodeAt(e - 1) === DOT) e--
    if (e - s >= 2 && t.charCodeAt(e - 1) === COLON && t.charCodeAt(e - 2) !== COLON) e--
    // A single leading ":" is punctuation ("IP:2001:db8::1"), not part of the address.
    if (e - s >= 2 && t.charCodeAt(s) === COLON && t.charCodeAt(s + 1) !== COLON) s++
    if (isWord(at(t, s - 1)) || isWord(at(t, e)) || at(t, s - 1) === DOT || (at(t, e) === DOT && isDigit(at(t, e + 1)))) continue
    const cand = t.slice(s, e)
    if (cand.length === 17 && /^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}$/.test(cand)) {
      if (!/^(?:00:){5}00$|^(?:ff:){5}ff$/i.test(cand)) out.push({ type: "MAC_ADDRESS", start: s, end: e })
      floor = e
      continue
    }
    const cls = ipv6Class(cand)
    if (cls < 0) continue
    floor = e
    if (!ipKept(cls, o)) out.push({ type: "IP_ADDRESS", start: s, end: e })
  }
}

const macDashRe = /[0-9A-Fa-f]{2}-[0-9A-Fa-f]{2}-[0-9A-Fa-f]{2}-[0-9A-Fa-f]{2}-[0-9A-Fa-f]{2}-[0-9A-Fa-f]{2}/g

/** MAC addresses written with dashes (`00-1A-2B-3C-4D-5E`). */
export const scanMacDash = (t: string, out: Array<Found>): void => {
  macDashRe.lastIndex = 0
  for (let m = macDashRe.exec(t); m !== null; m = macDashRe.exec(t)) {
    const s = m.index
    const e = s + 17
    if (isWord(at(t, s - 1)) || at(t, s - 1) === DASH || isWord(at(t, e)) || at(t, e) === DASH) {
      macDashRe.lastIndex = s + 1
      continue
    }
    out.push({ type: "MAC_ADDRESS", start: s, end: e })
  }
}

// ---------------------------------------------------------------------------------------------
// API keys, JWTs, PEM private keys

/**
 * Key triggers, split so that no search stops at every common letter: upper-case and rare
 * prefixes by one expression, `eyJ` by its `yJ`, `sk-` by its `k-`, and the `_`-keyed prefixes
 * (`sk_`, `rk_`, `gh?_`, `github_pat_`, `hf_`, `npm_`) by the `_`, which prose rarely has.
 */
const keyUpperRe = /A(?:KIA|SIA|Iza)|x(?:ox[abposr]|app)-|-----BEGIN |glpat-/g
const jwtRe = /yJ/g
const skRe = /k-/g

/** End of a run of characters satisfying `ok`, from `i`, at most `max` long. */
const run = (t: string, i: number, max: number, ok: (c: number) => boolean): number => {
  const limit = Math.min(t.length, i + max + 1)
  while (i < limit && ok(t.charCodeAt(i))) i++
  return i
}

const hasClasses = (s: string): boolean => /[0-9]/.test(s) && /[A-Z]/.test(s) && /[a-z]/.test(s)
const isKeyChar = (c: number): boolean => isAlnum(c) || c === DASH || c === UNDERSCORE

/** Memo of the last "-----END " search, so many headers without an end stay linear. */
interface EndMemo {
  from: number
  found: number
  /** Where the next prefix search may resume after a failure that covers a whole run. */
  skip: number
}

/** The end of a key whose prefix starts at `s`, or -1. */
const keyEnd = (t: string, s: number, prefix: string, memo: EndMemo): number => {
  const p = s + prefix.length
  switch (prefix) {
    case "AKIA":
    case "ASIA": {
      const e = run(t, p, 16, (c) => isUpper(c) || isDigit(c))
      return e - p === 16 && !isAlnum(at(t, e)) ? e : -1
    }
    case "sk-": {
      const e = run(t, p, 300, isKeyChar)
      if (isKeyChar(at(t, e))) return -1
      const body = t.slice(p, e)
      if (/^(?:ant|proj|svcacct|admin)-/.test(body)) return body.length >= 40 ? e : -1
      return body.length >= 32 && body.length <= 64 && /^[A-Za-z0-9]+$/.test(body) && hasClasses(body) ? e : -1
    }
    case "sk_":
    case "rk_": {
      const mode = t.slice(p, p + 5)
      if (mode !== "live_" && mode !== "test_") return -1
      const e = run(t, p + 5, 128, isAlnum)
      return e - p - 5 >= 24 && !isWord(at(t, e)) ? e : -1
    }
    case "github_pat_": {
      const e = run(t, p, 120, isWord)
      return e - p >= 50 && !isWord(at(t, e)) ? e : -1
    }
    case "glpat-": {
      const e = run(t, p, 64, isKeyChar)
      return e - p >= 20 && !isKeyChar(at(t, e)) ? e : -1
    }
    case "AIza": {
      const e = run(t, p, 35, isKeyChar)
      return e - p === 35 && !isKeyChar(at(t, e)) ? e : -1
    }
    case "hf_":
    case "npm_": {
      const e = run(t, p, 40, isAlnum)
      return e - p >= 30 && !isWord(at(t, e)) && hasClasses(t.slice(p, e)) ? e : -1
    }
    case "eyJ": {
      const e1 = run(t, p, 2048, isB64url)
      if (at(t, e1) !== DOT || e1 - s < 10) {
        // Every "eyJ" inside this run ends at the same place and fails the same way.
        if (at(t, e1) !== DOT) memo.skip = e1
        return -1
      }
      const e2 = run(t, e1 + 1, 8192, isB64url)
      if (at(t, e2) !== DOT || e2 - e1 < 5) return -1
      const e3 = run(t, e2 + 1, 2048, isB64url)
      if (e3 - e2 - 1 < 16 || isB64url(at(t, e3)) || at(t, e3) === DOT) return -1
      const header = Buffer.from(t.slice(s, e1), "base64url").toString("latin1")
      return header.startsWith("{") && header.includes('"alg"') ? e3 : -1
    }
    case "-----BEGIN ": {
      const close = t.indexOf("-----", p)
      if (close < 0 || close - p > 40) return -1
      const label = t.slice(p, close)
      if (!/^(?:(?:RSA|EC|DSA|OPENSSH|ENCRYPTED) )?PRIVATE KEY$/.test(label)) return -1
      const body = close + 5
      if (memo.from > body || (memo.found >= 0 && memo.found < body)) {
        memo.from = body
        memo.found = t.indexOf("-----END ", body)
      }
      const endAt = memo.found
      const terminator = `-----END ${label}-----`
      if (endAt >= 0 && t.startsWith(terminator, endAt) && endAt - body < 65536) return endAt + terminator.length
      // No end line: the header and the base64 lines that follow it.
      return run(t, body, 65536, (c) => isAlnum(c) || c === PLUS || c === SLASH || c === 61 || c === 10 || c === 13 || c === SPACE)
    }
    default: {
      if (prefix.startsWith("gh")) {
        const e = run(t, p, 36, isAlnum)
        return e - p === 36 && !isWord(at(t, e)) ? e : -1
      }
      if (prefix.startsWith("xox") || prefix === "xapp-") {
        const e = run(t, p, 255, (c) => isAlnum(c) || c === DASH)
        return e - p >= 10 && /[0-9]/.test(t.slice(p, e)) && !isWord(at(t, e)) ? e : -1
      }
      return -1
    }
  }
}

/** The key prefix that ends with the `_` at `u`, or undefined. */
const underscorePrefix = (t: string, u: number): readonly [number, string] | undefined => {
  const c1 = at(t, u - 1)
  const c2 = at(t, u - 2)
  const c3 = at(t, u - 3)
  if (c1 === 107 && (c2 === 115 || c2 === 114)) return [u - 2, c2 === 115 ? "sk_" : "rk_"] // sk_ rk_
  if (c1 === 102 && c2 === 104) return [u - 2, "hf_"]
  if (c1 === 109 && c2 === 112 && c3 === 110) return [u - 3, "npm_"]
  if (c2 === 104 && c3 === 103 && (c1 === 112 || c1 === 111 || c1 === 117 || c1 === 115 || c1 === 114)) return [u - 3, t.slice(u - 3, u + 1)]
  if (c1 === 98 && t.startsWith("github", u - 6) && t.startsWith("pat_", u + 1)) return [u - 6, "github_pat_"]
  return undefined
}

/** Tries the key whose prefix starts at `s`; returns where the trigger search may resume. */
const attemptKey = (t: string, out: Array<Found>, memo: EndMemo, s: number, prefix: string, resume: number): number => {
  if (s < 0 || (prefix !== "-----BEGIN " && isAlnum(at(t, s - 1)))) return resume
  memo.skip = -1
  const e = keyEnd(t, s, prefix, memo)
  if (e > s) {
    out.push({ type: "API_KEY", start: s, end: e })
    return Math.max(resume, e)
  }
  return Math.max(resume, memo.skip)
}

/** Scratch memo of the key pass, reset for every text. */
const keyMemo: EndMemo = { from: Number.MAX_SAFE_INTEGER, found: -1, skip: -1 }

/** The key pass: cloud, model-provider and code-host API keys, JWTs and PEM private keys. */
export const scanKeys = (t: string, out: Array<Found>): void => {
  const memo = keyMemo
  memo.from = Number.MAX_SAFE_INTEGER
  memo.found = -1
  memo.skip = -1
  keyUpperRe.lastIndex = 0
  for (let m = keyUpperRe.exec(t); m !== null; m = keyUpperRe.exec(t)) {
    keyUpperRe.lastIndex = attemptKey(t, out, memo, m.index, m[0], keyUpperRe.lastIndex)
  }
  if (t.indexOf("yJ") >= 0) {
    jwtRe.lastIndex = 0
    while (jwtRe.test(t)) {
      const i = jwtRe.lastIndex - 2
      if (at(t, i - 1) === 101) jwtRe.lastIndex = attemptKey(t, out, memo, i - 1, "eyJ", jwtRe.lastIndex)
    }
  }
  if (t.indexOf("k-") >= 0) {
    skRe.lastIndex = 0
    while (skRe.test(t)) {
      const i = skRe.lastIndex - 2
      if (at(t, i - 1) === 115) skRe.lastIndex = attemptKey(t, out, memo, i - 1, "sk-", skRe.lastIndex)
    }
  }
  for (let u = t.indexOf("_"); u >= 0; u = t.indexOf("_", u + 1)) {
    const p = underscorePrefix(t, u)
    if (p !== undefined) u = Math.max(u, attemptKey(t, out, memo, p[0], p[1], u + 1) - 1)
  }
}

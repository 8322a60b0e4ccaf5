/**
 * Personal-data generators for the sample data: realistic emails, phone numbers (E.164 and
 * national formats), IP addresses, payment cards (Luhn), IBANs (mod-97), US SSNs, URLs with
 * credentials, API keys and crypto addresses, each with the sentence that carries it into a
 * message. Checksummed types come both valid and as invalid decoys, labelled as such.
 */
import { createHash } from "node:crypto"
import type { PiiType } from "@synthline/core/Record"
import { type Rng, Weighted } from "./prng.js"

/** One generated value: its type, a finer subtype, and for checksummed types whether it is valid. */
export interface PiiValue {
  readonly type: PlantedType
  readonly subtype: string
  readonly value: string
  readonly valid?: boolean
}

const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
const LOWER = "abcdefghijklmnopqrstuvwxyz"
const DIGITS = "0123456789"
const ALNUM = UPPER + LOWER + DIGITS
const HEX = "0123456789abcdef"
const BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
const BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

const firstNames = [
  "john", "maria", "wei", "anna", "david", "sofia", "li", "james", "olga", "carlos", "yuki", "fatima",
  "peter", "laura", "ahmed", "emma", "ivan", "lucas", "mei", "noah", "chloe", "raj", "hana", "pierre"
]
const lastNames = [
  "smith", "garcia", "wang", "mueller", "rossi", "silva", "ivanov", "kim", "tanaka", "dubois", "kowalski",
  "nguyen", "johnson", "lee", "brown", "schmidt", "martin", "chen", "patel", "sato", "novak", "haddad"
]
const mailDomains = [
  "gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "qq.com", "163.com", "mail.ru",
  "yandex.ru", "web.de", "gmx.de", "orange.fr", "libero.it", "uol.com.br", "naver.com", "proton.me",
  "acme-corp.com", "university.edu", "startup.io", "example.org"
]

const email = (rng: Rng): PiiValue => {
  const f = rng.pick(firstNames)
  const l = rng.pick(lastNames)
  const style = rng.int(6)
  const local =
    style === 0 ? `${f}.${l}` :
    style === 1 ? `${f}${l}${rng.range(1, 99)}` :
    style === 2 ? `${f[0]}${l}` :
    style === 3 ? `${f}_${l}${rng.range(1970, 2005)}` :
    style === 4 ? `${f}.${l}+${rng.pick(["work", "news", "shop"])}` :
    `${l}${rng.digits(4)}`
  return { type: "EMAIL", subtype: "email", value: `${local}@${rng.pick(mailDomains)}` }
}

/** Phone number formats per country: [subtype, generator]. */
const phones: ReadonlyArray<readonly [string, (rng: Rng) => string]> = [
  ["US", (rng) => {
    const area = rng.pick(["212", "415", "646", "312", "206", "617", "305", "512", "702", "808"])
    const ex = `${rng.range(2, 9)}${rng.digits(2)}`
    const sub = rng.digits(4)
    const f = rng.int(5)
    return f === 0 ? `+1 ${area} ${ex} ${sub}` : f === 1 ? `(${area}) ${ex}-${sub}` : f === 2 ? `${area}-${ex}-${sub}` : f === 3 ? `+1${area}${ex}${sub}` : `${area}.${ex}.${sub}`
  }],
  ["GB", (rng) => {
    const mobile = rng.chance(0.5)
    if (mobile) {
      const n = `7${rng.range(400, 999)} ${rng.digits(6)}`
      return rng.chance(0.5) ? `+44 ${n}` : `0${n}`
    }
    const n = `20 ${rng.range(3, 8)}${rng.digits(3)} ${rng.digits(4)}`
    return rng.chance(0.5) ? `+44 ${n}` : `0${n}`
  }],
  ["DE", (rng) => {
    const mobile = rng.chance(0.5)
    const n = mobile ? `15${rng.range(1, 9)} ${rng.digits(8)}` : `${rng.pick(["30", "40", "89", "69", "221"])} ${rng.digits(7)}`
    return rng.chance(0.5) ? `+49 ${n}` : `0${n}`
  }],
  ["FR", (rng) => {
    const first = rng.pick(["1", "2", "3", "4", "5", "6", "7", "9"])
    const pairs = `${rng.digits(2)} ${rng.digits(2)} ${rng.digits(2)} ${rng.digits(2)}`
    return rng.chance(0.5) ? `+33 ${first} ${pairs}` : `0${first} ${pairs}`
  }],
  ["JP", (rng) => {
    const mobile = rng.chance(0.5)
    if (mobile) {
      const n = `${rng.pick(["90", "80", "70"])}-${rng.digits(4)}-${rng.digits(4)}`
      return rng.chance(0.5) ? `+81 ${n}` : `0${n}`
    }
    const n = `3-${rng.digits(4)}-${rng.digits(4)}`
    return rng.chance(0.5) ? `+81 ${n}` : `0${n}`
  }],
  ["CN", (rng) => {
    const mobile = rng.chance(0.6)
    if (mobile) {
      const n = `1${rng.pick(["38", "39", "50", "86", "88", "37", "58"])}${rng.digits(8)}`
      return rng.chance(0.5) ? `+86 ${n.slice(0, 3)} ${n.slice(3, 7)} ${n.slice(7)}` : n
    }
    const n = `${rng.pick(["10", "21", "20", "755"])}-${rng.range(2, 8)}${rng.digits(7)}`
    return rng.chance(0.5) ? `+86 ${n}` : `0${n}`
  }],
  ["BR", (rng) => {
    const ddd = rng.pick(["11", "21", "31", "41", "51", "61", "71", "81"])
    const n = `9${rng.digits(4)}-${rng.digits(4)}`
    return rng.chance(0.5) ? `+55 ${ddd} ${n}` : `(${ddd}) ${n}`
  }],
  ["IN", (rng) => {
    const n = `${rng.range(6, 9)}${rng.digits(4)} ${rng.digits(5)}`
    return rng.chance(0.6) ? `+91 ${n}` : `0${n}`
  }],
  ["RU", (rng) => {
    const code = rng.pick(["495", "499", "812", "912", "916", "926", "903", "965"])
    const n = `${rng.digits(3)}-${rng.digits(2)}-${rng.digits(2)}`
    return rng.chance(0.5) ? `+7 ${code} ${n}` : `8 (${code}) ${n}`
  }]
]

const phone = (rng: Rng): PiiValue => {
  const [country, make] = rng.pick(phones)
  return { type: "PHONE", subtype: country, value: make(rng) }
}

const ip = (rng: Rng): PiiValue => {
  if (rng.chance(0.75)) {
    const kind = rng.int(4)
    const value =
      kind === 0 ? `192.168.${rng.int(256)}.${rng.range(1, 254)}` :
      kind === 1 ? `10.${rng.int(256)}.${rng.int(256)}.${rng.range(1, 254)}` :
      `${rng.pick([23, 34, 45, 52, 77, 85, 91, 104, 142, 151, 178, 185, 203, 213])}.${rng.int(256)}.${rng.int(256)}.${rng.range(1, 254)}`
    return { type: "IP_ADDRESS", subtype: "ipv4", value }
  }
  const groups: Array<string> = [rng.pick(["2001", "2a00", "2a02", "2604", "2607", "2804", "240e"])]
  for (let i = 0; i < 7; i++) groups.push(rng.chars(HEX, rng.range(1, 4)).replace(/^0+(?=.)/, ""))
  const value = rng.chance(0.4) ? `${groups.slice(0, 3).join(":")}::${groups[7]}` : groups.join(":")
  return { type: "IP_ADDRESS", subtype: "ipv6", value }
}

/** The Luhn check digit for a string of digits (without the check digit). */
export const luhnCheckDigit = (body: string): number => {
  let sum = 0
  for (let i = 0; i < body.length; i++) {
    let d = body.charCodeAt(body.length - 1 - i) - 48
    if (i % 2 === 0) {
      d *= 2
      if (d > 9) d -= 9
    }
    sum += d
  }
  return (10 - (sum % 10)) % 10
}

/** Whether a digit string (separators ignored) passes the Luhn check. */
export const luhnValid = (card: string): boolean => {
  const digits = card.replace(/[^0-9]/g, "")
  if (digits.length < 12) return false
  return luhnCheckDigit(digits.slice(0, -1)) === digits.charCodeAt(digits.length - 1) - 48
}

/** A card issuer: name, prefix generator, number length. */
type Issuer = readonly [string, (rng: Rng) => string, number]

const issuers: ReadonlyArray<readonly [Issuer, number]> = [
  [["visa", () => "4", 16], 40],
  [["mastercard", (rng) => (rng.chance(0.8) ? `5${rng.range(1, 5)}` : `${rng.range(2221, 2720)}`), 16], 30],
  [["amex", (rng) => rng.pick(["34", "37"]), 15], 10],
  [["discover", (rng) => rng.pick(["6011", "65"]), 16], 6],
  [["jcb", (rng) => `${rng.range(3528, 3589)}`, 16], 5],
  [["unionpay", () => "62", 16], 6],
  [["diners", () => "36", 14], 3]
]
const cardIssuers: Weighted<Issuer> = Weighted.of(issuers)

const groupCard = (rng: Rng, digits: string, issuer: string): string => {
  const sep = rng.pick(["", " ", " ", "-"])
  if (sep === "") return digits
  if (issuer === "amex") return [digits.slice(0, 4), digits.slice(4, 10), digits.slice(10)].join(sep)
  if (issuer === "diners") return [digits.slice(0, 4), digits.slice(4, 10), digits.slice(10)].join(sep)
  const parts: Array<string> = []
  for (let i = 0; i < digits.length; i += 4) parts.push(digits.slice(i, i + 4))
  return parts.join(sep)
}

const card = (rng: Rng, valid: boolean): PiiValue => {
  const [issuer, prefix, length] = cardIssuers.pick(rng)
  const p = prefix(rng)
  const body = p + rng.digits(length - 1 - p.length)
  const check = luhnCheckDigit(body)
  const digit = valid ? check : (check + rng.range(1, 9)) % 10
  return { type: "CREDIT_CARD", subtype: issuer, value: groupCard(rng, body + String(digit), issuer), valid }
}

/** IBAN BBAN layouts per country: n = digits, a = upper letters, c = upper alphanumerics. */
const ibanFormats: ReadonlyArray<readonly [string, string]> = [
  ["DE", "18n"],
  ["GB", "4a14n"],
  ["FR", "10n11c2n"],
  ["ES", "20n"],
  ["IT", "1a10n12c"],
  ["NL", "4a10n"],
  ["BE", "12n"],
  ["CH", "5n12c"],
  ["AT", "16n"],
  ["PL", "24n"],
  ["PT", "21n"],
  ["SE", "20n"]
]

const bban = (rng: Rng, format: string): string => {
  let out = ""
  const re = /(\d+)([nac])/g
  for (let m = re.exec(format); m !== null; m = re.exec(format)) {
    const n = Number(m[1])
    out += rng.chars(m[2] === "n" ? DIGITS : m[2] === "a" ? UPPER : UPPER + DIGITS, n)
  }
  return out
}

/** The ISO 13616 mod-97 remainder of an IBAN (country and check digits moved to the end). */
export const ibanMod97 = (iban: string): number => {
  const s = iban.replace(/\s+/g, "")
  const rearranged = s.slice(4) + s.slice(0, 4)
  let rem = 0
  for (let i = 0; i < rearranged.length; i++) {
    const c = rearranged.charCodeAt(i)
    if (c >= 65 && c <= 90) {
      rem = (rem * 100 + (c - 55)) % 97
    } else {
      rem = (rem * 10 + (c - 48)) % 97
    }
  }
  return rem
}

const iban = (rng: Rng, valid: boolean): PiiValue => {
  const [country, format] = rng.pick(ibanFormats)
  const b = bban(rng, format)
  const check = 98 - ibanMod97(`${country}00${b}`)
  const digits = valid ? check : ((check - 2 + rng.range(1, 96)) % 97) + 2
  const compact = `${country}${String(digits).padStart(2, "0")}${b}`
  const value = rng.chance(0.6) ? (compact.match(/.{1,4}/g) ?? [compact]).join(" ") : compact
  return { type: "IBAN", subtype: country, value, valid }
}

const ssn = (rng: Rng, valid: boolean): PiiValue => {
  if (valid) {
    let area = rng.range(1, 899)
    if (area === 666) area = 665
    const value = `${String(area).padStart(3, "0")}-${String(rng.range(1, 99)).padStart(2, "0")}-${String(rng.range(1, 9999)).padStart(4, "0")}`
    return { type: "US_SSN", subtype: "ssn", value, valid }
  }
  const bad = rng.int(3)
  const value =
    bad === 0 ? `000-${rng.digits(2)}-${rng.digits(4)}` :
    bad === 1 ? `666-${rng.digits(2)}-${rng.digits(4)}` :
    `${rng.range(100, 899)}-00-${rng.digits(4)}`
  return { type: "US_SSN", subtype: "ssn", value, valid }
}

const hosts = ["api.acme-corp.com", "internal.example.net", "db.mycompany.io", "files.startup.dev", "192.168.1.20", "git.example.org", "staging.shop-app.com"]

const url = (rng: Rng): PiiValue => {
  const host = rng.pick(hosts)
  const kind = rng.int(4)
  const value =
    kind === 0 ? `https://${rng.pick(firstNames)}:${rng.chars(ALNUM, rng.range(8, 14))}@${host}/${rng.pick(["admin", "repo.git", "dashboard", "v1/data"])}` :
    kind === 1 ? `https://${host}/v1/${rng.pick(["users", "export", "reports"])}?token=${rng.chars(ALNUM, 32)}` :
    kind === 2 ? `http://${host}/download?file=report.pdf&access_token=${rng.chars(ALNUM, 40)}` :
    `postgres://${rng.pick(["admin", "app", "root"])}:${rng.chars(ALNUM, 12)}@${host}:5432/${rng.pick(["prod", "main", "shop"])}`
  return { type: "URL", subtype: kind === 3 ? "connection-string" : kind === 0 ? "credentials" : "token", value }
}

const base64url = (bytes: Uint8Array): string => {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
  let out = ""
  let i = 0
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2]
    out += alphabet[(n >>> 18) & 63] + alphabet[(n >>> 12) & 63] + alphabet[(n >>> 6) & 63] + alphabet[n & 63]
  }
  const rest = bytes.length - i
  if (rest === 1) {
    const n = bytes[i] << 16
    out += alphabet[(n >>> 18) & 63] + alphabet[(n >>> 12) & 63]
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8)
    out += alphabet[(n >>> 18) & 63] + alphabet[(n >>> 12) & 63] + alphabet[(n >>> 6) & 63]
  }
  return out
}

const utf8 = new TextEncoder()

const jwt = (rng: Rng): string => {
  const header = base64url(utf8.encode(JSON.stringify({ alg: "HS256", typ: "JWT" })))
  const payload = base64url(
    utf8.encode(JSON.stringify({ sub: rng.digits(10), name: `${rng.pick(firstNames)} ${rng.pick(lastNames)}`, iat: 1_600_000_000 + rng.int(100_000_000) }))
  )
  const sig = new Uint8Array(32)
  for (let i = 0; i < 32; i++) sig[i] = rng.int(256)
  return `${header}.${payload}.${base64url(sig)}`
}

const apiKeys: ReadonlyArray<readonly [string, (rng: Rng) => string]> = [
  ["aws", (rng) => `AKIA${rng.chars(`${UPPER}234567`, 16)}`],
  ["openai", (rng) => (rng.chance(0.6) ? `sk-${rng.chars(ALNUM, 48)}` : `sk-proj-${rng.chars(`${ALNUM}-_`, 64)}`)],
  ["github", (rng) => `ghp_${rng.chars(ALNUM, 36)}`],
  ["slack", (rng) => `xoxb-${rng.digits(12)}-${rng.digits(13)}-${rng.chars(ALNUM, 24)}`],
  ["stripe", (rng) => `sk_live_${rng.chars(ALNUM, 24)}`],
  ["google", (rng) => `AIza${rng.chars(`${ALNUM}-_`, 35)}`],
  ["jwt", jwt]
]

const apiKey = (rng: Rng): PiiValue => {
  const [kind, make] = rng.pick(apiKeys)
  return { type: "API_KEY", subtype: kind, value: make(rng) }
}

const sha256 = (bytes: Uint8Array): Uint8Array => new Uint8Array(createHash("sha256").update(bytes).digest())

const base58 = (bytes: Uint8Array): string => {
  const digits: Array<number> = [0]
  for (const byte of bytes) {
    let carry = byte
    for (let j = 0; j < digits.length; j++) {
      carry += digits[j] << 8
      digits[j] = carry % 58
      carry = (carry / 58) | 0
    }
    while (carry > 0) {
      digits.push(carry % 58)
      carry = (carry / 58) | 0
    }
  }
  let out = ""
  for (let k = 0; k < bytes.length && bytes[k] === 0; k++) out += "1"
  for (let q = digits.length - 1; q >= 0; q--) out += BASE58[digits[q]]
  return out
}

/** A base58check (P2PKH `1...` or P2SH `3...`) bitcoin address. */
const base58check = (rng: Rng): string => {
  const payload = new Uint8Array(21)
  payload[0] = rng.chance(0.6) ? 0x00 : 0x05
  for (let i = 1; i < 21; i++) payload[i] = rng.int(256)
  const check = sha256(sha256(payload)).subarray(0, 4)
  const full = new Uint8Array(25)
  full.set(payload)
  full.set(check, 21)
  return base58(full)
}

const bech32Polymod = (values: ReadonlyArray<number>): number => {
  const gen = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3]
  let chk = 1
  for (const v of values) {
    const top = chk >>> 25
    chk = ((chk & 0x1ffffff) << 5) ^ v
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= gen[i]
  }
  return chk >>> 0
}

/** Whether a bech32 (segwit v0) string has a valid checksum. */
export const bech32Valid = (address: string): boolean => {
  const pos = address.lastIndexOf("1")
  if (pos < 1) return false
  const hrp = address.slice(0, pos)
  const data: Array<number> = []
  for (const c of address.slice(pos + 1)) {
    const d = BECH32.indexOf(c)
    if (d < 0) return false
    data.push(d)
  }
  const expanded: Array<number> = []
  for (const c of hrp) expanded.push(c.charCodeAt(0) >>> 5)
  expanded.push(0)
  for (const c of hrp) expanded.push(c.charCodeAt(0) & 31)
  return bech32Polymod([...expanded, ...data]) === 1
}

/** A bech32 segwit v0 address (`bc1q...`, 20-byte program). */
const bech32 = (rng: Rng): string => {
  const hrp = "bc"
  const data: Array<number> = [0]
  for (let i = 0; i < 32; i++) data.push(rng.int(32))
  const expanded = [3, 3, 0, 2, 3]
  const mod = bech32Polymod([...expanded, ...data, 0, 0, 0, 0, 0, 0]) ^ 1
  for (let i = 0; i < 6; i++) data.push((mod >>> (5 * (5 - i))) & 31)
  return `${hrp}1${data.map((d) => BECH32[d]).join("")}`
}

/** Changes one character of `s` (after `keep` leading characters) to another from `alphabet`. */
const corrupt = (rng: Rng, s: string, alphabet: string, keep: number): string => {
  const i = keep + rng.int(s.length - keep)
  const c = s[i]
  let r = rng.pick([...alphabet])
  if (r === c) r = alphabet[(alphabet.indexOf(c) + 1) % alphabet.length]
  return s.slice(0, i) + r + s.slice(i + 1)
}

const cryptoAddress = (rng: Rng, valid: boolean): PiiValue => {
  const kind = rng.int(3)
  if (kind === 0) {
    const a = base58check(rng)
    return { type: "CRYPTO", subtype: "bitcoin-base58", value: valid ? a : corrupt(rng, a, BASE58, 1), valid }
  }
  if (kind === 1) {
    const a = bech32(rng)
    return { type: "CRYPTO", subtype: "bitcoin-bech32", value: valid ? a : corrupt(rng, a, BECH32, 4), valid }
  }
  // Ethereum: all-lowercase addresses carry no checksum and are always well-formed.
  return { type: "CRYPTO", subtype: "ethereum", value: `0x${rng.chars(HEX, 40)}`, valid: true }
}

/** Whether a base58check string decodes with a valid double-SHA-256 checksum. */
export const base58checkValid = (address: string): boolean => {
  let n = 0n
  for (const c of address) {
    const d = BASE58.indexOf(c)
    if (d < 0) return false
    n = n * 58n + BigInt(d)
  }
  const bytes: Array<number> = []
  while (n > 0n) {
    bytes.unshift(Number(n & 255n))
    n >>= 8n
  }
  for (let k = 0; k < address.length && address[k] === "1"; k++) bytes.unshift(0)
  if (bytes.length < 5) return false
  const payload = Uint8Array.from(bytes.slice(0, -4))
  const check = sha256(sha256(payload))
  return bytes.slice(-4).every((b, i) => b === check[i])
}

/** PII types with their planting weight. */
const piiKinds: Weighted<(rng: Rng) => PiiValue> = Weighted.of([
  [email, 22],
  [phone, 18],
  [ip, 10],
  [(rng) => card(rng, rng.chance(0.7)), 10],
  [(rng) => iban(rng, rng.chance(0.7)), 7],
  [(rng) => ssn(rng, rng.chance(0.8)), 5],
  [url, 8],
  [apiKey, 12],
  [(rng) => cryptoAddress(rng, rng.chance(0.8)), 8]
])

/** Draws one PII value. */
export const drawPii = (rng: Rng): PiiValue => piiKinds.pick(rng)(rng)

/** English sentence frames carrying a value, `[before, after]`, for each planted type. */
const carriers = {
  EMAIL: [["My email is ", "."], ["Please contact me at ", " if you need anything."], ["Send the report to ", " by Friday."], ["email: ", ""], ["You can reach our support team at ", "."]],
  PHONE: [["You can call me at ", "."], ["My phone number is ", ", call after 6pm."], ["Tel: ", ""], ["WhatsApp: ", ""], ["Call our office on ", " for details."]],
  IP_ADDRESS: [["The server IP is ", "."], ["I can't connect to ", " over SSH, what should I check?"], ["ping ", ""], ["My IP address is ", " and it is blocked."]],
  CREDIT_CARD: [["My card number is ", ", expiry 09/27, CVV 123."], ["Charge it to card ", "."], ["card: ", ""], ["Is this card number valid: ", "?"]],
  IBAN: [["Please transfer the money to IBAN ", "."], ["My IBAN is ", "."], ["IBAN: ", ""], ["Bank account: ", ", reference invoice 2023-114."]],
  US_SSN: [["My SSN is ", "."], ["SSN: ", ""], ["Social security number ", " is on the form."]],
  URL: [["Clone it from ", " and run the tests."], ["The dashboard is at ", "."], ["Here is the link: ", ""], ["Connect with ", " in your config."]],
  API_KEY: [["Here is my API key: ", ""], ["api_key = \"", "\""], ["I set the token to ", " but I get 401 Unauthorized."], ["export SECRET_KEY=", ""]],
  CRYPTO: [["Send the payment to my wallet ", "."], ["Wallet address: ", ""], ["Donations welcome at ", "."]]
} satisfies { readonly [T in PiiType]?: ReadonlyArray<readonly [string, string]> }

/** The types planted: those with sentence frames. */
export type PlantedType = keyof typeof carriers

/** The planted types, in {@link carriers} order. */
export const plantedTypes: ReadonlyArray<PlantedType> = Object.keys(carriers).filter((t): t is PlantedType => t in carriers)

/** A sentence frame for a value of this type. */
export const carrier = (rng: Rng, type: PlantedType): readonly [string, string] => rng.pick(carriers[type])

/**
 * A labelled set built from public format specifications: for every type, valid values (check
 * digits computed here from the published algorithms, or the published test vectors), values
 * that fail their checksum or rule, edge cases and near-misses, and text that looks like
 * personal data in chat logs but is not (versions, dates, timestamps, hashes, UUIDs, code, math).
 * Each case is one message with the exact values that must be found.
 */
import { createHash } from "node:crypto"
import { keccak_256 } from "@noble/hashes/sha3.js"
import type { PiiType } from "../src/Detect.js"

/** An expected finding: its type and the exact text. */
export interface Expected {
  readonly type: PiiType
  readonly value: string
}

/** One labelled message. `kind` says why it is there. */
export interface LabelledCase {
  readonly text: string
  readonly expected: ReadonlyArray<Expected>
  readonly kind: "positive" | "checksum" | "near-miss" | "negative" | "rule"
  readonly note: string
}

/** An expected span with offsets. */
export interface ExpectedSpan extends Expected {
  readonly start: number
  readonly end: number
}

/** The offsets of a case's expected values (each found left to right). */
export const spansOf = (c: LabelledCase): ReadonlyArray<ExpectedSpan> => {
  let from = 0
  const out: Array<ExpectedSpan> = []
  for (const e of c.expected) {
    const start = c.text.indexOf(e.value, from)
    if (start < 0) throw new Error(`labelled set: ${JSON.stringify(e.value)} not in ${JSON.stringify(c.text)}`)
    out.push({ ...e, start, end: start + e.value.length })
    from = start + e.value.length
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Check digits, from the specifications

const luhnDigit = (body: string): string => {
  let sum = 0
  for (let i = 0; i < body.length; i++) {
    let d = body.charCodeAt(body.length - 1 - i) - 48
    if (i % 2 === 0) {
      d *= 2
      if (d > 9) d -= 9
    }
    sum += d
  }
  return String((10 - (sum % 10)) % 10)
}
const card = (body: string): string => body + luhnDigit(body)
const badCard = (body: string): string => body + String((Number(luhnDigit(body)) + 3) % 10)
const group4 = (s: string, sep = " "): string => (s.match(/.{1,4}/g) ?? [s]).join(sep)

const mod97 = (s: string): number => {
  let r = 0
  for (const ch of s) r = /[A-Z]/.test(ch) ? (r * 100 + ch.charCodeAt(0) - 55) % 97 : (r * 10 + Number(ch)) % 97
  return r
}
const iban = (country: string, bban: string): string => {
  const check = 98 - mod97(`${bban}${country}00`)
  return `${country}${String(check).padStart(2, "0")}${bban}`
}
const badIban = (country: string, bban: string): string => {
  const good = iban(country, bban)
  const check = Number(good.slice(2, 4))
  return `${country}${String(check === 98 ? 97 : check + 1).padStart(2, "0")}${bban}`
}

const myNumber = (eleven: string): string => {
  let sum = 0
  for (let n = 1; n <= 11; n++) sum += Number(eleven[11 - n]) * (n <= 6 ? n + 1 : n - 5)
  const r = sum % 11
  return eleven + String(r <= 1 ? 0 : 11 - r)
}
const nhs = (nine: string): string | undefined => {
  let sum = 0
  for (let i = 0; i < 9; i++) sum += Number(nine[i]) * (10 - i)
  const c = 11 - (sum % 11)
  return c === 10 ? undefined : nine + String(c === 11 ? 0 : c)
}

const BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash("sha256").update(b).digest())
const base58 = (bytes: Uint8Array): string => {
  let n = 0n
  for (const b of bytes) n = n * 256n + BigInt(b)
  let out = ""
  while (n > 0n) {
    out = BASE58[Number(n % 58n)] + out
    n /= 58n
  }
  for (let i = 0; i < bytes.length && bytes[i] === 0; i++) out = `1${out}`
  return out
}
const base58check = (version: number, seed: number): string => {
  const payload = new Uint8Array(21)
  payload[0] = version
  for (let i = 1; i < 21; i++) payload[i] = (seed * 31 + i * 17) & 255
  const check = sha256(sha256(payload)).subarray(0, 4)
  const full = new Uint8Array(25)
  full.set(payload)
  full.set(check, 21)
  return base58(full)
}
const eip55 = (hex40: string): string => {
  const lower = hex40.toLowerCase()
  const hash = keccak_256(new TextEncoder().encode(lower))
  let out = ""
  for (let i = 0; i < 40; i++) {
    const nibble = (hash[i >> 1] >> (i % 2 === 0 ? 4 : 0)) & 15
    out += nibble >= 8 ? lower[i].toUpperCase() : lower[i]
  }
  return `0x${out}`
}
/** Flips the case of the first letter, which breaks an EIP-55 checksum. */
const flipFirstLetter = (a: string): string => {
  const i = a.slice(2).search(/[a-fA-F]/) + 2
  const c = a[i]
  return a.slice(0, i) + (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()) + a.slice(i + 1)
}
/** Replaces character `i` with the next one of `alphabet`. */
const corrupt = (s: string, i: number, alphabet: string): string => s.slice(0, i) + alphabet[(alphabet.indexOf(s[i]) + 1) % alphabet.length] + s.slice(i + 1)

/** Deterministic pseudo-random characters (no Math.random: the set is the same every run). */
const chars = (alphabet: string, n: number, seed: number): string => {
  let x = seed >>> 0 || 1
  let out = ""
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    out += alphabet[x % alphabet.length]
  }
  return out
}
const UP = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
const LO = "abcdefghijklmnopqrstuvwxyz"
const DI = "0123456789"
const AN = UP + LO + DI

// ---------------------------------------------------------------------------------------------
// The cases

const cases: Array<LabelledCase> = []
const pos = (type: PiiType, text: string, value: string, note: string): void => {
  cases.push({ text, expected: [{ type, value }], kind: "positive", note })
}
const none = (kind: LabelledCase["kind"], text: string, note: string): void => {
  cases.push({ text, expected: [], kind, note })
}
const frames: ReadonlyArray<readonly [string, string]> = [
  ["", ""],
  ["Contact: ", "."],
  ["my details → ", " (please keep private)"],
  ["「", "」に連絡してください"],
  ["Please use ", ", thanks!"]
]
const framed = (type: PiiType, values: ReadonlyArray<string>, note: string): void => {
  values.forEach((v, i) => {
    const [a, b] = frames[i % frames.length]
    pos(type, `${a}${v}${b}`, v, note)
  })
}

// EMAIL (RFC 5321 local part and domain, common real shapes)
framed("EMAIL", ["john.smith@gmail.com", "j_doe+newsletter@mail.example.co.uk", "o'brien@example.ie", "USER.Name@Example.ORG", "x@a-b.io", "ivan.petrov@yandex.ru", "yamada@example.jp", "first.last%dept@company.museum", "a1b2c3@xn--80ak6aa92e.com"], "e-mail")
none("near-miss", "Use @Override and @types/node@20.11.5 with icon@2x.png", "decorators, npm specifiers, asset names")
none("near-miss", "ssh into root@localhost or admin@server then run it", "no top-level domain")
none("near-miss", "the handle is @johnsmith on twitter and bob@ is incomplete", "handle, bare @")
none("rule", "Hi NAME_1, write to NAME_1@gmail.com please", "NAME_n placeholder is kept")

// PHONE: E.164 and national formats (ITU-T E.164; national numbering plans)
framed("PHONE", ["+1 212 555 0123", "(415) 555-0199", "646-555-0134", "+12065550100", "312.555.0147", "1-800-555-0111", "+1 (617) 555-0102"], "US")
framed("PHONE", ["+44 20 7946 0958", "020 7946 0958", "07700 900123", "+44 7700 900123", "+44 (0) 161 496 0000"], "UK")
framed("PHONE", ["+49 30 1234567", "030 1234567", "0151 23456789", "+49 151 23456789", "089 12345678"], "DE")
framed("PHONE", ["+33 1 23 45 67 89", "01 23 45 67 89", "06.12.34.56.78", "+33 6 12 34 56 78"], "FR")
framed("PHONE", ["090-1234-5678", "+81 90-1234-5678", "03-1234-5678", "+81 3-1234-5678", "045-123-4567"], "JP")
framed("PHONE", ["13812345678", "+86 138 1234 5678", "010-62345678", "+86 10 6234 5678", "0755-23456789"], "CN")
framed("PHONE", ["+55 11 91234-5678", "(11) 91234-5678", "(21) 3456-7890", "+55 21 3456 7890"], "BR")
framed("PHONE", ["+91 98765 43210", "098765 43210", "98765 43210", "+91 22 2345 6789"], "IN")
framed("PHONE", ["+7 495 123-45-67", "8 (495) 123-45-67", "+7 (916) 123-45-67", "8 916 123 45 67"], "RU")
framed("PHONE", ["+61 2 9876 5432", "+34 612 345 678", "+82 10-1234-5678"], "other E.164")
none("near-miss", "call +1 212 555 012 or (012) 555-0123 or 555-0123", "too short, area code 0, no area code")
none("near-miss", "The answer is 2 + 2 = 4 and 10 - 3 = 7, score +100", "arithmetic and scores")
none("negative", "It happened on 2023-11-04 at 12:30:45, i.e. 04/11/2023 or 04.11.2023", "dates and times")
none("negative", "timestamp 1699999999 and 1699999999123 ms, order #12345678", "timestamps and ids")
none("negative", "ISBN 978-3-16-148410-0 and phone-like list 1 2 3 4 5 6 7 8 9 10", "ISBN, counting")
none("negative", "We sold 1,234,567 units (1 234 567 in French style) for $12 345 678", "large numbers")

// IP_ADDRESS (RFC 791 dotted quad, RFC 4291/5952 text forms)
framed("IP_ADDRESS", ["8.8.8.8", "203.0.113.45", "192.168.1.20", "10.0.0.1", "172.16.254.3", "2001:db8:85a3::8a2e:370:7334", "2001:0db8:0000:0000:0000:ff00:0042:8329", "fe80::1ff:fe23:4567:890a", "2a00:1450:4001:82b::200e", "::ffff:203.0.113.7"], "ipv4/ipv6")
none("near-miss", "not an address: 256.1.1.1, 1.2.3, 1.2.3.4.5, 01.02.03.04", "out of range, too few/many parts, leading zeros")
none("negative", "Upgrade to version 1.2.3.4 (build 10.0.19041.1) today", "version numbers")
none("negative", "std::vector<int> a; x[1::2]; the time is 10:30; ratio 16:9", "C++ scope, slices, times")
none("negative", "netmask 255.255.255.0 and 255.255.0.0", "netmasks")
pos("IP_ADDRESS", "IP:2001:db8::8a2e:7334 (v6)", "2001:db8::8a2e:7334", "label glued with a colon")

// CREDIT_CARD (ISO/IEC 7812 issuer prefixes and lengths, Luhn)
framed("CREDIT_CARD", [
  "4111 1111 1111 1111", "4012888888881881", "5555-5555-5555-4444", "2223 0031 2200 3222", "3782 822463 10005", "371449635398431",
  "6011 1111 1111 1117", "3530 1113 3330 0000", "3056 930902 5904", group4(card("622126000000000")), card("220000000000000"),
  group4(card("676130000000000")), card("4000056655665556".slice(0, 15))
], "card")
for (const body of ["411111111111111", "555555555555444", "601111111111111", "353011133330000"]) none("checksum", `card ${group4(badCard(body))}`, "Luhn fails")
none("checksum", "card 3782 822463 10006", "Luhn fails (Amex)")
none("near-miss", "number 1234 5678 9012 3456 and 9999 9999 9999 9995", "Luhn-valid or not, no real issuer prefix")

// IBAN (ISO 13616; SWIFT registry lengths; mod-97)
const ibans: ReadonlyArray<readonly [string, string]> = [
  ["DE", "370400440532013000"], ["GB", "NWBK60161331926819"], ["FR", "20041010050500013M02606"], ["ES", "21000418450200051332"],
  ["IT", "X0542811101000000123456"], ["NL", "ABNA0417164300"], ["BE", "539007547034"], ["CH", "00762011623852957"],
  ["AT", "1904300234573201"], ["PL", "109010140000071219812874"], ["NO", "86011117947"], ["MT", "MALT011000012345MTLCAST001S"],
  ["SA", "80000000608010167519"], ["BR", "00360305000010009795493C1"], ["RU", "04452522540817810538091310419"]
]
ibans.forEach(([c, b], i) => {
  const v = iban(c, b)
  framed("IBAN", [i % 2 === 0 ? group4(v) : v], `IBAN ${c}`)
})
for (const [c, b] of ibans.slice(0, 6)) none("checksum", `IBAN ${group4(badIban(c, b))}`, "mod-97 fails")
none("near-miss", `IBAN ${iban("DE", "37040044053201300")} (one digit short)`, "wrong length for the country")
none("near-miss", `IBAN ${iban("XY", "370400440532013000")}`, "unknown country")

// US_SSN (SSA rules: area 001-665, 667-899; group 01-99; serial 0001-9999)
framed("US_SSN", ["536-22-8726", "123-45-6789", "001-01-0001", "899 99 9999", "665-12-3456"], "SSN")
none("rule", "SSNs 000-12-3456, 666-12-3456, 912-34-5678, 123-00-4567, 123-45-0000", "impossible area, group or serial")
none("rule", "the advertised 078-05-1120 and 219-09-9999", "published example numbers")

// URL (only with credentials or tokens)
framed("URL", [
  "https://john:s3cr3tPass@api.example.com/v1/users", "postgres://admin:Zx9qL2mn@db.internal:5432/prod", "https://files.example.net/export?id=7&token=8fJ2kL9mQ1xZ",
  "http://example.org/cb#access_token=ya29.A0ARrdaM-abc123", "https://bucket.s3.amazonaws.com/x.pdf?X-Amz-Credential=AKIA%2F20231104&X-Amz-Signature=abcdef123456",
  "mongodb+srv://app:pa55word@cluster0.mongodb.net/shop", "redis://:hunter22@cache.example.com:6379"
], "URL with secret")
none("near-miss", "see https://example.com/docs?page=2&lang=en and ssh://git@github.com/org/repo.git and http://localhost:8080/", "URLs without secrets")

// API_KEY (vendor formats)
framed("API_KEY", [
  "AKIAIOSFODNN7EXAMPLE", `ASIA${chars(`${UP}234567`, 16, 1)}`, `sk-${chars(AN, 48, 2)}`, `sk-proj-${chars(`${AN}-_`, 64, 3)}`,
  `sk-ant-api03-${chars(`${AN}-_`, 93, 4)}AA`, `ghp_${chars(AN, 36, 5)}`, `github_pat_${chars(`${AN}_`, 82, 6)}`, `glpat-${chars(`${AN}-_`, 20, 7)}`,
  `xoxb-${chars(DI, 12, 8)}-${chars(DI, 13, 9)}-${chars(AN, 24, 10)}`, `AIza${chars(`${AN}-_`, 35, 11)}`, `sk_live_${chars(AN, 24, 12)}`,
  `rk_live_${chars(AN, 24, 13)}`, `hf_${chars(AN, 34, 14)}`, `npm_${chars(AN, 36, 15)}`,
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
  `-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA${chars(`${AN}+/`, 64, 16)}\n${chars(`${AN}+/`, 64, 17)}\n-----END RSA PRIVATE KEY-----`,
  `-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ${chars(`${AN}+/`, 40, 18)}\n-----END OPENSSH PRIVATE KEY-----`
], "API key")
none("near-miss", "sk-abc, AKIA1234, ghp_short, pk_live_51abcdefghijklmnopqrstuv, sklearn-model, task-list", "too short or public keys")
none("near-miss", "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----", "public key")
none("near-miss", "eyJhbGciOi.notajwt and eyJ0eXAiOiJKV1QifQ.e30 only", "JWT-like, no signature")

// CRYPTO (base58check, BIP 173 bech32, BIP 350 bech32m, EIP-55)
framed("CRYPTO", [
  "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", base58check(0, 1), base58check(5, 2), base58check(0, 3),
  "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3",
  "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
  "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359", eip55("d1220a0cf47c7b9be7a2e6ba89f429762e7b9adb"), "0x52908400098527886e0f7030069857d2e4169ee7"
], "crypto address")
none("checksum", `send to ${corrupt("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", 10, BASE58)}`, "base58check fails")
none("checksum", `send to ${corrupt(base58check(5, 2), 12, BASE58)}`, "base58check fails (P2SH)")
none("checksum", `send to ${corrupt("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", 20, "qpzry9x8gf2tvdw0s3jn54khce6mua7l")}`, "bech32 fails")
none("checksum", `send to ${flipFirstLetter("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")}`, "EIP-55 fails")
none("negative", "tx 0x9fc76417374aa880d4449a1f7f31ec597f00b1f6f3dd2d66f4c9c6c445836d8b and 0x0000000000000000000000000000000000000000", "transaction hash, zero address")

// MAC_ADDRESS (IEEE 802 MAC-48 text forms)
framed("MAC_ADDRESS", ["00:1A:2B:3C:4D:5E", "a4-5e-60-c2-11-9f", "3c:22:fb:08:1a:77"], "MAC")
none("near-miss", "00:1A:2B:3C:4D and 00:00:00:00:00:00 and ff:ff:ff:ff:ff:ff", "too short, null, broadcast")

// JP_MY_NUMBER (個人番号 check digit, MIC ordinance)
framed("JP_MY_NUMBER", [group4(myNumber("12345678901")), group4(myNumber("98765432109"), "-"), group4(myNumber("31415926535"))], "My Number")
pos("JP_MY_NUMBER", `マイナンバー: ${myNumber("27182818284")}`, myNumber("27182818284"), "My Number, bare with context")
{
  const good = myNumber("12345678901")
  const bad = good.slice(0, 11) + String((Number(good[11]) + 1) % 10)
  none("checksum", `My Number ${group4(bad)}`, "check digit fails")
}
none("near-miss", `order ${myNumber("11122233344")} shipped`, "12 digits without context")

// UK_NHS (NHS number, modulus 11)
const nhsValues = ["943476591", "401023213", "485777345", "700000000"].map(nhs).filter((x): x is string => x !== undefined)
framed("UK_NHS", nhsValues.map((v) => `${v.slice(0, 3)} ${v.slice(3, 6)} ${v.slice(6)}`), "NHS number")
pos("UK_NHS", `NHS number: ${nhsValues[0]}`, nhsValues[0], "NHS, bare with context")
none("checksum", "NHS 943 476 5910", "mod 11 fails")
none("near-miss", "reference 9434765919 without the word", "10 digits without context")

// Everyday negatives from chat logs
none("negative", "pip install numpy==1.26.4 && node v20.11.1 && Python 3.11.4", "versions")
none("negative", "UUID 123e4567-e89b-12d3-a456-426614174000 and commit a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0", "UUID, git hash")
none("negative", "md5 d41d8cd98f00b204e9800998ecf8427e sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "hashes")
none("negative", "for (let i = 0; i < 100000; i++) { arr[i] = i * 31 % 1000003; } // 0xFF 1e10", "code")
none("negative", "x = 3.14159265358979 * 2.71828 + 1234567890 / 987654321", "math")
none("negative", "2023-11-04T12:30:45.123Z and 2023年11月4日 12時30分", "timestamps")
none("negative", "The winning numbers are 04 08 15 16 23 42", "number list")
none("negative", "NAME_1 and NAME_2 met NAME_3; EMAIL_1 stays EMAIL_1", "placeholders")

/** The labelled cases. */
export const labelled: ReadonlyArray<LabelledCase> = cases

/**
 * The detectors compared by the eval: this package and the npm libraries `openredaction`,
 * `redact-pii` and `@redactpii/node`, each behind one interface that returns typed spans.
 * `openredaction` reports positions; the other two only return redacted text, so their spans
 * are recovered by aligning the output (with a distinct marker per type) against the input.
 * A library that cannot be loaded is reported as unavailable with the reason.
 */
import { detect, type PiiType } from "../src/Detect.js"

/** A predicted span; `type` is ours, or "OTHER" for a library type we do not detect. */
export interface Predicted {
  readonly type: PiiType | "OTHER"
  readonly start: number
  readonly end: number
}

/**
 * A detector under test: `call` is the library call that is timed (it may be async, as
 * openredaction's is); `spans` turns its result into typed spans, outside the timing.
 */
export interface Tool {
  readonly name: string
  readonly version: string
  readonly call: (text: string) => unknown
  readonly spans: (text: string, result: unknown) => ReadonlyArray<Predicted>
  /** Library type names seen, for the report. */
  readonly seen: Set<string>
}

/** A tool, or why it is unavailable. */
export type Loaded = { readonly tool: Tool } | { readonly name: string; readonly unavailable: string }

/** Our types for a library's type names (by the words in them). */
export const mapType = (name: string): PiiType | "OTHER" => {
  const n = name.toUpperCase()
  if (/EMAIL/.test(n)) return "EMAIL"
  if (/PHONE|MOBILE|TELEPHONE/.test(n)) return "PHONE"
  if (/IPV4|IPV6|IP_ADDRESS|^IP$/.test(n)) return "IP_ADDRESS"
  if (/MAC_ADDRESS/.test(n)) return "MAC_ADDRESS"
  if (/CREDIT_CARD|CARD_NUMBER|CREDITCARD/.test(n)) return "CREDIT_CARD"
  if (/IBAN/.test(n)) return "IBAN"
  if (/^SSN$|US_SSN|SOCIAL_SECURITY/.test(n)) return "US_SSN"
  if (/URL/.test(n)) return "URL"
  if (/BITCOIN|ETHEREUM|CRYPTO|BTC|WALLET|LITECOIN/.test(n)) return "CRYPTO"
  if (/NHS/.test(n)) return "UK_NHS"
  if (/MY_?NUMBER|INDIVIDUAL_NUMBER/.test(n)) return "JP_MY_NUMBER"
  if (/API|TOKEN|JWT|SECRET|PRIVATE_KEY|ACCESS_KEY|AWS|GITHUB|STRIPE|SLACK|OPENAI|GOOGLE|_KEY$/.test(n)) return "API_KEY"
  return "OTHER"
}

const versionOf = async (pkg: string): Promise<string> => {
  try {
    const { readFileSync } = await import("node:fs")
    const { join } = await import("node:path")
    const manifest: { version?: unknown } = JSON.parse(readFileSync(join(import.meta.dirname, "../node_modules", pkg, "package.json"), "utf8"))
    return typeof manifest.version === "string" ? manifest.version : "?"
  } catch {
    return "?"
  }
}

const ownVersion = async (): Promise<string> => {
  const { createRequire } = await import("node:module")
  const manifest: { version?: unknown } = createRequire(import.meta.url)("../package.json")
  return typeof manifest.version === "string" ? manifest.version : "?"
}

/** Recovers spans from redacted text: `markers` maps each replacement string to its type. */
export const align = (original: string, redacted: string, markers: ReadonlyMap<string, PiiType | "OTHER">): Array<Predicted> => {
  const names = [...markers.keys()].sort((a, b) => b.length - a.length)
  if (names.length === 0) return []
  const re = new RegExp(names.map((m) => m.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "g")
  const out: Array<Predicted> = []
  let pos = 0
  let last = 0
  let pending: { type: PiiType | "OTHER"; start: number } | undefined
  const literal = (lit: string) => {
    if (lit === "") return
    if (pending !== undefined) {
      const idx = original.indexOf(lit, pos)
      if (idx < 0) {
        pending = undefined
        pos = original.length
        return
      }
      out.push({ type: pending.type, start: pending.start, end: idx })
      pending = undefined
      pos = idx + lit.length
    } else pos += lit.length
  }
  for (let m = re.exec(redacted); m !== null; m = re.exec(redacted)) {
    literal(redacted.slice(last, m.index))
    last = m.index + m[0].length
    if (pending !== undefined) continue
    // The marker word was in the input itself ("the URL is"): it is text, not a replacement.
    if (original.startsWith(m[0], pos)) {
      pos += m[0].length
      continue
    }
    pending = { type: markers.get(m[0]) ?? "OTHER", start: pos }
  }
  literal(redacted.slice(last))
  if (pending !== undefined) out.push({ type: pending.type, start: pending.start, end: original.length })
  return out.filter((p) => p.end > p.start)
}

/** This package's detector with default options. */
export const synthline = async (): Promise<Loaded> => ({
  tool: {
    name: "@synthline/plugin-pii",
    version: await ownVersion(),
    call: (t) => detect(t),
    spans: (t) => detect(t),
    seen: new Set()
  }
})

/** `openredaction` with its defaults; its detections carry positions and type names. */
export const openredaction = async (): Promise<Loaded> => {
  try {
    const mod: { OpenRedaction?: new (o: object) => { detect: (t: string) => Promise<unknown> } } = await import("openredaction")
    const Ctor = mod.OpenRedaction
    if (Ctor === undefined) return { name: "openredaction", unavailable: "no OpenRedaction export" }
    const o = new Ctor({})
    const seen = new Set<string>()
    const spans = (_text: string, r: unknown): ReadonlyArray<Predicted> => {
      const out: Array<Predicted> = []
      const detections = typeof r === "object" && r !== null && "detections" in r && Array.isArray(r.detections) ? r.detections : []
      for (const d of detections) {
        const type: unknown = d.type
        const position: unknown = d.position
        if (typeof type !== "string" || !Array.isArray(position)) continue
        seen.add(type)
        const [start, end] = position
        if (typeof start === "number" && typeof end === "number") out.push({ type: mapType(type), start, end })
      }
      return out
    }
    return { tool: { name: "openredaction", version: await versionOf("openredaction"), call: (t) => o.detect(t), spans, seen } }
  } catch (e) {
    return { name: "openredaction", unavailable: e instanceof Error ? e.message : String(e) }
  }
}

/** `redact-pii` (SyncRedactor, name detection off: this package does not detect names). */
export const redactPii = async (): Promise<Loaded> => {
  try {
    const mod: { SyncRedactor?: unknown; default?: { SyncRedactor?: unknown } } = await import("redact-pii")
    const Ctor = mod.SyncRedactor ?? mod.default?.SyncRedactor
    if (typeof Ctor !== "function") return { name: "redact-pii", unavailable: "no SyncRedactor export" }
    // Its regular-expression rules always replace with their name in upper snake case.
    const markers = new Map<string, PiiType | "OTHER">([
      ["CREDIT_CARD_NUMBER", "CREDIT_CARD"], ["EMAIL_ADDRESS", "EMAIL"], ["IP_ADDRESS", "IP_ADDRESS"], ["PHONE_NUMBER", "PHONE"],
      ["US_SOCIAL_SECURITY_NUMBER", "US_SSN"], ["URL", "URL"], ["CREDENTIALS", "OTHER"], ["PASSWORD", "OTHER"], ["USERNAME", "OTHER"],
      ["STREET_ADDRESS", "OTHER"], ["ZIPCODE", "OTHER"], ["DIGITS", "OTHER"]
    ])
    const config = { names: { enabled: false } }
    const redactor: unknown = Reflect.construct(Ctor, [{ builtInRedactors: config }])
    const redact = (t: string): string => {
      if (typeof redactor === "object" && redactor !== null && "redact" in redactor && typeof redactor.redact === "function") {
        const r: unknown = redactor.redact(t)
        return typeof r === "string" ? r : t
      }
      return t
    }
    const seen = new Set<string>()
    const spans = (t: string, r: unknown) => align(t, typeof r === "string" ? r : t, markers)
    return { tool: { name: "redact-pii", version: await versionOf("redact-pii"), call: redact, spans, seen } }
  } catch (e) {
    return { name: "redact-pii", unavailable: e instanceof Error ? e.message : String(e) }
  }
}

/** `@redactpii/node` (Redactor, name detection off), recovered from its default replacement words. */
export const redactpiiNode = async (): Promise<Loaded> => {
  try {
    const mod: { Redactor?: unknown } = await import("@redactpii/node")
    const Ctor = mod.Redactor
    if (typeof Ctor !== "function") return { name: "@redactpii/node", unavailable: "no Redactor export" }
    const redactor: unknown = Reflect.construct(Ctor, [{ rules: { CREDIT_CARD: true, EMAIL: true, PHONE: true, SSN: true, NAME: false } }])
    const markers = new Map<string, PiiType | "OTHER">([
      ["EMAIL_ADDRESS", "EMAIL"], ["PHONE_NUMBER", "PHONE"], ["CREDIT_CARD_NUMBER", "CREDIT_CARD"],
      ["US_SOCIAL_SECURITY_NUMBER", "US_SSN"], ["PERSON_NAME", "OTHER"]
    ])
    const redact = (t: string): string => {
      if (typeof redactor === "object" && redactor !== null && "redact" in redactor && typeof redactor.redact === "function") {
        const r: unknown = redactor.redact(t)
        return typeof r === "string" ? r : t
      }
      return t
    }
    const spans = (t: string, r: unknown) => align(t, typeof r === "string" ? r : t, markers)
    return { tool: { name: "@redactpii/node", version: await versionOf("@redactpii/node"), call: redact, spans, seen: new Set() } }
  } catch (e) {
    return { name: "@redactpii/node", unavailable: e instanceof Error ? e.message : String(e) }
  }
}

/**
 * Detection: finds personal data in a string and returns typed spans (UTF-16 offsets, end
 * exclusive). Every type is validated where its format has a rule (Luhn, mod-97, checksums,
 * check digits, number plans), every scanner is linear in the text, and existing placeholders
 * (`NAME_1`, `EMAIL_2`, …) are never part of a detected span. Both stages are built on it; it is
 * also usable on its own.
 */
import * as Record from "@synthline/core/Record"
import { Schema } from "effect"
import { type Found, type Kind, scanColon, scanDigits, scanEmail, scanKeys, scanMacDash, scanUrl } from "./internal/scan.js"

/** Every type this package detects, in documentation order (core's one table, `Record.piiTypes`). */
export const piiTypes: ReadonlyArray<Kind> = Record.piiTypes

/** A detected type of personal data. */
export type PiiType = Kind

/** A detected type of personal data, as a Schema (for stage options). */
export const PiiType: Schema.Schema<PiiType> = Schema.Literal(...Record.piiTypes)

/** One detected span: its type and UTF-16 offsets into the text (end exclusive). */
export interface Match {
  readonly type: PiiType
  readonly start: number
  readonly end: number
}

/** Options of {@link make}. */
export interface DetectorOptions {
  /** Types to report (default all). Values of other types are still recognised, so they never turn into another type. */
  readonly types?: ReadonlyArray<PiiType>
  /** Values never reported, compared exactly and after {@link normalize}. */
  readonly allow?: ReadonlyArray<string>
  /** Do not report private IP ranges (10/8, 172.16/12, 192.168/16, 169.254/16, 100.64/10, fc00::/7, fe80::/10). */
  readonly keepPrivateIps?: boolean
  /** Do not report loopback and unspecified addresses (127/8, 0.0.0.0, ::1, ::). */
  readonly keepLoopbackIps?: boolean
  /** `credentials` (default): only URLs with userinfo credentials or secret parameters; `all`: every `scheme://` URL. */
  readonly urls?: "credentials" | "all"
}

/** A detector: text in, spans out (sorted by start, non-overlapping). */
export type Detector = (text: string) => ReadonlyArray<Match>

const NONE: ReadonlyArray<Match> = Object.freeze([])

/** Placeholders left by LMSYS-Chat-1M (`NAME_n`) and by this package (`EMAIL_n`, …). */
const placeholderRe = new RegExp(`(?:NAME|${Record.piiTypes.join("|")})_[0-9]{1,9}`, "g")

/** Whether `[start, end)` overlaps a placeholder token. */
const touchesPlaceholder = (text: string, start: number, end: number): boolean => {
  const from = Math.max(0, start - 24)
  // Bounded look for "_" (no lastIndexOf: it would scan the whole text for every match).
  let underscore = false
  const to = Math.min(text.length, end + 24)
  for (let k = from; k < to; k++) {
    if (text.charCodeAt(k) === 95) {
      underscore = true
      break
    }
  }
  if (!underscore) return false
  // Only the window around the match is searched, so the cost is bounded by the match's length.
  const window = text.slice(from, to)
  placeholderRe.lastIndex = 0
  for (let m = placeholderRe.exec(window); m !== null; m = placeholderRe.exec(window)) {
    const s = from + m.index
    const e = s + m[0].length
    if (s >= end) break
    const before = s > 0 ? text.charCodeAt(s - 1) : 32
    const after = e < text.length ? text.charCodeAt(e) : 32
    if (isWordCode(before) || isWordCode(after)) continue
    if (e > start) return true
  }
  return false
}

const isWordCode = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95

/**
 * The canonical form of a value, used to number and allow-list it: digits (and letters) only
 * for numbers, IBANs and cards; lower case for e-mails, MAC and IPv6 addresses; as is otherwise.
 */
export const normalize = (type: PiiType, value: string): string => {
  switch (type) {
    case "PHONE":
    case "CREDIT_CARD":
    case "US_SSN":
    case "JP_MY_NUMBER":
    case "UK_NHS":
      return value.replace(/[^0-9+]/g, "")
    case "IBAN":
      return value.replace(/ /g, "").toUpperCase()
    case "EMAIL":
      return value.toLowerCase()
    case "MAC_ADDRESS":
      return value.toLowerCase().replace(/-/g, ":")
    case "IP_ADDRESS":
      return value.toLowerCase()
    default:
      return value
  }
}

const byStart = (a: Found, b: Found): number => a.start - b.start || b.end - a.end

/** Makes a detector with the given options. */
export const make = (options: DetectorOptions = {}): Detector => {
  const scanOptions = {
    keepPrivateIps: options.keepPrivateIps ?? false,
    keepLoopbackIps: options.keepLoopbackIps ?? false,
    allUrls: options.urls === "all"
  }
  const wanted = new Set<PiiType>(options.types ?? piiTypes)
  const allAll = piiTypes.every((t) => wanted.has(t))
  const allow = new Set<string>()
  for (const v of options.allow ?? []) {
    allow.add(v)
    for (const t of piiTypes) allow.add(normalize(t, v))
  }
  const allowed = (type: PiiType, value: string): boolean => allow.has(value) || allow.has(normalize(type, value))
  const found: Array<Found> = []

  return (text) => {
    found.length = 0
    scanDigits(text, scanOptions, found)
    if (text.indexOf("@") >= 0) scanEmail(text, found)
    if (text.indexOf("://") >= 0) scanUrl(text, scanOptions.allUrls, found)
    if (text.indexOf(":") >= 0) scanColon(text, scanOptions, found)
    if (text.indexOf("-") >= 0) scanMacDash(text, found)
    scanKeys(text, found)
    if (found.length === 0) return NONE
    if (found.length > 1) found.sort(byStart)
    const out: Array<Match> = []
    let end = 0
    for (const f of found) {
      if (f.start < end) continue
      if (touchesPlaceholder(text, f.start, f.end)) continue
      end = f.end
      if (!allAll && !wanted.has(f.type)) continue
      if (allow.size > 0 && allowed(f.type, text.slice(f.start, f.end))) continue
      out.push({ type: f.type, start: f.start, end: f.end })
    }
    return out.length === 0 ? NONE : out
  }
}

const defaultDetector = make()

/** Finds personal data in `text` with the default options (every type, private IPs reported, credential URLs only). */
export const detect = (text: string): ReadonlyArray<Match> => defaultDetector(text)

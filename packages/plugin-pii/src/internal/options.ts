/**
 * Options shared by `pii/scan` and `pii/redact` (which types, allow-list, IP ranges, URLs),
 * with their documentation for the JSON Schema and `synthline stages`, and the reading of
 * message lists (`conversation` and its kin) from rows.
 */
import { describeValue } from "@synthline/core/Row"
import { didYouMean } from "@synthline/core/Errors"
import { doc } from "@synthline/core/Stage"
import { Schema } from "effect"
import { type DetectorOptions, PiiType, piiTypes } from "../Detect.js"
import { isRecord as isObj } from "@synthline/core/Row"

const known: ReadonlyArray<string> = piiTypes

/** A type name, checked with a did-you-mean message before it is narrowed to the literal. */
const TypeName = Schema.String.pipe(
  Schema.filter((s) => known.includes(s) || `unknown PII type ${JSON.stringify(s)}${didYouMean(s, known)} (known: ${known.join(", ")})`, {
    jsonSchema: { enum: known }
  }),
  Schema.compose(PiiType)
)

/** The detector options as pipeline-file fields. */
export const detectorFields = {
  types: Schema.optionalWith(
    Schema.Array(TypeName).pipe(Schema.minItems(1), doc("Types to find (default all).")),
    { exact: true }
  ),
  allow: Schema.optionalWith(
    Schema.Array(Schema.String).pipe(
      doc("Values never reported or replaced, compared exactly and in normalized form (digits of a phone number, lower-case e-mail).")
    ),
    { exact: true, default: () => [] }
  ),
  keep_private_ips: Schema.optionalWith(
    Schema.Boolean.pipe(doc("Leave private ranges alone (10/8, 172.16/12, 192.168/16, 169.254/16, 100.64/10, fc00::/7, fe80::/10).")),
    { exact: true, default: () => false }
  ),
  keep_loopback_ips: Schema.optionalWith(
    Schema.Boolean.pipe(doc("Leave loopback and unspecified addresses alone (127/8, 0.0.0.0, ::1, ::).")),
    { exact: true, default: () => false }
  ),
  urls: Schema.optionalWith(
    Schema.Literal("credentials", "all").pipe(
      doc("credentials: only URLs carrying userinfo credentials or secret parameters (token, key, password, signature...); all: every scheme:// URL.")
    ),
    { exact: true, default: () => "credentials" as const }
  )
}

/** The decoded shared options. */
export interface DetectorConfig {
  readonly types?: ReadonlyArray<PiiType>
  readonly allow: ReadonlyArray<string>
  readonly keep_private_ips: boolean
  readonly keep_loopback_ips: boolean
  readonly urls: "credentials" | "all"
}

/** Detector options from the decoded stage options. */
export const detectorOptions = (c: DetectorConfig): DetectorOptions => ({
  ...(c.types === undefined ? {} : { types: c.types }),
  allow: c.allow,
  keepPrivateIps: c.keep_private_ips,
  keepLoopbackIps: c.keep_loopback_ips,
  urls: c.urls
})

/**
 * The text of message `i` of a message list: a `{ content }` object or a bare string. `null`
 * content (e.g. a failed generation) is `undefined`; anything else is an error text.
 */
export const messageText = (field: string, list: ReadonlyArray<unknown>, i: number): string | undefined | { readonly error: string } => {
  const m = list[i]
  if (typeof m === "string") return m
  if (m === null) return undefined
  if (!isObj(m)) return { error: `${field}[${i}] is ${describeValue(m)}; expected a {role, content} message or a string` }
  const c = m.content
  if (typeof c === "string") return c
  if (c === null) return undefined
  return { error: `${field}[${i}].content is ${describeValue(c)}; expected a string` }
}

/** Message `i` with new text, keeping its other keys. */
export const withText = (list: ReadonlyArray<unknown>, i: number, text: string): unknown => {
  const m = list[i]
  return isObj(m) ? { ...m, content: text } : text
}

/**
 * `pii/redact`: replaces the personal data it finds in every configured message field
 * (`conversation`, `translated_conversation`, `synthesized_assistant_responses` by default).
 * Styles: `placeholder` (`EMAIL_1`, `PHONE_1`, `IP_ADDRESS_2`, … numbered per conversation, the
 * same value the same number in every turn and field), `mask` (`*` for every character),
 * `hash` (`EMAIL_<HMAC-SHA256 hex>` with a secret salt, stable across conversations and runs)
 * and `drop` (the row is dropped with reason `pii:<TYPE>`; `route:` sends it to a branch).
 * Existing `NAME_n` placeholders are kept exactly and never detected as anything else.
 */
import { describeValue, type Row } from "@synthline/core/Row"
import { doc, make, mapChunks, type Stage, type StageContext } from "@synthline/core/Stage"
import { Effect, Redacted, Schema } from "effect"
import { createHmac } from "node:crypto"
import { type Match, make as makeDetector, normalize, type PiiType, piiTypes } from "./Detect.js"
import { detectorFields, detectorOptions, messageText, withText } from "./internal/options.js"

/** How found values are replaced. */
export const Style = Schema.Literal("placeholder", "mask", "hash", "drop")
/** How found values are replaced. */
export type Style = typeof Style.Type

/** The message fields `pii/redact` rewrites by default (those of LMSYS-Chat-1M-Synth). */
export const defaultFields: ReadonlyArray<string> = ["conversation", "translated_conversation", "synthesized_assistant_responses"]

const RedactConfigSchema = Schema.Struct({
  ...detectorFields,
  style: Schema.optionalWith(
    Style.pipe(
      doc(
        "placeholder: TYPE_n numbered per conversation (EMAIL_1, PHONE_1, ...); mask: every character becomes *; hash: TYPE_<HMAC-SHA256 hex> keyed by `salt`; drop: drop the row with reason pii:<TYPE> (set `route:` to send it to a branch)."
      )
    ),
    { exact: true, default: () => "placeholder" as const }
  ),
  fields: Schema.optionalWith(
    Schema.Array(Schema.NonEmptyString).pipe(
      Schema.minItems(1),
      doc("Message lists to redact; missing or null fields are skipped. Numbering is shared across them.")
    ),
    { exact: true, default: () => defaultFields }
  ),
  salt: Schema.optionalWith(
    Schema.Redacted(Schema.String).pipe(
      Schema.filter((r) => Redacted.value(r).length >= 8 || "salt must be at least 8 characters"),
      doc(`Secret key of style hash (at least 8 characters), from the environment: salt: "\${PII_SALT}". Never printed.`)
    ),
    { exact: true }
  ),
  hash_length: Schema.optionalWith(
    Schema.Int.pipe(Schema.between(8, 64), doc("Hex digits of the HMAC kept by style hash.")),
    { exact: true, default: () => 16 }
  )
}).pipe(Schema.filter((c) => (c.style === "hash" && c.salt === undefined ? `style hash needs a salt (at least 8 characters), e.g. salt: "\${PII_SALT}"` : true)))

/** Options of `pii/redact`, decoded. */
export type RedactConfig = typeof RedactConfigSchema.Type
/** Options of `pii/redact`, as written in a pipeline file. */
export type RedactOptions = typeof RedactConfigSchema.Encoded

/**
 * `pii/redact`: replaces personal data in the configured message fields by placeholder, mask
 * or keyed hash, or drops the row (`pii:<TYPE>`); rows without findings pass unchanged.
 */
export const redact: Stage<RedactConfig, Row, Row, never, RedactOptions> = make({
  id: "pii/redact",
  description: "Replace personal data with per-conversation placeholders (EMAIL_1, PHONE_2, ...), a mask or a keyed hash, or drop the row.",
  config: RedactConfigSchema,
  requires: (c) => c.fields.filter((f) => f === "conversation"),
  // The other message fields are redacted when a row has them.
  reads: (c) => c.fields,
  provides: (c) => c.fields.filter((f) => f === "conversation"),
  make: (config, ctx) => Effect.succeed(mapChunks<Row, Row>(rewrite(config, ctx)))
})

const ours = piiTypes.join("|")

/** Our placeholders already in a text (a re-run, or an earlier stage): numbering continues after them. */
const existingRe = new RegExp(`(?<![A-Za-z0-9_])(${ours})_([0-9]{1,9})(?![A-Za-z0-9_])`, "g")

interface Found {
  readonly field: string
  readonly list: ReadonlyArray<unknown>
  readonly turn: number
  readonly text: string
  readonly matches: ReadonlyArray<Match>
}

const rewrite = (config: RedactConfig, ctx: StageContext): ((row: Row) => Row | undefined) => {
  const detect = makeDetector(detectorOptions(config))
  const fields = config.fields
  const style = config.style
  const salt = config.salt === undefined ? undefined : Buffer.from(Redacted.value(config.salt), "utf8")
  const hashLength = config.hash_length

  const hash = (type: PiiType, value: string): string => {
    const h = createHmac("sha256", salt ?? Buffer.alloc(0))
    h.update(`${type}\u0000${normalize(type, value)}`)
    return `${type}_${h.digest("hex").slice(0, hashLength)}`
  }

  return (row) => {
    let found: Array<Found> | undefined
    for (const field of fields) {
      const list = row[field]
      if (list === undefined || list === null) {
        if (field === "conversation") {
          ctx.reject(row, `field \`conversation\` is ${describeValue(list)}; expected an array of messages`)
          return undefined
        }
        continue
      }
      if (!Array.isArray(list)) {
        ctx.reject(row, `field \`${field}\` is ${describeValue(list)}; expected an array of messages`)
        return undefined
      }
      for (let turn = 0; turn < list.length; turn++) {
        const text = messageText(field, list, turn)
        if (text === undefined) continue
        if (typeof text !== "string") {
          ctx.reject(row, text.error)
          return undefined
        }
        const matches = detect(text)
        if (matches.length === 0) continue
        found ??= []
        found.push({ field, list, turn, text, matches })
      }
    }
    if (found === undefined) return row
    if (style === "drop") {
      ctx.drop(row, `pii:${found[0].matches[0].type}`)
      return undefined
    }

    // Numbering: per type, continuing after placeholders already present in any field.
    const next = new Map<PiiType, number>()
    const numbers = new Map<string, string>()
    if (style === "placeholder") {
      for (const field of fields) {
        const list = row[field]
        if (!Array.isArray(list)) continue
        for (let turn = 0; turn < list.length; turn++) {
          const text = messageText(field, list, turn)
          if (typeof text !== "string" || text.indexOf("_") < 0) continue
          existingRe.lastIndex = 0
          for (let m = existingRe.exec(text); m !== null; m = existingRe.exec(text)) {
            const type = piiTypes.find((t) => t === m![1])
            if (type !== undefined) next.set(type, Math.max(next.get(type) ?? 0, Number(m[2])))
          }
        }
      }
    }
    const replacement = (type: PiiType, value: string): string => {
      if (style === "mask") return "*".repeat(value.length)
      if (style === "hash") return hash(type, value)
      const key = `${type}\u0000${normalize(type, value)}`
      let p = numbers.get(key)
      if (p === undefined) {
        const n = (next.get(type) ?? 0) + 1
        next.set(type, n)
        p = `${type}_${n}`
        numbers.set(key, p)
      }
      return p
    }

    const out: { [key: string]: unknown } = { ...row }
    const lists = new Map<string, Array<unknown>>()
    const redacted = new Map<PiiType, number>()
    for (const f of found) {
      let list = lists.get(f.field)
      if (list === undefined) {
        list = [...f.list]
        lists.set(f.field, list)
        out[f.field] = list
      }
      let text = ""
      let last = 0
      for (const m of f.matches) {
        text += f.text.slice(last, m.start) + replacement(m.type, f.text.slice(m.start, m.end))
        last = m.end
        redacted.set(m.type, (redacted.get(m.type) ?? 0) + 1)
      }
      text += f.text.slice(last)
      list[f.turn] = withText(f.list, f.turn, text)
    }
    // Values redacted by type: the stage's counts in stats and the manifest (`redacted:EMAIL`).
    if (ctx.count !== undefined) for (const [type, n] of redacted) ctx.count(row, `redacted:${type}`, n)
    return out
  }
}

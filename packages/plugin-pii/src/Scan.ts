/**
 * `pii/scan`: annotates only. Adds `pii_spans: [{ turn, type, start, end }]` — `turn` indexes
 * the message list named by `field` (default `conversation`), `start`/`end` are UTF-16 offsets
 * into that message's `content`, end exclusive — and `has_pii`.
 */
import { describeValue, type Row } from "@synthline/core/Row"
import { doc, make, mapChunks, type Stage, type StageContext } from "@synthline/core/Stage"
import { Effect, Schema } from "effect"
import { make as makeDetector, PiiType } from "./Detect.js"
import { type DetectorConfig, detectorFields, detectorOptions, messageText } from "./internal/options.js"

const ScanConfigSchema = Schema.Struct({
  ...detectorFields,
  field: Schema.optionalWith(
    Schema.NonEmptyString.pipe(
      doc("The message list to scan: conversation, translated_conversation, synthesized_assistant_responses, or any list of {content} messages or strings.")
    ),
    { exact: true, default: () => "conversation" }
  )
})

/** Options of `pii/scan`, decoded. */
export type ScanConfig = typeof ScanConfigSchema.Type
/** Options of `pii/scan`, as written in a pipeline file. */
export type ScanOptions = typeof ScanConfigSchema.Encoded

/** One span `pii/scan` writes: message index, type, UTF-16 offsets into its content (end exclusive). */
export const PiiSpan = Schema.Struct({
  turn: Schema.Int,
  type: PiiType,
  start: Schema.Int,
  end: Schema.Int
})
/** One span `pii/scan` writes. */
export type PiiSpan = typeof PiiSpan.Type

const NO_SPANS: ReadonlyArray<PiiSpan> = Object.freeze([])

/** `pii/scan`: adds `pii_spans` and `has_pii` for the message list named by `field`; the text is not changed. */
export const scan: Stage<ScanConfig, Row, Row, never, ScanOptions> = make({
  id: "pii/scan",
  description: "Find personal data (e-mail, phone, IP, card, IBAN, SSN, credential URL, API key, crypto, MAC, My Number, NHS) and annotate pii_spans and has_pii.",
  config: ScanConfigSchema,
  requires: (c) => [c.field],
  reads: [],
  provides: ["pii_spans", "has_pii"],
  fields: { pii_spans: Schema.Array(PiiSpan), has_pii: Schema.Boolean },
  make: (config, ctx) => Effect.succeed(mapChunks<Row, Row>(annotate(config, ctx)))
})

const annotate = (config: ScanConfig, ctx: StageContext): ((row: Row) => Row | undefined) => {
  const detect = makeDetector(detectorOptions(config satisfies DetectorConfig))
  const field = config.field
  return (row) => {
    const list = row[field]
    if (!Array.isArray(list)) {
      ctx.reject(row, `field \`${field}\` is ${describeValue(list)}; expected an array of messages`)
      return undefined
    }
    let spans: Array<PiiSpan> | undefined
    for (let turn = 0; turn < list.length; turn++) {
      const text = messageText(field, list, turn)
      if (text === undefined) continue
      if (typeof text !== "string") {
        ctx.reject(row, text.error)
        return undefined
      }
      const found = detect(text)
      if (found.length === 0) continue
      spans ??= []
      for (const m of found) spans.push({ turn, type: m.type, start: m.start, end: m.end })
    }
    return { ...row, pii_spans: spans ?? NO_SPANS, has_pii: spans !== undefined }
  }
}

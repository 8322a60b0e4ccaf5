import { describe, expect, it } from "@effect/vitest"
import * as Sample from "@synthline/sample/Sample"
import * as Testing from "@synthline/core/Testing"
import { Effect, Either, Schema } from "effect"
import plugin from "../src/index.js"
import { PiiSpan, scan } from "../src/Scan.js"

const sample = Array.from(Sample.rows(3, 2000))
const decodeSpans = Schema.decodeUnknownSync(Schema.Array(PiiSpan))

describe("pii/scan", () => {
  it.effect("annotates pii_spans ({turn, type, start, end}) and has_pii exactly as the sample's ground truth", () =>
    Effect.gen(function* () {
      const r = yield* Testing.runStage(scan, {}, sample.map((s) => s.record), { chunkSize: 97 })
      expect(Testing.counts(r)).toEqual({ rows: sample.length, dropped: 0, rejected: 0 })
      let withPii = 0
      r.rows.forEach((row, i) => {
        const truth = sample[i].pii.filter((s) => s.valid !== false).map(({ turn, type, start, end }) => ({ turn, type, start, end }))
        expect(decodeSpans(row.pii_spans), String(row.conversation_id)).toEqual(truth)
        expect(row.has_pii).toBe(truth.length > 0)
        expect(row.conversation).toBe(sample[i].record.conversation)
        if (truth.length > 0) withPii++
      })
      expect(withPii).toBeGreaterThan(30)
    }))

  it.effect("scans another message list with `field`; offsets index that list's content", () =>
    Effect.gen(function* () {
      const row = {
        conversation_id: "x",
        conversation: [{ role: "user", content: "hello" }],
        translated_conversation: [{ role: "user", content: "こんにちは" }, { role: "assistant", content: "メール: taro@example.jp です" }],
        synthesized_assistant_responses: ["call +44 20 7946 0958", null]
      }
      const a = yield* Testing.runStage(scan, { field: "translated_conversation" }, [row])
      expect(a.rows[0].pii_spans).toEqual([{ turn: 1, type: "EMAIL", start: 5, end: 20 }])
      expect(a.rows[0].has_pii).toBe(true)
      const b = yield* Testing.runStage(scan, { field: "synthesized_assistant_responses", types: ["PHONE"] }, [row])
      expect(b.rows[0].pii_spans).toEqual([{ turn: 0, type: "PHONE", start: 5, end: 21 }])
      const c = yield* Testing.runStage(scan, {}, [row])
      expect(c.rows[0]).toMatchObject({ pii_spans: [], has_pii: false })
    }))

  it.effect("rejects rows whose message list is missing or malformed, naming the field", () =>
    Effect.gen(function* () {
      const r = yield* Testing.runStage(scan, {}, [
        { conversation_id: "a" },
        { conversation_id: "b", conversation: [{ role: "user", content: 3 }] },
        { conversation_id: "c", conversation: [{ role: "user", content: "ok" }] }
      ])
      expect(r.rejected.map((x) => x.error)).toEqual([
        "field `conversation` is missing; expected an array of messages",
        "conversation[0].content is number 3; expected a string"
      ])
      expect(r.rows.map((x) => x.conversation_id)).toEqual(["c"])
    }))

  it.effect("rejects unknown types in the options with a suggestion", () =>
    Effect.gen(function* () {
      const e = yield* Effect.either(Testing.decodeConfig(scan, { types: ["EMAL"] }))
      expect(Either.isLeft(e)).toBe(true)
      if (Either.isLeft(e)) expect(e.left.message).toContain('unknown PII type "EMAL" — did you mean EMAIL?')
      const x = yield* Effect.either(Testing.decodeConfig(scan, { colour: "red" }))
      expect(Either.isLeft(x)).toBe(true)
    }))

  it("is part of the plugin, with requires/provides for `synthline plan`", () => {
    expect(plugin.name).toBe("pii")
    expect(plugin.stages.map((s) => s.id)).toEqual(["pii/scan", "pii/redact"])
    expect(typeof scan.requires === "function" && scan.requires({ field: "translated_conversation", allow: [], keep_private_ips: false, keep_loopback_ips: false, urls: "credentials" })).toEqual([
      "translated_conversation"
    ])
    expect(scan.provides).toEqual(["pii_spans", "has_pii"])
  })
})

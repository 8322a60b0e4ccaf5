import { describe, expect, it } from "@effect/vitest"
import type { Row } from "@synthline/core/Row"
import * as Sample from "@synthline/sample/Sample"
import * as Testing from "@synthline/core/Testing"
import { Effect, Either } from "effect"
import { createHmac } from "node:crypto"
import { detect } from "../src/Detect.js"
import { type RedactOptions, redact } from "../src/Redact.js"

const run = (options: RedactOptions, rows: Iterable<Row>, chunkSize?: number) =>
  Testing.runStage(redact, options, rows, chunkSize === undefined ? {} : { chunkSize })

const msg = (role: string, content: string) => ({ role, content })
/** The texts of a message list: `content` of `{role, content}` messages, bare strings, null otherwise. */
const texts = (row: Row, field: string): Array<string | null> => {
  const list: unknown = row[field]
  if (!Array.isArray(list)) return []
  return list.map((m: unknown) =>
    typeof m === "string" ? m : typeof m === "object" && m !== null && "content" in m && typeof m.content === "string" ? m.content : null
  )
}
/** The roles of a message list. */
const roles = (row: Row, field: string): Array<unknown> => {
  const list: unknown = row[field]
  return Array.isArray(list) ? list.map((m: unknown) => (typeof m === "object" && m !== null && "role" in m ? m.role : undefined)) : []
}

/** A conversation with the same values in several turns and fields. */
const multi: Row = {
  conversation_id: "c1",
  conversation: [
    msg("user", "I am NAME_1. Mail me at Ann.Lee@example.com or call +1 (212) 555-0123."),
    msg("assistant", "Sure NAME_1, I will write to ann.lee@example.com and to bob@example.org."),
    msg("user", "Also +1 212-555-0123 again, and my server 203.0.113.9 and 198.51.100.7 and 203.0.113.9.")
  ],
  translated_conversation: [msg("user", "私はNAME_1です。bob@example.org と Ann.Lee@example.com に送って。+1 (212) 555-0123")],
  synthesized_assistant_responses: [msg("assistant", "Contact carol@example.net or ann.lee@example.com"), null],
  turn: 2
}

describe("pii/redact, placeholder style (default)", () => {
  it.effect("numbers per conversation, the same value the same number in every turn and field, a new value the next number", () =>
    Effect.gen(function* () {
      const r = yield* run({}, [multi])
      const out = r.rows[0]
      expect(texts(out, "conversation")).toEqual([
        "I am NAME_1. Mail me at EMAIL_1 or call PHONE_1.",
        "Sure NAME_1, I will write to EMAIL_1 and to EMAIL_2.",
        "Also PHONE_1 again, and my server IP_ADDRESS_1 and IP_ADDRESS_2 and IP_ADDRESS_1."
      ])
      expect(texts(out, "translated_conversation")).toEqual(["私はNAME_1です。EMAIL_2 と EMAIL_1 に送って。PHONE_1"])
      expect(texts(out, "synthesized_assistant_responses")).toEqual(["Contact EMAIL_3 or EMAIL_1", null])
      // Other keys of rows and messages are kept.
      expect(out.turn).toBe(2)
      expect(roles(out, "conversation")).toEqual(["user", "assistant", "user"])
      // The input row is not mutated.
      expect(texts(multi, "conversation")[0]).toContain("Ann.Lee@example.com")
    }))

  it.effect("numbering restarts per conversation and does not depend on chunking", () =>
    Effect.gen(function* () {
      const other = { conversation_id: "c2", conversation: [msg("user", "write to zed@example.com and ann.lee@example.com")] }
      const a = yield* run({}, [multi, other, multi])
      const b = yield* run({}, [multi, other, multi], 1)
      expect(texts(a.rows[1], "conversation")).toEqual(["write to EMAIL_1 and EMAIL_2"])
      expect(a.rows).toEqual(b.rows)
      expect(a.rows[2]).toEqual(a.rows[0])
    }))

  it.effect("keeps NAME_n exactly and never detects it as something else; continues after placeholders already there", () =>
    Effect.gen(function* () {
      const row = {
        conversation_id: "n",
        conversation: [
          msg("user", "NAME_1 and NAME_12 wrote NAME_1@gmail.com; earlier EMAIL_1 and PHONE_3 were redacted. New: x@example.com, +44 20 7946 0958")
        ]
      }
      const r = yield* run({}, [row])
      expect(texts(r.rows[0], "conversation")).toEqual([
        "NAME_1 and NAME_12 wrote NAME_1@gmail.com; earlier EMAIL_1 and PHONE_3 were redacted. New: EMAIL_2, PHONE_4"
      ])
      // Redacting again changes nothing.
      const again = yield* run({}, r.rows)
      expect(again.rows[0]).toEqual(r.rows[0])
    }))

  it.effect("passes rows without findings through as the same object", () =>
    Effect.gen(function* () {
      const row = { conversation_id: "clean", conversation: [msg("user", "Version 1.2.3.4 released on 2023-11-04 at 12:30.")] }
      const r = yield* run({}, [row])
      expect(r.rows[0]).toBe(row)
    }))

  it.effect("on the sample: every planted valid value is gone, decoys and the rest of the text are untouched", () =>
    Effect.gen(function* () {
      const sample = Array.from(Sample.rows(5, 1500))
      const r = yield* run({}, sample.map((s) => s.record))
      expect(Testing.counts(r)).toEqual({ rows: sample.length, dropped: 0, rejected: 0 })
      let changed = 0
      r.rows.forEach((row, i) => {
        const s = sample[i]
        const valid = s.pii.filter((p) => p.valid !== false)
        if (valid.length === 0) {
          expect(row).toBe(s.record)
          return
        }
        changed++
        const contents = texts(row, "conversation")
        for (const p of valid) expect(contents[p.turn]).not.toContain(p.value)
        for (const p of s.pii.filter((x) => x.valid === false)) expect(contents[p.turn]).toContain(p.value)
        for (const c of contents) expect(detect(c ?? "")).toEqual([])
        // Rebuild the expected text from the ground truth: each value → its placeholder.
        const numbers = new Map<string, string>()
        const counters = new Map<string, number>()
        s.record.conversation.forEach((m, turn) => {
          let expected = ""
          let last = 0
          for (const p of valid.filter((x) => x.turn === turn)) {
            const key = `${p.type}:${p.value}`
            let ph = numbers.get(key)
            if (ph === undefined) {
              const n = (counters.get(p.type) ?? 0) + 1
              counters.set(p.type, n)
              ph = `${p.type}_${n}`
              numbers.set(key, ph)
            }
            expected += m.content.slice(last, p.start) + ph
            last = p.end
          }
          expected += m.content.slice(last)
          expect(contents[turn]).toBe(expected)
        })
      })
      expect(changed).toBeGreaterThan(20)
    }))

  it.effect("redacts only the listed fields and types", () =>
    Effect.gen(function* () {
      const r = yield* run({ fields: ["translated_conversation"], types: ["PHONE"] }, [multi])
      expect(r.rows[0].conversation).toBe(multi.conversation)
      expect(texts(r.rows[0], "translated_conversation")).toEqual(["私はNAME_1です。bob@example.org と Ann.Lee@example.com に送って。PHONE_1"])
    }))

  it.effect("allow keeps listed values", () =>
    Effect.gen(function* () {
      const r = yield* run({ allow: ["bob@example.org", "203.0.113.9"] }, [multi])
      expect(texts(r.rows[0], "conversation")[1]).toBe("Sure NAME_1, I will write to EMAIL_1 and to bob@example.org.")
      expect(texts(r.rows[0], "conversation")[2]).toBe("Also PHONE_1 again, and my server 203.0.113.9 and IP_ADDRESS_1 and 203.0.113.9.")
    }))
})

describe("pii/redact counts", () => {
  it.effect("counts the values it redacted by type (redacted:TYPE), one per value replaced", () =>
    Effect.gen(function* () {
      const r = yield* run({}, [multi])
      expect(r.counts["redacted:EMAIL"]).toBe(7)
      expect(r.counts["redacted:PHONE"]).toBe(3)
      // Each count is the number of placeholders of that type in the output (the input has none but NAME_1).
      const out = ["conversation", "translated_conversation", "synthesized_assistant_responses"].flatMap((f) => texts(r.rows[0]!, f)).join("\n")
      for (const [name, n] of Object.entries(r.counts)) {
        const type = name.replace(/^redacted:/, "")
        expect(out.match(new RegExp(`\\b${type}_\\d+\\b`, "g"))?.length, name).toBe(n)
      }
      expect(Object.keys(r.counts).every((k) => k.startsWith("redacted:"))).toBe(true)
      const none = yield* run({}, [{ conversation_id: "c2", conversation: [msg("user", "nothing personal here")], turn: 1 }])
      expect(none.counts).toEqual({})
    }))
})

describe("pii/redact, mask, hash and drop styles", () => {
  it.effect("mask keeps the length and replaces every character of a value with *", () =>
    Effect.gen(function* () {
      const r = yield* run({ style: "mask" }, [multi])
      const [first] = texts(r.rows[0], "conversation")
      expect(first).toBe(`I am NAME_1. Mail me at ${"*".repeat(19)} or call ${"*".repeat(17)}.`)
      expect(first?.length).toBe(texts(multi, "conversation")[0]?.length)
    }))

  it.effect("hash is a keyed HMAC-SHA256 of the normalized value: stable across rows, different per salt", () =>
    Effect.gen(function* () {
      const salt = "pepper-0123456789"
      const r = yield* run({ style: "hash", salt }, [multi])
      const [first, second] = texts(r.rows[0], "conversation")
      const h = createHmac("sha256", salt).update("EMAIL\u0000ann.lee@example.com").digest("hex").slice(0, 16)
      expect(first).toContain(`Mail me at EMAIL_${h} or`)
      expect(second).toContain(`write to EMAIL_${h} and`)
      const other = yield* run({ style: "hash", salt: "another-salt-value", hash_length: 32 }, [multi])
      const o = texts(other.rows[0], "conversation")[0]
      expect(o).not.toContain(h)
      expect(o).toMatch(/EMAIL_[0-9a-f]{32} /)
    }))

  it.effect("hash needs a salt; the salt is Redacted and never printed, not even in errors", () =>
    Effect.gen(function* () {
      const missing = yield* Effect.either(Testing.decodeConfig(redact, { style: "hash" }))
      expect(Either.isLeft(missing) && missing.left.message).toContain("style hash needs a salt")
      const short = yield* Effect.either(Testing.decodeConfig(redact, { style: "hash", salt: "s3cr" }))
      expect(Either.isLeft(short)).toBe(true)
      if (Either.isLeft(short)) expect(short.left.message).not.toContain("s3cr")
      const ok = yield* Testing.decodeConfig(redact, { style: "hash", salt: "top-secret-salt" })
      expect(String(ok.salt)).toBe("<redacted>")
      expect(JSON.stringify(ok)).not.toContain("top-secret-salt")
    }))

  it.effect("drop drops rows with personal data with reason pii:<TYPE of the first finding> and keeps the rest unchanged", () =>
    Effect.gen(function* () {
      const sample = Array.from(Sample.rows(9, 1500))
      const r = yield* run({ style: "drop" }, sample.map((s) => s.record))
      const expected: Record<string, number> = {}
      const kept: Array<string> = []
      for (const s of sample) {
        const valid = s.pii.filter((p) => p.valid !== false)
        if (valid.length === 0) kept.push(s.record.conversation_id)
        else expected[`pii:${valid[0].type}`] = (expected[`pii:${valid[0].type}`] ?? 0) + 1
      }
      expect(r.droppedByReason).toEqual(expected)
      expect(Object.keys(expected).length).toBeGreaterThan(4)
      expect(r.rows.map((x) => x.conversation_id)).toEqual(kept)
      expect(r.dropped[0].row).toBe(sample.find((s) => s.record.conversation_id === r.dropped[0].row.conversation_id)!.record)
    }))

  it.effect("rejects rows whose fields are malformed; skips missing optional fields", () =>
    Effect.gen(function* () {
      const r = yield* run({}, [
        { conversation_id: "a", conversation: "text" },
        { conversation_id: "b", conversation: [msg("user", "x@example.com")], translated_conversation: 5 },
        { conversation_id: "c", conversation: [msg("user", "x@example.com")], translated_conversation: null }
      ])
      expect(r.rejected.map((x) => x.error)).toEqual([
        'field `conversation` is the string "text"; expected an array of messages',
        "field `translated_conversation` is number 5; expected an array of messages"
      ])
      expect(r.rows.map((x) => texts(x, "conversation"))).toEqual([["EMAIL_1"]])
    }))
})

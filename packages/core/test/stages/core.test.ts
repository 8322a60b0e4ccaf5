import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as CoreStages from "../../src/stages/core.js"
import type { LmsysRecord, Message, ModerationCategories, ModerationCategoryScores, ModerationResult } from "../../src/Record.js"
import * as Reference from "../../src/internal/reference.js"
import { origin, type Row, withOrigin } from "../../src/Row.js"
import * as Stage from "../../src/Stage.js"
import { counts, decodeConfig, runInParts, runStage, splitAt } from "../../src/Testing.js"

// ---------------------------------------------------------------------------------------------
// LMSYS-Chat-1M-shaped fixtures

const categories = (flag: boolean): ModerationCategories => ({
  harassment: flag,
  "harassment/threatening": false,
  hate: false,
  "hate/threatening": false,
  "self-harm": false,
  "self-harm/instructions": false,
  "self-harm/intent": false,
  sexual: false,
  "sexual/minors": false,
  violence: false,
  "violence/graphic": false
})

const scores = (base: number): ModerationCategoryScores => ({
  harassment: base,
  "harassment/threatening": base / 2,
  hate: base / 3,
  "hate/threatening": base / 4,
  "self-harm": base / 5,
  "self-harm/instructions": base / 6,
  "self-harm/intent": base / 7,
  sexual: base / 8,
  "sexual/minors": base / 9,
  violence: base / 10,
  "violence/graphic": base / 11
})

/** One moderation entry; `score` tells entries apart in alignment checks. */
const moderation = (score: number, flagged = false): ModerationResult => ({
  categories: categories(flagged),
  category_scores: scores(score),
  flagged
})

interface RecordSpec {
  readonly language?: string
  readonly model?: string
  readonly redacted?: boolean
  /** Messages as [role, content]; default one user/assistant pair. */
  readonly messages?: ReadonlyArray<readonly [string, string]>
}

/** A full LMSYS-Chat-1M record; moderation entry i has scores based on (i + 1) / 100. */
const record = (id: string, spec: RecordSpec = {}): LmsysRecord => {
  const messages = spec.messages ?? [
    ["user", `Question of ${id}?`],
    ["assistant", `Answer for ${id}.`]
  ]
  const conversation: Array<Message> = messages.map(([role, content]) => ({ role, content }))
  return {
    conversation_id: id,
    model: spec.model ?? "vicuna-13b",
    conversation,
    turn: conversation.filter((m) => m.role === "user").length,
    language: spec.language ?? "English",
    openai_moderation: conversation.map((_, i) => moderation((i + 1) / 100)),
    redacted: spec.redacted ?? false
  }
}

/** A record whose first user message is `text`. */
const asking = (id: string, text: string): LmsysRecord =>
  record(id, {
    messages: [
      ["user", text],
      ["assistant", "Sure."]
    ]
  })

const ids = (rows: ReadonlyArray<Row>): Array<unknown> => rows.map((r) => r.conversation_id)

const hex32 = (i: number): string => i.toString(16).padStart(32, "0")

const decodeError = (stage: Stage.AnyStage, input: unknown) =>
  decodeConfig(stage, input).pipe(
    Effect.flip,
    Effect.map((e) => e.message)
  )

// ---------------------------------------------------------------------------------------------

describe("core/select", () => {
  const rows: ReadonlyArray<LmsysRecord> = [
    record("en", { language: "English", model: "vicuna-13b" }),
    record("ja", { language: "Japanese", model: "gpt-4" }),
    record("de", { language: "German", model: "vicuna-13b" }),
    record("en-redacted", { language: "English", model: "koala-13b", redacted: true }),
    record("en-3turns", {
      language: "English",
      model: "vicuna-13b",
      messages: [
        ["user", "a"],
        ["assistant", "b"],
        ["user", "c"],
        ["assistant", "d"],
        ["user", "e"],
        ["assistant", "f"]
      ]
    })
  ]

  it.effect("keeps the given languages, case-insensitively, and drops the others with reason language", () =>
    Effect.gen(function* () {
      const r = yield* runStage(CoreStages.select, { languages: ["english", "JAPANESE"] }, rows)
      expect(ids(r.rows)).toEqual(["en", "ja", "en-redacted", "en-3turns"])
      expect(r.droppedByReason).toEqual({ language: 1 })
      expect(r.dropped.map((d) => d.row.conversation_id)).toEqual(["de"])
      expect(r.rows[0]).toBe(rows[0])
    }))

  it.effect("filters by model", () =>
    Effect.gen(function* () {
      const r = yield* runStage(CoreStages.select, { models: ["vicuna-13b"] }, rows)
      expect(ids(r.rows)).toEqual(["en", "de", "en-3turns"])
      expect(r.droppedByReason).toEqual({ model: 2 })
    }))

  it.effect("filters by turn range", () =>
    Effect.gen(function* () {
      const min = yield* runStage(CoreStages.select, { min_turns: 2 }, rows)
      expect(ids(min.rows)).toEqual(["en-3turns"])
      expect(min.droppedByReason).toEqual({ turns: 4 })
      const max = yield* runStage(CoreStages.select, { max_turns: 1 }, rows)
      expect(ids(max.rows)).toEqual(["en", "ja", "de", "en-redacted"])
      const both = yield* runStage(CoreStages.select, { min_turns: 3, max_turns: 3 }, rows)
      expect(ids(both.rows)).toEqual(["en-3turns"])
    }))

  it.effect("filters by the redacted flag", () =>
    Effect.gen(function* () {
      const r = yield* runStage(CoreStages.select, { redacted: false }, rows)
      expect(ids(r.rows)).toEqual(["en", "ja", "de", "en-3turns"])
      expect(r.droppedByReason).toEqual({ redacted: 1 })
      const only = yield* runStage(CoreStages.select, { redacted: true }, rows)
      expect(ids(only.rows)).toEqual(["en-redacted"])
    }))

  it.effect("drops with the reason of the first failing criterion: language, model, turns, redacted", () =>
    Effect.gen(function* () {
      const r = yield* runStage(
        CoreStages.select,
        { languages: ["English"], models: ["vicuna-13b"], max_turns: 1, redacted: false },
        rows
      )
      expect(ids(r.rows)).toEqual(["en"])
      expect(r.dropped.map((d) => [d.row.conversation_id, d.reason])).toEqual([
        ["ja", "language"],
        ["de", "language"],
        ["en-redacted", "model"],
        ["en-3turns", "turns"]
      ])
      const redactedLast = yield* runStage(CoreStages.select, { languages: ["English"], redacted: false }, rows)
      expect(redactedLast.droppedByReason).toEqual({ language: 2, redacted: 1 })
    }))

  it.effect("keeps everything without criteria", () =>
    Effect.gen(function* () {
      const r = yield* runStage(CoreStages.select, {}, rows)
      expect(counts(r)).toEqual({ rows: 5, dropped: 0, rejected: 0 })
    }))

  it.effect("rejects rows whose filtered field is missing or mistyped, naming the field", () =>
    Effect.gen(function* () {
      const { language: _, ...noLanguage } = record("no-lang")
      const badTurn = { ...record("bad-turn"), turn: "2" }
      const r = yield* runStage(CoreStages.select, { languages: ["English"], min_turns: 1 }, [
        noLanguage,
        badTurn,
        record("ok")
      ])
      expect(ids(r.rows)).toEqual(["ok"])
      expect(r.rejected.map((x) => x.row.conversation_id)).toEqual(["no-lang", "bad-turn"])
      expect(r.rejected[0]!.error).toBe("field `language` is missing; expected a string")
      expect(r.rejected[1]!.error).toContain("field `turn` is the string \"2\"")
      // A field no criterion reads is not checked.
      const unfiltered = yield* runStage(CoreStages.select, { models: ["vicuna-13b"] }, [noLanguage])
      expect(counts(unfiltered)).toEqual({ rows: 1, dropped: 0, rejected: 0 })
    }))

  it.effect("rejects invalid options with readable errors", () =>
    Effect.gen(function* () {
      expect(yield* decodeError(CoreStages.select, { min_turns: 3, max_turns: 2 })).toContain(
        "min_turns (3) must not exceed max_turns (2)"
      )
      expect(yield* decodeError(CoreStages.select, { languages: [] })).toContain("at least 1 item")
      expect(yield* decodeError(CoreStages.select, { min_turns: 0 })).toContain("Expected a positive number, actual 0")
      expect(yield* decodeError(CoreStages.select, { language: ["English"] })).toContain('["language"]')
    }))
})

// ---------------------------------------------------------------------------------------------

describe("core/first-turn", () => {
  const multi = record("multi", {
    messages: [
      ["user", "first question"],
      ["assistant", "first answer"],
      ["user", "second question"],
      ["assistant", "second answer"]
    ]
  })

  it.effect("keeps the first user message, its moderation entry, and sets turn to 1", () =>
    Effect.gen(function* () {
      const before = structuredClone(multi)
      const r = yield* runStage(CoreStages.firstTurn, {}, [multi])
      expect(r.rows).toEqual([
        {
          ...multi,
          conversation: [{ role: "user", content: "first question" }],
          openai_moderation: [moderation(0.01)],
          turn: 1
        }
      ])
      expect(Object.keys(r.rows[0]!)).toEqual(Object.keys(multi))
      expect(multi).toEqual(before)
    }))

  it.effect("with_answer keeps the assistant answer right after it, moderation aligned", () =>
    Effect.gen(function* () {
      const r = yield* runStage(CoreStages.firstTurn, { with_answer: true }, [multi])
      expect(r.rows[0]!.conversation).toEqual([
        { role: "user", content: "first question" },
        { role: "assistant", content: "first answer" }
      ])
      expect(r.rows[0]!.openai_moderation).toEqual([moderation(0.01), moderation(0.02)])
      expect(r.rows[0]!.turn).toBe(1)
    }))

  it.effect("skips leading system messages and keeps moderation aligned by index", () =>
    Effect.gen(function* () {
      const sys = record("sys", {
        messages: [
          ["system", "You are helpful."],
          ["user", "hi"],
          ["assistant", "hello"],
          ["user", "bye"]
        ]
      })
      const r = yield* runStage(CoreStages.firstTurn, { with_answer: true }, [sys])
      expect(r.rows[0]!.conversation).toEqual([
        { role: "user", content: "hi" },
        { role: "assistant", content: "hello" }
      ])
      expect(r.rows[0]!.openai_moderation).toEqual([moderation(0.02), moderation(0.03)])
    }))

  it.effect("with_answer keeps the user message alone when no assistant answer follows it", () =>
    Effect.gen(function* () {
      const r = yield* runStage(CoreStages.firstTurn, { with_answer: true }, [
        record("unanswered", { messages: [["user", "hello?"]] }),
        record("user-twice", {
          messages: [
            ["user", "a"],
            ["user", "b"],
            ["assistant", "c"]
          ]
        })
      ])
      expect(r.rows.map((x) => x.conversation)).toEqual([
        [{ role: "user", content: "hello?" }],
        [{ role: "user", content: "a" }]
      ])
      expect(r.rows.map((x) => x.openai_moderation)).toEqual([[moderation(0.01)], [moderation(0.01)]])
    }))

  it.effect("drops rows without a user message (no-user-turn) and rejects malformed ones", () =>
    Effect.gen(function* () {
      const { conversation: _, ...noConversation } = record("no-conversation")
      const r = yield* runStage(CoreStages.firstTurn, {}, [
        record("assistant-only", { messages: [["assistant", "hi"]] }),
        record("empty", { messages: [] }),
        noConversation,
        { ...record("bad-message"), conversation: ["just text"] },
        { ...multi, conversation_id: "short-moderation", openai_moderation: [moderation(0.01)] },
        record("ok")
      ])
      expect(ids(r.rows)).toEqual(["ok"])
      expect(r.droppedByReason).toEqual({ "no-user-turn": 2 })
      expect(r.rejected.map((x) => [x.row.conversation_id, x.error])).toEqual([
        ["no-conversation", "field `conversation` is missing; expected an array of {role, content} messages"],
        ["bad-message", 'field `conversation.0` is the string "just text"; expected a {role, content} message'],
        [
          "short-moderation",
          "field `openai_moderation` has 1 entries but `conversation` has 4 messages; expected one entry per message"
        ]
      ])
    }))

  it.effect("leaves a missing openai_moderation missing and keeps the row's origin", () =>
    Effect.gen(function* () {
      const { openai_moderation: _, ...bare } = multi
      const row = withOrigin({ ...bare }, { file: "train-00000.parquet", row: 7 })
      const r = yield* runStage(CoreStages.firstTurn, {}, [row])
      expect("openai_moderation" in r.rows[0]!).toBe(false)
      expect(origin(r.rows[0]!)).toEqual({ file: "train-00000.parquet", row: 7 })
    }))
})

// ---------------------------------------------------------------------------------------------

describe("core/dedup", () => {
  it("whitespace-case normalization: NFKC, lowercase, whitespace runs as one space, trimmed (also where its shortcuts apply)", () => {
    const cases: Array<[string, string]> = [
      ["  Hello   World  ", "hello world"],
      ["tab\tand\nnewline", "tab and newline"],
      ["one space only", "one space only"],
      ["no\u00a0break", "no break"],
      ["ＡＢＣ　ｄｅｆ", "abc def"],
      ["ﬁle Ǆ", "file dž"],
      ["東京\u3000タワー", "東京 タワー"],
      ["Cafe\u0301", "café"],
      ["Ünïcödé", "ünïcödé"],
      ["", ""],
      [" \u2003 ", ""]
    ]
    for (const [text, want] of cases) {
      expect(CoreStages.normalizeText(text)).toBe(want)
      expect(CoreStages.normalizeText(text)).toBe(text.normalize("NFKC").toLowerCase().replace(/\s+/g, " ").trim())
    }
  })

  const variants: ReadonlyArray<LmsysRecord> = [
    asking("a", "Tell me a joke about cats."),
    asking("b", "Write a haiku."),
    asking("c", "  tell me a JOKE\n\nabout   cats. "),
    asking("d", "ＴＥＬＬ　ｍｅ　ａ　ｊｏｋｅ　ａｂｏｕｔ　ｃａｔｓ．"),
    asking("e", "write a haiku."),
    asking("f", "Something else entirely")
  ]

  it.effect("marks whitespace, case and width variants with the first occurrence's conversation_id", () =>
    Effect.gen(function* () {
      const r = yield* runStage(CoreStages.dedup, {}, variants)
      expect(r.rows.map((x) => [x.conversation_id, x.duplicate_of])).toEqual([
        ["a", null],
        ["b", null],
        ["c", "a"],
        ["d", "a"],
        ["e", "b"],
        ["f", null]
      ])
      expect(counts(r)).toEqual({ rows: 6, dropped: 0, rejected: 0 })
      expect(r.rows[2]).toEqual({ ...variants[2], duplicate_of: "a" })
      expect(variants[2]).not.toHaveProperty("duplicate_of")
    }))

  it.effect("normalize: exact compares texts as they are", () =>
    Effect.gen(function* () {
      const r = yield* runStage(CoreStages.dedup, { normalize: "exact" }, [
        ...variants,
        asking("g", "Tell me a joke about cats.")
      ])
      expect(r.rows.map((x) => x.duplicate_of)).toEqual([null, null, null, null, null, null, "a"])
    }))

  it.effect("writes the configured output field for the configured field path", () =>
    Effect.gen(function* () {
      const translated = (id: string, ja: string): Row => ({
        ...record(id),
        translated_conversation: [{ role: "user", content: ja }]
      })
      const r = yield* runStage(
        CoreStages.dedup,
        { field: "translated_conversation.0.content", output: "duplicate_user_instruction_ja" },
        [translated("1", "猫についての冗談を言って"), translated("2", "俳句を書いて"), translated("3", " 猫についての冗談を言って ")]
      )
      expect(r.rows.map((x) => x.duplicate_user_instruction_ja)).toEqual([null, null, "1"])
      expect(r.rows.every((x) => !("duplicate_of" in x))).toBe(true)
      expect(CoreStages.dedup.provides).toBeTypeOf("function")
      expect(
        Stage.providedFields(CoreStages.dedup, yield* decodeConfig(CoreStages.dedup, { output: "duplicate_user_instruction_ja" }))
      ).toEqual(["duplicate_user_instruction_ja"])
    }))

  it.effect("drop: true drops duplicates with reason duplicate and writes no output field", () =>
    Effect.gen(function* () {
      const r = yield* runStage(CoreStages.dedup, { drop: true }, variants)
      expect(ids(r.rows)).toEqual(["a", "b", "f"])
      expect(r.rows[0]).toBe(variants[0])
      expect(r.droppedByReason).toEqual({ duplicate: 3 })
      expect(ids(r.dropped.map((d) => d.row))).toEqual(["c", "d", "e"])
      expect(Stage.providedFields(CoreStages.dedup, yield* decodeConfig(CoreStages.dedup, { drop: true }))).toEqual([])
    }))

  it.effect("gives null to rows whose text is missing or empty and does not remember them", () =>
    Effect.gen(function* () {
      const r = yield* runStage(CoreStages.dedup, {}, [
        asking("empty-1", "   "),
        asking("empty-2", ""),
        record("no-messages", { messages: [] }),
        { ...asking("null-content", "x"), conversation: [{ role: "user", content: null }] },
        asking("real", "hello")
      ])
      expect(r.rows.map((x) => x.duplicate_of)).toEqual([null, null, null, null, null])
      expect(r.journal).toHaveLength(1)
    }))

  it.effect("rejects rows without a conversation_id or with a non-string text", () =>
    Effect.gen(function* () {
      const { conversation_id: _, ...noId } = asking("x", "hello")
      const r = yield* runStage(CoreStages.dedup, {}, [
        noId,
        { ...asking("numeric", "x"), conversation: [{ role: "user", content: 42 }] },
        asking("ok", "hello")
      ])
      expect(ids(r.rows)).toEqual(["ok"])
      expect(r.rejected.map((x) => x.error)).toEqual([
        "field `conversation_id` is missing; expected a string",
        "field `conversation.0.content` is number 42; expected a string"
      ])
      expect(r.rows[0]!.duplicate_of).toBe(null)
    }))

  it.effect("journals one `<hash>\\t<conversation_id>` entry per first occurrence", () =>
    Effect.gen(function* () {
      const r = yield* runStage(CoreStages.dedup, {}, variants)
      expect(r.journal).toHaveLength(3)
      expect(r.journal.map((e) => e.split("\t")[1])).toEqual(["a", "b", "f"])
      for (const e of r.journal) expect(e).toMatch(/^[0-9a-f]{32}\t[a-z]$/)
      expect(CoreStages.dedup.stateful).toBe(true)
    }))

  it.effect("a run resumed from the journal gives exactly the rows of an uninterrupted run", () =>
    Effect.gen(function* () {
      const texts = ["Translate this.", "What is 2+2?", "Write a poem.", "Explain Effect.", "Summarize."]
      const rows = Array.from({ length: 200 }, (_, i) =>
        asking(hex32(i), i % 7 === 0 ? `unique question ${i}` : `${i % 2 ? " " : ""}${texts[i % texts.length]!}${i % 3 ? "" : "  "}`)
      )
      const whole = yield* runStage(CoreStages.dedup, { output: "duplicate_user_instruction_ja" }, rows)
      for (const k of [1, 37, 100, 199]) {
        const first = yield* runStage(CoreStages.dedup, { output: "duplicate_user_instruction_ja" }, rows.slice(0, k))
        const rest = yield* runStage(CoreStages.dedup, { output: "duplicate_user_instruction_ja" }, rows.slice(k), {
          journal: first.journal
        })
        expect([...first.rows, ...rest.rows]).toEqual(whole.rows)
        expect([...first.journal, ...rest.journal]).toEqual(whole.journal)
      }
      const parts = yield* runInParts(CoreStages.dedup, { drop: true }, splitAt(rows, 13, 14, 90, 150), { chunkSize: 7 })
      const wholeDrop = yield* runStage(CoreStages.dedup, { drop: true }, rows)
      expect(parts.rows).toEqual(wholeDrop.rows)
      expect(parts.droppedByReason).toEqual(wholeDrop.droppedByReason)
      expect(wholeDrop.droppedByReason.duplicate).toBeGreaterThan(100)
    }))

  it.effect("resumes exactly with thousands of distinct texts", () =>
    Effect.gen(function* () {
      const rows = Array.from({ length: 6000 }, (_, i) => asking(hex32(i), `Question ${i % 2500}${i % 2 ? "" : "  "}`))
      const whole = yield* runStage(CoreStages.dedup, {}, rows)
      expect(whole.journal).toHaveLength(2500)
      expect(whole.rows[5999]!.duplicate_of).toBe(hex32(999))
      const parts = yield* runInParts(CoreStages.dedup, {}, splitAt(rows, 1000, 2600, 4000))
      expect(parts.rows).toEqual(whole.rows)
      expect(parts.journal).toEqual(whole.journal)
    }))

  it.effect("restores conversation_ids with tabs, newlines and backslashes from the journal", () =>
    Effect.gen(function* () {
      const odd = "id\twith\nnew\\line\r"
      const first = yield* runStage(CoreStages.dedup, {}, [asking(odd, "same")])
      expect(first.journal[0]!.includes("\n")).toBe(false)
      const rest = yield* runStage(CoreStages.dedup, {}, [asking("later", "SAME")], { journal: first.journal })
      expect(rest.rows[0]!.duplicate_of).toBe(odd)
    }))

  it.effect("fails with a StageError on a corrupt journal", () =>
    Effect.gen(function* () {
      const e = yield* runStage(CoreStages.dedup, {}, [], { journal: ["not an entry"] }).pipe(Effect.flip)
      expect(e._tag).toBe("StageError")
      expect(e.message).toContain("stage core/dedup: journal entry 1")
    }))

  it.effect("decodes options with defaults filled and rejects bad ones", () =>
    Effect.gen(function* () {
      expect(yield* decodeConfig(CoreStages.dedup, {})).toEqual({
        field: "conversation.0.content",
        output: "duplicate_of",
        drop: false,
        normalize: "whitespace-case"
      })
      expect(yield* decodeError(CoreStages.dedup, { normalize: "fuzzy" })).toContain('Expected "exact", actual "fuzzy"')
      expect(yield* decodeError(CoreStages.dedup, { field: "a..b" })).toContain('["field"]')
      expect(yield* decodeError(CoreStages.dedup, { output: "a.b" })).toContain("top-level field name")
    }))
})

// ---------------------------------------------------------------------------------------------

describe("core/limit", () => {
  const rows = Array.from({ length: 50 }, (_, i) => record(hex32(i)))

  it.effect("keeps the first N rows and drops the rest with reason limit", () =>
    Effect.gen(function* () {
      const r = yield* runStage(CoreStages.limit, { rows: 12 }, rows, { chunkSize: 5 })
      expect(ids(r.rows)).toEqual(ids(rows.slice(0, 12)))
      expect(r.droppedByReason).toEqual({ limit: 38 })
      // One running count per chunk that kept rows.
      expect(r.journal).toEqual(["5", "10", "12"])
      const more = yield* runStage(CoreStages.limit, { rows: 1000 }, rows)
      expect(counts(more)).toEqual({ rows: 50, dropped: 0, rejected: 0 })
    }))

  it.effect("a run resumed from the journal gives exactly the rows of an uninterrupted run", () =>
    Effect.gen(function* () {
      const whole = yield* runStage(CoreStages.limit, { rows: 23 }, rows)
      for (const k of [0, 1, 10, 23, 24, 49]) {
        const first = yield* runStage(CoreStages.limit, { rows: 23 }, rows.slice(0, k), { chunkSize: 4 })
        const rest = yield* runStage(CoreStages.limit, { rows: 23 }, rows.slice(k), { journal: first.journal, chunkSize: 3 })
        expect([...first.rows, ...rest.rows]).toEqual(whole.rows)
        expect(first.dropped.length + rest.dropped.length).toBe(27)
      }
      const parts = yield* runInParts(CoreStages.limit, { rows: 23 }, splitAt(rows, 5, 20, 22, 30))
      expect(parts.rows).toEqual(whole.rows)
      expect(parts.droppedByReason).toEqual({ limit: 27 })
    }))

  it.effect("drops everything once the recovered count has reached the limit", () =>
    Effect.gen(function* () {
      const r = yield* runStage(CoreStages.limit, { rows: 3 }, rows.slice(0, 4), { journal: ["1", "3"] })
      expect(counts(r)).toEqual({ rows: 0, dropped: 4, rejected: 0 })
      expect(r.journal).toEqual([])
    }))

  it.effect("fails with a StageError on a corrupt journal", () =>
    Effect.gen(function* () {
      const e = yield* runStage(CoreStages.limit, { rows: 3 }, [], { journal: ["2", "x"] }).pipe(Effect.flip)
      expect(e.message).toBe('stage core/limit: journal entry 2 is not a row count: "x"')
    }))

  it.effect("requires a positive integer", () =>
    Effect.gen(function* () {
      expect(yield* decodeError(CoreStages.limit, { rows: -1 })).toContain("Expected a positive number, actual -1")
      expect(yield* decodeError(CoreStages.limit, { rows: 1.5 })).toContain("Expected an integer, actual 1.5")
      expect(yield* decodeError(CoreStages.limit, {})).toContain('["rows"]\n')
      expect(yield* decodeError(CoreStages.limit, {})).toContain("is missing")
    }))
})

// ---------------------------------------------------------------------------------------------

describe("core/sample", () => {
  const rows = Array.from({ length: 10_000 }, (_, i) => record(`conv-${i}`))

  it.effect("keeps about `fraction` of the rows, dropping the rest with reason sample", () =>
    Effect.gen(function* () {
      const r = yield* runStage(CoreStages.sample, { fraction: 0.3 }, rows, { seed: 42 })
      expect(r.rows.length / rows.length).toBeGreaterThan(0.27)
      expect(r.rows.length / rows.length).toBeLessThan(0.33)
      expect(r.droppedByReason).toEqual({ sample: rows.length - r.rows.length })
      const none = yield* runStage(CoreStages.sample, { fraction: 0 }, rows)
      expect(none.rows).toHaveLength(0)
      const all = yield* runStage(CoreStages.sample, { fraction: 1 }, rows)
      expect(all.rows).toHaveLength(rows.length)
    }))

  it.effect("is deterministic by seed, stage instance and conversation_id", () =>
    Effect.gen(function* () {
      const a = yield* runStage(CoreStages.sample, { fraction: 0.5 }, rows, { seed: 1 })
      const b = yield* runStage(CoreStages.sample, { fraction: 0.5 }, rows, { seed: 1, chunkSize: 17 })
      const c = yield* runStage(CoreStages.sample, { fraction: 0.5 }, rows, { seed: 2 })
      const d = yield* runStage(CoreStages.sample, { fraction: 0.5 }, rows, { seed: 1, stageId: "core/sample#2" })
      expect(ids(b.rows)).toEqual(ids(a.rows))
      expect(ids(c.rows)).not.toEqual(ids(a.rows))
      expect(ids(d.rows)).not.toEqual(ids(a.rows))
      // The choice depends on the row alone, not on its position: reversed input, same set.
      const reversed = yield* runStage(CoreStages.sample, { fraction: 0.5 }, [...rows].reverse(), { seed: 1 })
      expect(new Set(ids(reversed.rows))).toEqual(new Set(ids(a.rows)))
      // A smaller fraction keeps a subset of a larger one.
      const small = yield* runStage(CoreStages.sample, { fraction: 0.2 }, rows, { seed: 1 })
      const kept = new Set(ids(a.rows))
      expect(ids(small.rows).every((id) => kept.has(id))).toBe(true)
    }))

  it.effect("rejects rows without a conversation_id", () =>
    Effect.gen(function* () {
      const { conversation_id: _, ...noId } = record("x")
      const r = yield* runStage(CoreStages.sample, { fraction: 1 }, [noId])
      expect(r.rejected.map((x) => x.error)).toEqual(["field `conversation_id` is missing; expected a string"])
    }))

  it.effect("requires a fraction between 0 and 1", () =>
    Effect.gen(function* () {
      expect(yield* decodeError(CoreStages.sample, { fraction: 2 })).toContain("Expected a number between 0 and 1, actual 2")
      expect(yield* decodeError(CoreStages.sample, { fraction: -0.1 })).toContain("between 0 and 1")
      expect(yield* decodeError(CoreStages.sample, {})).toContain('["fraction"]')
    }))
})

// ---------------------------------------------------------------------------------------------

describe("core/fields", () => {
  const row = withOrigin({ ...record("r") }, { file: "data/a.jsonl", line: 3 })

  it.effect("keep, drop and rename top-level fields, in that order, keeping the origin", () =>
    Effect.gen(function* () {
      const keep = yield* runStage(CoreStages.fields, { keep: ["conversation_id", "conversation", "missing"] }, [row])
      expect(keep.rows).toEqual([
        withOrigin({ conversation_id: "r", conversation: row.conversation }, { file: "data/a.jsonl", line: 3 })
      ])

      const drop = yield* runStage(CoreStages.fields, { drop: ["openai_moderation", "redacted"] }, [row])
      expect(Object.keys(drop.rows[0]!)).toEqual(["conversation_id", "model", "conversation", "turn", "language"])

      const rename = yield* runStage(CoreStages.fields, { rename: { conversation: "messages", model: "source_model" } }, [row])
      expect(Object.keys(rename.rows[0]!)).toEqual([
        "conversation_id",
        "source_model",
        "messages",
        "turn",
        "language",
        "openai_moderation",
        "redacted"
      ])
      expect(rename.rows[0]!.messages).toBe(row.conversation)
      expect(origin(rename.rows[0]!)).toEqual({ file: "data/a.jsonl", line: 3 })

      const all = yield* runStage(
        CoreStages.fields,
        { keep: ["conversation_id", "conversation", "model"], drop: ["model"], rename: { conversation: "messages" } },
        [row]
      )
      expect(all.rows).toEqual([withOrigin({ conversation_id: "r", messages: row.conversation }, origin(row)!)])
      expect(Object.keys(row)).toHaveLength(7)
    }))

  it.effect("renames at once (swaps work), replaces a field named like a target, ignores missing sources", () =>
    Effect.gen(function* () {
      const r = yield* runStage(
        CoreStages.fields,
        { rename: { model: "language", language: "model", nowhere: "somewhere" } },
        [{ model: "vicuna-13b", language: "English" }]
      )
      expect(r.rows).toEqual([{ language: "vicuna-13b", model: "English" }])
      const replace = yield* runStage(CoreStages.fields, { rename: { language: "model" } }, [
        { model: "vicuna-13b", language: "English" }
      ])
      expect(replace.rows).toEqual([{ model: "English" }])
      const droppedSource = yield* runStage(CoreStages.fields, { drop: ["language"], rename: { language: "model" } }, [
        { model: "vicuna-13b", language: "English" }
      ])
      expect(droppedSource.rows).toEqual([{ model: "vicuna-13b" }])
    }))

  it.effect("tells the planner what it provides and removes", () =>
    Effect.gen(function* () {
      const config = yield* decodeConfig(CoreStages.fields, {
        drop: ["redacted"],
        rename: { conversation: "messages", a: "b", b: "a" }
      })
      expect(Stage.providedFields(CoreStages.fields, config)).toEqual(["messages", "b", "a"])
      expect(CoreStages.fields.removes?.(config)).toEqual(["redacted", "conversation"])
    }))

  it.effect("rejects ambiguous options", () =>
    Effect.gen(function* () {
      expect(yield* decodeError(CoreStages.fields, { rename: { a: "x", b: "x" } })).toContain(
        "rename maps both `a` and `b` to `x`"
      )
      expect(yield* decodeError(CoreStages.fields, { drop: ["conversation.0"] })).toContain(
        'expected a top-level field name, got "conversation.0"'
      )
      expect(yield* decodeError(CoreStages.fields, { keep: "conversation" })).toContain('["keep"]')
    }))
})

// ---------------------------------------------------------------------------------------------

describe("CoreStages.all", () => {
  it("lists every core stage once, each documented", () => {
    expect(CoreStages.all.map((s) => s.id)).toEqual([
      "core/select",
      "core/first-turn",
      "core/dedup",
      "core/limit",
      "core/sample",
      "core/fields"
    ])
    for (const stage of CoreStages.all) {
      expect(stage.description.length).toBeGreaterThan(10)
      for (const option of Reference.optionsOf(stage.config)) {
        expect(option.description, `${stage.id} ${option.name}`).toBeTypeOf("string")
      }
    }
    const dedup = Reference.optionsOf(CoreStages.dedup.config)
    expect(dedup.map((o) => [o.name, o.required, o.default])).toEqual([
      ["field", false, "conversation.0.content"],
      ["output", false, "duplicate_of"],
      ["drop", false, false],
      ["normalize", false, "whitespace-case"]
    ])
    expect(Reference.optionsOf(CoreStages.limit.config)).toEqual([
      expect.objectContaining({ name: "rows", type: "integer", required: true })
    ])
  })

  it("rejects unknown options", () => {
    const r = Effect.runSync(Effect.either(decodeConfig(CoreStages.firstTurn, { with_answers: true })))
    expect(Either.isLeft(r) && r.left.message).toContain('["with_answers"]')
    expect(Either.isLeft(r) && r.left.message).toContain("is unexpected")
  })
})

/** Record schemas: the LMSYS-Chat-1M row, its 11 moderation categories, and the personal-data kinds. */
import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import * as Record from "../src/Record.js"

/** A moderation result with every category false and every score 0, but `overrides`. */
const moderation = (overrides: { readonly [category: string]: number } = {}) => ({
  categories: Object.fromEntries(Record.moderationCategories.map((c) => [c, (overrides[c] ?? 0) > 0.5])),
  category_scores: Object.fromEntries(Record.moderationCategories.map((c) => [c, overrides[c] ?? 0])),
  flagged: Object.values(overrides).some((s) => s > 0.5)
})

/** A well-formed LMSYS-Chat-1M row of two messages. */
const lmsysRow = {
  conversation_id: "c0ffee",
  model: "vicuna-13b",
  conversation: [
    { role: "user", content: "Hello, who are you?" },
    { role: "assistant", content: "I am a language model." }
  ],
  turn: 1,
  language: "English",
  openai_moderation: [moderation(), moderation({ "self-harm/intent": 0.9 })],
  redacted: false
}

const decode = Schema.decodeUnknownEither(Record.LmsysRecord)

describe("Record.moderationCategories", () => {
  it("are the 11 LMSYS categories, with their slash names", () => {
    expect(Record.moderationCategories).toHaveLength(11)
    expect(new Set(Record.moderationCategories).size).toBe(11)
    expect(Record.moderationCategories).toContain("self-harm/intent")
    expect(Record.moderationCategories).toContain("sexual/minors")
    expect(Record.moderationCategories).toContain("violence/graphic")
    expect(Record.moderationCategories).toContain("harassment/threatening")
  })

  it("are exactly the keys of the category and score schemas", () => {
    const sorted = [...Record.moderationCategories].sort()
    expect(Object.keys(Record.ModerationCategories.fields).sort()).toEqual(sorted)
    expect(Object.keys(Record.ModerationCategoryScores.fields).sort()).toEqual(sorted)
  })
})

describe("Record.LmsysRecord", () => {
  it("decodes a well-formed LMSYS-Chat-1M row as it is", () => {
    const decoded = decode(lmsysRow)
    expect(Either.isRight(decoded)).toBe(true)
    expect(Either.getOrThrow(decoded)).toEqual(lmsysRow)
  })

  it("refuses a field of the wrong type, naming the field", () => {
    const wrongTurn = decode({ ...lmsysRow, turn: "1" })
    expect(Either.isLeft(wrongTurn)).toBe(true)
    if (Either.isLeft(wrongTurn)) expect(wrongTurn.left.message).toContain('["turn"]')

    const wrongRedacted = decode({ ...lmsysRow, redacted: "no" })
    expect(Either.isLeft(wrongRedacted)).toBe(true)
    if (Either.isLeft(wrongRedacted)) expect(wrongRedacted.left.message).toContain('["redacted"]')
  })

  it("refuses a missing field and a bad nested message or score", () => {
    const { model: _model, ...noModel } = lmsysRow
    const missing = decode(noModel)
    expect(Either.isLeft(missing)).toBe(true)
    if (Either.isLeft(missing)) expect(missing.left.message).toContain('["model"]')

    const badMessage = decode({ ...lmsysRow, conversation: [{ role: "user", content: 3 }] })
    expect(Either.isLeft(badMessage)).toBe(true)
    if (Either.isLeft(badMessage)) expect(badMessage.left.message).toContain('["content"]')

    const infinite = moderation()
    const badScore = decode({
      ...lmsysRow,
      openai_moderation: [{ ...infinite, category_scores: { ...infinite.category_scores, hate: Number.POSITIVE_INFINITY } }]
    })
    expect(Either.isLeft(badScore)).toBe(true)
    if (Either.isLeft(badScore)) expect(badScore.left.message).toContain('["hate"]')
  })

  it("lists its fields in the dataset's column order", () => {
    expect(Record.lmsysFields).toEqual(Object.keys(lmsysRow))
    expect([...Record.lmsysFields].sort()).toEqual(Object.keys(Record.LmsysRecord.fields).sort())
  })
})

describe("Record.piiTypes", () => {
  it("names each personal-data kind once, as an upper-case placeholder stem", () => {
    expect(new Set(Record.piiTypes).size).toBe(Record.piiTypes.length)
    expect(Record.piiTypes).toContain("EMAIL")
    expect(Record.piiTypes).toContain("IP_ADDRESS")
    for (const t of Record.piiTypes) expect(t).toMatch(/^[A-Z][A-Z_]*$/)
  })
})

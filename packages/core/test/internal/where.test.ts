import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as Where from "../../src/internal/where.js"

const sel = (text: string): Where.Where => Either.getOrThrow(Where.parse(text))
const row = {
  language: "Japanese",
  turn: 2,
  moderation: { flagged: false, categories: [] },
  scores: [3, 9],
  note: "",
  empty: null,
  translated_conversation: [{ role: "user", content: "こんにちは" }]
}

describe("Where", () => {
  it("field tests, comparisons, and/or/not with the usual precedence, parentheses", () => {
    expect(Where.matches(sel('language == "Japanese"'), row)).toBe(true)
    expect(Where.matches(sel("language == 'English'"), row)).toBe(false)
    expect(Where.matches(sel("moderation.flagged == false and turn >= 2"), row)).toBe(true)
    expect(Where.matches(sel("turn > 2 or scores.1 == 9"), row)).toBe(true)
    // and binds tighter than or: false or (true and false) is false.
    expect(Where.matches(sel("turn > 5 or turn == 2 and language == 'English'"), row)).toBe(false)
    expect(Where.matches(sel("(turn > 5 or turn == 2) and not language == 'English'"), row)).toBe(true)
    expect(Where.matches(sel('translated_conversation.0.content != "x"'), row)).toBe(true)
    expect(Where.matches(sel("scores.0 < 3.5 and scores.0 <= 3 and scores.1 > -1"), row)).toBe(true)
  })

  it("a bare path tests that the field is set; == null holds for missing fields; mismatched types compare false", () => {
    expect(Where.matches(sel("moderation"), row)).toBe(true)
    expect(Where.matches(sel("note"), row)).toBe(false)
    expect(Where.matches(sel("not empty"), row)).toBe(true)
    expect(Where.matches(sel("missing == null and empty == null"), row)).toBe(true)
    expect(Where.matches(sel("missing != null"), row)).toBe(false)
    expect(Where.matches(sel('turn < "3"'), row)).toBe(false)
    expect(Where.matches(sel("language > 1"), row)).toBe(false)
  })

  it("the mapping form: every field: value test must hold; its text is the expression it means", () => {
    const w = Either.getOrThrow(Where.fromConfig({ "moderation.flagged": false, language: "Japanese" }))
    expect(w.text).toBe('moderation.flagged == false and language == "Japanese"')
    expect(Where.matches(w, row)).toBe(true)
    expect(Where.matches(w, { ...row, language: "English" })).toBe(false)
    expect(Where.fields(w)).toEqual(["moderation.flagged", "language"])
    expect(Where.fromConfig({ language: ["a"] })).toEqual(Either.left("the test of language must be a number, text, true, false or null"))
    expect(Where.fromConfig({})).toEqual(Either.left("where must test at least one field"))
    expect(Where.fromConfig(3)).toEqual(Either.left("where must be an expression (text) or a mapping of field: value tests"))
  })

  it("what does not parse says what and where; nothing is evaluated as code", () => {
    expect(Where.parse("")).toEqual(Either.left("the selection is empty"))
    expect(Where.parse("turn ==")).toEqual(Either.left('expected a value (number, "text", true, false or null) after ==, found the end'))
    expect(Where.parse("(turn == 1")).toEqual(Either.left("expected ) to close ( at character 1, found the end"))
    expect(Where.parse("turn == 1 turn")).toEqual(Either.left("expected and, or or the end, found turn at character 11"))
    expect(Where.parse('language == "x')).toEqual(Either.left("unterminated text starting at character 13"))
    expect(Where.parse("process.exit(1)")).toEqual(Either.left("expected and, or or the end, found ( at character 13"))
    expect(Where.parse("a; b")).toEqual(Either.left('unexpected ";" at character 2'))
  })
})

/** Rows: the JSON-object check, a row's origin and work unit (carried under symbol keys), dotted paths, value descriptions. */
import { describe, expect, it } from "@effect/vitest"
import * as Row from "../src/Row.js"

describe("Row.isRecord", () => {
  it("accepts plain objects and refuses arrays, null and scalars", () => {
    expect(Row.isRecord({})).toBe(true)
    expect(Row.isRecord({ a: 1 })).toBe(true)
    expect(Row.isRecord([])).toBe(false)
    expect(Row.isRecord([{ a: 1 }])).toBe(false)
    expect(Row.isRecord(null)).toBe(false)
    expect(Row.isRecord(undefined)).toBe(false)
    expect(Row.isRecord("row")).toBe(false)
    expect(Row.isRecord(3)).toBe(false)
  })
})

describe("Row.origin and Row.withOrigin", () => {
  it("a row carries its file:line origin, through object spread, and prints it", () => {
    const row = Row.withOrigin({ id: "a" }, { file: "data/in.jsonl", line: 12 })
    expect(Row.origin(row)).toEqual({ file: "data/in.jsonl", line: 12 })
    const copy = { ...row, extra: true }
    expect(Row.origin(copy)).toEqual({ file: "data/in.jsonl", line: 12 })
    expect(Row.formatOrigin(Row.origin(copy))).toBe("data/in.jsonl:12")
  })

  it("a parquet row prints as file#row; a row made by hand has no origin", () => {
    const row = Row.withOrigin({ id: "b" }, { file: "part-0.parquet", row: 0 })
    expect(Row.formatOrigin(Row.origin(row))).toBe("part-0.parquet#0")
    expect(Row.origin({ id: "c" })).toBeUndefined()
    expect(Row.formatOrigin(undefined)).toBe("<unknown>")
    expect(Row.formatOrigin({ file: "only.jsonl" })).toBe("only.jsonl")
  })

  it("a line wins over a row index when both are set", () => {
    expect(Row.formatOrigin({ file: "f.jsonl", line: 3, row: 2 })).toBe("f.jsonl:3")
  })

  it("returns the same object it was given", () => {
    const row = { id: "d" }
    expect(Row.withOrigin(row, { file: "x", line: 1 })).toBe(row)
  })
})

describe("Row.unitOf, Row.withUnit and Row.sameUnit", () => {
  it("tags a row with its work unit, which object spread keeps", () => {
    const row = Row.withUnit({ id: "a" }, 4)
    expect(Row.unitOf(row)).toBe(4)
    expect(Row.unitOf({ ...row })).toBe(4)
    expect(Row.unitOf({ id: "b" })).toBeUndefined()
  })

  it("gives a new row the unit of the row it came from, and keeps a unit it already has", () => {
    const from = Row.withUnit({ id: "a" }, 7)
    const fresh = Row.sameUnit(from, { id: "a", answer: "x" })
    expect(Row.unitOf(fresh)).toBe(7)
    const own = Row.sameUnit(from, Row.withUnit({ id: "b" }, 2))
    expect(Row.unitOf(own)).toBe(2)
    const untagged = Row.sameUnit({ id: "c" }, { id: "c" })
    expect(Row.unitOf(untagged)).toBeUndefined()
  })

  it("keeps origin and unit out of JSON: a tagged row writes as the untagged one", () => {
    const plain = { id: "a", conversation: [{ role: "user", content: "hi" }] }
    const tagged = Row.withUnit(Row.withOrigin({ ...plain }, { file: "in.jsonl", line: 1 }), 3)
    expect(JSON.stringify(tagged)).toBe(JSON.stringify(plain))
    expect(Object.keys(tagged)).toEqual(Object.keys(plain))
  })
})

describe("Row.parsePath and Row.getPath", () => {
  const row = {
    id: "a",
    conversation: [
      { role: "user", content: "hello" },
      { role: "assistant", content: "hi there" }
    ],
    meta: { source: { name: "lmsys" }, empty: null }
  }

  it("splits a dotted path into keys", () => {
    expect(Row.parsePath("conversation.0.content")).toEqual(["conversation", "0", "content"])
    expect(Row.parsePath("id")).toEqual(["id"])
  })

  it("reads nested objects and array elements by numeric key", () => {
    expect(Row.getPath(row, Row.parsePath("conversation.1.content"))).toBe("hi there")
    expect(Row.getPath(row, Row.parsePath("meta.source.name"))).toBe("lmsys")
    expect(Row.getPath(row, Row.parsePath("conversation.0"))).toEqual({ role: "user", content: "hello" })
    expect(Row.getPath(row, [])).toBe(row)
  })

  it("is undefined past a missing key, a null or a scalar", () => {
    expect(Row.getPath(row, Row.parsePath("conversation.5.content"))).toBeUndefined()
    expect(Row.getPath(row, Row.parsePath("meta.empty.x"))).toBeUndefined()
    expect(Row.getPath(row, Row.parsePath("id.length.x"))).toBeUndefined()
    expect(Row.getPath(row, Row.parsePath("nope"))).toBeUndefined()
  })
})

describe("Row.describeValue", () => {
  it("names what a value is, for an error message", () => {
    expect(Row.describeValue(undefined)).toBe("missing")
    expect(Row.describeValue(null)).toBe("null")
    expect(Row.describeValue([1, 2])).toBe("an array")
    expect(Row.describeValue({ a: 1 })).toBe("an object")
    expect(Row.describeValue("hi")).toBe('the string "hi"')
    expect(Row.describeValue(3)).toBe("number 3")
    expect(Row.describeValue(false)).toBe("boolean false")
  })

  it("cuts a long string at 40 characters", () => {
    const long = "x".repeat(50)
    expect(Row.describeValue(long)).toBe(`the string "${"x".repeat(40)}…"`)
    expect(Row.describeValue("y".repeat(40))).toBe(`the string "${"y".repeat(40)}"`)
  })
})

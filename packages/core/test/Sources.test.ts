import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as path from "node:path"
import * as zlib from "node:zlib"
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet"
import { compressors } from "hyparquet-compressors"
import { prepareRowGroup } from "../src/internal/io/parquetAssemble.js"
import { plainValue } from "../src/internal/io/parquetRead.js"
import { lmsysFields } from "../src/Record.js"
import { origin } from "../src/Row.js"
import * as Sources from "../src/Sources.js"
import { asJson, lmsysParquetSchema, lmsysRow, readAll, tempDir, writeFile, writeLmsysParquet } from "./support/io.js"

const lines = (rows: ReadonlyArray<unknown>, eol = "\n"): string => rows.map((r) => JSON.stringify(r) + eol).join("")

const run = <A, E>(effect: Effect.Effect<A, E, NodeContext.NodeContext>) => effect.pipe(Effect.provide(NodeContext.layer))

describe("jsonl source", () => {
  it.effect("reads a plain file with file and 1-based line origins", () =>
    run(
      Effect.gen(function* () {
        const dir = tempDir()
        const rows = [lmsysRow(0), lmsysRow(1), lmsysRow(2)]
        writeFile(path.join(dir, "data/a.jsonl"), lines(rows))
        const got = yield* readAll(Sources.jsonl, { path: "data/a.jsonl" }, dir)
        expect(got.units).toEqual([{ id: "data/a.jsonl", file: path.join(dir, "data/a.jsonl") }])
        expect(asJson(got.rows)).toEqual(rows)
        expect(got.rows.map(origin)).toEqual([1, 2, 3].map((line) => ({ file: "data/a.jsonl", line })))
        expect(got.rejects).toEqual([])
      })
    ))

  it.effect("reads gzip files, detected by their magic bytes whatever the name", () =>
    run(
      Effect.gen(function* () {
        const dir = tempDir()
        const rows = Array.from({ length: 500 }, (_, i) => lmsysRow(i))
        writeFile(path.join(dir, "a.jsonl.gz"), zlib.gzipSync(lines(rows)))
        writeFile(path.join(dir, "b.json"), zlib.gzipSync(lines(rows.slice(0, 2))))
        const got = yield* readAll(Sources.jsonl, { path: ["a.jsonl.gz", "b.json"] }, dir)
        expect(asJson(got.rows)).toEqual([...rows, ...rows.slice(0, 2)])
        expect(origin(got.rows[499]!)).toEqual({ file: "a.jsonl.gz", line: 500 })
        expect(origin(got.rows[501]!)).toEqual({ file: "b.json", line: 2 })
      })
    ))

  it.effect("expands a Hugging Face style glob into sorted files, one unit each", () =>
    run(
      Effect.gen(function* () {
        const dir = tempDir()
        for (const k of [2, 0, 1]) {
          writeFile(path.join(dir, `data/train-0000${k}-of-00003.jsonl`), lines([lmsysRow(k)]))
        }
        writeFile(path.join(dir, "data/test-00000-of-00001.jsonl"), lines([lmsysRow(9)]))
        const got = yield* readAll(Sources.jsonl, { path: "data/train-*.jsonl" }, dir)
        expect(got.units.map((u) => u.id)).toEqual([
          "data/train-00000-of-00003.jsonl",
          "data/train-00001-of-00003.jsonl",
          "data/train-00002-of-00003.jsonl"
        ])
        expect(asJson(got.rows)).toEqual([lmsysRow(0), lmsysRow(1), lmsysRow(2)])
        const deep = yield* readAll(Sources.jsonl, { path: "**/*.jsonl" }, dir)
        expect(deep.units).toHaveLength(4)
      })
    ))

  it.effect("fails planning with the pattern named when nothing matches", () =>
    run(
      Effect.gen(function* () {
        const dir = tempDir()
        const exit = yield* Effect.exit(readAll(Sources.jsonl, { path: "data/train-*.jsonl" }, dir))
        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isFailure(exit)) expect(String(exit.cause)).toMatch(/data\/train-\*\.jsonl: no file matches/)
        const missing = yield* Effect.exit(readAll(Sources.jsonl, { path: "nope.jsonl" }, dir))
        if (Exit.isFailure(missing)) expect(String(missing.cause)).toMatch(/nope\.jsonl: no such file/)
        else expect.unreachable()
      })
    ))

  it.effect("handles CRLF line ends and skips blank lines, keeping line numbers", () =>
    run(
      Effect.gen(function* () {
        const dir = tempDir()
        writeFile(
          path.join(dir, "a.jsonl"),
          `${JSON.stringify(lmsysRow(0))}\r\n\r\n   \r\n${JSON.stringify(lmsysRow(1))}\r\n\n${JSON.stringify(lmsysRow(2))}`
        )
        const got = yield* readAll(Sources.jsonl, { path: "a.jsonl" }, dir)
        expect(asJson(got.rows)).toEqual([lmsysRow(0), lmsysRow(1), lmsysRow(2)])
        expect(got.rows.map((r) => origin(r)?.line)).toEqual([1, 4, 6])
        expect(got.rejects).toEqual([])
      })
    ))

  it.effect("rejects bad lines with file, line and reason, and keeps the good rows", () =>
    run(
      Effect.gen(function* () {
        const dir = tempDir()
        const wrong = { ...lmsysRow(4), conversation: [{ role: "user", content: 5 }] }
        const text = Buffer.concat([
          Buffer.from(`${JSON.stringify(lmsysRow(0))}\n`),
          Buffer.from(`{"conversation_id": "x", oops\n`),
          Buffer.from(`[1, 2, 3]\n`),
          Buffer.from(`{"conversation_id": "bad-\xff\xfe"}\n`, "latin1"),
          Buffer.from(`${JSON.stringify(wrong)}\n`),
          Buffer.from(`${JSON.stringify({ ...lmsysRow(5), turn: "one" })}\n`),
          Buffer.from(`${JSON.stringify(lmsysRow(6))}\n`)
        ])
        writeFile(path.join(dir, "bad.jsonl"), text)
        const got = yield* readAll(Sources.jsonl, { path: "bad.jsonl" }, dir)
        expect(asJson(got.rows)).toEqual([lmsysRow(0), lmsysRow(6)])
        expect(got.rows.map((r) => origin(r)?.line)).toEqual([1, 7])
        expect(got.rejects.map((r) => r.origin)).toEqual([2, 3, 4, 5, 6].map((line) => ({ file: "bad.jsonl", line })))
        const errors = got.rejects.map((r) => r.error)
        expect(errors[0]).toMatch(/^invalid JSON: /)
        expect(errors[1]).toBe("expected a JSON object, got array")
        expect(errors[2]).toBe("invalid UTF-8 in line")
        expect(errors[3]).toBe("does not match the LMSYS-Chat-1M record: conversation[0].content: expected string, got number")
        expect(errors[4]).toBe("does not match the LMSYS-Chat-1M record: turn: expected number, got string")
        expect(got.rejects[0]!.raw).toBe(`{"conversation_id": "x", oops`)
      })
    ))

  it.effect("names a missing field and accepts any row with validate: none", () =>
    run(
      Effect.gen(function* () {
        const dir = tempDir()
        const { model: _m, ...noModel } = lmsysRow(1)
        writeFile(path.join(dir, "a.jsonl"), lines([noModel, { anything: [1] }]))
        const strict = yield* readAll(Sources.jsonl, { path: "a.jsonl" }, dir)
        expect(strict.rejects.map((r) => r.error)).toEqual([
          "does not match the LMSYS-Chat-1M record: model: is missing",
          "does not match the LMSYS-Chat-1M record: conversation_id: is missing"
        ])
        const loose = yield* readAll(Sources.jsonl, { path: "a.jsonl", validate: "none" }, dir)
        expect(asJson(loose.rows)).toEqual([noModel, { anything: [1] }])
      })
    ))

  it.effect("keeps the rows before a truncated gzip end and rejects the rest once", () =>
    run(
      Effect.gen(function* () {
        const dir = tempDir()
        const rows = Array.from({ length: 3000 }, (_, i) => lmsysRow(i))
        const gz = zlib.gzipSync(lines(rows))
        writeFile(path.join(dir, "cut.jsonl.gz"), gz.subarray(0, gz.length - 2000))
        const got = yield* readAll(Sources.jsonl, { path: "cut.jsonl.gz" }, dir)
        expect(got.rows.length).toBeGreaterThan(100)
        expect(got.rows.length).toBeLessThan(3000)
        expect(asJson(got.rows)).toEqual(rows.slice(0, got.rows.length))
        expect(got.rejects).toHaveLength(1)
        expect(got.rejects[0]!.origin).toEqual({ file: "cut.jsonl.gz", line: got.rows.length + 1 })
        expect(got.rejects[0]!.error).toBe(
          `truncated gzip stream: unexpected end of file after line ${got.rows.length}`
        )
      })
    ))

  it.effect("reads a 10 MB message, and rejects lines longer than max_line_bytes", () =>
    run(
      Effect.gen(function* () {
        const dir = tempDir()
        const big = "é".repeat(5 * 1024 * 1024)
        writeFile(path.join(dir, "big.jsonl"), lines([lmsysRow(0), lmsysRow(1, big), lmsysRow(2)]))
        const got = yield* readAll(Sources.jsonl, { path: "big.jsonl" }, dir)
        expect(got.rejects).toEqual([])
        expect(got.rows).toHaveLength(3)
        expect(asJson(got.rows)[1]).toEqual(lmsysRow(1, big))
        const capped = yield* readAll(Sources.jsonl, { path: "big.jsonl", max_line_bytes: 1024 * 1024 }, dir)
        expect(asJson(capped.rows)).toEqual([lmsysRow(0), lmsysRow(2)])
        expect(capped.rejects).toHaveLength(1)
        expect(capped.rejects[0]!.origin).toEqual({ file: "big.jsonl", line: 2 })
        expect(capped.rejects[0]!.error).toMatch(/^line is \d+ bytes, longer than max_line_bytes \(1048576\)$/)
      })
    ))
})

describe("parquet source", () => {
  const rows = Array.from({ length: 25 }, (_, i) => lmsysRow(i))

  it.effect("plans one unit per row group and reads nested list<struct> columns exactly", () =>
    run(
      Effect.gen(function* () {
        const dir = tempDir()
        writeLmsysParquet(path.join(dir, "data/train-00001-of-00002.parquet"), rows.slice(10), 10)
        writeLmsysParquet(path.join(dir, "data/train-00000-of-00002.parquet"), rows.slice(0, 10), 4)
        const got = yield* readAll(Sources.parquet, { path: "data/train-*.parquet" }, dir)
        expect(got.units.map((u) => [u.id, u.rowGroup, u.rows])).toEqual([
          ["data/train-00000-of-00002.parquet#rg0", 0, 4],
          ["data/train-00000-of-00002.parquet#rg1", 1, 4],
          ["data/train-00000-of-00002.parquet#rg2", 2, 2],
          ["data/train-00001-of-00002.parquet#rg0", 0, 10],
          ["data/train-00001-of-00002.parquet#rg1", 1, 5]
        ])
        expect(got.units.every((u) => (u.bytes ?? 0) > 0)).toBe(true)
        expect(got.rejects).toEqual([])
        expect(asJson(got.rows)).toEqual(rows)
        expect(typeof got.rows[0]!.turn).toBe("number")
        expect(Object.keys((got.rows[0]!.openai_moderation as Array<{ categories: object }>)[0]!.categories)).toContain(
          "harassment/threatening"
        )
        expect(origin(got.rows[5]!)).toEqual({ file: "data/train-00000-of-00002.parquet", row: 5 })
        expect(origin(got.rows[24]!)).toEqual({ file: "data/train-00001-of-00002.parquet", row: 14 })
      })
    ))

  it.effect("reads only the columns the pipeline needs", () =>
    run(
      Effect.gen(function* () {
        const dir = tempDir()
        writeLmsysParquet(path.join(dir, "a.parquet"), rows, 10)
        const got = yield* readAll(Sources.parquet, { path: "a.parquet" }, dir, ["conversation_id", "turn", "conversation.0.content"])
        expect(got.rejects).toEqual([])
        expect(asJson(got.rows)).toEqual(
          rows.map((r) => ({ conversation_id: r.conversation_id, conversation: r.conversation, turn: r.turn }))
        )
      })
    ))

  it.effect("turns a corrupt file into one reject instead of failing the plan or the run", () =>
    run(
      Effect.gen(function* () {
        const dir = tempDir()
        writeLmsysParquet(path.join(dir, "data/a.parquet"), rows.slice(0, 3), 10)
        writeFile(path.join(dir, "data/b.parquet"), "this is not parquet at all, just text")
        const got = yield* readAll(Sources.parquet, { path: "data/*.parquet" }, dir)
        expect(got.units.map((u) => u.id)).toEqual(["data/a.parquet#rg0", "data/b.parquet"])
        expect(asJson(got.rows)).toEqual(rows.slice(0, 3))
        expect(got.rejects).toHaveLength(1)
        expect(got.rejects[0]!.origin).toEqual({ file: "data/b.parquet" })
        expect(got.rejects[0]!.error).toMatch(/^corrupt parquet file: /)
      })
    ))

  it.effect("rejects rows with wrong field types, naming the row", () =>
    run(
      Effect.gen(function* () {
        const dir = tempDir()
        const { parquetWriteBuffer } = yield* Effect.promise(() => import("hyparquet-writer"))
        const buffer = parquetWriteBuffer({
          columnData: [
            { name: "conversation_id", data: ["a", "b"] },
            { name: "turn", data: ["1", "2"] }
          ]
        })
        writeFile(path.join(dir, "t.parquet"), new Uint8Array(buffer))
        const got = yield* readAll(Sources.parquet, { path: "t.parquet" }, dir, ["conversation_id", "turn"])
        expect(got.rows).toEqual([])
        expect(got.rejects.map((r) => [r.origin, r.error])).toEqual([
          [{ file: "t.parquet", row: 0 }, "does not match the LMSYS-Chat-1M record: turn: expected number, got string"],
          [{ file: "t.parquet", row: 1 }, "does not match the LMSYS-Chat-1M record: turn: expected number, got string"]
        ])
      })
    ))
})

describe("parquet row assembly", () => {
  const hyparquetRows = async (file: string) => {
    const buffer = await asyncBufferFromFile(file)
    const rows = await parquetReadObjects({ file: buffer, compressors })
    return rows.map(plainValue)
  }
  const fastRows = async (file: string) => {
    const buffer = await asyncBufferFromFile(file)
    const metadata = await parquetMetadataAsync(buffer)
    const out: Array<unknown> = []
    for (let k = 0; k < metadata.row_groups.length; k++) {
      const prepared = await prepareRowGroup(buffer, metadata, k, undefined)
      if (prepared._tag !== "Ok") return prepared
      while (true) {
        const batch = prepared.reader.next(7)
        if (batch.length === 0) break
        out.push(...batch)
      }
    }
    return out
  }

  it.effect("equals hyparquet's own assembly: nulls, empty lists, nested lists, dictionaries, several pages", () =>
    Effect.promise(async () => {
      const dir = tempDir()
      const rows = Array.from({ length: 60 }, (_, i) => lmsysRow(i))
      const holes = rows.map((r, i) => ({
        ...r,
        conversation: i % 7 === 1 ? null : i % 7 === 2 ? [] : i % 7 === 3 ? [null, r.conversation[0]] : r.conversation,
        openai_moderation:
          i % 5 === 1 ? null : i % 5 === 2 ? [{ ...r.openai_moderation[0]!, categories: null }] : r.openai_moderation,
        turn: i % 6 === 5 ? null : r.turn,
        language: i % 9 === 0 ? null : r.language
      }))
      const { parquetWriteBuffer } = await import("hyparquet-writer")
      const file = path.join(dir, "holes.parquet")
      writeFile(
        file,
        new Uint8Array(
          parquetWriteBuffer({
            schema: lmsysParquetSchema,
            columnData: lmsysFields.map((name) => ({
              name,
              data: holes.map((r) => (name === "turn" ? (r.turn === null ? null : BigInt(r.turn)) : r[name]))
            })),
            rowGroupSize: 25,
            pageSize: 512
          })
        )
      )
      const expected = await hyparquetRows(file)
      expect(await fastRows(file)).toEqual(expected)
      expect(JSON.parse(JSON.stringify(expected))[3].conversation).toEqual([null, holes[3]!.conversation![1]])

      const nested = path.join(dir, "nested.parquet")
      writeFile(
        nested,
        new Uint8Array(
          parquetWriteBuffer({
            columnData: [
              { name: "id", data: [1n, 2n, 3n, 4n], type: "INT64", nullable: false },
              { name: "matrix", data: [[[1, 2], [], [3]], null, [], [[4], null]] }
            ],
            pageSize: 16
          })
        )
      )
      const expectedNested = await hyparquetRows(nested)
      expect(expectedNested).toEqual([
        { id: 1, matrix: [[1, 2], [], [3]] },
        { id: 2, matrix: null },
        { id: 3, matrix: [] },
        { id: 4, matrix: [[4], null] }
      ])
      expect(await fastRows(nested)).toEqual(expectedNested)
    }))

  it.effect("falls back to hyparquet for map columns", () =>
    run(
      Effect.gen(function* () {
        const dir = tempDir()
        const { parquetWriteBuffer } = yield* Effect.promise(() => import("hyparquet-writer"))
        writeFile(
          path.join(dir, "map.parquet"),
          new Uint8Array(
            parquetWriteBuffer({
              schema: [
                { name: "root", num_children: 1 },
                { name: "m", repetition_type: "OPTIONAL", converted_type: "MAP", num_children: 1 },
                { name: "key_value", repetition_type: "REPEATED", num_children: 2 },
                { name: "key", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "REQUIRED" },
                { name: "value", type: "INT32", repetition_type: "OPTIONAL" }
              ],
              columnData: [{ name: "m", data: [{ a: 1, b: 2 }, null] }]
            })
          )
        )
        const prepared = yield* Effect.promise(async () => {
          const buffer = await asyncBufferFromFile(path.join(dir, "map.parquet"))
          return prepareRowGroup(buffer, await parquetMetadataAsync(buffer), 0, undefined)
        })
        expect(prepared._tag).toBe("Unsupported")
        const got = yield* readAll(Sources.parquet, { path: "map.parquet", validate: "none" }, dir)
        expect(asJson(got.rows)).toEqual([{ m: { a: 1, b: 2 } }, { m: null }])
      })
    ))
})

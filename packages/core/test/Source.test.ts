import { NodeContext } from "@effect/platform-node"
import { beforeAll, describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Schema, Stream } from "effect"
import * as path from "node:path"
import * as zlib from "node:zlib"
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet"
import { compressors } from "hyparquet-compressors"
import { prepareRowGroup } from "../src/internal/io/parquetAssemble.js"
import { type FooterCache, Footers, makeFooters, plainValue, unitFile } from "../src/internal/io/parquetRead.js"
import { lmsysFields } from "../src/Record.js"
import * as Reference from "../src/internal/reference.js"
import { origin } from "../src/Row.js"
import * as Lmsys from "./support/lmsys.js"
import * as Shard from "../src/Shard.js"
import type { WorkUnit } from "../src/Source.js"
import * as Sources from "../src/io/sources.js"
import { asJson, lmsysParquetSchema, lmsysRow, readAll, tempDir, writeFile, writeLmsysParquet } from "./support/io.js"
import { duckdbOneRowGroup, farSnappy, footer, hyparquetRows, pagesOf, v1Row, writeV1Parquet } from "./support/parquetFiles.js"

const lines = (rows: ReadonlyArray<unknown>, eol = "\n"): string => rows.map((r) => JSON.stringify(r) + eol).join("")

// The footer and cursor caches a run provides (`Runner.run`, each worker thread): here one "run"
// lasts from one `cursorCache.clear()` to the next, and every read through `run` belongs to it.
let footers = makeFooters()
const cursorCache = {
  get size(): number {
    return footers.cursors!.size
  },
  clear: (): void => {
    footers = makeFooters()
  }
}
const currentFooters: FooterCache = {
  footer: (key, parse) => footers.footer(key, parse),
  forget: (key) => footers.forget(key),
  get cursors() {
    return footers.cursors
  }
}

const run = <A, E>(effect: Effect.Effect<A, E, NodeContext.NodeContext>) =>
  effect.pipe(Effect.provideService(Footers, currentFooters), Effect.provide(NodeContext.layer))

describe("jsonl source", () => {
  it.effect("reads a plain file with file and 1-based line origins", () =>
    run(
      Effect.gen(function* () {
        const dir = tempDir()
        const rows = [lmsysRow(0), lmsysRow(1), lmsysRow(2)]
        writeFile(path.join(dir, "data/a.jsonl"), lines(rows))
        const got = yield* readAll(Sources.jsonl, { path: "data/a.jsonl" }, dir)
        const text = lines(rows)
        expect(got.units).toEqual([{ id: "data/a.jsonl", file: path.join(dir, "data/a.jsonl"), rows: 3, bytes: Buffer.byteLength(text) }])
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

  it.effect("splits a plain file into units of unit_rows lines, each read from its byte offset with its file's line numbers", () =>
    run(
      Effect.gen(function* () {
        const dir = tempDir()
        const rows = Array.from({ length: 25 }, (_, i) => lmsysRow(i))
        // Line 14 (index 13) is broken, line 17 is blank, and the file has no newline at its end.
        const text = rows.map((r, i) => (i === 13 ? "{oops" : i === 16 ? "" : JSON.stringify(r))).join("\n")
        writeFile(path.join(dir, "a.jsonl"), text)
        const got = yield* readAll(Sources.jsonl, { path: "a.jsonl", unit_rows: 10 }, dir)
        expect(got.units.map((u) => [u.id, u.rows, u.rowStart, u.rowEnd])).toEqual([
          ["a.jsonl#lines:0-10", 10, 0, 10],
          ["a.jsonl#lines:10-20", 10, 10, 20],
          ["a.jsonl#lines:20-25", 5, 20, 25]
        ])
        // The ranges tile the file: each starts just after a newline.
        expect(got.units.map((u) => u.byteStart)).toEqual([0, got.units[0]!.byteEnd, got.units[1]!.byteEnd])
        expect(got.units[2]!.byteEnd).toBe(Buffer.byteLength(text))
        expect(text.slice(0, got.units[1]!.byteStart).split("\n")).toHaveLength(11)
        const whole = yield* readAll(Sources.jsonl, { path: "a.jsonl" }, dir)
        expect(whole.units.map((u) => u.id)).toEqual(["a.jsonl"])
        expect(asJson(got.rows)).toEqual(asJson(whole.rows))
        expect(got.rows.map(origin)).toEqual(whole.rows.map(origin))
        expect(origin(got.rows[12]!)).toEqual({ file: "a.jsonl", line: 13 })
        expect(origin(got.rows.at(-1)!)).toEqual({ file: "a.jsonl", line: 25 })
        expect(got.rejects.map((r) => r.origin)).toEqual([{ file: "a.jsonl", line: 14 }])
        // A unit read alone gives exactly its lines.
        const config = Schema.decodeUnknownSync(Sources.jsonl.config)({ path: "a.jsonl", unit_rows: 10 })
        const middle = yield* Stream.runCollect(Sources.jsonl.read(got.units[1]!, config, { reject: () => {} }, { baseDir: dir }))
        expect(Chunk.toReadonlyArray(middle).map((r) => origin(r)?.line)).toEqual([11, 12, 13, 15, 16, 18, 19, 20])
      })
    ))

  it.effect("a file of exactly k × unit_rows lines gives k units, and a gzip file stays one unit", () =>
    run(
      Effect.gen(function* () {
        const dir = tempDir()
        const rows = Array.from({ length: 20 }, (_, i) => lmsysRow(i))
        writeFile(path.join(dir, "a.jsonl"), lines(rows))
        writeFile(path.join(dir, "b.jsonl.gz"), zlib.gzipSync(lines(rows)))
        const got = yield* readAll(Sources.jsonl, { path: ["a.jsonl", "b.jsonl.gz"], unit_rows: 10 }, dir)
        expect(got.units.map((u) => u.id)).toEqual(["a.jsonl#lines:0-10", "a.jsonl#lines:10-20", "b.jsonl.gz"])
        expect(asJson(got.rows)).toEqual([...rows, ...rows])
        const shards = [0, 1, 2].map((index) => Shard.select(got.units, { index, count: 3 }).map((u) => u.id))
        expect(shards.flat().sort()).toEqual(got.units.map((u) => u.id).sort())
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

  it.effect("rejects a number out of range (1e400) where the record expects a number, naming file and line", () =>
    run(
      Effect.gen(function* () {
        const dir = tempDir()
        const good = JSON.stringify(lmsysRow(0))
        const turn = JSON.stringify(lmsysRow(1)).replace(/"turn":\d+/, '"turn":1e400')
        const score = JSON.stringify(lmsysRow(2)).replace(/"harassment":[0-9.e-]+/, '"harassment":-1e999')
        writeFile(path.join(dir, "n.jsonl"), `${good}\n${turn}\n${score}\n`)
        const got = yield* readAll(Sources.jsonl, { path: "n.jsonl" }, dir)
        expect(asJson(got.rows)).toEqual([lmsysRow(0)])
        expect(got.rejects.map((r) => [r.origin, r.error, r.raw])).toEqual([
          [
            { file: "n.jsonl", line: 2 },
            "does not match the LMSYS-Chat-1M record: turn: expected a finite number, got Infinity (a number out of range, e.g. 1e400)",
            turn
          ],
          [
            { file: "n.jsonl", line: 3 },
            "does not match the LMSYS-Chat-1M record: openai_moderation[0].category_scores.harassment: expected a finite number, got -Infinity (a number out of range, e.g. 1e400)",
            score
          ]
        ])
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

  it.effect("reads every row before trailing bytes after the last gzip member, and rejects the junk once with its byte offset", () =>
    run(
      Effect.gen(function* () {
        const dir = tempDir()
        const rows = Array.from({ length: 50 }, (_, i) => lmsysRow(i))
        const text = lines(rows)
        const member = zlib.gzipSync(text)
        const junk = Buffer.from("this is not gzip data\n")
        writeFile(path.join(dir, "junk.jsonl.gz"), Buffer.concat([member, junk]))
        // The same rows as two members (what the jsonl sink writes), the last line without its newline.
        const half = text.indexOf("\n", text.length / 2) + 1
        writeFile(
          path.join(dir, "two.jsonl.gz"),
          Buffer.concat([zlib.gzipSync(text.slice(0, half)), zlib.gzipSync(text.slice(half, -1)), junk])
        )
        for (const [file, size] of [["junk.jsonl.gz", member.length], ["two.jsonl.gz", undefined]] as const) {
          const got = yield* readAll(Sources.jsonl, { path: file }, dir)
          expect(asJson(got.rows)).toEqual(rows)
          expect(got.rejects).toHaveLength(1)
          const at = size ?? got.rejects[0]!.error.match(/at byte (\d+)/)?.[1]
          expect(got.rejects[0]!.origin).toEqual({ file })
          expect(got.rejects[0]!.error).toBe(
            `${junk.length} trailing bytes at byte ${at} after the last gzip member are not gzip data (ignored; the 50 lines before them were read)`
          )
          expect(got.rejects[0]!.raw).toBe(junk.toString("utf8"))
        }
        // Zero padding after the last member (tape blocks, preallocated files) is not an error.
        writeFile(path.join(dir, "pad.jsonl.gz"), Buffer.concat([member, Buffer.alloc(512)]))
        const padded = yield* readAll(Sources.jsonl, { path: "pad.jsonl.gz" }, dir)
        expect(asJson(padded.rows)).toEqual(rows)
        expect(padded.rejects).toEqual([])
      })
    ))

  it.effect("a gzip file cut inside its last line rejects that line with the text it has", () =>
    run(
      Effect.gen(function* () {
        const dir = tempDir()
        const rows = Array.from({ length: 50 }, (_, i) => lmsysRow(i))
        const text = lines(rows)
        // Flush after 49.5 lines, so the bytes up to there decompress on their own.
        const cut = text.indexOf("\n", text.length - 200) - 100
        const z = zlib.createGzip()
        const parts: Array<Buffer> = []
        z.on("data", (b: Buffer) => parts.push(b))
        yield* Effect.promise(() => new Promise<void>((resolve) => z.write(text.slice(0, cut), () => z.flush(() => resolve()))))
        writeFile(path.join(dir, "cut.jsonl.gz"), Buffer.concat(parts))
        const got = yield* readAll(Sources.jsonl, { path: "cut.jsonl.gz" }, dir)
        expect(asJson(got.rows)).toEqual(rows.slice(0, 49))
        expect(got.rejects).toHaveLength(1)
        expect(got.rejects[0]!.origin).toEqual({ file: "cut.jsonl.gz", line: 50 })
        expect(got.rejects[0]!.error).toBe("truncated gzip stream: unexpected end of file after line 49")
        expect(got.rejects[0]!.raw).toBe(text.slice(text.lastIndexOf("\n", cut - 1) + 1, cut))
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

describe("parquet units of unit_rows rows", () => {
  // Files shared by the tests below, written once: LMSYS-shaped rows as DuckDB writes them with
  // one row group (no page index; the content column is one page of > 8 MB, read as a snappy
  // stream), the same with DuckDB's V2 encodings, hyparquet-writer's file with one row group
  // (data page v2, ~1 MB pages, as `synthline sample` writes), and a hand-written data page v1
  // file whose pages cut rows.
  const seed = 11
  const n = 5000
  const dir = tempDir()
  const duck = path.join(dir, "duck.parquet")
  const duckV2 = path.join(dir, "duck-v2.parquet")
  const sampleOne = path.join(dir, "sample-one", "data", "train-00000-of-00001.parquet")
  const v1 = path.join(dir, "v1.parquet")
  const v1Rows = Array.from({ length: 150 }, (_, i) => v1Row(i))
  const records = Lmsys.records(seed, n)

  beforeAll(async () => {
    await duckdbOneRowGroup(dir, duck, n, seed)
    await duckdbOneRowGroup(dir, duckV2, n, seed, "V2")
    writeLmsysParquet(sampleOne, records.slice(0, 3000), 1_000_000)
    writeV1Parquet(v1, v1Rows, 29)
  })

  const ids = (units: ReadonlyArray<WorkUnit>) => units.map((u) => u.id)

  it.effect("plans ranges of unit_rows rows for a DuckDB file with one row group: ids, rows, ranges, bytes", () =>
    run(
      Effect.gen(function* () {
        const meta = yield* Effect.promise(() => footer(duck))
        expect(meta.row_groups.map((g) => Number(g.num_rows))).toEqual([n])
        expect(meta.row_groups[0]!.columns.every((c) => c.offset_index_offset === undefined)).toBe(true)
        const config = Schema.decodeUnknownSync(Sources.parquet.config)({ path: "duck.parquet", unit_rows: 1200 })
        const units = yield* Sources.parquet.plan(config, { baseDir: dir })
        expect(units.map((u) => [u.id, u.rowGroup, u.rowStart, u.rowEnd, u.rows])).toEqual([
          ["duck.parquet#rg0:0-1200", 0, 0, 1200, 1200],
          ["duck.parquet#rg0:1200-2400", 0, 1200, 2400, 1200],
          ["duck.parquet#rg0:2400-3600", 0, 2400, 3600, 1200],
          ["duck.parquet#rg0:3600-4800", 0, 3600, 4800, 1200],
          ["duck.parquet#rg0:4800-5000", 0, 4800, 5000, 200]
        ])
        expect(units.every((u) => u.file === duck && unitFile(u) === "duck.parquet" && (u.bytes ?? 0) > 0)).toBe(true)
        expect(units.reduce((s, u) => s + (u.bytes ?? 0), 0)).toBe(Number(meta.row_groups[0]!.total_compressed_size))
        expect(yield* Sources.parquet.plan(config, { baseDir: dir })).toEqual(units)
        // A row group of at most unit_rows rows stays one unit with the id it always had.
        const whole = yield* Sources.parquet.plan(Schema.decodeUnknownSync(Sources.parquet.config)({ path: "duck.parquet", unit_rows: n }), { baseDir: dir })
        expect(whole).toEqual([{ id: "duck.parquet#rg0", file: duck, rowGroup: 0, rows: n, bytes: units.reduce((s, u) => s + (u.bytes ?? 0), 0) }])
        const byDefault = Schema.decodeUnknownSync(Sources.parquet.config)({ path: "duck.parquet" })
        expect(byDefault.unit_rows).toBe(10_000)
        expect(ids(yield* Sources.parquet.plan(byDefault, { baseDir: dir }))).toEqual(["duck.parquet#rg0"])
        for (const bad of [0, -5, 1.5, "10"]) {
          expect(() => Schema.decodeUnknownSync(Sources.parquet.config)({ path: "duck.parquet", unit_rows: bad })).toThrow()
        }
        expect(Reference.optionsOf(Sources.parquet.config).find((o) => o.name === "unit_rows")).toEqual({
          name: "unit_rows",
          type: "integer",
          required: false,
          constraints: "≥ 1",
          default: 10_000,
          description: expect.stringContaining("work unit")
        })
      })
    ))

  it.effect("reads every unit of a DuckDB file: the rows of the unsplit file, in order, with their origins", () =>
    run(
      Effect.gen(function* () {
        const pages = yield* Effect.promise(() => pagesOf(duck, 0, "conversation.list.element.content"))
        expect(pages.map((p) => p.type)).toEqual(["DATA_PAGE"])
        expect(pages[0]!.uncompressed).toBeGreaterThan(8 * 1024 * 1024)
        // Whole arrays compared as JSON text: toEqual over 5,000 nested rows takes seconds.
        const expected = JSON.stringify(records)
        const origins = (file: string) => JSON.stringify(records.map((_, row) => ({ file, row })))
        cursorCache.clear()
        const split = yield* readAll(Sources.parquet, { path: "duck.parquet", unit_rows: 1200 }, dir)
        expect(split.units).toHaveLength(5)
        expect(split.rejects).toEqual([])
        expect(JSON.stringify(split.rows)).toBe(expected)
        expect(JSON.stringify(split.rows.map(origin))).toBe(origins("duck.parquet"))
        expect(cursorCache.size).toBe(0)
        const whole = yield* readAll(Sources.parquet, { path: "duck.parquet", unit_rows: 1_000_000, validate: "none" }, dir)
        expect(whole.units).toHaveLength(1)
        expect(JSON.stringify(whole.rows)).toBe(expected)
        expect(JSON.stringify(whole.rows.map(origin))).toBe(origins("duck.parquet"))
        // DuckDB's V2 encodings (DELTA_LENGTH_BYTE_ARRAY strings), and only some columns.
        const v2 = yield* readAll(Sources.parquet, { path: "duck-v2.parquet", unit_rows: 777, validate: "none" }, dir)
        expect(v2.units).toHaveLength(7)
        expect(JSON.stringify(v2.rows)).toBe(expected)
        expect(JSON.stringify(v2.rows.map(origin))).toBe(origins("duck-v2.parquet"))
        const some = yield* readAll(Sources.parquet, { path: "duck.parquet", unit_rows: 1500 }, dir, ["conversation_id", "openai_moderation.0.flagged"])
        expect(JSON.stringify(some.rows)).toBe(JSON.stringify(records.map((r) => ({ conversation_id: r.conversation_id, openai_moderation: r.openai_moderation }))))
      })
    ))

  it.effect("reads a unit in the middle alone, and units out of order, each exactly its range", () =>
    run(
      Effect.gen(function* () {
        const config = Schema.decodeUnknownSync(Sources.parquet.config)({ path: "duck.parquet", unit_rows: 1200 })
        const env = { baseDir: dir }
        const units = yield* Sources.parquet.plan(config, env)
        const readUnit = (u: WorkUnit) =>
          Effect.map(Stream.runCollect(Sources.parquet.read(u, config, { reject: () => expect.unreachable() }, env)), Chunk.toReadonlyArray)
        for (const order of [[2], [4, 3, 1], [1, 1, 0]]) {
          cursorCache.clear()
          for (const k of order) {
            const u = units[k]!
            const rows = yield* readUnit(u)
            expect(JSON.stringify(rows)).toBe(JSON.stringify(records.slice(u.rowStart, u.rowEnd)))
            expect(rows.map(origin)).toEqual(records.slice(u.rowStart, u.rowEnd).map((_, i) => ({ file: "duck.parquet", row: u.rowStart! + i })))
          }
        }
        const outside = yield* Effect.exit(readUnit({ ...units[4]!, id: "duck.parquet#rg0:4800-5200", rowEnd: 5200 }))
        expect(String(outside)).toMatch(/rows 4800-5200 are not in row group 0 \(it has 5000 rows\)/)
      })
    ))

  /**
   * Rows `[start, end)` of row group 0 read with the fast assembler, the bytes it fetched, the
   * largest single fetch, and the bytes it fetched of the `path` column chunk.
   */
  const readRange = async (file: string, start: number, end: number, key?: string, path = "conversation.list.element.content") => {
    const buffer = await asyncBufferFromFile(file)
    const metadata = await parquetMetadataAsync(buffer)
    const chunk = metadata.row_groups[0]!.columns.find((c) => c.meta_data?.path_in_schema.join(".") === path)?.meta_data
    const from = Number(chunk?.data_page_offset ?? 0n)
    const to = from + Number(chunk?.total_compressed_size ?? 0n)
    let fetched = 0
    let largest = 0
    let ofChunk = 0
    const counted = {
      byteLength: buffer.byteLength,
      slice: (a: number, b = buffer.byteLength) => {
        fetched += b - a
        largest = Math.max(largest, b - a)
        ofChunk += Math.max(0, Math.min(b, to) - Math.max(a, from))
        return buffer.slice(a, b)
      }
    }
    const prepared = await prepareRowGroup(counted, metadata, 0, undefined, { start, end }, key === undefined ? undefined : { cache: footers.cursors!, key })
    if (prepared._tag !== "Ok") throw new Error(prepared.reason)
    return { rows: prepared.reader.next(end - start + 1), fetched, largest, ofChunk, chunkBytes: to - from }
  }

  it.effect("ranges that start and end at page boundaries and inside pages (data page v2, rows aligned to pages)", () =>
    Effect.promise(async () => {
      const all = JSON.parse(JSON.stringify(records.slice(0, 3000)))
      const pages = (await pagesOf(sampleOne, 0, "conversation.list.element.content")).filter((p) => p.type === "DATA_PAGE_V2")
      expect(pages.length).toBeGreaterThan(4)
      const bounds: Array<number> = []
      for (const p of pages.slice(0, -1)) bounds.push((bounds[bounds.length - 1] ?? 0) + p.rows!)
      const [b1, b2, b3] = [bounds[0]!, bounds[1]!, bounds[2]!]
      const ranges: Array<readonly [number, number]> = [
        [0, b1], [b1, b2], [b1 - 1, b1 + 1], [b1, b1 + 1], [b1 - 1, b1], [b1 + 1, b3 - 1], [b2, 3000], [17, 2999], [2999, 3000], [0, 3000]
      ]
      for (const [start, end] of ranges) {
        cursorCache.clear()
        expect(JSON.stringify((await readRange(sampleOne, start, end)).rows), `rows ${start}-${end}`).toBe(JSON.stringify(all.slice(start, end)))
      }
      // Ranges in order continue one cursor: each byte of the row group is fetched about once,
      // in windows, never a whole column chunk at once.
      cursorCache.clear()
      const meta = await footer(sampleOne)
      const chunkBytes = Number(meta.row_groups[0]!.columns.find((c) => c.meta_data?.path_in_schema.join(".") === "conversation.list.element.content")!.meta_data!.total_compressed_size)
      const groupBytes = Number(meta.row_groups[0]!.total_compressed_size)
      let fetched = 0
      let largest = 0
      const got: Array<unknown> = []
      for (let start = 0; start < 3000; start += b1 + 3) {
        const r = await readRange(sampleOne, start, Math.min(3000, start + b1 + 3), "sample-one")
        got.push(...r.rows)
        fetched += r.fetched
        largest = Math.max(largest, r.largest)
      }
      expect(JSON.stringify(got)).toBe(JSON.stringify(all))
      expect(cursorCache.size).toBe(0)
      expect(largest).toBeLessThanOrEqual(1 << 20)
      expect(largest).toBeLessThan(chunkBytes)
      expect(fetched).toBeLessThan(groupBytes * 1.5)
      // A kept cursor past a range's start is not used for it.
      cursorCache.clear()
      for (const [start, end] of [[0, 100], [50, 150], [149, 151], [150, 400], [399, 400]] as const) {
        expect(JSON.stringify((await readRange(sampleOne, start, end, "sample-one")).rows), `rows ${start}-${end}`).toBe(JSON.stringify(all.slice(start, end)))
      }
      // A range at the end read cold skips the content pages before it by their headers alone.
      cursorCache.clear()
      const last = await readRange(sampleOne, 2900, 3000)
      expect(last.rows).toEqual(all.slice(2900))
      expect(last.ofChunk).toBeLessThan(last.chunkBytes / 3)
    }))

  it.effect("ranges over data page v1 pages that cut rows, with a dictionary-encoded list column", () =>
    Effect.promise(async () => {
      const expected = JSON.parse(JSON.stringify(v1Rows))
      expect(await hyparquetRows(v1)).toEqual(expected)
      // Some tags page starts inside a row: the row's list continues on the next page.
      const entries = v1Rows.map((r) => Math.max(1, r.tags?.length ?? 1))
      const starts = [0]
      for (const e of entries) starts.push(starts[starts.length - 1]! + e)
      const cuts = Array.from({ length: Math.floor(starts[starts.length - 1]! / 29) }, (_, k) => 29 * (k + 1))
      expect(cuts.some((c) => !starts.includes(c))).toBe(true)
      for (let start = 0; start < v1Rows.length; start += 3) {
        for (const size of [1, 2, 13, 40]) {
          const end = Math.min(v1Rows.length, start + size)
          cursorCache.clear()
          expect((await readRange(v1, start, end)).rows, `rows ${start}-${end}`).toEqual(expected.slice(start, end))
        }
      }
    }))

  it.effect("the source splits the v1 file at any unit_rows, and shards of split units read exactly their rows", () =>
    run(
      Effect.gen(function* () {
        const expected = JSON.parse(JSON.stringify(v1Rows))
        for (const unitRows of [1, 7, 29, 149]) {
          cursorCache.clear()
          const got = yield* readAll(Sources.parquet, { path: "v1.parquet", unit_rows: unitRows, validate: "none" }, dir)
          expect(got.units).toHaveLength(Math.ceil(150 / unitRows))
          expect(asJson(got.rows)).toEqual(expected)
          expect(got.rows.map(origin)).toEqual(expected.map((_: unknown, row: number) => ({ file: "v1.parquet", row })))
        }
        // Shards of split units: round-robin units, together every row exactly once.
        const env = { baseDir: dir }
        for (const [options, count, rows] of [
          [{ path: "v1.parquet", unit_rows: 20 }, 3, 150],
          [{ path: "duck.parquet", unit_rows: 1000 }, 2, n]
        ] as const) {
          const config = Schema.decodeUnknownSync(Sources.parquet.config)({ ...options, validate: "none" })
          const units = yield* Sources.parquet.plan(config, env)
          expect(units).toHaveLength(Math.ceil(rows / options.unit_rows))
          const seen: Array<string> = []
          for (let index = 0; index < count; index++) {
            cursorCache.clear()
            const mine = Shard.select(units, { index, count })
            expect(ids(mine)).toEqual(ids(units).filter((_, i) => i % count === index))
            for (const u of mine) {
              const got = Chunk.toReadonlyArray(yield* Stream.runCollect(Sources.parquet.read(u, config, { reject: () => expect.unreachable() }, env)))
              const want = options.path === "v1.parquet" ? expected.slice(u.rowStart, u.rowEnd) : records.slice(u.rowStart, u.rowEnd)
              expect(JSON.stringify(got)).toBe(JSON.stringify(want))
              for (const r of got) seen.push(JSON.stringify(origin(r)))
            }
          }
          expect(seen).toHaveLength(rows)
          expect(new Set(seen).size).toBe(rows)
        }
      })
    ))

  it.effect("a large page whose snappy stream reaches too far back for streaming is decompressed whole", () =>
    run(
      Effect.gen(function* () {
        // 24 notes of 400 KB in one ~10 MB page (read as a stream), compressed with back
        // references one note back: past what the stream keeps.
        const note = "n".repeat(100) + Array.from({ length: 400 * 1024 - 100 }, (_, i) => String.fromCharCode(97 + ((i * 7919) % 26))).join("")
        const rows = Array.from({ length: 24 }, (_, id) => ({ id, tags: [`t${id % 3}`], note }))
        writeV1Parquet(path.join(dir, "far.parquet"), rows, 1000, farSnappy(4 + note.length))
        const pages = yield* Effect.promise(() => pagesOf(path.join(dir, "far.parquet"), 0, "note"))
        expect(pages[0]!.uncompressed).toBeGreaterThan(8 * 1024 * 1024)
        const got = yield* readAll(Sources.parquet, { path: "far.parquet", unit_rows: 5, validate: "none" }, dir)
        expect(got.rejects).toEqual([])
        expect(got.units).toHaveLength(5)
        expect(JSON.stringify(got.rows)).toBe(JSON.stringify(rows))
      })
    ))

  it.effect("the hyparquet fallback (a map column) reads ranges too", () =>
    run(
      Effect.gen(function* () {
        const { parquetWriteBuffer } = yield* Effect.promise(() => import("hyparquet-writer"))
        const maps = Array.from({ length: 25 }, (_, i) => (i % 6 === 5 ? null : { a: i, b: i * 2 }))
        writeFile(
          path.join(dir, "maps.parquet"),
          new Uint8Array(
            parquetWriteBuffer({
              schema: [
                { name: "root", num_children: 2 },
                { name: "id", type: "INT32", repetition_type: "REQUIRED" },
                { name: "m", repetition_type: "OPTIONAL", converted_type: "MAP", num_children: 1 },
                { name: "key_value", repetition_type: "REPEATED", num_children: 2 },
                { name: "key", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "REQUIRED" },
                { name: "value", type: "INT32", repetition_type: "OPTIONAL" }
              ],
              columnData: [
                { name: "id", data: maps.map((_, i) => i) },
                { name: "m", data: maps }
              ]
            })
          )
        )
        const expected = maps.map((m, id) => ({ id, m }))
        const got = yield* readAll(Sources.parquet, { path: "maps.parquet", unit_rows: 4, validate: "none" }, dir)
        expect(ids(got.units)).toEqual(Array.from({ length: 7 }, (_, k) => `maps.parquet#rg0:${4 * k}-${Math.min(25, 4 * k + 4)}`))
        expect(asJson(got.rows)).toEqual(expected)
        expect(got.rows.map(origin)).toEqual(expected.map((_, row) => ({ file: "maps.parquet", row })))
        const config = Schema.decodeUnknownSync(Sources.parquet.config)({ path: "maps.parquet", unit_rows: 4, validate: "none" })
        const middle = yield* Stream.runCollect(Sources.parquet.read(got.units[3]!, config, { reject: () => expect.unreachable() }, { baseDir: dir }))
        expect(asJson(Chunk.toReadonlyArray(middle))).toEqual(expected.slice(12, 16))
      })
    ))
})

import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Schema } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as zlib from "node:zlib"
import type { Row } from "../src/Row.js"
import type { OutputFile, SinkCheckpoint, SinkDefinition, SinkWriter } from "../src/Sink.js"
import * as Sinks from "../src/io/sinks.js"
import { LineEncoder } from "../src/internal/exec/encode.js"
import * as Sources from "../src/io/sources.js"
import { asJson, lmsysRow, readAll, tempDir, writeFile } from "./support/io.js"

const run = <A, E>(effect: Effect.Effect<A, E, NodeContext.NodeContext>) => effect.pipe(Effect.provide(NodeContext.layer))

/** Opens a writer on `dir` in its own scope, runs `use`, and closes it (as a process exit would). */
const withWriter = <A>(
  sink: SinkDefinition<Sinks.JsonlConfig> | SinkDefinition<Sinks.ParquetConfig>,
  options: unknown,
  dir: string,
  resume: SinkCheckpoint | undefined,
  use: (w: SinkWriter) => Effect.Effect<A, unknown>
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const writer =
        sink.type === "parquet"
          ? yield* Sinks.parquet.open(Schema.decodeUnknownSync(Sinks.parquet.config)(options), { dir, prefix: "part", resume })
          : yield* Sinks.jsonl.open(Schema.decodeUnknownSync(Sinks.jsonl.config)(options), { dir, prefix: "part", resume })
      return yield* use(writer)
    })
  )

const writeIn = (w: SinkWriter, rows: ReadonlyArray<Row>, size: number) =>
  Effect.gen(function* () {
    for (let i = 0; i < rows.length; i += size) yield* w.write(Chunk.fromIterable(rows.slice(i, i + size)))
  })

const listing = (dir: string): Array<string> => fs.readdirSync(dir).sort()

const filesOf = (dir: string): { [name: string]: string } =>
  Object.fromEntries(
    fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => [e.name, fs.readFileSync(path.join(dir, e.name)).toString("base64")])
  )

const rows = (from: number, n: number): Array<Row> => Array.from({ length: n }, (_, i) => lmsysRow(from + i))

const jsonLines = (text: string): Array<unknown> =>
  text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l))

describe("jsonl sink", () => {
  it.effect("rotates parts every shard_rows rows with .partial names until complete", () =>
    run(
      Effect.gen(function* () {
        const dir = tempDir()
        const data = rows(0, 10)
        const files = yield* withWriter(Sinks.jsonl, { path: "out", compression: "none", shard_rows: 4 }, dir, undefined, (w) =>
          Effect.gen(function* () {
            yield* writeIn(w, data.slice(0, 5), 3)
            expect(listing(dir)).toEqual(["part-00000.jsonl", "part-00001.jsonl.partial"])
            yield* writeIn(w, data.slice(5), 3)
            return yield* w.finish
          })
        )
        expect(listing(dir)).toEqual(["part-00000.jsonl", "part-00001.jsonl", "part-00002.jsonl"])
        const texts = listing(dir).map((n) => fs.readFileSync(path.join(dir, n), "utf8"))
        expect(texts.map(jsonLines)).toEqual([data.slice(0, 4), data.slice(4, 8), data.slice(8)])
        expect(texts[0]!.split("\n")[0]).toBe(JSON.stringify(data[0]))
        expect(files).toEqual(
          listing(dir).map((name, k): OutputFile => {
            const bytes = fs.readFileSync(path.join(dir, name))
            return {
              path: name,
              rows: k < 2 ? 4 : 2,
              bytes: bytes.length,
              sha256: crypto.createHash("sha256").update(bytes).digest("hex")
            }
          })
        )
      })
    ))

  it.effect("writes gzip with one member per commit; every committed prefix gunzips to the rows so far", () =>
    run(
      Effect.gen(function* () {
        const dir = tempDir()
        const data = rows(0, 30)
        yield* withWriter(Sinks.jsonl, { path: "out" }, dir, undefined, (w) =>
          Effect.gen(function* () {
            for (let u = 0; u < 3; u++) {
              yield* writeIn(w, data.slice(u * 10, u * 10 + 10), 4)
              yield* w.commit
              const onDisk = fs.readFileSync(path.join(dir, "part-00000.jsonl.gz.partial"))
              expect(jsonLines(zlib.gunzipSync(onDisk).toString("utf8"))).toEqual(data.slice(0, u * 10 + 10))
            }
            return yield* w.finish
          })
        )
        const gz = fs.readFileSync(path.join(dir, "part-00000.jsonl.gz"))
        // Three members: each starts with the gzip magic and deflate method bytes.
        let members = 0
        for (let i = 0; i + 2 < gz.length; i++) if (gz[i] === 0x1f && gz[i + 1] === 0x8b && gz[i + 2] === 8) members++
        expect(members).toBeGreaterThanOrEqual(3)
        expect(jsonLines(zlib.gunzipSync(gz).toString("utf8"))).toEqual(data)
      })
    ))

  it.effect("starts fresh: removes old parts of its prefix only", () =>
    run(
      Effect.gen(function* () {
        const dir = tempDir()
        writeFile(path.join(dir, "part-00000.jsonl.gz"), "old")
        writeFile(path.join(dir, "part-00007.jsonl.gz.partial"), "old")
        writeFile(path.join(dir, "part-00001-of-00002-00000.jsonl.gz"), "other shard")
        writeFile(path.join(dir, "manifest.json"), "{}")
        writeFile(path.join(dir, "_state/run.json"), "{}")
        writeFile(path.join(dir, "rejects/part-00000.jsonl"), "r")
        yield* withWriter(Sinks.jsonl, { path: "out" }, dir, undefined, (w) =>
          Effect.zipRight(w.write(Chunk.fromIterable(rows(0, 2))), w.finish)
        )
        expect(listing(dir)).toEqual(["_state", "manifest.json", "part-00000.jsonl.gz", "part-00001-of-00002-00000.jsonl.gz", "rejects"])
        expect(jsonLines(zlib.gunzipSync(fs.readFileSync(path.join(dir, "part-00000.jsonl.gz"))).toString())).toEqual(rows(0, 2))
      })
    ))
})

/** Writes A, commits, writes B, commits, finishes: the uninterrupted run. */
const straightRun = (sink: SinkDefinition<Sinks.JsonlConfig> | SinkDefinition<Sinks.ParquetConfig>, options: unknown, a: Array<Row>, b: Array<Row>) =>
  Effect.gen(function* () {
    const dir = tempDir()
    const files = yield* withWriter(sink, options, dir, undefined, (w) =>
      Effect.gen(function* () {
        yield* writeIn(w, a, 5)
        yield* w.commit
        yield* writeIn(w, b, 5)
        yield* w.commit
        return yield* w.finish
      })
    )
    return { dir, files }
  })

/** Writes A, commits, writes B and "crashes" (no commit, garbage on disk), then resumes and writes B again. */
const crashedRun = (sink: SinkDefinition<Sinks.JsonlConfig> | SinkDefinition<Sinks.ParquetConfig>, options: unknown, a: Array<Row>, b: Array<Row>) =>
  Effect.gen(function* () {
    const dir = tempDir()
    writeFile(path.join(dir, "manifest.json"), "{}")
    const checkpoint = yield* withWriter(sink, options, dir, undefined, (w) =>
      Effect.gen(function* () {
        yield* writeIn(w, a, 3)
        const cp = yield* w.commit
        yield* writeIn(w, b, 7)
        return cp
      })
    )
    // Damage what came after the checkpoint: bytes appended to every file in progress, a stray part.
    for (const name of fs.readdirSync(dir)) {
      if (name.endsWith(".partial") || name.endsWith(".spool")) fs.appendFileSync(path.join(dir, name), "garbage\n{")
    }
    writeFile(path.join(dir, `part-00042.${sink.type === "parquet" ? "parquet" : "jsonl.gz"}`), "stray")
    const resumeFrom: unknown = JSON.parse(JSON.stringify(checkpoint))
    const files = yield* withWriter(sink, options, dir, resumeFrom, (w) =>
      Effect.gen(function* () {
        yield* writeIn(w, b, 4)
        yield* w.commit
        return yield* w.finish
      })
    )
    return { dir, files, checkpoint }
  })

describe("resume", () => {
  const a = rows(0, 7)
  const b = rows(7, 16)

  it.effect("jsonl gzip: a resumed run is byte-identical to an uninterrupted one", () =>
    run(
      Effect.gen(function* () {
        const options = { path: "out", compression: "gzip", shard_rows: 5 }
        const straight = yield* straightRun(Sinks.jsonl, options, a, b)
        const crashed = yield* crashedRun(Sinks.jsonl, options, a, b)
        expect(crashed.checkpoint).toMatchObject({ part: 1, rowsInPart: 2 })
        const { "manifest.json": manifest, ...rest } = filesOf(crashed.dir)
        expect(manifest).toBeDefined()
        expect(rest).toEqual(filesOf(straight.dir))
        expect(Object.keys(rest)).toHaveLength(5)
        expect(crashed.files).toEqual(straight.files)
      })
    ))

  it.effect("jsonl plain: same, also when the crash came right after a rotation", () =>
    run(
      Effect.gen(function* () {
        const options = { path: "out", compression: "none", shard_rows: 7 }
        const straight = yield* straightRun(Sinks.jsonl, options, a, b)
        const crashed = yield* crashedRun(Sinks.jsonl, options, a, b)
        expect(crashed.checkpoint).toMatchObject({ part: 1, rowsInPart: 0, bytes: 0 })
        const { "manifest.json": _, ...rest } = filesOf(crashed.dir)
        expect(rest).toEqual(filesOf(straight.dir))
        expect(crashed.files).toEqual(straight.files)
      })
    ))

  it.effect("parquet: a resumed run is byte-identical to an uninterrupted one", () =>
    run(
      Effect.gen(function* () {
        const options = { path: "out", shard_rows: 10, row_group_rows: 3 }
        const straight = yield* straightRun(Sinks.parquet, options, a, b)
        const crashed = yield* crashedRun(Sinks.parquet, options, a, b)
        const { "manifest.json": _, ...rest } = filesOf(crashed.dir)
        expect(Object.keys(rest).sort()).toEqual(["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"])
        expect(rest).toEqual(filesOf(straight.dir))
        expect(crashed.files).toEqual(straight.files)
      })
    ))

  it.effect("a checkpoint reopened after finish (crash before the manifest) gives the same files", () =>
    run(
      Effect.gen(function* () {
        for (const [sink, options] of [
          [Sinks.parquet, { path: "out", shard_rows: 0 }],
          [Sinks.jsonl, { path: "out", shard_rows: 0 }]
        ] as const) {
          const dir = tempDir()
          const first = yield* withWriter(sink, options, dir, undefined, (w) =>
            Effect.gen(function* () {
              yield* writeIn(w, a, 4)
              const cp = yield* w.commit
              return { cp, files: yield* w.finish }
            })
          )
          const before = filesOf(dir)
          const again = yield* withWriter(sink, options, dir, first.cp, (w) => w.finish)
          expect(again).toEqual(first.files)
          expect(filesOf(dir)).toEqual(before)
        }
      })
    ))

  it.effect("refuses a checkpoint whose files are gone", () =>
    run(
      Effect.gen(function* () {
        const dir = tempDir()
        const exit = yield* Effect.exit(
          withWriter(Sinks.jsonl, { path: "out" }, dir, { part: 2, rowsInPart: 1, bytes: 10, files: [] }, (w) => w.finish)
        )
        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isFailure(exit)) expect(String(exit.cause)).toMatch(/cannot resume: the part in progress is missing/)
      })
    ))
})

describe("parquet sink", () => {
  it.effect("round-trips LMSYS rows through the parquet source exactly", () =>
    run(
      Effect.gen(function* () {
        const dir = tempDir()
        const data = rows(0, 23)
        const files = yield* withWriter(Sinks.parquet, { path: "out", shard_rows: 0, row_group_rows: 10 }, dir, undefined, (w) =>
          Effect.zipRight(writeIn(w, data, 6), w.finish)
        )
        expect(files.map((f) => [f.path, f.rows])).toEqual([["part-00000.parquet", 23]])
        expect(listing(dir)).toEqual(["part-00000.parquet"])
        const got = yield* readAll(Sources.parquet, { path: "*.parquet" }, dir)
        expect(got.units.map((u) => u.rows)).toEqual([10, 10, 3])
        expect(got.rejects).toEqual([])
        expect(asJson(got.rows)).toEqual(data)
        expect(typeof got.rows[0]!.turn).toBe("number")
      })
    ))

  it.effect("infers optional, nested and mixed-type columns", () =>
    run(
      Effect.gen(function* () {
        const dir = tempDir()
        const data: Array<Row> = [
          { id: 1, score: 0.5, note: "a", tags: ["x", "y"], meta: { k: 1, deep: [{ v: true }] }, mixed: 1, empty: [] },
          { id: 2, score: 2, note: null, tags: [], meta: { k: 2, deep: [] }, mixed: "two", empty: [] },
          { id: 3, score: -1.25, note: "c", tags: ["z"], meta: { k: 3, deep: [{ v: false }, { v: true }] }, mixed: { three: [3] }, empty: [] }
        ]
        yield* withWriter(Sinks.parquet, { path: "out" }, dir, undefined, (w) => Effect.zipRight(w.write(Chunk.fromIterable(data)), w.finish))
        const got = yield* readAll(Sources.parquet, { path: "*.parquet", validate: "none" }, dir)
        expect(asJson(got.rows)).toEqual(data)
      })
    ))
})

describe("rows encoded in worker threads (writeEncoded)", () => {
  const cases = [
    { sink: Sinks.jsonl, options: { path: "out", shard_rows: 7 }, gzip: 6 },
    { sink: Sinks.jsonl, options: { path: "out", compression: "none", shard_rows: 7 }, gzip: undefined },
    { sink: Sinks.parquet, options: { path: "out", shard_rows: 7, row_group_rows: 3 }, gzip: undefined }
  ] as const
  for (const c of cases) {
    it.effect(`gives the files write gives, units cut at part boundaries included (${c.sink.type}${c.gzip ? " gzip" : ""})`, () =>
      run(
        Effect.gen(function* () {
          // Units of 5, 1, 9 and 4 rows against parts of 7: units end inside parts, parts inside units.
          const units = [rows(0, 5), rows(5, 1), rows(6, 9), rows(15, 4)]
          const byRows = tempDir()
          const byBytes = tempDir()
          yield* withWriter(c.sink, c.options, byRows, undefined, (w) =>
            Effect.gen(function* () {
              for (const u of units) {
                yield* writeIn(w, u, 2)
                yield* w.commit
              }
              return yield* w.finish
            })
          )
          yield* withWriter(c.sink, c.options, byBytes, undefined, (w) =>
            Effect.gen(function* () {
              for (const u of units) {
                const encoder = new LineEncoder(c.gzip)
                for (const r of u) encoder.push(r)
                yield* w.writeEncoded!(yield* Effect.promise(() => encoder.finish()))
                yield* w.commit
              }
              return yield* w.finish
            })
          )
          expect(listing(byBytes)).toEqual(listing(byRows))
          expect(listing(byRows).filter((f) => f.startsWith("part-"))).toHaveLength(3)
          expect(filesOf(byBytes)).toEqual(filesOf(byRows))
        })
      )
    )
  }
})

import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Schema } from "effect"
import { createHash } from "node:crypto"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { availableParallelism, tmpdir } from "node:os"
import { join } from "node:path"
import * as CoreStages from "../src/stages/core.js"
import * as Errors from "../src/Errors.js"
import * as Pipeline from "../src/Pipeline.js"
import * as Progress from "../src/Progress.js"
import * as Registry from "../src/Registry.js"
import type * as Row from "../src/Row.js"
import * as Runner from "../src/Runner.js"
import * as Lmsys from "./support/lmsys.js"
import * as Sinks from "../src/io/sinks.js"
import * as Sources from "../src/io/sources.js"
import * as Stage from "../src/Stage.js"
import { writeLmsysParquet } from "./support/io.js"
import { duckdbOneRowGroup, footer } from "./support/parquetFiles.js"

const dir = mkdtempSync(join(tmpdir(), "synthline-runner-"))
mkdirSync(join(dir, "in"))
const records = Lmsys.records(11, 300)
// Two input files → two work units.
writeFileSync(join(dir, "in/a.jsonl"), `${records.slice(0, 150).map((r) => JSON.stringify(r)).join("\n")}\n`)
writeFileSync(join(dir, "in/b.jsonl"), `${records.slice(150).map((r) => JSON.stringify(r)).join("\n")}\n`)

/** A stage that rejects rows of one model and routes/drops rows of another. */
const picky = Stage.make({
  id: "test/picky",
  description: "rejects vicuna-13b rows, drops claude-1 rows",
  config: Schema.Struct({}),
  requires: ["model"],
  provides: [],
  make: (_config, ctx) =>
    Effect.succeed(
      Stage.mapChunks((row: { readonly model: string }) => {
        if (row.model === "vicuna-13b") return void ctx.reject(row, "no vicunas")
        if (row.model === "claude-1") return void ctx.drop(row, "claude")
        return row
      })
    )
})

const lines = (d: string): Array<Record<string, unknown>> =>
  readdirSync(d)
    .filter((f) => f.endsWith(".jsonl"))
    .sort()
    .flatMap((f) => readFileSync(join(d, f), "utf8").split("\n").filter((l) => l !== ""))
    .map((l) => JSON.parse(l))

describe("Runner", () => {
  it.effect("runs a pipeline composed in TypeScript: rows, routes, rejects and manifest", () =>
    Effect.gen(function* () {
      const registry = yield* Registry.fromPlugins([])
      const out = join(dir, "out")
      const pipeline = Pipeline.from(Sources.jsonl, { path: "in/*.jsonl" }).pipe(
        Pipeline.through(CoreStages.select, { languages: ["English"] }),
        Pipeline.through(CoreStages.firstTurn, {}),
        Pipeline.through(picky, {}, { route: "claude" }),
        Pipeline.to(Sinks.jsonl, { path: "out", compression: "none" }, {
          name: "typed",
          seed: 1,
          baseDir: dir,
          registry,
          branches: {
            claude: { def: Sinks.jsonl, config: Schema.decodeUnknownSync(Sinks.jsonl.config)({ path: "claude", compression: "none" }) }
          }
        })
      )
      const result = yield* Runner.run(pipeline, { maxErrors: 1000 })
      const english = records.filter((r) => r.language === "English")
      const kept = english.filter((r) => r.model !== "vicuna-13b" && r.model !== "claude-1")
      const rows = lines(out)
      expect(rows.map((r) => r.conversation_id)).toEqual(kept.map((r) => r.conversation_id))
      expect(rows.every((r) => (r.conversation as Array<unknown>).length === 1 && r.turn === 1)).toBe(true)
      const routed = lines(join(dir, "claude"))
      expect(routed.map((r) => r.conversation_id)).toEqual(english.filter((r) => r.model === "claude-1").map((r) => r.conversation_id))
      const rejects = lines(join(out, "rejects"))
      const vicunas = english.filter((r) => r.model === "vicuna-13b")
      expect(rejects.length).toBe(vicunas.length)
      expect(rejects[0]).toMatchObject({ stage: "test/picky", error: "no vicunas", source: { file: expect.stringMatching(/^in\/[ab]\.jsonl$/) } })
      const firstVicuna = records.findIndex((r) => r.conversation_id === vicunas[0]!.conversation_id)
      expect(rejects[0]!.source).toEqual({ file: firstVicuna < 150 ? "in/a.jsonl" : "in/b.jsonl", line: (firstVicuna % 150) + 1 })

      const m = result.manifest
      expect(m.status).toBe("complete")
      expect(m.source).toMatchObject({ units: 2, rows_read: 300, rejected: 0 })
      expect(m.stages.map((s) => [s.id, s.rows_in, s.rows_out])).toEqual([
        ["core/select", 300, english.length],
        ["core/first-turn", english.length, english.length],
        ["test/picky", english.length, kept.length]
      ])
      expect(m.stages[0]!.dropped).toEqual({ language: 300 - english.length })
      expect(m.stages[2]!.routed).toBe(routed.length)
      expect(m.stages[2]!.rejected).toBe(vicunas.length)
      expect(m.outputs.branches.claude!.rows).toBe(routed.length)
      for (const f of m.outputs.main.files) {
        expect(createHash("sha256").update(readFileSync(join(out, f.path))).digest("hex")).toBe(f.sha256)
      }
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("stops past --max-errors with exit code 1 and resumes when allowed more", () =>
    Effect.gen(function* () {
      const registry = yield* Registry.fromPlugins([])
      const pipeline = Pipeline.from(Sources.jsonl, { path: "in/*.jsonl" }).pipe(
        Pipeline.through(picky, {}),
        Pipeline.to(Sinks.jsonl, { path: "out-strict", compression: "none" }, { name: "strict", baseDir: dir, registry })
      )
      const stopped = yield* Runner.run(pipeline, { maxErrors: 0 }).pipe(Effect.either)
      expect(Either.isLeft(stopped)).toBe(true)
      if (Either.isLeft(stopped)) {
        expect(stopped.left.message).toMatch(/rows rejected, more than --max-errors 0/)
        expect(Errors.exitCodeOf(stopped.left)).toBe(1)
      }
      const resumed = yield* Runner.run(pipeline, { maxErrors: 10_000 })
      expect(resumed.manifest.resumed).toBe(true)
      expect(resumed.manifest.source.rows_read).toBe(300)
      expect(lines(join(dir, "out-strict")).length).toBe(records.filter((r) => r.model !== "vicuna-13b" && r.model !== "claude-1").length)
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("typed composition", () => {
  it("rejects at compile time a stage whose input fields the rows do not have", () => {
    const needsTranslation = Stage.make({
      id: "test/needs-translation",
      description: "reads translated_conversation",
      config: Schema.Struct({}),
      requires: ["translated_conversation"],
      provides: [],
      make: () => Effect.succeed(Stage.mapChunks((row: { readonly translated_conversation: ReadonlyArray<unknown> }) => row))
    })
    const start = Pipeline.from(Sources.jsonl, { path: "in/*.jsonl" })
    // @ts-expect-error LMSYS rows have no translated_conversation field
    start.pipe(Pipeline.through(needsTranslation, {}))
    const ok = start.pipe(Pipeline.through(CoreStages.firstTurn, { with_answer: true }))
    expect(ok.stages[0]!.config).toEqual({ with_answer: true })
  })
})

describe("units the source cannot read", () => {
  const flipPageHeader = async (file: string, k: number): Promise<void> => {
    const meta = await footer(file)
    const chunk = meta.row_groups[k]!.columns.find((c) => c.meta_data?.path_in_schema.join(".") === "conversation_id")!
    const bytes = readFileSync(file)
    const at = Number(chunk.meta_data!.data_page_offset)
    bytes[at] = bytes[at]! ^ 0xff
    writeFileSync(file, bytes)
  }

  const parquetRun = (base: string, out: string, options: Runner.RunOptions, unitRows?: number) =>
    Effect.gen(function* () {
      const registry = yield* Registry.fromPlugins([])
      const pipeline = Pipeline.from(Sources.parquet, { path: "data/*.parquet", ...(unitRows === undefined ? {} : { unit_rows: unitRows }) }).pipe(
        Pipeline.to(Sinks.jsonl, { path: out, compression: "none" }, { name: "lost", seed: 1, baseDir: base, registry })
      )
      const result = yield* Effect.either(Runner.run(pipeline, options))
      const manifest = JSON.parse(readFileSync(join(base, out, "manifest.json"), "utf8"))
      // Every rejects file, committed or not (a stopped run leaves them under their temporary name).
      const rejectsDir = join(base, out, "rejects")
      const rejects = readdirSync(rejectsDir)
        .sort()
        .flatMap((f) => readFileSync(join(rejectsDir, f), "utf8").split("\n").filter((l) => l !== ""))
        .map((l) => JSON.parse(l))
      return { result, manifest, rows: lines(join(base, out)), rejects }
    })

  it.effect("a corrupt page loses its row group: the rows lost count against --max-errors, and the manifest, reject and summary say where", () =>
    Effect.gen(function* () {
      const base = mkdtempSync(join(tmpdir(), "synthline-lost-"))
      writeLmsysParquet(join(base, "s/data/train-00000-of-00001.parquet"), Lmsys.records(3, 1000), 100)
      mkdirSync(join(base, "data"))
      const file = join(base, "data/train.parquet")
      writeFileSync(file, readFileSync(join(base, "s/data/train-00000-of-00001.parquet")))
      yield* Effect.promise(() => flipPageHeader(file, 3))
      let text = ""
      const stopped = yield* parquetRun(base, "out", { maxErrors: 1, reporter: Progress.plain((t) => {
          text += t
        }) })
      expect(Either.isLeft(stopped.result)).toBe(true)
      if (Either.isLeft(stopped.result)) {
        expect(stopped.result.left.message).toContain(
          "100 rows rejected or lost (100 lost with unreadable units: data/train.parquet row group 3 (rows 300-400)), more than --max-errors 1"
        )
      }
      expect(stopped.manifest.status).toBe("stopped")
      const where = { file: "data/train.parquet", row_group: 3, row_start: 300, row_end: 400, rows: 100 }
      expect(stopped.manifest.source.rows_lost).toBe(100)
      expect(stopped.manifest.source.lost).toEqual([expect.objectContaining({ ...where, unit: "data/train.parquet#rg3" })])
      expect(stopped.rejects).toEqual([
        expect.objectContaining({ stage: "source", lost: where, error: expect.stringMatching(/^corrupt parquet row group 3: .*; 100 rows lost \(rows 300-400 of the file\)$/) })
      ])
      expect(text).toContain("stopped: ")
      expect(text).toContain("rejected 1 · lost 100 rows in data/train.parquet row group 3 (rows 300-400)")
      // Allowed: the run resumes and completes, and the manifest still counts the rows lost.
      const done = yield* parquetRun(base, "out", { maxErrors: 100 })
      expect(Either.isRight(done.result)).toBe(true)
      expect(done.rows.length).toBe(900)
      expect(done.manifest.outputs.main.rows).toBe(900)
      expect(done.manifest.source.rows_lost).toBe(100)
    }).pipe(Effect.provide(NodeContext.layer)), 60_000)

  it.effect("a DuckDB file with a corrupt page loses the rows of every unit that needs it; a truncated file loses an unknown number and always fails", () =>
    Effect.gen(function* () {
      const base = mkdtempSync(join(tmpdir(), "synthline-lost-"))
      mkdirSync(join(base, "data"))
      const file = join(base, "data/duck.parquet")
      yield* Effect.promise(() => duckdbOneRowGroup(base, file, 1000, 5))
      const good = readFileSync(file)
      yield* Effect.promise(() => flipPageHeader(file, 0))
      const flipped = yield* parquetRun(base, "out-duck", { maxErrors: 1000 }, 250)
      expect(Either.isRight(flipped.result)).toBe(true)
      expect(flipped.manifest.source.rows_lost).toBe(1000)
      expect(flipped.manifest.source.lost.map((l: { row_start: number; row_end: number }) => [l.row_start, l.row_end])).toEqual([
        [0, 250],
        [250, 500],
        [500, 750],
        [750, 1000]
      ])
      const short = yield* parquetRun(base, "out-duck-999", { maxErrors: 999 }, 250)
      expect(Either.isLeft(short.result)).toBe(true)

      writeFileSync(file, good.subarray(0, Math.floor(good.length / 2)))
      const cut = yield* parquetRun(base, "out-cut", { maxErrors: 1_000_000 })
      expect(Either.isLeft(cut.result)).toBe(true)
      if (Either.isLeft(cut.result)) {
        expect(cut.result.left.message).toContain(
          "rows of unknown number were lost (data/duck.parquet: the file cannot be read), which --max-errors cannot allow"
        )
      }
      expect(cut.manifest.source.rows_lost).toBe(null)
      expect(cut.manifest.source.lost).toEqual([expect.objectContaining({ file: "data/duck.parquet", rows: null })])
      expect(cut.rejects[0].error).toMatch(/^corrupt parquet file: .*all its rows are lost \(how many is unknown: the footer cannot be read\)$/)
    }).pipe(Effect.provide(NodeContext.layer)), 60_000)
})

describe("workerPlan (how many worker threads a run uses)", () => {
  it.effect("auto: one per core for a run of 2+ units and 50,000+ rows; one thread for a smaller run; a number asks for exactly that", () =>
    Effect.gen(function* () {
      const registry = yield* Registry.fromPlugins([])
      const composed = Pipeline.from(Sources.jsonl, { path: "in/*.jsonl" }).pipe(
        Pipeline.through(CoreStages.firstTurn, {}),
        Pipeline.through(CoreStages.dedup, {}),
        Pipeline.to(Sinks.jsonl, { path: "out" }, { name: "plan", baseDir: dir, registry })
      )
      // A pipeline file's pipeline (workers load the file) with only worker-capable stages.
      const fromFile = { ...composed, file: join(dir, "plan.pipeline.yaml") }
      const same: Stage.Transform<Row.Row, Row.Row> = (rows) => rows
      const transforms = [same, same]
      const cores = availableParallelism()
      expect(Runner.workerPlan("auto", fromFile, transforms, 12, 12_000)).toEqual({ workers: 1 })
      expect(Runner.workerPlan("auto", fromFile, transforms, 12, 120_000)).toEqual({ workers: Math.min(cores, 12) })
      // Unknown row counts (JSON-lines files) go by units.
      expect(Runner.workerPlan("auto", fromFile, transforms, 3, undefined)).toEqual({ workers: Math.min(cores, 3) })
      expect(Runner.workerPlan("auto", fromFile, transforms, 1, 500_000)).toEqual({ workers: 1 })
      expect(Runner.workerPlan(3, fromFile, transforms, 12, 1_000)).toEqual({ workers: 3 })
      expect(Runner.workerPlan(8, fromFile, transforms, 2, 1_000)).toEqual({ workers: 2 })
      expect(Runner.workerPlan(undefined, fromFile, transforms, 12, 500_000)).toEqual({ workers: 1 })
      // A pipeline composed in code cannot be loaded by a worker: asked for, it says so.
      expect(Runner.workerPlan("auto", composed, transforms, 12, 500_000)).toEqual({ workers: 1 })
      expect(Runner.workerPlan(2, composed, transforms, 12, 500_000).warning).toContain("--workers 2: running in one thread, because the pipeline was composed in code")
    }).pipe(Effect.provide(NodeContext.layer))
  )
})

describe("work units through stages that build rows anew", () => {
  it.effect("a stage that makes new row objects (core/fields keep) keeps each row in its unit: every unit commits its own rows", () =>
    Effect.gen(function* () {
      const registry = yield* Registry.fromPlugins([])
      const piped = Pipeline.from(Sources.jsonl, { path: "in/*.jsonl" }).pipe(
        Pipeline.through(CoreStages.fields, { keep: ["conversation_id", "model"] }),
        Pipeline.to(Sinks.jsonl, { path: "out-fields", compression: "none", shard_rows: 0 }, { name: "fields", baseDir: dir, registry })
      )
      yield* Runner.run(piped, { fresh: true })
      const marker = (seq: number) =>
        JSON.parse(readFileSync(join(dir, "out-fields", "_state/run/units", `${String(seq).padStart(6, "0")}.json`), "utf8")) as {
          stats: { rows_written: number }
          sinks: { main: { rowsInPart: number } }
        }
      // Unit 0 is a.jsonl (150 rows): its commit holds its 150 rows, not the whole input.
      expect(marker(0).stats.rows_written).toBe(150)
      expect(marker(0).sinks.main.rowsInPart).toBe(150)
      expect(marker(1).stats.rows_written).toBe(300)
    }).pipe(Effect.provide(NodeContext.layer))
  )
})

import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Schema, Stream } from "effect"
import { StageError } from "../src/Errors.js"
import type { Row } from "../src/Row.js"
import * as Stage from "../src/Stage.js"
import { assertStats, counts, decodeConfig, recordingContext, runInParts, runStage, splitAt } from "../src/Testing.js"

/** A stage that keeps even `n`, drops multiples of 3 (`three`), rejects rows without `n`. */
const parity = Stage.make({
  id: "test/parity",
  description: "parity test stage",
  config: Schema.Struct({
    // Encoded as a string, so the test sees that runStage decodes the options.
    label: Schema.optionalWith(Schema.NumberFromString, { exact: true, default: () => 0 })
  }),
  requires: ["n"],
  provides: ["label"],
  make: (config, ctx) =>
    Effect.succeed(
      Stage.mapChunks<Row, Row>((row) => {
        const n = row.n
        if (typeof n !== "number") {
          ctx.reject(row, "field `n` is missing")
          return undefined
        }
        if (n % 3 === 0) return void ctx.drop(row, "three")
        if (n % 2 === 1) return void ctx.drop(row, "odd")
        return { ...row, label: config.label, seed: ctx.seed, stage: ctx.stageId }
      })
    )
})

/** A stateful stage numbering rows across work units; journals the running number, and chunk sizes. */
const numbering = Stage.make({
  id: "test/numbering",
  description: "numbering test stage",
  config: Stage.NoConfig,
  requires: [],
  provides: ["index"],
  stateful: true,
  make: (_config, ctx) =>
    Effect.gen(function* () {
      const last = ctx.journal.recovered.filter((e) => e.startsWith("count ")).at(-1)
      let count = last === undefined ? 0 : Number(last.slice(6))
      return (rows: Stream.Stream<Row, StageError>) =>
        rows.pipe(
          Stream.mapChunks((chunk) => {
            ctx.journal.append(`chunk ${chunk.length}`)
            const out = Chunk.map(chunk, (row) => ({ ...row, index: count++ }))
            ctx.journal.append(`count ${count}`)
            return out
          })
        )
    })
})

const rows: ReadonlyArray<Row> = [{ n: 1 }, { n: 2 }, { n: 3 }, { x: "no n" }, { n: 4 }, { n: 5 }, { n: 6 }, { n: 8 }]

describe("Testing.runStage", () => {
  it.effect("reports emitted, dropped and rejected rows in order, with reasons and counts", () =>
    Effect.gen(function* () {
      const r = yield* runStage(parity, { label: "7" }, rows, { seed: 42 })
      expect(r.rows).toEqual([
        { n: 2, label: 7, seed: 42, stage: "test/parity" },
        { n: 4, label: 7, seed: 42, stage: "test/parity" },
        { n: 8, label: 7, seed: 42, stage: "test/parity" }
      ])
      expect(r.dropped).toEqual([
        { row: { n: 1 }, reason: "odd" },
        { row: { n: 3 }, reason: "three" },
        { row: { n: 5 }, reason: "odd" },
        { row: { n: 6 }, reason: "three" }
      ])
      expect(r.dropped[0]!.row).toBe(rows[0])
      expect(r.droppedByReason).toEqual({ odd: 2, three: 2 })
      expect(r.rejected).toEqual([{ row: { x: "no n" }, error: "field `n` is missing" }])
      expect(r.journal).toEqual([])
      expect(counts(r)).toEqual({ rows: 3, dropped: 4, rejected: 1 })
    }))

  it.effect("fills option defaults and passes seed 0 and the stage id by default", () =>
    Effect.gen(function* () {
      const r = yield* runStage(parity, {}, [{ n: 2 }])
      expect(r.rows).toEqual([{ n: 2, label: 0, seed: 0, stage: "test/parity" }])
      const named = yield* runStage(parity, {}, [{ n: 2 }], { stageId: "test/parity#2" })
      expect(named.rows[0]!.stage).toBe("test/parity#2")
    }))

  it.effect("fails with the ParseError of invalid or unknown options", () =>
    Effect.gen(function* () {
      const bad = yield* runStage(parity, { label: "seven" }, rows).pipe(Effect.flip)
      expect(bad._tag).toBe("ParseError")
      expect(bad.message).toContain('Unable to decode "seven" into a number')
      const unknown = yield* decodeConfig(parity, { lable: "1" }).pipe(Effect.flip)
      expect(unknown.message).toContain('["lable"]')
      expect(yield* decodeConfig(parity, {})).toEqual({ label: 0 })
    }))

  it.effect("returns only the journal entries appended, and gives the stage the recovered ones", () =>
    Effect.gen(function* () {
      const r = yield* runStage(numbering, {}, [{}, {}, {}], { journal: ["count 10"] })
      expect(r.rows.map((x) => x.index)).toEqual([10, 11, 12])
      expect(r.journal).toEqual(["chunk 3", "count 13"])
    }))

  it.effect("feeds rows in chunks of chunkSize", () =>
    Effect.gen(function* () {
      const r = yield* runStage(numbering, {}, Array.from({ length: 7 }, () => ({})), { chunkSize: 3 })
      expect(r.journal.filter((e) => e.startsWith("chunk"))).toEqual(["chunk 3", "chunk 3", "chunk 1"])
    }))

  it.effect("makes the stage in a scope closed when the run ends, and surfaces StageErrors", () =>
    Effect.gen(function* () {
      const events: Array<string> = []
      const resourceful = Stage.make({
        id: "test/resource",
        description: "acquires a resource",
        config: Stage.NoConfig,
        requires: [],
        provides: [],
        make: () =>
          Effect.acquireRelease(
            Effect.sync(() => events.push("acquired")),
            () => Effect.sync(() => events.push("released"))
          ).pipe(Effect.as(Stage.mapChunks<Row, Row>((row) => row)))
      })
      const r = yield* runStage(resourceful, {}, [{ a: 1 }])
      expect(r.rows).toEqual([{ a: 1 }])
      expect(events).toEqual(["acquired", "released"])

      const failing = Stage.make({
        id: "test/failing",
        description: "cannot start",
        config: Stage.NoConfig,
        requires: [],
        provides: [],
        make: (_config, ctx) => Effect.fail(new StageError({ stage: ctx.stageId, reason: "no model server" }))
      })
      const e = yield* runStage(failing, {}, [{ a: 1 }]).pipe(Effect.flip)
      expect(e.message).toBe("stage test/failing: no model server")
    }))
})

describe("Testing.runInParts", () => {
  it.effect("gives each part a fresh instance recovering the journal of the parts before it", () =>
    Effect.gen(function* () {
      const input = Array.from({ length: 10 }, (_, i) => ({ i }))
      const parts = yield* runInParts(numbering, {}, splitAt(input, 4, 4, 9))
      expect(parts.rows.map((x) => x.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
      expect(parts.journal).toEqual(["chunk 4", "count 4", "chunk 5", "count 9", "chunk 1", "count 10"])
    }))

  it.effect("sums drops and collects rejects over the parts", () =>
    Effect.gen(function* () {
      const parts = yield* runInParts(parity, {}, splitAt(rows, 3))
      const whole = yield* runStage(parity, {}, rows)
      expect(parts).toEqual(whole)
    }))
})

describe("Testing helpers", () => {
  it("splitAt cuts at the given indices", () => {
    expect(splitAt([1, 2, 3, 4, 5], 2, 4)).toEqual([[1, 2], [3, 4], [5]])
    expect(splitAt([1, 2], 0)).toEqual([[], [1, 2]])
  })

  it("recordingContext records drops, rejects and appends", () => {
    const rec = recordingContext("test/x", { seed: 3, journal: ["old"] })
    rec.context.drop({ a: 1 }, "r")
    rec.context.drop({ a: 2 }, "r")
    rec.context.reject({ a: 3 }, "bad")
    rec.context.journal.append("new")
    expect(rec.context.stageId).toBe("test/x")
    expect(rec.context.seed).toBe(3)
    expect(rec.context.journal.recovered).toEqual(["old"])
    expect(rec.droppedByReason).toEqual({ r: 2 })
    expect(rec.rejected).toEqual([{ row: { a: 3 }, error: "bad" }])
    expect(rec.journal).toEqual(["new"])
  })

  it.effect("assertStats passes on matching stats and lists every difference otherwise", () =>
    Effect.gen(function* () {
      const r = yield* runStage(parity, {}, rows)
      assertStats(r, { rows: 3, dropped: { odd: 2, three: 2 }, rejected: ["`n` is missing"] })
      assertStats(r, { rejected: 1 })
      assertStats(r, { rejected: [/missing$/] })
      expect(() => assertStats(r, { rows: 4, dropped: { odd: 2 }, rejected: ["other"] })).toThrow(
        [
          "stage run differs from the expected stats:",
          "  rows: expected 4, got 3",
          '  dropped "three": expected 0, got 2',
          '  rejected[0]: expected an error matching "other", got "field `n` is missing"'
        ].join("\n")
      )
      expect(() => assertStats(r, { rejected: 0 })).toThrow('rejected: expected 0, got 1 ("field `n` is missing")')
    }))
})

/**
 * The sample's parquet files as the readers that meet them see them: core's parquet source (what
 * `synthline run` reads, split into work units inside row groups too) and DuckDB (the bench's
 * baseline) give back exactly `Sample.records` for the same seed.
 */
import { DuckDBInstance } from "@duckdb/node-api"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import * as Source from "@synthline/core/Source"
import { Chunk, Effect, Schema, Stream } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Sample from "../src/Sample.js"

const rows = 1500
const seed = 31
const dir = mkdtempSync(join(tmpdir(), "synthline-sample-readers-"))
const records = [...Sample.records(seed, rows)]

const generated = Sample.generate({ rows, out: dir, format: "parquet", shards: 2, seed, rowGroupRows: 400 }).pipe(
  Effect.provide(NodeContext.layer),
  Effect.cached,
  Effect.runSync
)

describe("sample parquet files", () => {
  it.effect("read by core's parquet source, in units of unit_rows rows, are the records of the seed", () =>
    Effect.gen(function* () {
      const summary = yield* generated
      expect(summary.files.map((f) => f.rows)).toEqual([750, 750])
      const config = Schema.decodeUnknownSync(Source.parquet.config)({ path: "data/train-*.parquet", unit_rows: 300 })
      const env = { baseDir: dir }
      const units = yield* Source.parquet.plan(config, env)
      // Row groups of 400 rows (the last of each file 350), cut into units of at most 300.
      expect(units.map((u) => u.rows)).toEqual([300, 100, 300, 50, 300, 100, 300, 50])
      const read: Array<unknown> = []
      const rejects: Array<unknown> = []
      for (const unit of units) {
        const got = yield* Stream.runCollect(Source.parquet.read(unit, config, { reject: (r) => rejects.push(r) }, env))
        read.push(...Chunk.toReadonlyArray(got))
      }
      expect(rejects).toEqual([])
      expect(JSON.stringify(read)).toBe(JSON.stringify(records))
    }).pipe(Effect.provide(NodeContext.layer))
  )

  it.effect("read by DuckDB, have the same rows, messages and moderation flags", () =>
    Effect.gen(function* () {
      yield* generated
      const got = yield* Effect.promise(async () => {
        const db = await DuckDBInstance.create(":memory:")
        const c = await db.connect()
        const result = await c.runAndReadAll(
          `SELECT conversation_id, model, turn, language, redacted, to_json(conversation)::VARCHAR AS conversation,
             list_transform(openai_moderation, m -> m.flagged) AS flagged,
             list_transform(openai_moderation, m -> m.category_scores.harassment) AS harassment
           FROM read_parquet('${join(dir, "data", "train-*.parquet")}', filename = true, file_row_number = true) ORDER BY filename, file_row_number`
        )
        const out = result.getRowObjectsJson()
        c.closeSync()
        return out
      })
      expect(got.length).toBe(rows)
      expect(
        got.map((r) => ({ ...r, turn: Number(r.turn), conversation: JSON.parse(String(r.conversation)) }))
      ).toEqual(
        records.map((r) => ({
          conversation_id: r.conversation_id,
          model: r.model,
          turn: r.turn,
          language: r.language,
          redacted: r.redacted,
          conversation: r.conversation,
          flagged: r.openai_moderation.map((m) => m.flagged),
          harassment: r.openai_moderation.map((m) => m.category_scores.harassment)
        }))
      )
    })
  )
})

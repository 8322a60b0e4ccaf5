/**
 * The parquet footer cache belongs to a run: a run parses each file's footer once for all its
 * units, keeps them to itself, and nothing is kept outside a run.
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { FileMetaData } from "hyparquet"
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { type FooterCache, Footers, makeFooters } from "../../src/internal/io/parquetRead.js"
import * as Pipeline from "../../src/Pipeline.js"
import * as Registry from "../../src/Registry.js"
import * as Runner from "../../src/Runner.js"
import * as Sinks from "../../src/io/sinks.js"
import * as Sources from "../../src/io/sources.js"
import { lmsysRow, readAll, tempDir, writeLmsysParquet } from "../support/io.js"

const dir = tempDir()
// Two files of 4 row groups each: 8 work units.
writeLmsysParquet(join(dir, "a.parquet"), Array.from({ length: 40 }, (_, i) => lmsysRow(i)), 10)
writeLmsysParquet(join(dir, "b.parquet"), Array.from({ length: 40 }, (_, i) => lmsysRow(100 + i)), 10)

/** A cache that counts the footers it parses, by file. */
const counting = (inner: FooterCache = makeFooters()) => {
  const parsed = new Map<string, number>()
  const cache: FooterCache = {
    footer: (key, parse) =>
      inner.footer(key, () => {
        const file = key.split("\u0000")[0]!
        parsed.set(file, (parsed.get(file) ?? 0) + 1)
        return parse()
      }),
    forget: inner.forget
  }
  return { cache, parsed }
}

describe("parquet footers", () => {
  it.effect("a run's cache parses each file's footer once for planning and every unit", () =>
    Effect.gen(function* () {
      const { cache, parsed } = counting()
      const r = yield* readAll(Sources.parquet, { path: "*.parquet" }, dir).pipe(Effect.provideService(Footers, cache))
      expect(r.units).toHaveLength(8)
      const ids = (from: number) => Array.from({ length: 40 }, (_, i) => lmsysRow(from + i).conversation_id)
      expect(r.rows.map((row) => row.conversation_id)).toEqual([...ids(0), ...ids(100)])
      expect([...parsed.values()]).toEqual([1, 1])
      // Another run has a cache of its own: it parses the footers again.
      const second = counting()
      yield* readAll(Sources.parquet, { path: "*.parquet" }, dir).pipe(Effect.provideService(Footers, second.cache))
      expect([...second.parsed.values()]).toEqual([1, 1])
      expect([...parsed.values()]).toEqual([1, 1])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("Runner.run keeps its footers to itself: a cache around it is never asked", () =>
    Effect.gen(function* () {
      const outer = counting()
      const registry = yield* Registry.fromPlugins([])
      const pipeline = Pipeline.from(Sources.parquet, { path: "*.parquet" }).pipe(
        Pipeline.to(Sinks.jsonl, { path: "out", compression: "none" }, { name: "footers", baseDir: dir, registry })
      )
      const result = yield* Runner.run(pipeline, { workers: 1 }).pipe(Effect.provideService(Footers, outer.cache))
      expect(result.manifest.source).toMatchObject({ units: 8, rows_read: 80 })
      const written = readdirSync(join(dir, "out"))
        .filter((f) => f.endsWith(".jsonl"))
        .flatMap((f) => readFileSync(join(dir, "out", f), "utf8").split("\n").filter((l) => l !== ""))
      expect(written).toHaveLength(80)
      expect(outer.parsed.size).toBe(0)
    }).pipe(Effect.provide(NodeContext.layer)))

  it("keeps the most recent footers only, and forgets one that failed to parse", async () => {
    const { cache, parsed } = counting(makeFooters(2))
    const meta = (n: number) => () => Promise.resolve({ num_rows: BigInt(n) } as unknown as FileMetaData)
    for (const key of ["x", "y", "x", "z", "x", "y"]) await cache.footer(`${key}\u0000`, meta(1))
    // Two are kept: z drops x (parsed longest ago), x then drops y, so x and y are parsed twice.
    expect(Object.fromEntries(parsed)).toEqual({ x: 2, y: 2, z: 1 })
    const broken = counting()
    const fail = () => Promise.reject(new Error("not parquet"))
    await expect(broken.cache.footer("bad\u0000", fail)).rejects.toThrow("not parquet")
    broken.cache.forget("bad\u0000")
    await expect(broken.cache.footer("bad\u0000", fail)).rejects.toThrow("not parquet")
    expect(broken.parsed.get("bad")).toBe(2)
  })

  it.effect("a footer that cannot be parsed is a reject of the file's rows, and is parsed again on the next read", () =>
    Effect.gen(function* () {
      const bad = tempDir()
      writeFileSync(join(bad, "c.parquet"), "PAR1 this is not a parquet file PAR1")
      const { cache, parsed } = counting()
      for (let i = 0; i < 2; i++) {
        const r = yield* readAll(Sources.parquet, { path: "*.parquet" }, bad).pipe(Effect.provideService(Footers, cache))
        expect(r.rows).toHaveLength(0)
        expect(r.rejects.map((x) => x.error)).toEqual([expect.stringMatching(/^corrupt parquet file: not a readable parquet file/)])
      }
      // Planning and reading each parse it (twice per read-through): a failure is never kept.
      expect(parsed.get(join(bad, "c.parquet"))).toBe(4)
    }).pipe(Effect.provide(NodeContext.layer)))
})

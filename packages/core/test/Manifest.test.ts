import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import * as Manifest from "../src/Manifest.js"
import * as Pipeline from "../src/Pipeline.js"
import type { Plugin } from "../src/Plugin.js"
import * as Registry from "../src/Registry.js"
import * as Runner from "../src/Runner.js"
import * as Sinks from "../src/io/sinks.js"
import * as Sources from "../src/io/sources.js"
import * as Stage from "../src/Stage.js"

const tmpRoot = join(import.meta.dirname, ".tmp")
mkdirSync(tmpRoot, { recursive: true })
const dir = mkdtempSync(join(tmpRoot, "manifest-"))
mkdirSync(join(dir, "in"))

const record = (i: number) => ({
  conversation_id: `c${i}`,
  model: i % 4 === 0 ? "a" : "b",
  conversation: [{ role: "user", content: `question ${i}` }],
  turn: 1 + (i % 3),
  language: i % 2 === 0 ? "English" : "German",
  openai_moderation: [],
  redacted: false
})
const records = Array.from({ length: 200 }, (_, i) => record(i))
// Four files: four work units, two per shard.
for (let f = 0; f < 4; f++) {
  writeFileSync(join(dir, `in/${f}.jsonl`), `${records.slice(f * 50, f * 50 + 50).map((r) => JSON.stringify(r)).join("\n")}\n`)
}

// A local plugin file (plain JavaScript, no imports) with a profiler whose merge is not a sum:
// `synthline merge` must load it again to join the shards' states.
const pluginFile = join(dir, "longest.mjs")
writeFileSync(
  pluginFile,
  `export default {
  name: "longest",
  version: "1.0.0",
  stages: [],
  profilers: [{
    key: "longest",
    empty: () => ({ rows: 0, max: 0 }),
    observe: (s, row) => { s.rows++; s.max = Math.max(s.max, row.conversation_id.length); return true },
    merge: (a, b) => ({ rows: a.rows + b.rows, max: Math.max(a.max, b.max) }),
    card: (s) => [{ title: "Longest id", body: "The longest conversation id has " + s.max + " characters (" + s.rows + " rows)." }]
  }]
}
`
)

/** Routes rows of model `a` to the branch `as`, giving the turn as the reason. */
const route = Stage.make({
  id: "test/route",
  description: "routes model a",
  config: Schema.Struct({}),
  requires: ["model", "turn"],
  provides: [],
  make: (_config, ctx) =>
    Effect.succeed(Stage.mapChunks((row: { readonly model: string; readonly turn: number }) => (row.model === "a" ? void ctx.drop(row, `turn-${row.turn}`) : row)))
})

describe("Manifest", () => {
  it.effect("merge joins the shards: counts, routes by reason, files and profiles with the plugin's profiler loaded again; the card gets its section", () =>
    Effect.gen(function* () {
      const plugin = (yield* Effect.promise(() => import(pathToFileURL(pluginFile).href))).default as Plugin
      const registry = yield* Registry.fromPlugins([{ plugin, specifier: pluginFile }])
      const pipeline = (out: string) =>
        Pipeline.from(Sources.jsonl, { path: "in/*.jsonl" }).pipe(
          Pipeline.through(route, {}, { route: "as" }),
          Pipeline.to(Sinks.jsonl, { path: out, compression: "none" }, {
            name: "m",
            baseDir: dir,
            registry,
            branches: { as: { def: Sinks.jsonl, config: Schema.decodeUnknownSync(Sinks.jsonl.config)({ path: `${out}-as`, compression: "none" }) } }
          })
        )
      const whole = (yield* Runner.run(pipeline("out-whole"))).manifest
      for (const index of [0, 1]) yield* Runner.run(pipeline("out-sharded"), { shard: { index, count: 2 } })
      const merged = yield* Manifest.mergeDirs([join(dir, "out-sharded")])
      const m = merged.manifest
      expect(merged.path).toBe(join(dir, "out-sharded", "manifest.json"))
      expect(JSON.parse(readFileSync(merged.path, "utf8"))).toEqual(m)
      expect(m.merged_from).toHaveLength(2)
      expect(m.source.units).toBe(4)
      expect(m.source.rows_read).toBe(200)
      expect(m.stages).toEqual(whole.stages)
      const reasons = { "turn-1": 0, "turn-2": 0, "turn-3": 0 } as Record<string, number>
      for (const r of records.filter((r) => r.model === "a")) reasons[`turn-${r.turn}`]!++
      expect(m.stages[0]!.routed_reasons).toEqual(reasons)
      expect(m.outputs.main.rows).toBe(whole.outputs.main.rows)
      expect(m.outputs.main.files.map((f) => f.rows).reduce((a, b) => a + b, 0)).toBe(150)
      // Profiles: the shards' joined profile is the whole run's, the profiler's maximum included.
      expect(m.outputs.main.profile).toEqual(whole.outputs.main.profile)
      expect(m.outputs.main.profile?.longest).toEqual({ rows: 150, max: 4 })
      expect(m.outputs.branches.as!.profile).toEqual(whole.outputs.branches.as!.profile)
      expect(m.outputs.branches.as!.profile?.languages).toEqual({ English: 50 })

      const card = readFileSync(join(dir, "out-sharded", "README.md"), "utf8")
      expect(card).toContain("### Longest id\n\nThe longest conversation id has 4 characters (150 rows).\n")
      for (const [reason, n] of Object.entries(reasons)) expect(card).toContain(`| test/route | routed to a branch (${reason}) | ${n} |`)
      expect(readFileSync(join(dir, "out-whole", "README.md"), "utf8")).toContain("### Longest id")
    }).pipe(Effect.provide(NodeContext.layer)), 30_000)

  it.effect("merge refuses shards of another pipeline, incomplete or missing shards, and a shard given twice", () =>
    Effect.gen(function* () {
      const shard = (index: number): Manifest.Manifest => ({
        synthline: "0.0.0",
        name: "m",
        pipeline_file: null,
        fingerprint: "a".repeat(64),
        seed: 0,
        plugins: [],
        shard: { index, count: 2 },
        status: "complete",
        resumed: false,
        timings: { started_at: "2026-01-01T00:00:00Z", finished_at: "2026-01-01T00:00:01Z", wall_ms: 1000 },
        source: { type: "jsonl", units: 1, rows_read: 1, rejected: 0 },
        stages: [],
        rejects: { count: 0, path: "rejects", files: [] },
        outputs: { main: { path: "out", type: "jsonl", rows: 1, files: [] }, branches: {} },
        model_usage: {}
      })
      const base = shard(0)
      const other = shard(1)
      expect((yield* Manifest.merge([{ file: "m0.json", manifest: base }, { file: "m1.json", manifest: other }])).source.rows_read).toBe(2)
      const reason = (ms: ReadonlyArray<Manifest.Manifest>) =>
        Manifest.merge(ms.map((manifest, i) => ({ file: `m${i}.json`, manifest }))).pipe(
          Effect.flip,
          Effect.map((e) => e.reason)
        )
      expect(yield* reason([])).toBe("no shard manifests found to merge")
      expect(yield* reason([base, { ...other, fingerprint: "f".repeat(64) }])).toBe("m1.json is a run of a different pipeline (fingerprint ffffffffffff)")
      expect(yield* reason([base, { ...other, status: "stopped" }])).toBe("m1.json: shard did not complete (status stopped)")
      expect(yield* reason([base])).toBe("missing shard manifests for shard(s) 1 of 2")
      expect(yield* reason([base, base])).toBe("m1.json: shard 0 appears twice")
    }))
})

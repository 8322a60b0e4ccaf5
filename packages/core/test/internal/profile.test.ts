import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Schema } from "effect"
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import * as Pipeline from "../../src/Pipeline.js"
import { definePlugin } from "../../src/Plugin.js"
import * as Profile from "../../src/internal/profile.js"
import * as Registry from "../../src/Registry.js"
import type { Row } from "../../src/Row.js"
import * as Runner from "../../src/Runner.js"
import * as Sinks from "../../src/io/sinks.js"
import * as Sources from "../../src/io/sources.js"
import * as Stage from "../../src/Stage.js"

const none: Profile.Profiling = { declared: new Map(), profilers: [] }

const observed = (rows: ReadonlyArray<Row>, profiling: Profile.Profiling = none): Profile.Profile => {
  const p = Profile.empty()
  Profile.observer(p, profiling)(rows)
  return p
}

/** A profiler of conversation turns: a histogram that adds up, and a maximum that does not. */
interface Turns {
  by_turn: { [turn: string]: number }
  longest: number
  mean?: number
}

const turns = Profile.profiler<Turns>({
  key: "turns",
  empty: () => ({ by_turn: {}, longest: 0 }),
  observe: (s, row) => {
    if (typeof row.turn !== "number") return false
    s.by_turn[row.turn] = (s.by_turn[row.turn] ?? 0) + 1
    s.longest = Math.max(s.longest, row.turn)
    return true
  },
  merge: (a, b) => ({ by_turn: Profile.sumCounts(a.by_turn, b.by_turn), longest: Math.max(a.longest, b.longest) }),
  finalize: (s) => {
    const n = Object.values(s.by_turn).reduce((x, y) => x + y, 0)
    const sum = Object.entries(s.by_turn).reduce((x, [t, c]) => x + Number(t) * c, 0)
    return { by_turn: { ...s.by_turn }, longest: s.longest, mean: n === 0 ? 0 : sum / n }
  },
  card: (s) => [{ title: "Turns", body: `Longest conversation: ${s.longest} turns; mean ${s.mean?.toFixed(2)}.` }]
})

const withTurns: Profile.Profiling = { declared: new Map(), profilers: [turns] }

describe("Profile: fields, shapes and languages", () => {
  it("lists fields in first-seen order and infers the least shape covering every value of undeclared fields", () => {
    const p = observed([
      { a: 1, b: null, c: { x: 1 } },
      { b: "s", a: 2.5, d: [1, 2] },
      { c: { y: true }, d: [], e: [{ k: 1 }, { k: "v" }] }
    ])
    expect(p.rows).toBe(3)
    expect(p.fields).toEqual(["a", "b", "c", "d", "e"])
    expect(p.shapes).toEqual({
      a: { t: "float" },
      b: { t: "string" },
      c: { t: "struct", fields: { x: { t: "int" }, y: { t: "bool" } } },
      d: { t: "list", of: { t: "int" } },
      e: { t: "list", of: { t: "struct", fields: { k: { t: "mixed" } } } }
    })
  })

  it("infers no shape for declared fields; finalize gives every field its declared shape, else the inferred one, else null", () => {
    const declared = new Map([["turn", Profile.schemaShape(Schema.Int)!]])
    const p = observed([{ turn: 1.5, free: "x" }], { declared, profilers: [] })
    expect(p.shapes).toEqual({ free: { t: "string" } })
    const f = Profile.finalize({ ...p, fields: [...p.fields, "never"] }, { declared, profilers: [] })
    expect(f.shapes).toEqual({ turn: { t: "int" }, free: { t: "string" }, never: { t: "null" } })
    expect(Profile.schemaShape(Schema.Array(Schema.Struct({ a: Schema.NullOr(Schema.Number) })))).toEqual({
      t: "list",
      of: { t: "struct", fields: { a: { t: "float" } } }
    })
  })

  it("counts rows by language up to maxLanguages values, the rest under (other), the same whether observed or absorbed", () => {
    const rows = Array.from({ length: Profile.maxLanguages + 5 }, (_, i) => ({ language: `l${i}` }))
    const whole = observed(rows)
    expect(Object.keys(whole.languages)).toHaveLength(Profile.maxLanguages + 1)
    expect(whole.languages["(other)"]).toBe(5)
    const unit = observed(rows.slice(0, 700))
    Profile.absorb(unit, observed(rows.slice(700)))
    expect(unit).toEqual(whole)
  })
})

describe("Profile: profilers", () => {
  const rows: ReadonlyArray<Row> = [{ turn: 1 }, { turn: 3 }, { language: "English" }, { turn: 1 }, { turn: 7 }]

  it("keeps a profiler's state under its key once a row counts, absent before", () => {
    expect(observed([{ language: "English" }], withTurns).turns).toBeUndefined()
    expect(observed(rows, withTurns).turns).toEqual({ by_turn: { "1": 2, "3": 1, "7": 1 }, longest: 7 })
  })

  it("adds work units with the profiler's merge, joins shards and finalizes the state as if observed at once", () => {
    const whole = observed(rows, withTurns)
    const unit = observed(rows.slice(0, 2), withTurns)
    Profile.absorb(unit, observed(rows.slice(2), withTurns), [turns])
    expect(unit).toEqual(whole)
    // The observer keeps counting into a state that absorb replaced.
    const live = Profile.empty()
    const observe = Profile.observer(live, withTurns)
    observe(rows.slice(0, 1))
    Profile.absorb(live, observed(rows.slice(1, 3), withTurns), [turns])
    observe(rows.slice(3))
    expect(live).toEqual(whole)

    const final = Profile.finalize(whole, withTurns)
    expect(final.turns).toEqual({ by_turn: { "1": 2, "3": 1, "7": 1 }, longest: 7, mean: 3 })
    const merged = Profile.merge(Profile.finalize(observed(rows.slice(0, 4), withTurns), withTurns), Profile.finalize(observed(rows.slice(4), withTurns), withTurns), [turns])
    expect(merged).toEqual(final)
    // Without the profiler, shards' states add up number by number (the maximum then does not hold).
    const summed = Profile.merge(observed(rows.slice(0, 4), withTurns), observed(rows.slice(4), withTurns))
    expect(summed.turns).toEqual({ by_turn: { "1": 2, "3": 1, "7": 1 }, longest: 10 })
  })

  it("sumCounts adds numbers through nested objects and keeps anything else from the first", () => {
    const a = { n: 1, m: { x: 2 }, list: [1], text: "a" }
    const b = { n: 2, m: { x: 3, y: 1 }, list: [2], other: 4 }
    expect(Profile.sumCounts<Record<string, unknown>>(a, b)).toEqual({ n: 3, m: { x: 5, y: 1 }, list: [1], text: "a", other: 4 })
    expect(a).toEqual({ n: 1, m: { x: 2 }, list: [1], text: "a" })
  })

  it.effect("the registry refuses a profiler key another plugin or core already uses", () =>
    Effect.gen(function* () {
      const p = (name: string, key: string) => ({ plugin: definePlugin({ name, version: "1", stages: [], profilers: [{ ...turns, key }] }), specifier: `./${name}.ts` })
      const ok = yield* Registry.fromPlugins([p("a", "turns")])
      expect(ok.profilers.map((x) => x.key)).toEqual(["turns"])
      const twice = yield* Registry.fromPlugins([p("a", "turns"), p("b", "turns")]).pipe(Effect.flip)
      expect(twice.message).toBe('cannot load plugin ./b.ts: profiler key "turns" is already taken by ./a.ts')
      const core = yield* Registry.fromPlugins([p("c", "languages")]).pipe(Effect.flip)
      expect(core.message).toContain(`profiler key "languages" is already taken by core's profile`)
    }))
})

const tmpRoot = join(import.meta.dirname, ".tmp")
mkdirSync(tmpRoot, { recursive: true })
const dir = mkdtempSync(join(tmpRoot, "profile-"))
mkdirSync(join(dir, "in"))
const record = (i: number) => ({
  conversation_id: `c${i}`,
  model: i % 9 === 0 ? "bad" : "m",
  conversation: [{ role: "user", content: `question ${i}` }],
  turn: 1 + (i % 5),
  language: i % 3 === 0 ? "English" : "German",
  openai_moderation: [],
  redacted: false
})
// Two files: two work units; rows of model "bad" (in the second file only) are rejected.
writeFileSync(join(dir, "in/a.jsonl"), `${Array.from({ length: 60 }, (_, i) => JSON.stringify(record(i * 9 + 1))).join("\n")}\n`)
writeFileSync(join(dir, "in/b.jsonl"), `${Array.from({ length: 60 }, (_, i) => JSON.stringify(record(i))).join("\n")}\n`)

const picky = Stage.make({
  id: "turns/picky",
  description: "rejects rows of the model `bad`",
  config: Schema.Struct({}),
  requires: ["model"],
  provides: [],
  make: (_config, ctx) => Effect.succeed(Stage.mapChunks((row: { readonly model: string }) => (row.model === "bad" ? void ctx.reject(row, "bad") : row)))
})

const plugin = definePlugin({ name: "turns", version: "1.0.0", stages: [picky], profilers: [turns] })

describe("Profile: a plugin's profiler in a run", () => {
  it.effect("its state is in the manifest's profile and its section in the card; a resumed run ends with the state of an uninterrupted one", () =>
    Effect.gen(function* () {
      const registry = yield* Registry.fromPlugins([{ plugin, specifier: "./turns.ts" }])
      const pipeline = (out: string) =>
        Pipeline.from(Sources.jsonl, { path: "in/*.jsonl" }).pipe(
          Pipeline.through(picky, {}),
          Pipeline.to(Sinks.jsonl, { path: out, compression: "none" }, { name: "turns", baseDir: dir, registry })
        )
      const whole = yield* Runner.run(pipeline("out-whole"), { maxErrors: 1000 })
      const kept = [...Array.from({ length: 60 }, (_, i) => record(i * 9 + 1)), ...Array.from({ length: 60 }, (_, i) => record(i))].filter((r) => r.model !== "bad")
      const byTurn: Record<string, number> = {}
      for (const r of kept) byTurn[r.turn] = (byTurn[r.turn] ?? 0) + 1
      const state = whole.manifest.outputs.main.profile?.turns as Turns
      expect(state.by_turn).toEqual(byTurn)
      expect(state.longest).toBe(5)
      expect(state.mean).toBeCloseTo(kept.reduce((s, r) => s + r.turn, 0) / kept.length, 10)
      const card = readFileSync(join(dir, "out-whole", "README.md"), "utf8")
      expect(card).toContain(`### Turns\n\nLongest conversation: 5 turns; mean ${state.mean!.toFixed(2)}.\n`)

      // Stopped by the rejects of the second unit, then resumed: the first unit's state comes from its marker.
      const stopped = yield* Runner.run(pipeline("out-resumed"), { maxErrors: 0 }).pipe(Effect.either)
      expect(Either.isLeft(stopped)).toBe(true)
      const resumed = yield* Runner.run(pipeline("out-resumed"), { maxErrors: 1000 })
      expect(resumed.manifest.resumed).toBe(true)
      expect(resumed.manifest.outputs.main.profile).toEqual(whole.manifest.outputs.main.profile)
    }).pipe(Effect.provide(NodeContext.layer)), 30_000)
})

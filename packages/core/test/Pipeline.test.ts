import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import * as Pipeline from "../src/Pipeline.js"

// Inside the repo, so a local plugin resolves @synthline/core as a user's project would.
mkdirSync(join(import.meta.dirname, ".tmp"), { recursive: true })
const dir = mkdtempSync(join(import.meta.dirname, ".tmp", "pipeline-"))
const decode = (text: string, env: Record<string, string> = {}) =>
  Pipeline.decode(join(dir, "quickstart.yaml"), text, { env }).pipe(Effect.either)

const valid = `name: t
seed: 7
source: { type: jsonl, path: "data/*.jsonl" }
stages:
  - use: core/select
    languages: [English, Japanese]
  - use: core/first-turn
sink: { type: jsonl, path: out }
`

describe("Pipeline.decode", () => {
  it.effect("decodes a valid file with defaults filled and a stable fingerprint", () =>
    Effect.gen(function* () {
      const a = yield* decode(valid)
      const b = yield* decode(valid.replace("seed: 7", "seed: 7 # same"))
      const c = yield* decode(valid.replace("seed: 7", "seed: 8"))
      expect(Either.isRight(a)).toBe(true)
      if (Either.isRight(a) && Either.isRight(b) && Either.isRight(c)) {
        expect(a.right.name).toBe("t")
        expect(a.right.stages.map((s) => s.instanceId)).toEqual(["core/select", "core/first-turn"])
        expect(a.right.fingerprint).toBe(b.right.fingerprint)
        expect(a.right.fingerprint).not.toBe(c.right.fingerprint)
      }
    }))

  it.effect("names file, line, column and the nearest stage for an unknown stage", () =>
    Effect.gen(function* () {
      const r = yield* decode(valid.replace("use: core/select", "use: core/selekt"))
      expect(Either.isLeft(r)).toBe(true)
      if (Either.isLeft(r)) {
        expect(r.left.message).toContain("quickstart.yaml:5:10")
        expect(r.left.message).toContain("unknown stage core/selekt")
        expect(r.left.message).toContain("did you mean core/select?")
      }
    }))

  it.effect("rejects unknown options with the nearest valid name and position", () =>
    Effect.gen(function* () {
      const r = yield* decode(valid.replace("languages:", "langauges:"))
      expect(Either.isLeft(r)).toBe(true)
      if (Either.isLeft(r)) {
        expect(r.left.message).toMatch(/quickstart\.yaml:6:5: stage core\/select: unknown option langauges/)
        expect(r.left.message).toContain("did you mean languages?")
      }
    }))

  it.effect("rejects wrong option types with the path", () =>
    Effect.gen(function* () {
      const r = yield* decode(valid.replace("languages: [English, Japanese]", "languages: English"))
      expect(Either.isLeft(r)).toBe(true)
      if (Either.isLeft(r)) expect(r.left.message).toMatch(/quickstart\.yaml:6:\d+: stage core\/select: invalid stage core\/select/)
    }))

  it.effect("rejects unknown top-level keys, unknown source types and missing keys", () =>
    Effect.gen(function* () {
      const top = yield* decode(`${valid}sinks: {}\n`)
      const src = yield* decode(valid.replace("type: jsonl, path: \"data", "type: jsnol, path: \"data"))
      const missing = yield* decode(valid.replace(/sink: .*\n/, ""))
      expect(Either.isLeft(top) && top.left.message).toMatch(/quickstart\.yaml:9:1: unknown top-level key sinks — did you mean sink\?/)
      expect(Either.isLeft(src) && src.left.message).toMatch(/unknown source type jsnol — did you mean jsonl\?/)
      expect(Either.isLeft(missing) && missing.left.message).toContain("missing required key sink")
    }))

  it.effect("reports YAML syntax errors with a position", () =>
    Effect.gen(function* () {
      const r = yield* decode("name: t\nstages: [\n")
      expect(Either.isLeft(r) && r.left.message).toMatch(/quickstart\.yaml:\d+:\d+: /)
    }))

  it.effect("interpolates ${VAR} and ${VAR:-default}, and names an unset variable", () =>
    Effect.gen(function* () {
      const text = valid.replace('path: "data/*.jsonl"', 'path: "${DATA}/*.jsonl"').replace("path: out", "path: \"${OUT:-fallback}\"")
      const ok = yield* decode(text, { DATA: "/srv/lmsys" })
      expect(Either.isRight(ok)).toBe(true)
      if (Either.isRight(ok)) {
        expect((ok.right.source.config as { path: unknown }).path).toBe("/srv/lmsys/*.jsonl")
        expect(ok.right.sink.config.path).toBe("fallback")
      }
      const bad = yield* decode(text)
      expect(Either.isLeft(bad) && bad.left.message).toMatch(/quickstart\.yaml:3:\d+: environment variable DATA is not set/)
    }))

  it.effect("checks route against declared branches", () =>
    Effect.gen(function* () {
      const r = yield* decode(valid.replace("  - use: core/first-turn", "  - use: core/first-turn\n    route: unsafe"))
      expect(Either.isLeft(r) && r.left.message).toContain("route unsafe names no branch")
      const ok = yield* decode(
        `${valid.replace("  - use: core/first-turn", "  - use: core/first-turn\n    route: unsafe")}branches:\n  unsafe: { type: jsonl, path: out-unsafe }\n`
      )
      expect(Either.isRight(ok) && ok.right.stages[1]!.route).toBe("unsafe")
    }))

  it.effect("reads JSON pipeline files too", () =>
    Effect.gen(function* () {
      const r = yield* decode(
        JSON.stringify({ name: "j", source: { type: "jsonl", path: "x.jsonl" }, stages: [{ use: "core/limit", rows: 3 }], sink: { type: "jsonl", path: "o" } })
      )
      expect(Either.isRight(r) && r.right.stages[0]!.instanceId).toBe("core/limit")
    }))

  it.effect("numbers repeated stages and plans requires against provides", () =>
    Effect.gen(function* () {
      const r = yield* decode(
        `${valid.replace("  - use: core/first-turn", "  - use: core/first-turn\n  - use: core/fields\n    drop: [conversation]\n  - use: core/dedup\n  - use: core/dedup\n    field: conversation.0.content")}`
      )
      expect(Either.isRight(r)).toBe(true)
      if (Either.isRight(r)) {
        expect(r.right.stages.map((s) => s.instanceId)).toEqual(["core/select", "core/first-turn", "core/fields", "core/dedup", "core/dedup#2"])
        const plan = Pipeline.plan(r.right)
        expect(plan.issues.map((i) => i.stage)).toEqual(["core/dedup", "core/dedup#2"])
        expect(plan.issues[0]!.message).toContain("requires field conversation.0.content")
      }
    }))
})

describe("plugins", () => {
  it.effect("loads a local .ts plugin without a build step and uses its stage", () =>
    Effect.gen(function* () {
      writeFileSync(
        join(dir, "team.ts"),
        `import { Effect, Schema } from "effect"
import { definePlugin, Stage } from "@synthline/core"
const shout = Stage.make({
  id: "team/shout",
  description: "uppercases the model name",
  config: Schema.Struct({ suffix: Schema.optionalWith(Schema.String, { default: () => "!" }) }),
  requires: ["model"],
  provides: ["model"],
  make: (config) => Effect.succeed(Stage.mapChunks((row: { readonly model?: unknown }) => ({ ...row, model: String(row.model).toUpperCase() + config.suffix })))
})
export default definePlugin({ name: "team", version: "0.0.1", stages: [shout] })
`
      )
      const r = yield* decode(`${valid.replace("  - use: core/first-turn", "  - use: team/shout")}plugins: ["./team.ts"]\n`)
      expect(Either.isRight(r)).toBe(true)
      if (Either.isRight(r)) {
        expect(r.right.registry.plugins.map((p) => p.plugin.name)).toEqual(["core", "team"])
        expect(r.right.stages[1]!.config).toEqual({ suffix: "!" })
      }
      const missing = yield* decode(`${valid}plugins: ["./nope.ts"]\n`)
      expect(Either.isLeft(missing) && missing.left.message).toMatch(/cannot load plugin \.\/nope\.ts: no such file/)
    }))
})


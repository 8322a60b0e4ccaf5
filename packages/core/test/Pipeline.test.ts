import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Schema } from "effect"
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import * as CoreStages from "../src/stages/core.js"
import * as Pipeline from "../src/Pipeline.js"
import type * as Plugin from "../src/Plugin.js"
import * as Registry from "../src/Registry.js"
import * as Sinks from "../src/io/sinks.js"
import * as Sources from "../src/io/sources.js"

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
      if (Either.isLeft(r)) expect(r.left.message).toMatch(/quickstart\.yaml:6:\d+: stage core\/select: languages must be a list of strings/)
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


describe("pipeline-file checks (issue 16)", () => {
  const bomb = `name: t
lol1: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
lol2: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
lol3: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
lol4: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
lol5: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
source: { type: jsonl, path: a.jsonl }
stages: []
sink: { type: jsonl, path: out }
`

  it.effect("refuses a YAML alias bomb as a pipeline-file error with file:line", () =>
    Effect.gen(function* () {
      const r = yield* decode(bomb)
      expect(Either.isLeft(r) && r.left._tag).toBe("PipelineFileError")
      expect(Either.isLeft(r) && r.left.message).toMatch(/quickstart\.yaml:3:\d+: refused: its YAML aliases expand more than 100 times \(an alias bomb/)
      // A few aliases are fine.
      const few = yield* decode(`name: t\nlangs: &l [English]\nsource: { type: jsonl, path: a.jsonl }\nstages:\n  - use: core/select\n    languages: *l\nsink: { type: jsonl, path: out }\n`)
      expect(Either.isLeft(few) && few.left.message).toContain("unknown top-level key langs")
    }))

  it.effect("refuses a pipeline file over the size limit, read or given as text, with a clear message", () =>
    Effect.gen(function* () {
      expect(Pipeline.maxPipelineFileBytes).toBe(2 * 1024 * 1024)
      const padding = `# ${"x".repeat(Pipeline.maxPipelineFileBytes)}\n`
      const text = yield* decode(`${valid}${padding}`)
      expect(Either.isLeft(text) && text.left.message).toMatch(
        /quickstart\.yaml: the pipeline file is 2\.0 MiB \(\d+ bytes\), more than the 2\.0 MiB a pipeline file may have/
      )
      const file = join(dir, "big.pipeline.yaml")
      writeFileSync(file, `${valid}${padding}`)
      const loaded = yield* Pipeline.load(file).pipe(Effect.either, Effect.provide(NodeContext.layer))
      expect(Either.isLeft(loaded) && loaded.left.message).toContain("more than the 2.0 MiB a pipeline file may have")
      // A long prompt well under the limit is fine; the limit can be raised.
      const long = `${valid}${`# ${"x".repeat(1024 * 1024)}\n`}`
      expect(Either.isRight(yield* decode(long))).toBe(true)
      const raised = yield* Pipeline.decode(join(dir, "quickstart.yaml"), `${valid}${padding}`, { env: {}, maxBytes: 4 * 1024 * 1024 }).pipe(Effect.either)
      expect(Either.isRight(raised)).toBe(true)
    }))

  it.effect("never echoes a secret in a validation error: Redacted options, secret-looking keys, secret ${VAR}s", () =>
    Effect.gen(function* () {
      writeFileSync(
        join(dir, "vault.mjs"),
        // Plain JavaScript (no tsx step per load): a plugin is a plain object.
        `import { Effect, Schema } from "effect"
const call = {
  id: "vault/call",
  description: "a stage with secrets among its options",
  config: Schema.Struct({
    auth: Schema.optional(Schema.Redacted(Schema.String)),
    api_key: Schema.optional(Schema.String),
    max_tokens: Schema.optional(Schema.Int),
    endpoint: Schema.optional(Schema.Literal("a", "b")),
    headers: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String }))
  }),
  requires: [],
  provides: [],
  make: () => Effect.succeed((rows) => rows)
}
export default { name: "vault", version: "0.0.1", stages: [call], sections: { vault: Schema.Struct({ token: Schema.String }) } }
`
      )
      const withStage = (options: string, extra = "") =>
        decode(`${valid.replace("  - use: core/first-turn", `  - use: vault/call\n${options}`)}plugins: ["./vault.mjs"]\n${extra}`, {
          VAULT_TOKEN: "tok-from-env-31337"
        })
      const cases = [
        ["    api_key: [sk-live-0123456789]\n", "sk-live-0123456789", /api_key must be a string, actual a list \(not shown: the value is a secret\)/],
        ["    auth: [hunter2-hunter2]\n", "hunter2-hunter2", /auth must be a string, actual a list \(not shown/],
        ["    auth: 12345678\n", "12345678", /auth must be a string, actual a number \(not shown/],
        ['    headers: { Authorization: ["Bearer sk-abcdef-999"] }\n', "sk-abcdef-999", /headers\.Authorization must be a string, actual .*not shown/],
        ["    endpoint: c\n    api_key: sk-valid-but-echoed-77\n", "sk-valid-but-echoed-77", /endpoint must be one of a, b; did you mean "a"\?$/],
        ['    endpoint: "https://x/?key=${VAULT_TOKEN}"\n', "tok-from-env-31337", /endpoint must be one of a, b$/]
      ] as const
      for (const [options, secret, shape] of cases) {
        const r = yield* withStage(options)
        expect(Either.isLeft(r), options).toBe(true)
        if (Either.isLeft(r)) {
          expect(r.left.message, options).not.toContain(secret)
          expect(r.left.message, options).toMatch(shape)
        }
      }
      // A section given as a list of its fields: the whole value would be echoed; its secret is masked.
      const section = yield* withStage("", 'vault: [{ token: "tok-in-a-list-4242" }]\n')
      expect(Either.isLeft(section) && section.left.message).toMatch(/invalid section vault: must be a mapping with token, actual \[\{"token":"<redacted>"\}\]/)
      expect(Either.isLeft(section) && section.left.message).not.toContain("tok-in-a-list-4242")
      // Not every name with "token" in it is a secret: max_tokens is a count, its value is shown.
      const count = yield* withStage("    max_tokens: lots\n")
      expect(Either.isLeft(count) && count.left.message).toContain('max_tokens must be an integer, actual "lots"')
      expect(["api_key", "auth_key", "token", "access_token", "client_secret", "password", "Authorization"].every(Pipeline.isSecretKey)).toBe(true)
      expect(["max_tokens", "repetition_tokens", "model", "path"].some(Pipeline.isSecretKey)).toBe(false)
    }))

  it.effect("fingerprints what decides the output, not where it is written: sink and branch paths are left out", () =>
    Effect.gen(function* () {
      const base = `${valid.replace("  - use: core/first-turn", "  - use: core/first-turn\n    route: held")}branches:\n  held: { type: jsonl, path: out-held }\n`
      const fp = (text: string) =>
        Effect.map(decode(text), (r) => (Either.isRight(r) ? r.right.fingerprint : `error: ${r.left.message}`))
      const a = yield* fp(base)
      expect(a).toMatch(/^[0-9a-f]{64}$/)
      expect(yield* fp(base.replace("path: out }", "path: /mnt/bigger-disk/out }"))).toBe(a)
      expect(yield* fp(base.replace("path: out-held", "path: /elsewhere/held"))).toBe(a)
      // What changes the bytes written changes the fingerprint.
      expect(yield* fp(base.replace("path: out }", "path: out, compression: none }"))).not.toBe(a)
      expect(yield* fp(base.replace("path: out }", "path: out, shard_rows: 10 }"))).not.toBe(a)
      expect(yield* fp(base.replace("path: out-held", "path: out-held, gzip_level: 9"))).not.toBe(a)
      expect(yield* fp(base.replace('path: "data/*.jsonl"', 'path: "other/*.jsonl"'))).not.toBe(a)
    }))
})

describe("Pipeline.plan (issue 16)", () => {
  const planOf = (text: string) =>
    Effect.map(decode(text), (r) => {
      if (Either.isLeft(r)) throw new Error(r.left.message)
      return Pipeline.plan(r.right)
    })

  it.effect("names file line, column and stage of an unmet requirement", () =>
    Effect.gen(function* () {
      const p = yield* planOf(`${valid}`.replace("  - use: core/first-turn", "  - use: core/first-turn\n  - use: core/dedup\n    field: translated_conversation.0.content"))
      expect(p.issues).toEqual([
        {
          stage: "core/dedup",
          line: 8,
          column: 5,
          message: expect.stringMatching(/^requires field translated_conversation\.0\.content, which no earlier stage provides/)
        }
      ])
    }))

  it.effect("a field provided only under some option values counts only under them", () =>
    Effect.gen(function* () {
      const chain = (drop: boolean) =>
        valid.replace(
          "  - use: core/first-turn",
          `  - use: core/first-turn\n  - use: core/dedup\n    output: dup\n    drop: ${drop}\n  - use: core/select\n    redacted: false\n  - use: core/dedup\n    field: dup`
        )
      // dedup writes `dup` unless drop: true (then it drops the duplicates instead).
      expect((yield* planOf(chain(false))).issues).toEqual([])
      const dropped = yield* planOf(chain(true))
      expect(dropped.issues.map((i) => [i.stage, i.message.split(",")[0]])).toEqual([["core/dedup#2", "requires field dup"]])
      // Options that read a field only when set require it only when set.
      expect((yield* planOf(valid.replace("languages: [English, Japanese]", "min_turns: 1"))).issues).toEqual([])
    }))

  it.effect("a source read with validate: none may carry any field; a field removed by an earlier stage is still missing", () =>
    Effect.gen(function* () {
      const open = valid
        .replace('path: "data/*.jsonl" }', 'path: "data/*.jsonl", validate: none }')
        .replace("  - use: core/first-turn", "  - use: core/dedup\n    field: best_response.content")
      expect((yield* planOf(open)).issues).toEqual([])
      const removed = yield* planOf(open.replace("  - use: core/dedup", "  - use: core/fields\n    drop: [best_response]\n  - use: core/dedup"))
      expect(removed.issues.map((i) => i.message)).toEqual([expect.stringMatching(/^requires field best_response\.content, which stage core\/fields \(line \d+\) removes/)])
      // Checked as LMSYS records, the message says how to declare an enriched input.
      const lmsys = yield* planOf(open.replace(", validate: none", ""))
      expect(lmsys.issues[0]!.message).toContain("set validate: none on the source")
    }))

  it.effect("warns when a route sends rows around pii/redact, which the main path passes", () =>
    Effect.gen(function* () {
      writeFileSync(
        join(dir, "pii.mjs"),
        `import { Effect, Schema } from "effect"
const redact = { id: "pii/redact", description: "test double", config: Schema.Struct({}), requires: [], provides: [], make: () => Effect.succeed((rows) => rows) }
const scan = { ...redact, id: "pii/scan" }
export default { name: "pii", version: "0.0.1", stages: [redact, scan] }
`
      )
      const text = (stages: string) =>
        `name: t\nplugins: ["./pii.mjs"]\nsource: { type: jsonl, path: a.jsonl }\nstages:\n${stages}sink: { type: jsonl, path: out }\nbranches:\n  held: { type: jsonl, path: out-held }\n`
      const before = yield* planOf(text("  - use: core/first-turn\n    route: held\n  - use: pii/redact\n"))
      expect(before.issues).toEqual([])
      expect(before.warnings).toEqual([
        {
          stage: "core/first-turn",
          line: 5,
          column: 5,
          message: expect.stringMatching(/^routes rows to branch held before pii\/redact \(line 7\), which the main path passes: the branch receives personal data unredacted/)
        }
      ])
      // Redacting first, or a route after the pii stage, is quiet.
      expect((yield* planOf(text("  - use: pii/redact\n  - use: core/first-turn\n    route: held\n"))).warnings).toEqual([])
      expect((yield* planOf(text("  - use: pii/redact\n    route: held\n"))).warnings).toEqual([])
      // pii/scan only annotates: a branch that skips it holds nothing the main output lacks.
      expect((yield* planOf(text("  - use: core/first-turn\n    route: held\n  - use: pii/scan\n"))).warnings).toEqual([])
    }))
})

describe("Pipeline.to (composed in code)", () => {
  // A plugin with a section, loaded by the file pipeline and imported by the code one.
  writeFileSync(
    join(dir, "styled.mjs"),
    `import { Schema } from "effect"
export default {
  name: "styled",
  version: "1.2.3",
  stages: [],
  sections: { style: Schema.Struct({ tone: Schema.String, endpoint: Schema.optional(Schema.String) }) },
  fingerprint: { style: (s) => ({ tone: s.tone }) }
}
`
  )
  const file = `name: t
seed: 7
plugins: ["./styled.mjs"]
source: { type: jsonl, path: "data/*.jsonl" }
stages:
  - use: core/select
    languages: [English, Japanese]
  - use: core/first-turn
    route: held
    id: first
sink: { type: jsonl, path: out }
branches:
  held: { type: jsonl, path: out-held, compression: none }
outputs:
  english: { type: jsonl, path: out-en, where: 'language == "English"' }
style: { tone: plain, endpoint: "http://127.0.0.1:1" }
`
  const registryOf = Effect.gen(function* () {
    const styled: { default: Plugin.Plugin } = yield* Effect.promise(() => import(join(dir, "styled.mjs")))
    return yield* Registry.fromPlugins([{ plugin: styled.default, specifier: "./styled.mjs" }])
  })
  interface Parts {
    readonly route?: string
    readonly id?: string
    readonly languages?: ReadonlyArray<string>
    readonly heldCompression?: "none" | "gzip"
    readonly where?: string
    readonly tone?: string
    readonly endpoint?: string
    readonly seed?: number
  }
  const composed = (registry: Registry.Registry, parts: Parts = {}): Pipeline.ResolvedPipeline =>
    Pipeline.from(Sources.jsonl, { path: "data/*.jsonl" }).pipe(
      Pipeline.through(CoreStages.select, { languages: [...(parts.languages ?? ["English", "Japanese"])] }),
      Pipeline.through(CoreStages.firstTurn, {}, { route: parts.route ?? "held", id: parts.id ?? "first" }),
      Pipeline.to(Sinks.jsonl, { path: "out" }, {
        name: "t",
        seed: parts.seed ?? 7,
        baseDir: dir,
        registry,
        branches: {
          held: { def: Sinks.jsonl, config: Schema.decodeUnknownSync(Sinks.jsonl.config)({ path: "out-held", compression: parts.heldCompression ?? "none" }) },
          other: { def: Sinks.jsonl, config: Schema.decodeUnknownSync(Sinks.jsonl.config)({ path: "out-other", compression: "none" }) }
        },
        outputs: {
          english: { def: Sinks.jsonl, config: Schema.decodeUnknownSync(Sinks.jsonl.config)({ path: "out-en" }), where: parts.where ?? 'language == "English"' }
        },
        sections: { style: { tone: parts.tone ?? "plain", endpoint: parts.endpoint ?? "http://127.0.0.1:1" } }
      })
    )

  it.effect("a pipeline composed in code has the fingerprint of the same pipeline written as a file", () =>
    Effect.gen(function* () {
      const registry = yield* registryOf
      const fromFile = yield* decode(file.replace("compression: none }", "compression: none }\n  other: { type: jsonl, path: out-other, compression: none }"))
      if (Either.isLeft(fromFile)) return expect.fail(fromFile.left.message)
      const code = composed(registry)
      expect(code.normalized).toEqual(fromFile.right.normalized)
      expect(code.fingerprint).toBe(fromFile.right.fingerprint)
      expect(code.sections).toEqual({ style: { tone: "plain", endpoint: "http://127.0.0.1:1" } })
      expect(code.stages.map((s) => [s.instanceId, s.route])).toEqual([["core/select", undefined], ["first", "held"]])
      expect([...(code.outputs?.keys() ?? [])]).toEqual(["english"])
    }))

  it.effect("changing a route, an id, a branch, an output's where, a section or a stage option in code changes the fingerprint", () =>
    Effect.gen(function* () {
      const registry = yield* registryOf
      const base = composed(registry).fingerprint
      expect(base).toMatch(/^[0-9a-f]{64}$/)
      expect(composed(registry).fingerprint).toBe(base)
      // Rows routed to another branch are another output: a rerun must not resume into the old one.
      expect(composed(registry, { route: "other" }).fingerprint).not.toBe(base)
      expect(composed(registry, { id: "first-turn" }).fingerprint).not.toBe(base)
      expect(composed(registry, { heldCompression: "gzip" }).fingerprint).not.toBe(base)
      expect(composed(registry, { where: 'language == "Japanese"' }).fingerprint).not.toBe(base)
      expect(composed(registry, { tone: "formal" }).fingerprint).not.toBe(base)
      expect(composed(registry, { languages: ["English"] }).fingerprint).not.toBe(base)
      expect(composed(registry, { seed: 8 }).fingerprint).not.toBe(base)
      // What the plugin leaves out of its section's fingerprint (an endpoint) resumes.
      expect(composed(registry, { endpoint: "http://127.0.0.1:2" }).fingerprint).toBe(base)
    }))

  it.effect("refuses at build time a route to no branch, a stage id used twice, an unknown or invalid section and a bad where", () =>
    Effect.gen(function* () {
      const registry = yield* registryOf
      expect(() => composed(registry, { route: "hold" })).toThrow(
        "pipeline t (composed in code): stage first: route hold names no branch — did you mean held? (give it under branches)"
      )
      expect(() => composed(registry, { id: "core/select" })).toThrow("stage id core/select is used twice")
      expect(() => composed(registry, { where: "language ==" })).toThrow(/output english: where: /)
      const bare = yield* Registry.fromPlugins([])
      expect(() => composed(bare)).toThrow("unknown section style (is the plugin that owns it in the registry?)")
      expect(() =>
        Pipeline.from(Sources.jsonl, { path: "data/*.jsonl" }).pipe(
          Pipeline.to(Sinks.jsonl, { path: "out" }, { name: "t", registry, sections: { style: { tone: 3 } } })
        )
      ).toThrow(/tone/)
    }))
})

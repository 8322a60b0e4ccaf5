/**
 * Pipeline-file errors that help (issue 22): an option with a fixed set of values lists them and
 * suggests the nearest, types are said in plain words, a misspelled plugin is named at its line
 * with the nearest installed one, and a source path matching no file fails before any run.
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { join, relative } from "node:path"
import * as Pipeline from "../src/Pipeline.js"
import * as Runner from "../src/Runner.js"

mkdirSync(join(import.meta.dirname, ".tmp"), { recursive: true })
const dir = mkdtempSync(join(import.meta.dirname, ".tmp", "errors-"))
const file = join(dir, "p.yaml")
const decode = (text: string) => Pipeline.decode(file, text).pipe(Effect.either)
const message = (r: Either.Either<unknown, { readonly message: string }>): string => (Either.isLeft(r) ? r.left.message : "(decoded)")

const base = (stages: string, sink = "{ type: jsonl, path: out }", extra = "") => `name: t
${extra}source: { type: jsonl, path: "data/*.jsonl" }
stages:
${stages}sink: ${sink}
`

describe("pipeline-file errors in plain words", () => {
  it.effect("an enum option lists every allowed value and suggests the nearest, at file:line:column", () =>
    Effect.gen(function* () {
      const sink = message(yield* decode(base("  - use: core/first-turn\n", "{ type: jsonl, path: out, compression: gz }")))
      expect(sink).toBe(`${file}:5:46: invalid sink jsonl: compression must be one of gzip, none; did you mean "gzip"?`)
      const far = message(yield* decode(base("  - use: core/first-turn\n", "{ type: jsonl, path: out, compression: brotli }")))
      expect(far).toBe(`${file}:5:46: invalid sink jsonl: compression must be one of gzip, none`)
    }))

  it.effect("a type error says the type in words with an example, not TypeScript", () =>
    Effect.gen(function* () {
      const r = message(yield* decode(base("  - use: core/select\n    languages: English\n")))
      expect(r).toBe(`${file}:5:16: stage core/select: languages must be a list of strings (at least 1), for example [English], actual "English"`)
      expect(r).not.toContain("ReadonlyArray")
    }))

  it.effect("a misspelled plugin: its line, the nearest installed plugin, no path inside synthline", () =>
    Effect.gen(function* () {
      const r = message(yield* decode(base("  - use: core/first-turn\n", undefined, 'plugins: ["@synthline/plugin-pi"]\n')))
      expect(r).toMatch(/^.*p\.yaml:2:11: cannot load plugin @synthline\/plugin-pi: no installed package is named @synthline\/plugin-pi — did you mean @synthline\/plugin-pii\?/)
      expect(r).not.toContain("Registry.ts")
      expect(r).not.toContain("imported from")
    }))

  it.effect("checkInputs: a source path matching no file fails at its line, with the near folder", () =>
    Effect.gen(function* () {
      mkdirSync(join(dir, "data"), { recursive: true })
      writeFileSync(join(dir, "data", "a.jsonl"), "{}\n")
      const check = (text: string) =>
        Effect.gen(function* () {
          writeFileSync(file, text)
          const p = yield* Pipeline.load(file)
          return yield* Effect.either(Pipeline.checkInputs(p))
        })
      const ok = yield* check(base("  - use: core/first-turn\n"))
      expect(Either.isRight(ok)).toBe(true)
      const typo = yield* check(base("  - use: core/first-turn\n").replace('"data/*.jsonl"', '"dat/*.jsonl"'))
      // The file as the user would give it: relative to the working folder it lies below.
      const shown = relative(process.cwd(), file)
      expect(message(typo)).toBe(`${shown}:2:30: source path dat/*.jsonl: no file matches this pattern (under ${dir}); did you mean data/*.jsonl?`)
      const none = yield* check(base("  - use: core/first-turn\n").replace('"data/*.jsonl"', '"data/*.parquet"'))
      expect(message(none)).toBe(`${shown}:2:30: source path data/*.parquet: no file matches this pattern (under ${dir})`)
      const list = yield* check(base("  - use: core/first-turn\n").replace('path: "data/*.jsonl"', 'path: ["data/a.jsonl", "data/b.jsonl"]'))
      expect(message(list)).toMatch(/p\.yaml:2:47: source path data\/b\.jsonl: no such file/)
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("stage errors at their line", () => {
  it.effect("a stage that cannot be made (its prelude failed) is named with file:line:column, as a pipeline-file error is", () =>
    Effect.gen(function* () {
      mkdirSync(join(dir, "made", "data"), { recursive: true })
      writeFileSync(join(dir, "made", "data", "a.jsonl"), `${JSON.stringify({ conversation_id: "c1" })}\n`)
      writeFileSync(
        join(dir, "made", "broken.mjs"),
        `import { Effect, Schema } from "effect"
export default {
  name: "broken",
  version: "0.0.1",
  stages: [{ id: "broken/prelude", description: "fails when made", config: Schema.Struct({}), requires: [], provides: [],
    make: () => Effect.fail({ _tag: "StageError", stage: "broken/prelude", reason: "model gemma is not declared in models" }) }]
}
`
      )
      const pipelineFile = join(dir, "made", "p.yaml")
      writeFileSync(
        pipelineFile,
        `name: made
plugins: ["./broken.mjs"]
source: { type: jsonl, path: "data/*.jsonl", validate: none }
stages:
  - use: core/limit
    rows: 5
  - use: broken/prelude
sink: { type: jsonl, path: out }
`
      )
      const pipeline = yield* Pipeline.load(pipelineFile)
      const error = yield* Runner.run(pipeline, { workers: 1 }).pipe(Effect.flip)
      expect(error.message).toBe(`${pipelineFile}:7:5: stage broken/prelude: model gemma is not declared in models`)
    }).pipe(Effect.provide(NodeContext.layer))
  )
})

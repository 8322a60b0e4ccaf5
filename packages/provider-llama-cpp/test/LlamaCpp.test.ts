import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import * as Sample from "@synthline/sample/Sample"
import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { gzipParts, readParts, synthline } from "../../cli/test/support.js"
import { boundIntegers, parseBody } from "../src/LlamaCpp.js"
import { client, run, tempDir, writeTinyModel } from "./support.js"

const dir = tempDir("llama")
beforeAll(() => {
  writeTinyModel(dir)
})

// One thread per context: the tests share the machine with other test files.
const local = (extra: { [k: string]: unknown } = {}) => ({
  local: { provider: "llama-cpp", path: "./tiny-42.gguf", concurrency: 2, options: { threads: 1, context_size: 1024 }, ...extra }
})

const ask = (content: string, extra: { [k: string]: unknown } = {}) => ({
  messages: [
    { role: "system", content: "You are a tiny random model." },
    { role: "user", content }
  ],
  temperature: 0.8,
  max_tokens: 24,
  ...extra
})

describe("llama-cpp provider", () => {
  it("answers with real inference on a generated GGUF: text, usage, finish_reason, same seed same text", () =>
    run(
      Effect.gen(function* () {
        const models = yield* client(local(), { dir })
        const m = yield* models.get("local")
        expect(m.model).toBe("./tiny-42.gguf")
        expect(m.capacity).toBe(2)
        const a = yield* m.complete(ask("Hello there", { seed: 7 }))
        expect(a.content.length).toBeGreaterThan(0)
        expect(a.usage.completion_tokens).toBeGreaterThan(0)
        expect(a.usage.completion_tokens).toBeLessThanOrEqual(24)
        expect(a.finish_reason).toBe(a.usage.completion_tokens === 24 ? "length" : "stop")
        // Greedy decoding of this model never picks the end of turn: the answer is cut at max_tokens.
        const greedy = yield* m.complete(ask("Hello there", { temperature: 0, max_tokens: 10 }))
        expect(greedy).toMatchObject({ finish_reason: "length", usage: { completion_tokens: 10 } })
        // The ChatML template from the GGUF metadata wraps both messages: more tokens than the text alone.
        expect(a.usage.prompt_tokens).toBeGreaterThan("You are a tiny random model.Hello there".length)
        const again = yield* m.complete(ask("Hello there", { seed: 7 }))
        expect(again.content).toBe(a.content)
        const other = yield* m.complete(ask("Hello there", { seed: 8 }))
        expect(other.content).not.toBe(a.content)
        // Requests in parallel on the pool's sequences give the answers they give alone.
        const seeds = [1, 2, 3, 4]
        const alone = yield* Effect.forEach(seeds, (seed) => m.complete(ask("Hi", { seed })))
        const together = yield* Effect.forEach(seeds, (seed) => m.complete(ask("Hi", { seed })), { concurrency: 4 })
        expect(together.map((x) => x.content)).toEqual(alone.map((x) => x.content))
        const tokens = [a, greedy, again, other, ...alone, ...together].reduce((n, x) => n + x.usage.completion_tokens, 0)
        expect(m.usage()).toMatchObject({ calls: 12, completions: 12, completion_tokens: tokens })
      })
    ))

  it("constrains json_schema answers with a grammar, so they parse and fit the schema", () =>
    run(
      Effect.gen(function* () {
        const models = yield* client(local(), { dir })
        const m = yield* models.get("local")
        const schema = {
          type: "object",
          properties: { verdict: { enum: ["good", "bad"] }, score: { type: "number" }, note: { type: "string", maxLength: 12 } },
          required: ["verdict", "score", "note"]
        }
        for (const seed of [1, 2, 3]) {
          const a = yield* m.complete(
            ask("Judge this.", { seed, max_tokens: 200, response_format: { type: "json_schema", json_schema: { name: "output", schema, strict: true } } })
          )
          expect(a.finish_reason).toBe("stop")
          const parsed = JSON.parse(a.content)
          expect(["good", "bad"]).toContain(parsed.verdict)
          expect(typeof parsed.score).toBe("number")
          expect(typeof parsed.note).toBe("string")
          expect(parsed.note.length).toBeLessThanOrEqual(12)
        }
        // Integer bounds hold (node-llama-cpp alone ignores minimum/maximum): the structured
        // judge's schema gives a score 0..10, also greedy, where the reasoning is cut by maxLength.
        const judgement = {
          type: "object",
          properties: { reasoning: { type: "string", maxLength: 40 }, score: { type: "integer", minimum: 0, maximum: 10 } },
          required: ["reasoning", "score"],
          additionalProperties: false
        }
        for (const [seed, temperature] of [[1, 0], [2, 0.8], [3, 1.5], [4, 1.5]] as const) {
          const a = yield* m.complete(
            ask("Rate this.", { seed, temperature, max_tokens: 200, response_format: { type: "json_schema", json_schema: { name: "judgement", schema: judgement, strict: true } } })
          )
          expect(a.finish_reason).toBe("stop")
          const parsed = JSON.parse(a.content)
          expect(Object.keys(parsed)).toEqual(["reasoning", "score"])
          expect(parsed.reasoning.length).toBeLessThanOrEqual(40)
          expect(Number.isInteger(parsed.score) && parsed.score >= 0 && parsed.score <= 10).toBe(true)
        }
      })
    ))

  it("turns bounded integers of a JSON schema into enums for the grammar", () => {
    expect(boundIntegers({ type: "integer", minimum: 0, maximum: 3, description: "d" })).toEqual({ type: "integer", enum: [0, 1, 2, 3], description: "d" })
    expect(boundIntegers({ type: "integer", exclusiveMinimum: 0, exclusiveMaximum: 3 })).toEqual({ type: "integer", enum: [1, 2] })
    expect(boundIntegers({ type: "integer", minimum: 0.5, maximum: 2.5 })).toEqual({ type: "integer", enum: [1, 2] })
    // Nested anywhere; numbers, one-sided, huge or empty ranges and explicit enums are left alone.
    const nested = {
      type: "object",
      properties: {
        a: { type: "array", items: { type: "integer", minimum: 1, maximum: 2 } },
        b: { type: "number", minimum: 0, maximum: 1 },
        c: { type: "integer", minimum: 0 },
        d: { type: "integer", minimum: 0, maximum: 5000 },
        e: { type: "integer", minimum: 3, maximum: 1 },
        f: { type: "integer", minimum: 0, maximum: 9, enum: [2, 4] }
      }
    }
    expect(boundIntegers(nested)).toEqual({ ...nested, properties: { ...nested.properties, a: { type: "array", items: { type: "integer", enum: [1, 2] } } } })
    const r = parseBody({
      messages: [{ role: "user", content: "u" }],
      response_format: { type: "json_schema", json_schema: { name: "j", schema: { type: "object", properties: { score: { type: "integer", minimum: 0, maximum: 2 } } } } }
    })
    expect(r._tag === "Right" && r.right.format).toEqual({ type: "object", properties: { score: { type: "integer", enum: [0, 1, 2] } } })
  })

  it("says what is wrong with a missing model file, bad options or a bad request", () =>
    run(
      Effect.gen(function* () {
        const models = yield* client(
          { gone: { provider: "llama-cpp", path: "./nope.gguf" }, bad: { provider: "llama-cpp", path: "./tiny-42.gguf", options: { thread: 2 } } },
          { dir }
        )
        const gone = yield* Effect.flip(models.get("gone"))
        expect(gone.message).toContain("no model file at")
        expect(gone.message).toContain("make-tiny-model")
        const bad = yield* Effect.flip(models.get("bad"))
        expect(bad.message).toContain("invalid options")
        expect(bad.message).toContain("thread")
      })
    ))

  it("maps an OpenAI body to chat history and sampling options", () => {
    const r = parseBody({
      model: "x",
      messages: [
        { role: "system", content: "s" },
        { role: "user", content: "u" },
        { role: "assistant", content: "a" },
        { role: "user", content: "u2" }
      ],
      top_p: 0.9,
      top_k: 5,
      stop: "END",
      seed: 3,
      response_format: { type: "json_object" }
    })
    expect(r._tag).toBe("Right")
    if (r._tag === "Right") {
      expect(r.right.history).toEqual([
        { type: "system", text: "s" },
        { type: "user", text: "u" },
        { type: "model", response: ["a"] },
        { type: "user", text: "u2" },
        { type: "model", response: [] }
      ])
      expect(r.right).toMatchObject({ temperature: 1, topP: 0.9, topK: 5, seed: 3, stop: ["END"], format: "json" })
    }
    expect(parseBody({ messages: [{ role: "tool", content: "x" }] })._tag).toBe("Left")
    expect(parseBody({ messages: [], response_format: { type: "json_schema", json_schema: {} } })._tag).toBe("Left")
  })
})

// ---------------------------------------------------------------------------------------------
// From a pipeline file, through the CLI.

describe("llm/complete on provider: llama-cpp from a pipeline file", () => {
  it("produces answers and JSON, uses the cache on rerun, and reports usage in the manifest", async () => {
    mkdirSync(join(dir, "data"), { recursive: true })
    writeFileSync(join(dir, "data/rows.jsonl"), [...Sample.records(2, 6)].map((r) => `${JSON.stringify(r)}\n`).join(""))
    const file = join(dir, "local.pipeline.yaml")
    writeFileSync(
      file,
      `name: local
seed: 3
plugins: ["@synthline/provider-llama-cpp"]
source: { type: jsonl, path: "data/*.jsonl" }
models:
  local:
    provider: llama-cpp
    path: ./tiny-42.gguf
    concurrency: 2
    options: { threads: 1, context_size: 1024 }
cache: { path: cache.sqlite }
stages:
  - use: llm/complete
    model: local
    user: "Reply to: {{conversation.0.content}}"
    output: reply
    temperature: 0.7
    max_tokens: 16
    on_length: keep
  - use: llm/complete
    model: local
    user: "Rate: {{conversation.0.content}}"
    output: rating
    max_tokens: 64
    json_schema: { type: object, properties: { score: { enum: [1, 2, 3] } }, required: [score] }
sink: { type: jsonl, path: out }
`
    )
    const r = await synthline(["run", file])
    expect(r.stderr).not.toContain("node-llama-cpp")
    expect(r.code).toBe(0)
    const out = join(dir, "out")
    const rows = readParts(out, gzipParts)
    expect(rows).toHaveLength(6)
    for (const row of rows) {
      expect(typeof row.reply).toBe("string")
      expect((row.reply as string).length).toBeGreaterThan(0)
      expect([1, 2, 3]).toContain((row.rating as { score: number }).score)
    }
    const usage = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")).model_usage.local
    expect(usage).toMatchObject({ model: "./tiny-42.gguf", calls: 12, cache_hits: 0, completions: 12 })
    expect(usage.prompt_tokens).toBeGreaterThan(0)
    expect(usage.completion_tokens).toBeGreaterThan(6 * 16 - 1)

    const again = await synthline(["run", file, "--fresh"])
    expect(again.code).toBe(0)
    expect(readParts(out, gzipParts)).toEqual(rows)
    const cached = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")).model_usage.local
    expect(cached).toMatchObject({ calls: 12, cache_hits: 12, requests: 0 })
  }, 120_000)
})


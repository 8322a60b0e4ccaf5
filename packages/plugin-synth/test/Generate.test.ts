import { describe, expect, it } from "vitest"
import { runStage } from "@synthline/core/Testing"
import { generate } from "../src/Generate.js"
import { pickBest, selectBest } from "../src/SelectBest.js"
import { run, tempDir, withServer } from "./support.js"
import { join } from "node:path"
import { NodeContext } from "@effect/platform-node"
import { Effect, Layer, Schema } from "effect"
import type { Row } from "@synthline/core/Row"
import { ModelsSection } from "@synthline/llm/Config"
import { layerWith, Models } from "@synthline/llm/Models"
import type * as TestServer from "@synthline/llm/TestServer"
import * as Usage from "@synthline/llm/Usage"

const rows = Array.from({ length: 8 }, (_, i) => ({
  conversation_id: `c${i}`,
  translated_conversation: [{ role: "user", content: `質問 ${i}` }],
  empty_user_instruction_ja: i === 6,
  duplicate_user_instruction_ja: i === 7 ? "c1" : null
}))

describe("synth/generate", () => {
  it("asks n answers with the recipe's sampling defaults, records the model, skips empty and duplicate rows, leaves failed answers out", () =>
    withServer(
      {
        record: true,
        chat: (req, n) => {
          const u = req.messages[0]!.content
          if (u === "質問 2" && n % 2 === 0) return { fault: "status", status: 400 }
          if (u === "質問 3") return { fault: "status", status: 400 }
          if (u === "質問 4" && req.seed !== undefined && req.seed % 3 === 0) return { content: "cut", finish_reason: "length" }
          return { content: `answer to ${u} seed ${req.seed}`, completion_tokens: u.length + 100 }
        }
      },
      async (server) => {
        const r = await run(server, runStage(generate, { model: "m", n: 3 }, rows, { seed: 4 }))
        const body = server.requests[0]!.body as { temperature: number; top_p: number; max_tokens: number }
        expect([body.temperature, body.top_p, body.max_tokens]).toEqual([0.6, 1.0, 4096])
        expect(r.rows.map((x) => x.conversation_id)).toEqual(["c0", "c1", "c2", "c4", "c5", "c6", "c7"])
        expect(r.rejected.map((x) => [x.row.conversation_id, x.error])).toEqual([
          ["c3", expect.stringContaining("synth/generate: model m at")]
        ])
        const c0 = r.rows[0]!
        expect(c0.synthesis_model).toBe("test/gen")
        expect(c0.synthesized_assistant_responses).toHaveLength(3)
        for (const a of c0.synthesized_assistant_responses as Array<{ role: string; content: string }>) {
          expect(a.role).toBe("assistant")
          expect(a.content).toMatch(/^answer to 質問 0 seed \d+$/)
        }
        expect(c0.synthesized_response_token_lengths).toEqual([104, 104, 104])
        const c2 = r.rows[2]!.synthesized_assistant_responses as Array<unknown>
        expect(c2.length).toBeLessThan(3)
        expect(c2.length).toBeGreaterThan(0)
        expect(r.rows.find((x) => x.conversation_id === "c6")!.synthesized_assistant_responses).toEqual([])
        expect(r.rows.find((x) => x.conversation_id === "c7")!.synthesized_assistant_responses).toEqual([])
        expect(server.requests.filter((q) => JSON.stringify(q.body).includes("質問 6"))).toEqual([])
      }
    ))
})

describe("synth/generate with a model's choices_per_request", () => {
  const three = rows.slice(0, 3)
  /** Runs synth/generate (n 10) over three rows with a cached model; the rows and the model's usage. */
  const generateWith = (server: TestServer.TestServer, dir: string, choices: number) =>
    Effect.runPromise(
      Effect.gen(function* () {
        const r = yield* runStage(generate, { model: "m", n: 10 }, three, { seed: 4 })
        const m = yield* Effect.flatMap(Models, (ms) => ms.get("m"))
        return { rows: r.rows, usage: { ...m.usage() } }
      }).pipe(
        Effect.provide(
          Layer.merge(
            layerWith({
              models: Schema.decodeUnknownSync(ModelsSection)({
                m: { model: "test/gen", endpoints: [server.baseUrl], choices_per_request: choices, }
              }),
              cache: { path: join(dir, "cache.sqlite"), mode: "read-write" },
              baseDir: dir,
              env: {}
            }),
            NodeContext.layer
          )
        )
      )
    )
  const shape = (row: Row) => ({
    answers: (row.synthesized_assistant_responses as Array<{ role: string; content: string }>).map((a) => [a.role, typeof a.content]),
    lengths: (row.synthesized_response_token_lengths as Array<number>).length,
    model: row.synthesis_model
  })

  it("sends one request per row instead of ten, rows of the per-request shape, prompt billed once, a rerun asks nothing", () =>
    withServer({ record: true, chat: (q) => ({ content: `answer ${q.seed}`, prompt_tokens: 500, completion_tokens: 20 }) }, async (server) => {
      const perRequest = await generateWith(server, tempDir("gen-one"), 1)
      expect(server.counts.chat).toBe(30)
      const grouped = await generateWith(server, tempDir("gen-choices"), 10)
      expect(server.counts.chat - 30).toBe(3)
      expect(server.requests.slice(30).map((q) => (q.body as { n: number }).n)).toEqual([10, 10, 10])
      expect(grouped.rows.map(shape)).toEqual(perRequest.rows.map(shape))
      for (const row of grouped.rows) {
        const answers = row.synthesized_assistant_responses as Array<{ content: string }>
        expect(new Set(answers.map((a) => a.content)).size).toBe(10)
        // Each request's completion tokens shared out over its answers: they add up to 10 × 20.
        expect((row.synthesized_response_token_lengths as Array<number>).reduce((a, b) => a + b, 0)).toBe(200)
      }
      // The ledger: the prompt of each row billed once, not ten times.
      expect([perRequest.usage.requests, perRequest.usage.prompt_tokens]).toEqual([30, 30 * 500])
      expect([grouped.usage.requests, grouped.usage.completions, grouped.usage.prompt_tokens, grouped.usage.completion_tokens]).toEqual([3, 30, 3 * 500, 30 * 20])
      const price = { input: 1, output: 2, batch_discount: 0.5 }
      expect(Usage.cost(grouped.usage, price, false).usd).toBeCloseTo((3 * 500 * 1 + 30 * 20 * 2) / 1e6, 9)
      expect(Usage.cost(perRequest.usage, price, false).usd).toBeCloseTo((30 * 500 * 1 + 30 * 20 * 2) / 1e6, 9)
      // Resumed (the same cache): no request, the same rows.
      const before = server.counts.chat
      const dir = tempDir("gen-rerun")
      const first = await generateWith(server, dir, 10)
      const rerun = await generateWith(server, dir, 10)
      expect(server.counts.chat - before).toBe(3)
      expect(rerun.usage.requests).toBe(0)
      expect(rerun.usage.cache_hits).toBe(30)
      expect(rerun.rows).toEqual(first.rows)
    }))
})

describe("synth/select-best", () => {
  const ann = (preference_score: number, repetition_flag = false) => ({ response_token_length: 1, judgement: "", repetition_flag, preference_score })
  const answers = (n: number) => Array.from({ length: n }, (_, i) => ({ role: "assistant", content: `a${i}` }))

  it("picks the highest score, the earlier one on ties, never a repetition-flagged or unscored one, respecting min_score", () => {
    expect(pickBest(answers(3), [ann(5), ann(8), ann(8)], { excludeRepetition: true })).toBe(1)
    expect(pickBest(answers(3), [ann(5), ann(9, true), ann(8)], { excludeRepetition: true })).toBe(2)
    expect(pickBest(answers(3), [ann(5), ann(9, true), ann(8)], { excludeRepetition: false })).toBe(1)
    expect(pickBest(answers(2), [ann(-1), ann(-1)], { excludeRepetition: true })).toBe(-1)
    expect(pickBest(answers(2), [ann(6), ann(7)], { minScore: 8, excludeRepetition: true })).toBe(-1)
  })

  it("writes best_response and drops templates, PII rows and rows without an eligible answer with reasons", async () => {
    const base = { translated_conversation: [{ role: "user", content: "q" }], synthesized_assistant_responses: answers(2) }
    const input = [
      { ...base, conversation_id: "a", synthesized_response_scoring_annotations: [ann(4), ann(7)], is_template_instruction: null, has_pii: false },
      { ...base, conversation_id: "b", synthesized_response_scoring_annotations: [ann(9), ann(7)], is_template_instruction: "company introduction", has_pii: false },
      { ...base, conversation_id: "c", synthesized_response_scoring_annotations: [ann(9), ann(7)], is_template_instruction: null, has_pii: true },
      { ...base, conversation_id: "d", synthesized_response_scoring_annotations: [ann(2), ann(3)], is_template_instruction: null, has_pii: false }
    ]
    const { Effect } = await import("effect")
    const r = await Effect.runPromise(runStage(selectBest, { min_score: 4, exclude_templates: true, exclude_pii: true }, input))
    expect(r.rows.map((x) => [x.conversation_id, x.best_response])).toEqual([
      ["a", { role: "assistant", content: "a1", index: 1, preference_score: 7 }]
    ])
    expect(r.dropped.map((d) => [d.row.conversation_id, d.reason])).toEqual([
      ["b", "template_instruction"],
      ["c", "has_pii"],
      ["d", "no_eligible_answer"]
    ])
  })
})

import { describe, expect, it } from "vitest"
import { runStage } from "@synthline/core/Testing"
import { generate } from "../src/Generate.js"
import { pickBest, selectBest } from "../src/SelectBest.js"
import { run, withServer } from "./support.js"

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

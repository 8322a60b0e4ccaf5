import { describe, expect, it } from "vitest"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { NodeContext } from "@effect/platform-node"
import { Chunk, Effect, Schema } from "effect"
import { DpoConfig, dpo, toPair } from "../src/DpoSink.js"
import { SftConfig, toMessages } from "../src/SftSink.js"
import { tempDir } from "./support.js"

/** A judged row: one answer per score; `flags` marks answers flagged for repetition. */
const judged = (id: string, scores: ReadonlyArray<number>, extra: { [key: string]: unknown } = {}, flags: ReadonlyArray<number> = []) => ({
  conversation_id: id,
  translated_conversation: [{ role: "user", content: `q-${id}` }],
  synthesized_assistant_responses: scores.map((_, i) => ({ role: "assistant", content: `a${i}-${id}` })),
  synthesized_response_scoring_annotations: scores.map((s, i) => ({
    response_token_length: 10,
    judgement: `[[${s}]]`,
    repetition_flag: flags.includes(i),
    preference_score: s
  })),
  ...extra
})

const config = Schema.decodeUnknownSync(DpoConfig)({ path: "x" })

describe("dpo sink", () => {
  it("pairs the best answer (chosen) with the worst (rejected), with their scores", () => {
    expect(toPair(judged("c1", [5, 9, 2, 9, 2]), config)).toEqual({
      prompt: [{ role: "user", content: "q-c1" }],
      // Ties: the earlier best, the later worst.
      chosen: [{ role: "assistant", content: "a1-c1" }],
      rejected: [{ role: "assistant", content: "a4-c1" }],
      score_chosen: 9,
      score_rejected: 2,
      conversation_id: "c1"
    })
  })

  it("leaves out rows without a pair at least min_margin apart, with fewer than two scored answers, or excluded", () => {
    expect(toPair(judged("m", [7, 6]), config)).toBeUndefined() // margin 1 < 2 (default)
    expect(toPair(judged("m", [8, 6]), config)).toMatchObject({ score_chosen: 8, score_rejected: 6 }) // margin 2
    expect(toPair(judged("m", [7, 6]), Schema.decodeUnknownSync(DpoConfig)({ path: "x", min_margin: 1 }))).toMatchObject({ score_chosen: 7 })
    expect(toPair(judged("one", [9]), config)).toBeUndefined()
    // Unscored (-1) and repetition-flagged answers are not eligible: only 9 is left.
    expect(toPair(judged("u", [9, -1, 1], {}, [2]), config)).toBeUndefined()
    // The rejected answer is the worst eligible one, not a flagged one.
    expect(toPair(judged("f", [9, 0, 4], {}, [1]), config)).toMatchObject({ score_rejected: 4, rejected: [{ content: "a2-f" }] })
    // The SFT export's exclusions, on by default here: personal data and template instructions.
    expect(toPair(judged("p", [9, 1], { has_pii: true }), config)).toBeUndefined()
    expect(toPair(judged("t", [9, 1], { is_template_instruction: "company introduction" }), config)).toBeUndefined()
    const keep = Schema.decodeUnknownSync(DpoConfig)({ path: "x", exclude_pii: false, exclude_templates: false })
    expect(toPair(judged("p", [9, 1], { has_pii: true, is_template_instruction: "x" }), keep)).toMatchObject({ score_chosen: 9 })
    expect(toPair({ conversation_id: "bad" }, config)).toBe("field synthesized_assistant_responses is not a list of messages")
    // Answers synth/check-answers flagged (wrong language, cut off, ...) are not eligible either.
    const checks = (...flags: Array<Array<string>>) => ({ synthesized_response_checks: flags.map((f) => ({ flags: f, language: "ja" })) })
    expect(toPair(judged("c", [9, 1, 5], checks([], ["language"], []), []), config)).toMatchObject({ score_chosen: 9, score_rejected: 5 })
    expect(toPair(judged("c", [9, 1], checks(["truncated"], [])), config)).toBeUndefined()
    const unchecked = Schema.decodeUnknownSync(DpoConfig)({ path: "x", exclude_flagged: false })
    expect(toPair(judged("c", [9, 1], checks(["truncated"], [])), unchecked)).toMatchObject({ score_chosen: 9, score_rejected: 1 })
    expect(toPair(judged("c", [9, 1], checks([])), config)).toBe("field synthesized_response_checks is not one check per answer")
  })

  it("writes JSON lines that load as a TRL conversational preference dataset", async () => {
    const dir = tempDir("dpo")
    const c = Schema.decodeUnknownSync(DpoConfig)({ path: dir, system: "Answer in Japanese." })
    const files = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const w = yield* dpo.open(c, { dir, prefix: "part" })
          yield* w.write(Chunk.make(judged("r1", [3, 8]), judged("r2", [5, 5]), judged("r3", [10, 0, 6])))
          yield* w.commit
          return yield* w.finish
        })
      ).pipe(Effect.provide(NodeContext.layer))
    )
    expect(files.map((f) => [f.path, f.rows])).toEqual([["part-00000.jsonl", 2]])
    const rows = readFileSync(join(dir, "part-00000.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l))
    expect(rows.map((r) => r.conversation_id)).toEqual(["r1", "r3"])
    // TRL's preference type, conversational format: prompt, chosen and rejected are lists of
    // {role, content}; the prompt ends with the user turn, chosen and rejected hold the answer.
    for (const r of rows) {
      expect(Object.keys(r)).toEqual(["prompt", "chosen", "rejected", "score_chosen", "score_rejected", "conversation_id"])
      for (const key of ["prompt", "chosen", "rejected"]) {
        expect(Array.isArray(r[key])).toBe(true)
        for (const m of r[key]) expect(Object.keys(m)).toEqual(["role", "content"])
      }
      expect(r.prompt.map((m: { role: string }) => m.role)).toEqual(["system", "user"])
      expect(r.chosen.map((m: { role: string }) => m.role)).toEqual(["assistant"])
      expect(r.rejected.map((m: { role: string }) => m.role)).toEqual(["assistant"])
      expect(r.score_chosen - r.score_rejected).toBeGreaterThanOrEqual(2)
    }
    expect(rows[1]).toMatchObject({ chosen: [{ content: "a0-r3" }], rejected: [{ content: "a1-r3" }], score_chosen: 10, score_rejected: 0 })
  })
})

describe("sft sink, pick: best", () => {
  it("chooses the best eligible answer itself and leaves out rows without one, as select-best would", () => {
    const best = Schema.decodeUnknownSync(SftConfig)({ path: "x", pick: "best", exclude_pii: true, exclude_templates: true })
    expect(toMessages(judged("b", [4, 9, 9]), best)).toEqual({
      messages: [{ role: "user", content: "q-b" }, { role: "assistant", content: "a1-b" }]
    })
    expect(toMessages(judged("r", [9, 4], {}, [0]), best)).toEqual({
      messages: [{ role: "user", content: "q-r" }, { role: "assistant", content: "a1-r" }]
    })
    expect(toMessages(judged("n", [-1, -1]), best)).toBeUndefined()
    expect(toMessages(judged("p", [9], { has_pii: true }), best)).toBeUndefined()
    expect(toMessages(judged("t", [9], { is_template_instruction: "x" }), best)).toBeUndefined()
    // The best-scored answer flagged by synth/check-answers gives way to the next.
    const flagged = { synthesized_response_checks: [{ flags: ["language"] }, { flags: [] }] }
    expect(toMessages(judged("l", [9, 7], flagged), best)).toEqual({
      messages: [{ role: "user", content: "q-l" }, { role: "assistant", content: "a1-l" }]
    })
  })
})

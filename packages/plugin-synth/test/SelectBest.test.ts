import { runStage } from "@synthline/core/Testing"
import { Effect, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { selectBest } from "../src/SelectBest.js"
import { SftConfig, toMessages } from "../src/SftSink.js"

const ann = (preference_score: number, repetition_flag = false) => ({ response_token_length: 1, judgement: "", repetition_flag, preference_score })
const answers = (n: number) => Array.from({ length: n }, (_, i) => ({ role: "assistant", content: `a${i}` }))
const checks = (...flags: ReadonlyArray<ReadonlyArray<string>>) => flags.map((f) => ({ flags: f }))

const rows = [
  // The best score is flagged (wrong language): the next best is chosen.
  { conversation_id: "a", synthesized_assistant_responses: answers(3), synthesized_response_scoring_annotations: [ann(9), ann(7), ann(8)], synthesized_response_checks: checks(["language"], [], []) },
  // Every scored answer flagged: none is eligible.
  { conversation_id: "b", synthesized_assistant_responses: answers(2), synthesized_response_scoring_annotations: [ann(9), ann(-1)], synthesized_response_checks: checks(["truncated"], []) },
  // No checks on the row: scores alone decide.
  { conversation_id: "c", synthesized_assistant_responses: answers(2), synthesized_response_scoring_annotations: [ann(3), ann(6)] },
  // Repetition-flagged by the judge, and a check flag on the other.
  { conversation_id: "d", synthesized_assistant_responses: answers(3), synthesized_response_scoring_annotations: [ann(9, true), ann(5), ann(4)], synthesized_response_checks: checks([], ["repetition", "empty"], []) }
]

const chosen = (r: { readonly rows: ReadonlyArray<Record<string, unknown>> }) =>
  r.rows.map((x) => [x.conversation_id, (x.best_response as { index: number }).index])

describe("synth/select-best and synth/check-answers", () => {
  it("skips the answers check-answers flagged, as the sft sink's pick: best does", async () => {
    const r = await Effect.runPromise(runStage(selectBest, {}, rows))
    expect(chosen(r)).toEqual([
      ["a", 2],
      ["c", 1],
      ["d", 2]
    ])
    expect(r.rows[0]!.best_response).toEqual({ role: "assistant", content: "a2", index: 2, preference_score: 8 })
    expect(r.dropped.map((d) => [d.row.conversation_id, d.reason])).toEqual([["b", "no_eligible_answer"]])
    // The sft sink picks the same answers from the same rows.
    const sft = Schema.decodeUnknownSync(SftConfig)({ path: "out", pick: "best", user: "conversation_id" })
    for (const row of rows) {
      const picked = r.rows.find((x) => x.conversation_id === row.conversation_id)?.best_response as { content: string } | undefined
      const messages = toMessages(row, sft)
      expect(typeof messages === "object" ? messages.messages.at(-1)!.content : undefined).toBe(picked?.content)
    }
  })

  it("exclude_flagged: false, or checks in another field, leaves the flags out of the choice", async () => {
    const off = await Effect.runPromise(runStage(selectBest, { exclude_flagged: false }, rows))
    expect(chosen(off)).toEqual([
      ["a", 0],
      ["b", 0],
      ["c", 1],
      ["d", 1]
    ])
    const elsewhere = await Effect.runPromise(runStage(selectBest, { checks: "other_checks" }, rows))
    expect(chosen(elsewhere)).toEqual(chosen(off))
  })

  it("rejects a row whose checks are not one per answer, naming the stage and the field", async () => {
    const bad = { ...rows[0]!, synthesized_response_checks: checks([]) }
    const r = await Effect.runPromise(runStage(selectBest, {}, [bad]))
    expect(r.rows).toEqual([])
    expect(r.rejected.map((x) => x.error)).toEqual(["synth/select-best: field synthesized_response_checks is not one check per answer"])
  })
})

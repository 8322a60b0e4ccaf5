import { describe, expect, it } from "vitest"
import * as Profile from "../src/Profile.js"

const ann = (a: number, b: number, extra: Record<string, unknown> = {}) => ({
  response_token_length: 300,
  judgement: "j",
  repetition_flag: false,
  preference_score: a < 0 || b < 0 ? Math.max(a, b) : (a + b) / 2,
  judge_scores: [
    { model: "llama", score: a, judgement: "" },
    { model: "qwen", score: b, judgement: "" }
  ],
  ...extra
})

const rows = [
  { synthesis_model: "gemma", synthesized_response_scoring_annotations: [ann(8, 7), ann(3, 9, { judge_disagreement: true })] },
  { synthesis_model: "gemma", synthesized_response_scoring_annotations: [ann(5, 5), ann(-1, 6)], synthesized_response_checks: [{ flags: ["language"] }, { flags: ["repetition", "language"] }] },
  { synthesis_model: "llama", synthesized_response_scoring_annotations: [ann(10, 9), ann(5, 4)] }
]

const observed = (rs: ReadonlyArray<Record<string, unknown>>): Profile.Profile => {
  const p = Profile.empty()
  Profile.observer(p, new Map())(rs)
  return p
}

describe("the answers profile", () => {
  it("counts scores by model, token-length bins, flags and judge score pairs", () => {
    const a = observed(rows).answers!
    expect(a.scores_by_model).toEqual({ gemma: { "7": 1, "6": 2, "5": 1 }, llama: { "9": 1, "4": 1 } })
    expect(a.token_lengths).toEqual({ "256": 6 })
    expect(a.flags).toEqual({ judge_disagreement: 1, language: 2, repetition: 1 })
    // The pair with a failed (-1) score is left out.
    expect(a.judge_pairs).toEqual({ "llama\tqwen": { "8|7": 1, "3|9": 1, "5|5": 1, "10|9": 1, "5|4": 1 } })
  })

  it("judgeAgreement: Spearman with mean ranks for ties, and the share within ±1", () => {
    // llama 8,3,5,10,5 → ranks 4,1,2.5,5,2.5; qwen 7,9,5,9,4 → ranks 3,4.5,2,4.5,1.
    const rx = [4, 1, 2.5, 5, 2.5]
    const ry = [3, 4.5, 2, 4.5, 1]
    const m = 3
    const sxy = rx.reduce((s, x, i) => s + (x - m) * (ry[i]! - m), 0)
    const sxx = rx.reduce((s, x) => s + (x - m) ** 2, 0)
    const syy = ry.reduce((s, y) => s + (y - m) ** 2, 0)
    expect(Profile.judgeAgreement(observed(rows).answers)).toEqual([
      { judges: ["llama", "qwen"], answers: 5, spearman: Math.round((sxy / Math.sqrt(sxx * syy)) * 10000) / 10000, within_1: 0.8 }
    ])
    // Identical rankings give 1; one judge giving the same score everywhere gives null.
    const same = observed([{ synthesized_response_scoring_annotations: [ann(1, 2), ann(5, 6), ann(9, 10)] }])
    expect(Profile.judgeAgreement(same.answers)[0]).toMatchObject({ spearman: 1, within_1: 1 })
    const flat = observed([{ synthesized_response_scoring_annotations: [ann(1, 7), ann(5, 7)] }])
    expect(Profile.judgeAgreement(flat.answers)[0]!.spearman).toBeNull()
  })

  it("adds up across work units and shards as if observed at once; manifests carry the agreement", () => {
    const whole = observed(rows)
    const unit = observed(rows.slice(0, 1))
    Profile.absorb(unit, observed(rows.slice(1)))
    expect(unit).toEqual(whole)
    const merged = Profile.merge(Profile.finalize(observed(rows.slice(0, 2)), new Map()), Profile.finalize(observed(rows.slice(2)), new Map()))
    const final = Profile.finalize(whole, new Map())
    expect(merged.answers).toEqual(final.answers)
    expect(final.answers!.agreement).toEqual(Profile.judgeAgreement(whole.answers))
    // Rows without answers add no answers profile.
    expect(observed([{ conversation_id: "x" }]).answers).toBeUndefined()
  })
})

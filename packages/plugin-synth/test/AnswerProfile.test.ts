import * as Card from "@synthline/core/Card"
import type { Row } from "@synthline/core/Row"
import { describe, expect, it } from "vitest"
import * as AnswerProfile from "../src/AnswerProfile.js"
import { plugin } from "../src/SynthPlugin.js"

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

const rows: ReadonlyArray<Row> = [
  { synthesis_model: "gemma", synthesized_response_scoring_annotations: [ann(8, 7), ann(3, 9, { judge_disagreement: true })] },
  { synthesis_model: "gemma", synthesized_response_scoring_annotations: [ann(5, 5), ann(-1, 6)], synthesized_response_checks: [{ flags: ["language"] }, { flags: ["repetition", "language"] }] },
  { synthesis_model: "llama", synthesized_response_scoring_annotations: [ann(10, 9), ann(5, 4)] }
]

const profiling: Card.Profiling = { declared: new Map(), profilers: [AnswerProfile.profiler] }

const observed = (rs: ReadonlyArray<Row>): Card.Profile => {
  const p = Card.empty()
  Card.observer(p, profiling)(rs)
  return p
}

const answersOf = (p: Card.Profile): AnswerProfile.AnswerProfile => p.answers as AnswerProfile.AnswerProfile

/** A row of one answer per score. */
const scored = (...scores: ReadonlyArray<number>): Row => ({
  synthesized_response_scoring_annotations: scores.map((preference_score) => ({ preference_score, repetition_flag: false }))
})

describe("the answers profile", () => {
  it("synth contributes it as the profiler `answers`", () => {
    expect(plugin.profilers).toEqual([AnswerProfile.profiler])
    expect(AnswerProfile.profiler.key).toBe("answers")
  })

  it("buckets preference scores by their floor (k holds [k, k+1)), failed judgements as -1, 10 and above as 10", () => {
    expect([0, 0.49, 0.5, 0.99, 4.5, 7.6, 9.99, 10, 12, -1, -0.5].map(AnswerProfile.scoreBucket)).toEqual(["0", "0", "0", "0", "4", "7", "9", "10", "10", "-1", "-1"])
    const a = answersOf(observed([scored(7.5, 7.6, 8, -1), scored(0.5, Number.NaN)]))
    expect(a.preference_scores).toEqual({ "7": 2, "8": 1, "-1": 1, "0": 1 })
    expect(a.preference_score_sum).toBeCloseTo(23.6, 10)
    expect(a.scores_by_model).toEqual({ "(unknown)": { "7": 2, "8": 1, "-1": 1, "0": 1 } })
  })

  it("counts scores by model, token-length bins, flags and judge score pairs", () => {
    const a = answersOf(observed(rows))
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
    expect(AnswerProfile.judgeAgreement(answersOf(observed(rows)))).toEqual([
      { judges: ["llama", "qwen"], answers: 5, spearman: Math.round((sxy / Math.sqrt(sxx * syy)) * 10000) / 10000, within_1: 0.8 }
    ])
    // Identical rankings give 1; one judge giving the same score everywhere gives null.
    const same = observed([{ synthesized_response_scoring_annotations: [ann(1, 2), ann(5, 6), ann(9, 10)] }])
    expect(AnswerProfile.judgeAgreement(answersOf(same))[0]).toMatchObject({ spearman: 1, within_1: 1 })
    const flat = observed([{ synthesized_response_scoring_annotations: [ann(1, 7), ann(5, 7)] }])
    expect(AnswerProfile.judgeAgreement(answersOf(flat))[0]!.spearman).toBeNull()
  })

  it("adds up across work units and shards as if observed at once; manifests carry the agreement", () => {
    const whole = observed(rows)
    const unit = observed(rows.slice(0, 1))
    Card.absorb(unit, observed(rows.slice(1)), profiling.profilers)
    expect(unit).toEqual(whole)
    const merged = Card.merge(Card.finalize(observed(rows.slice(0, 2)), profiling), Card.finalize(observed(rows.slice(2)), profiling), profiling.profilers)
    const final = Card.finalize(whole, profiling)
    expect(merged.answers).toEqual(final.answers)
    expect(answersOf(final).agreement).toEqual(AnswerProfile.judgeAgreement(answersOf(whole)))
    // Rows without answers add no answers profile.
    expect(observed([{ conversation_id: "x" }]).answers).toBeUndefined()
  })

  it("renders the card's preference-score histogram, flags and judge agreement", () => {
    const a = AnswerProfile.finalize(answersOf(observed([...rows, scored(7.5, 0.5, -1)])))
    const sections = AnswerProfile.card(a)
    expect(sections.map((s) => s.title)).toEqual(["Preference scores", "Answer flags", "Judge agreement"])
    const histogram = sections[0]!.body
    // 8 answers scored validly and one failed judgement.
    const valid = [7.5, 6, 5, 6, 9.5, 4.5, 7.5, 0.5]
    expect(histogram).toContain(`9 scored answers (\`synthesized_response_scoring_annotations[].preference_score\`); mean of the valid scores: ${(valid.reduce((x, y) => x + y, 0) / valid.length).toFixed(3)}.`)
    expect(histogram).toContain(
      Card.table(
        ["score", "answers", "share"],
        [
          ["-1", 1, "11.11%"],
          ["0", 1, "11.11%"],
          ["4", 1, "11.11%"],
          ["5", 1, "11.11%"],
          ["6", 2, "22.22%"],
          ["7", 2, "22.22%"],
          ["9", 1, "11.11%"]
        ]
      )
    )
    expect(sections[1]!.body).toContain("| language | 2 |")
    expect(sections[2]!.body).toContain("| llama / qwen | 5 |")
    expect(AnswerProfile.card(AnswerProfile.empty())).toEqual([])
  })
})

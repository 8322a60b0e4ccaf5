/**
 * The answers profiler: what the synthesized answers of the rows each sink receives look like,
 * from `synthesized_response_scoring_annotations` (`synth/judge`) and
 * `synthesized_response_checks` (`synth/check-answers`) — preference scores overall and per
 * `synthesis_model`, `response_token_length` bins, flags, and the score pairs of each two judges
 * from which {@link judgeAgreement} reads their agreement. Plain counts, so work units and shards
 * add up. The manifest holds it as `profile.answers`; the dataset card gets its *Preference
 * scores*, *Answer flags* and *Judge agreement* sections.
 */
import * as Card from "@synthline/core/Card"
import type { Row } from "@synthline/core/Row"
import { isRecord as isObject } from "@synthline/core/Row"

/** What the answers of the rows look like: plain counts. */
export interface AnswerProfile {
  /** Answers by preference score bucket ({@link scoreBucket}). */
  preference_scores: { [bucket: string]: number }
  /** Sum of the preference scores ≥ 0, for the mean. */
  preference_score_sum: number
  /** Answers by `synthesis_model` (`(unknown)` without one) and preference score bucket. */
  scores_by_model: { [model: string]: { [bucket: string]: number } }
  /** Answers by `response_token_length`, in 256-token bins named by their lower bound (`0`, `256`, ...). */
  token_lengths: { [bin: string]: number }
  /** Answers by flag: each `synthesized_response_checks[].flags` kind, `repetition_flag` as `repetition_tokens`, `judge_disagreement`. */
  flags: { [kind: string]: number }
  /**
   * Answers scored validly by two judges (`judge_scores` of a multi-judge `synth/judge`), by judge
   * pair (`a\tb`, in the judges' order) and score pair (`x|y`, scores rounded to 0.1).
   */
  judge_pairs: { [pair: string]: { [scores: string]: number } }
  /** Derived in manifests: {@link judgeAgreement} of `judge_pairs`, when there are any. */
  agreement?: ReadonlyArray<JudgeAgreement>
}

/** The agreement of two judges over a dataset's answers. */
export interface JudgeAgreement {
  readonly judges: readonly [string, string]
  /** Answers both scored validly. */
  readonly answers: number
  /** Spearman's rank correlation of their scores (ties get mean ranks); null when either's scores are all equal. */
  readonly spearman: number | null
  /** Share of those answers where the two scores are at most 1 apart. */
  readonly within_1: number
}

/** The profile key: the manifest's `outputs.*.profile.answers`. */
export const key: string = "answers"

const scoreField = "synthesized_response_scoring_annotations"
const checksField = "synthesized_response_checks"

/** The histogram bucket of a preference score: `-1` for a failed judgement (< 0), else the floor of the score, at most `10`. */
export const scoreBucket = (score: number): string => (score < 0 ? "-1" : String(Math.min(10, Math.floor(score))))

/** An answers profile of no answers. */
export const empty = (): AnswerProfile => ({
  preference_scores: {},
  preference_score_sum: 0,
  scores_by_model: {},
  token_lengths: {},
  flags: {},
  judge_pairs: {}
})

const bump = (counts: { [k: string]: number }, k: string): void => {
  counts[k] = (counts[k] ?? 0) + 1
}

/** `counts[k]`, made empty when missing. */
const sub = (counts: { [k: string]: { [k: string]: number } }, k: string): { [k: string]: number } => {
  let t = counts[k]
  if (t === undefined) {
    t = {}
    counts[k] = t
  }
  return t
}

const isScore = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v)

/** The valid scores (≥ 0) of a multi-judge annotation, in the judges' order. */
const validJudgeScores = (judges: unknown): ReadonlyArray<{ readonly model: string; readonly score: number }> =>
  Array.isArray(judges)
    ? judges.filter((j): j is { readonly model: string; readonly score: number } => isObject(j) && typeof j.model === "string" && isScore(j.score) && j.score >= 0)
    : []

const observeAnnotation = (into: AnswerProfile, model: string, a: { readonly [k: string]: unknown }): void => {
  const score = a.preference_score
  if (isScore(score)) {
    const bucket = scoreBucket(score)
    bump(into.preference_scores, bucket)
    bump(sub(into.scores_by_model, model), bucket)
    if (score >= 0) into.preference_score_sum += score
  }
  const tokens = a.response_token_length
  if (isScore(tokens) && tokens >= 0) bump(into.token_lengths, String(Math.floor(tokens / 256) * 256))
  if (a.repetition_flag === true) bump(into.flags, "repetition_tokens")
  if (a.judge_disagreement === true) bump(into.flags, "judge_disagreement")
  const valid = validJudgeScores(a.judge_scores)
  const tenth = (x: number): number => Math.round(x * 10) / 10
  for (let i = 0; i < valid.length; i++) {
    for (let k = i + 1; k < valid.length; k++) {
      const x = valid[i]!
      const y = valid[k]!
      bump(sub(into.judge_pairs, `${x.model}\t${y.model}`), `${tenth(x.score)}|${tenth(y.score)}`)
    }
  }
}

/** Records one row's answers into `into` (in place); false when the row has no annotations and no checks. */
export const observe = (into: AnswerProfile, row: Row): boolean => {
  const anns = row[scoreField]
  const checks = row[checksField]
  if (!Array.isArray(anns) && !Array.isArray(checks)) return false
  const model = typeof row.synthesis_model === "string" ? row.synthesis_model : "(unknown)"
  if (Array.isArray(anns)) for (const a of anns) if (isObject(a)) observeAnnotation(into, model, a)
  if (Array.isArray(checks)) {
    for (const c of checks) {
      if (!isObject(c) || !Array.isArray(c.flags)) continue
      for (const f of c.flags) if (typeof f === "string") bump(into.flags, f)
    }
  }
  return true
}

/** Mean ranks (1-based) of the values of a weighted sample: value → rank. */
const midRanks = (weights: ReadonlyMap<number, number>): Map<number, number> => {
  const out = new Map<number, number>()
  let below = 0
  for (const v of [...weights.keys()].sort((a, b) => a - b)) {
    const n = weights.get(v)!
    out.set(v, below + (n + 1) / 2)
    below += n
  }
  return out
}

const round4 = (x: number): number => Math.round(x * 10000) / 10000

/** The agreement of one judge pair from its score-pair counts. */
const pairAgreement = (pair: string, counts: { readonly [scores: string]: number }): JudgeAgreement => {
  const [a = "", b = ""] = pair.split("\t")
  const cells = Object.entries(counts).map(([k, n]) => {
    const [x = "", y = ""] = k.split("|")
    return { x: Number(x), y: Number(y), n }
  })
  const total = cells.reduce((s, c) => s + c.n, 0)
  const xs = new Map<number, number>()
  const ys = new Map<number, number>()
  for (const c of cells) {
    xs.set(c.x, (xs.get(c.x) ?? 0) + c.n)
    ys.set(c.y, (ys.get(c.y) ?? 0) + c.n)
  }
  const rx = midRanks(xs)
  const ry = midRanks(ys)
  const mean = (total + 1) / 2
  let sxy = 0
  let sxx = 0
  let syy = 0
  let within = 0
  for (const c of cells) {
    const dx = rx.get(c.x)! - mean
    const dy = ry.get(c.y)! - mean
    sxy += c.n * dx * dy
    sxx += c.n * dx * dx
    syy += c.n * dy * dy
    if (Math.abs(c.x - c.y) <= 1 + 1e-9) within += c.n
  }
  const spearman = sxx === 0 || syy === 0 ? null : round4(sxy / Math.sqrt(sxx * syy))
  return { judges: [a, b] as const, answers: total, spearman, within_1: total === 0 ? 0 : round4(within / total) }
}

/** The agreement of each judge pair in `answers` (Spearman correlation of the ranks, share within ±1), in pair order. */
export const judgeAgreement = (answers: Pick<AnswerProfile, "judge_pairs"> | undefined): ReadonlyArray<JudgeAgreement> =>
  Object.entries(answers?.judge_pairs ?? {})
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([pair, counts]) => pairAgreement(pair, counts))

/** A copy of `answers` with its `agreement` (left out when no two judges scored an answer). */
export const finalize = (answers: AnswerProfile): AnswerProfile => {
  const { agreement: _, ...counts } = answers
  const copy = structuredClone(counts)
  const agreement = judgeAgreement(copy)
  return agreement.length === 0 ? copy : { ...copy, agreement }
}

/** The answers of both (the derived `agreement` left out; {@link finalize} adds it again). */
export const merge = (a: AnswerProfile, b: AnswerProfile): AnswerProfile => {
  const { agreement: _a, ...x } = a
  const { agreement: _b, ...y } = b
  return Card.sumCounts<AnswerProfile>(x, y)
}

const byCount = (a: readonly [string, number], b: readonly [string, number]): number => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)

/** The dataset card's sections: preference scores, answer flags, judge agreement (each when there is something to show). */
export const card = (answers: AnswerProfile): ReadonlyArray<Card.CardSection> => {
  const out: Array<Card.CardSection> = []
  const scores = Object.entries(answers.preference_scores ?? {}).sort((a, b) => Number(a[0]) - Number(b[0]))
  if (scores.length > 0) {
    const total = scores.reduce((n, [, c]) => n + c, 0)
    const scored = total - (answers.preference_scores["-1"] ?? 0)
    out.push({
      title: "Preference scores",
      body: [
        `${total} scored answers (\`${scoreField}[].preference_score\`); mean of the valid scores: ${scored === 0 ? "n/a" : (answers.preference_score_sum / scored).toFixed(3)}. Bucket \`-1\`: unparsable or failed judgements; bucket \`k\`: scores in [k, k+1).`,
        "",
        Card.table(["score", "answers", "share"], scores.map(([b, c]) => [b, c, Card.pct(c, total)]))
      ].join("\n")
    })
  }
  const flags = Object.entries(answers.flags ?? {}).sort(byCount)
  if (flags.length > 0) {
    out.push({
      title: "Answer flags",
      body: [
        "Answers by flag: `synth/check-answers` (`language`, `repetition`, `truncated`, `empty`), `synth/judge`'s `repetition_flag` (`repetition_tokens`) and `judge_disagreement`.",
        "",
        Card.table(["flag", "answers"], flags)
      ].join("\n")
    })
  }
  const agreement = judgeAgreement(answers)
  if (agreement.length > 0) {
    out.push({
      title: "Judge agreement",
      body: [
        "Over the answers both judges scored validly: Spearman's rank correlation of their scores, and the share of answers whose two scores are at most 1 apart.",
        "",
        Card.table(
          ["judges", "answers", "Spearman", "within ±1"],
          agreement.map((a) => [`${a.judges[0]} / ${a.judges[1]}`, a.answers, a.spearman === null ? "n/a" : a.spearman.toFixed(3), Card.pct(a.within_1 * a.answers, a.answers)])
        )
      ].join("\n")
    })
  }
  return out
}

/** The answers profiler `synth` contributes. */
export const profiler: Card.Profiler<AnswerProfile> = Card.profiler({ key, empty, observe, merge, finalize, card })

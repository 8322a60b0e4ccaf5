import { describe, expect, it } from "vitest"
import { createHash } from "node:crypto"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { readParts, synthline } from "../../cli/test/support.js"
import type * as TestServer from "@synthline/llm/TestServer"
import { tempDir, withServer } from "./support.js"

const work = tempDir("quality")
const h = (s: string): number => createHash("sha256").update(s).digest().readUInt32LE(0)

// Answers: mostly Japanese, some English, some stuck in a loop. Judge B agrees with judge A
// within 1 on most answers and is far off on some.
const chat = (req: TestServer.ReceivedChat): TestServer.ChatReply => {
  const last = req.messages[req.messages.length - 1]!.content
  if (req.model === "test/judge-a" || req.model === "test/judge-b") {
    const a = h(last) % 11
    const off = h(`b${last}`) % 10
    const b = off < 6 ? a : off < 8 ? Math.min(10, a + 1) : 10 - a
    return { content: `Rating: [[${req.model === "test/judge-a" ? a : b}]]` }
  }
  const kind = h(`${last}${req.seed}`) % 6
  const content =
    kind === 0
      ? "The capital of Japan is Tokyo, a large city with many people and a long history."
      : kind === 1
        ? "同じことを繰り返します。".repeat(25)
        : `ご質問ありがとうございます。${last.slice(0, 20)}について、順を追って丁寧に説明します。`
  return { content, completion_tokens: 40 + (h(content) % 900) }
}

const pipeline = `
name: quality
plugins: ["@synthline/plugin-synth"]
source: { type: jsonl, path: data/data/train-*.jsonl }
stages:
  - use: core/select
    languages: [English, Japanese]
  - use: core/first-turn
  - use: synth/generate
    model: gen
    n: 3
    instruction: conversation.0.content
  - use: synth/check-answers
    instruction: conversation.0.content
    language: ja
  - use: synth/judge
    models: [judge-a, judge-b]
    instruction: conversation.0.content
    max_spread: 3
models:
  gen: { model: test/gen, endpoints: ["\${SERVER}/v1"] }
  judge-a: { model: test/judge-a, endpoints: ["\${SERVER}/v1"] }
  judge-b: { model: test/judge-b, endpoints: ["\${SERVER}/v1"] }
cache: { path: cache.sqlite }
sink: { type: jsonl, path: out }
`

/** Spearman's rho with mean ranks for ties, written out the textbook way. */
const spearman = (xs: ReadonlyArray<number>, ys: ReadonlyArray<number>): number => {
  const ranks = (v: ReadonlyArray<number>): Array<number> =>
    v.map((x) => {
      const less = v.filter((y) => y < x).length
      const equal = v.filter((y) => y === x).length
      return less + (equal + 1) / 2
    })
  const rx = ranks(xs)
  const ry = ranks(ys)
  const m = (rx.length + 1) / 2
  let sxy = 0
  let sxx = 0
  let syy = 0
  for (let i = 0; i < rx.length; i++) {
    sxy += (rx[i]! - m) * (ry[i]! - m)
    sxx += (rx[i]! - m) ** 2
    syy += (ry[i]! - m) ** 2
  }
  return sxy / Math.sqrt(sxx * syy)
}

describe("answer checks and judge agreement in a run", () => {
  it("the manifest and the card report flags by kind and the judges' agreement over the written answers", async () => {
    expect((await synthline(["sample", "--rows", "60", "--format", "jsonl", "--seed", "3", "--out", join(work, "data")])).code).toBe(0)
    writeFileSync(join(work, "quality.pipeline.yaml"), pipeline)
    await withServer({ chat }, async (server) => {
      const r = await synthline(["run", join(work, "quality.pipeline.yaml")], { SERVER: server.url })
      expect(r.code, r.stderr).toBe(0)
    })
    const rows = readParts(join(work, "out"))
    type Ann = { preference_score: number; judge_disagreement: boolean; judge_scores: Array<{ model: string; score: number }> }
    const anns = rows.flatMap((row) => row.synthesized_response_scoring_annotations as Array<Ann>)
    const flags = rows.flatMap((row) => (row.synthesized_response_checks as Array<{ flags: Array<string> }>).flatMap((c) => c.flags))
    expect(anns.length).toBeGreaterThan(100)
    const pairs = anns.map((a) => a.judge_scores.map((s) => s.score)).filter((s) => s[0]! >= 0 && s[1]! >= 0)
    const expected = {
      judges: ["judge-a", "judge-b"],
      answers: pairs.length,
      spearman: Math.round(spearman(pairs.map((p) => p[0]!), pairs.map((p) => p[1]!)) * 10000) / 10000,
      within_1: Math.round((pairs.filter((p) => Math.abs(p[0]! - p[1]!) <= 1).length / pairs.length) * 10000) / 10000
    }
    expect(expected.spearman).toBeGreaterThan(0)
    expect(expected.within_1).toBeLessThan(1)

    const manifest = JSON.parse(readFileSync(join(work, "out", "manifest.json"), "utf8"))
    const answers = manifest.outputs.main.profile.answers
    expect(answers.agreement).toEqual([expected])
    const count = (kind: string) => flags.filter((f) => f === kind).length
    expect(count("language")).toBeGreaterThan(0)
    expect(count("repetition")).toBeGreaterThan(0)
    expect(answers.flags).toMatchObject({
      language: count("language"),
      repetition: count("repetition"),
      judge_disagreement: anns.filter((a) => a.judge_disagreement).length
    })
    expect(Object.values(answers.scores_by_model["test/gen"] as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(anns.length)

    const card = readFileSync(join(work, "out", "README.md"), "utf8")
    expect(card).toContain("### Judge agreement")
    expect(card).toContain(`| judge-a / judge-b | ${expected.answers} | ${expected.spearman.toFixed(3)} |`)
    expect(card).toContain(`| language | ${count("language")} |`)
    const valid = anns.map((a) => a.preference_score).filter((x) => x >= 0)
    expect(answers.preference_scores["-1"] ?? 0).toBe(anns.length - valid.length)
    expect(card).toContain(`### Preference scores\n\n${anns.length} scored answers`)
    expect(card).toContain(`mean of the valid scores: ${(valid.reduce((x, y) => x + y, 0) / valid.length).toFixed(3)}.`)

    // Two shards and synthline merge: the profiler's state and card sections as the whole run's.
    writeFileSync(join(work, "sharded.pipeline.yaml"), pipeline.replace("sink: { type: jsonl, path: out }", "sink: { type: jsonl, path: out-sharded }"))
    await withServer({ chat }, async (server) => {
      for (const i of [0, 1]) {
        const r = await synthline(["run", join(work, "sharded.pipeline.yaml"), "--shard", `${i}/2`], { SERVER: server.url })
        expect(r.code, r.stderr).toBe(0)
      }
    })
    const merged = await synthline(["merge", join(work, "out-sharded")])
    expect(merged.code, merged.stderr).toBe(0)
    const joined = JSON.parse(readFileSync(join(work, "out-sharded", "manifest.json"), "utf8"))
    expect(joined.outputs.main.profile.answers).toEqual(answers)
    const shardedCard = readFileSync(join(work, "out-sharded", "README.md"), "utf8")
    for (const section of ["Preference scores", "Answer flags", "Judge agreement"]) {
      const of = (text: string) => text.slice(text.indexOf(`### ${section}`)).split("\n### ")[0]
      expect(of(shardedCard)).toBe(of(card))
    }

    // synthline report draws the same figures and links them from the card.
    const rep = await synthline(["report", join(work, "out")])
    expect(rep.code, rep.stderr).toBe(0)
    expect(rep.stdout).toContain("report.html (5 charts")
    const withCharts = readFileSync(join(work, "out", "README.md"), "utf8")
    expect(withCharts.startsWith(card.trimEnd())).toBe(true)
    for (const name of ["preference-scores", "token-lengths", "flags", "judge-agreement", "drops"]) {
      expect(withCharts).toContain(`(charts/${name}.svg)`)
      expect(readFileSync(join(work, "out", "charts", `${name}.svg`), "utf8")).toMatch(/^<svg [^>]*width="\d+"/)
    }
    // A second report replaces its section instead of adding another.
    expect((await synthline(["report", join(work, "out")])).code).toBe(0)
    expect(readFileSync(join(work, "out", "README.md"), "utf8")).toBe(withCharts)
    expect(readFileSync(join(work, "out", "report.html"), "utf8")).toContain("judge-a / judge-b: Spearman")
  }, 180_000)
})

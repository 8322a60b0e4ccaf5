import { describe, expect, it } from "vitest"
import { decodeConfig, runStage } from "@synthline/core/Testing"
import { Effect } from "effect"
import { checkAnswers, otherScriptShare, prose, repeatedNgramRatio } from "../src/CheckAnswers.js"
import { generate } from "../src/Generate.js"
import { judge } from "../src/Judge.js"
import { run, withServer } from "./support.js"

const ja = "東京は日本の首都です。人口は約1400万人で、政治と経済の中心地として知られています。"
const en = "Tokyo is the capital of Japan. It has about 14 million people and is the center of politics and business."
const loop = `${"申し訳ありませんが、もう一度お願いします。".repeat(30)}`
const withCode = "リストを逆順にするには次のようにします。\n```python\nitems = [1, 2, 3]\nitems.reverse()\nprint(items)\n```\nこれで[3, 2, 1]と表示されます。"
const mixedEn = "In Japanese, thank you is ありがとう, and it is used in many everyday situations with friends and colleagues."

const row = (instruction: string, answers: ReadonlyArray<string>, extra: Record<string, unknown> = {}) => ({
  conversation_id: instruction.slice(0, 8),
  translated_conversation: [{ role: "user", content: instruction }],
  synthesized_assistant_responses: answers.map((content) => ({ role: "assistant", content })),
  ...extra
})

type Check = { flags: Array<string>; language: string; other_script_share: number; repeated_ngram_ratio: number }
const checksOf = (r: Record<string, unknown>): Array<Check> => r.synthesized_response_checks as Array<Check>

describe("synth/check-answers", () => {
  it("flags wrong-language, repeating, truncated and empty answers; a Japanese answer with code passes", async () => {
    const rows = [
      row("日本の首都はどこですか？", [ja, en, mixedEn, withCode, loop, "途中で切れた回答です", "  \n"], {
        synthesized_response_finish_reasons: ["stop", "stop", "stop", "stop", "stop", "length", "stop"]
      })
    ]
    const r = await Effect.runPromise(runStage(checkAnswers, {}, rows))
    const checks = checksOf(r.rows[0]!)
    expect(checks.map((c) => c.flags)).toEqual([[], ["language"], ["language"], [], ["repetition"], ["truncated"], ["empty"]])
    expect(checks[0]!.language).toBe("ja")
    expect(checks[1]!.language).toBe("en")
    // The share of letters in another script than Japanese's: all of them for English, none for Japanese.
    expect(checks[0]!.other_script_share).toBe(0)
    expect(checks[1]!.other_script_share).toBe(1)
    expect(checks[2]!.other_script_share).toBeGreaterThan(0.8)
    expect(checks[3]!.other_script_share).toBe(0)
    expect(checks[4]!.repeated_ngram_ratio).toBeGreaterThan(0.9)
    expect(checks[0]!.repeated_ngram_ratio).toBe(0)
    // The answers are left as they were.
    expect(r.rows[0]!.synthesized_assistant_responses).toEqual(rows[0]!.synthesized_assistant_responses)
  })

  it("language: auto takes the instruction's language; a named language overrides it", async () => {
    const rows = [row("What is the capital of Japan?", [en, ja], { translated_conversation: undefined, instruction_en: "What is the capital of Japan?" })]
    const auto = await Effect.runPromise(runStage(checkAnswers, { instruction: "instruction_en" }, rows))
    expect(checksOf(auto.rows[0]!).map((c) => c.flags)).toEqual([[], ["language"]])
    const named = await Effect.runPromise(runStage(checkAnswers, { instruction: "instruction_en", language: "ja" }, rows))
    expect(checksOf(named.rows[0]!).map((c) => c.flags)).toEqual([["language"], []])
  })

  it("drop removes the flagged answers with their side fields, so the judge is not asked about them", async () => {
    const rows = [
      row("日本の首都はどこですか？", [ja, en, loop], { synthesized_response_token_lengths: [30, 25, 600] }),
      row("こんにちは、元気ですか？", [en])
    ]
    const r = await Effect.runPromise(runStage(checkAnswers, { drop: ["language", "repetition"] }, rows))
    expect(r.rows[0]!.synthesized_assistant_responses).toEqual([{ role: "assistant", content: ja }])
    expect(r.rows[0]!.synthesized_response_token_lengths).toEqual([30])
    expect(checksOf(r.rows[0]!).map((c) => c.flags)).toEqual([[]])
    expect(r.rows[1]!.synthesized_assistant_responses).toEqual([])
    // Only the repetition check runs: the English answer stays.
    const only = await Effect.runPromise(runStage(checkAnswers, { checks: ["repetition"], drop: ["repetition"] }, rows))
    expect((only.rows[0]!.synthesized_assistant_responses as Array<unknown>).length).toBe(2)
    expect(checksOf(only.rows[0]!)[1]).toEqual({ flags: [], language: "", other_script_share: 0, repeated_ngram_ratio: 0 })
  })

  it("refuses unknown check kinds and languages", () => {
    expect(() => Effect.runSync(decodeConfig(checkAnswers, { checks: ["spelling"] }))).toThrow(/spelling/)
    expect(() => Effect.runSync(decodeConfig(checkAnswers, { language: "Japanese" }))).toThrow(/Japanese/)
  })

  it("synth/generate with on_length: keep stores finish_reason, check-answers flags the cut-off answer, the judge removes the side field", () =>
    withServer(
      {
        chat: (req) => {
          const u = req.messages[req.messages.length - 1]!.content
          if (u.includes("[[rating]]")) return "Rating: [[7]]"
          return req.seed !== undefined && req.seed % 2 === 0 ? { content: "途中で切れ", finish_reason: "length" } : ja
        }
      },
      async (server) => {
        const input = [row("日本の首都はどこですか？", [])]
        const generated = await run(server, runStage(generate, { model: "m", n: 4, on_length: "keep" }, input))
        const g = generated.rows[0]!
        const reasons = g.synthesized_response_finish_reasons as Array<string>
        expect(reasons).toHaveLength(4)
        expect(new Set(reasons)).toEqual(new Set(["stop", "length"]))
        const checked = await Effect.runPromise(runStage(checkAnswers, {}, [g]))
        const flags = checksOf(checked.rows[0]!).map((c) => c.flags)
        expect(flags).toEqual(reasons.map((f) => (f === "length" ? ["truncated"] : [])))
        const judged = await run(server, runStage(judge, { model: "judge" }, checked.rows))
        expect(judged.rows[0]).not.toHaveProperty("synthesized_response_finish_reasons")
        // Without on_length: keep there is no side field (the default drops cut-off answers).
        const dropped = await run(server, runStage(generate, { model: "m", n: 4 }, input))
        expect(dropped.rows[0]).not.toHaveProperty("synthesized_response_finish_reasons")
      }
    ))
})

describe("the measures", () => {
  it("prose leaves out fenced and inline code", () => {
    expect(prose("説明 `x = 1` と\n```js\nconsole.log(1)\n```\n終わり")).not.toMatch(/console|x = 1/)
  })
  it("otherScriptShare counts letters outside the target language's script", () => {
    expect(otherScriptShare("日本語abc", "ja")).toBe(0.5)
    expect(otherScriptShare("hello 世界", "en")).toBeCloseTo(2 / 7)
    expect(otherScriptShare("123 !!", "ja")).toBe(0)
  })
  it("repeatedNgramRatio is 0 for distinct text and near 1 for a loop", () => {
    expect(repeatedNgramRatio("abcdefghijklmnopqrstuvwxyz", 5)).toBe(0)
    expect(repeatedNgramRatio("abc abc abc abc abc abc", 4)).toBe(1)
    expect(repeatedNgramRatio("short", 10)).toBe(0)
  })
})

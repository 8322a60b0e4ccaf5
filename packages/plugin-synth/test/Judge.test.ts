import { describe, expect, it } from "vitest"
import { Effect, Schema } from "effect"
import { decodeConfig, runStage } from "@synthline/core/Testing"
import { judge, judgementSchema, normalizeScore, parseScore } from "../src/Judge.js"
import { run, withServer } from "./support.js"

describe("parseScore", () => {
  it.each([
    ["the last [[x]] wins", "Good. [[3]] ... on reflection [[8]]", 8],
    ["[[x]] with decimals and spaces", "Rating: [[ 7.5 ]]", 7.5],
    ["[[x]] beats x/10 and JSON", 'I give 2/10 {"score": 4} Rating: [[9]]', 9],
    ["x/10 when there are no brackets", "Overall 6/10, solid.", 6],
    ["the last x/10", "first 3/10 then 7 / 10", 7],
    ["x/10 beats JSON", '{"score": 2} so 5/10', 5],
    // Every way a score ends a sentence or a line.
    ["x/10 ending a sentence", "Mostly correct but terse. I would give it 8/10.", 8],
    ["x/10 with a decimal, ending a sentence", "Good overall: 7.5/10.", 7.5],
    ["x/10 ending a line", "Score: 6/10\nThe answer is fine.", 6],
    ["x/10 at the very end", "Score: 6/10", 6],
    ["x/10 followed by an exclamation mark", "Excellent work, 9/10!", 9],
    ["x/10 followed by a comma or semicolon", "9/10; nothing to add", 9],
    ["x/10 in parentheses", "A reasonable answer (7/10) overall", 7],
    ["x/10 in parentheses ending a sentence", "A reasonable answer (7/10).", 7],
    ["x/10 in markdown bold", "**Rating: 8/10**", 8],
    ["x/10 bolded alone", "Final score: **8/10**.", 8],
    ["x/10 with the number in bold", "Final score: **8**/10", 8],
    ["x/10 in quotes", 'I rate it "4/10".', 4],
    ["x/10 followed by the Japanese full stop", "簡潔だが正確です。評価は8/10。", 8],
    ["x/10 followed by the Japanese comma", "評価は8/10、良い回答です。", 8],
    ["full-width digits and slash", "評価：８／１０", 8],
    ["full-width digits and slash with the Japanese full stop", "総合評価は７／１０。", 7],
    ["a full-width score with a full-width decimal point", "評価：７．５／１０。", 7.5],
    ["half-width number, full-width slash", "評価：8／10。", 8],
    ["full-width brackets", "評価：［［６］］", 6],
    ["x/10.5 is not x/10", "It scores 8/10.5 on some odd scale", -1],
    ["x/105 is not x/10", "It scores 8/105", -1],
    ["x/10 beside x/10.5: the x/10", "Not 3/10.5 but 8/10.", 8],
    ["x/100 is not x/10", "score 80/100", -1],
    ["JSON score", 'Reasoning...\n{"reason": "ok", "score": 4}', 4],
    ["JSON score as a string", '{"score": "6"}', 6],
    ["above 10 up to 100 is divided by 10", "[[85]]", 8.5],
    ["exactly 100 becomes 10", "[[100]]", 10],
    ["exactly 10 stays", "[[10]]", 10],
    ["above 100 gives -1", "[[101]]", -1],
    ["x/10 above 100 gives -1", "150/10", -1],
    ["JSON above 100 gives -1", '{"score": 250}', -1],
    ["negative gives -1", "[[-3]]", -1],
    ["0 is a score", "[[0]]", 0],
    ["unparsable gives -1", "A fine answer, I would rate it highly.", -1],
    ["empty gives -1", "", -1],
    // A whole JSON judgement (structured output): its score wins over what the reasoning quotes.
    ["a JSON judgement's score", '{"reasoning": "Clear and correct.", "score": 7}', 7],
    ["JSON score beats [[x]] in the reasoning", '{"reasoning": "Not worth [[2]], more like [[9]].", "score": 6}', 6],
    ["JSON score beats x/10 in the reasoning", '{"reasoning": "Some would say 3/10; I do not.", "score": 8}', 8],
    ["JSON score beats an unclosed [[ in the reasoning", '{"reasoning": "It writes [[ and 10/10 verbatim", "score": 0}', 0],
    ["JSON judgement with whitespace around it", '  \n{ "reasoning": "ok",\n  "score": 5 }\n', 5],
    ["JSON score in exponent form is read as a number", '{"reasoning": "x", "score": 4E74}', -1],
    ["a JSON judgement above 10 is divided by 10", '{"reasoning": "x", "score": 85}', 8.5],
    ["a JSON judgement without a score falls back to the text rules", '{"reasoning": "Rating: [[4]]"}', 4],
    ["a cut-off JSON judgement falls back to the text rules", '{"reasoning": "Rating: [[4]] so", "score": 9', 4]
  ])("%s", (_, text, expected) => {
    expect(parseScore(text)).toBe(expected)
  })

  it("normalizeScore", () => {
    expect([normalizeScore(10), normalizeScore(10.5), normalizeScore(100), normalizeScore(100.1), normalizeScore(Number.NaN)]).toEqual([10, 1.05, 10, -1, -1])
  })
})

describe("synth/judge", () => {
  const rows = [
    {
      conversation_id: "a",
      translated_conversation: [{ role: "user", content: "質問 a" }],
      synthesized_assistant_responses: [
        { role: "assistant", content: "good answer" },
        { role: "assistant", content: "long answer" },
        { role: "assistant", content: "truncated judge" },
        { role: "assistant", content: "failing judge" }
      ],
      synthesized_response_token_lengths: [12, 2500, 30, 40]
    },
    { conversation_id: "b", translated_conversation: [{ role: "user", content: "" }], synthesized_assistant_responses: [] }
  ]
  it("writes one annotation per answer: completion tokens, judgement, repetition flag, score; temperature 0; failures give -1", () =>
    withServer(
      {
        record: true,
        chat: (req) => {
          const u = req.messages[req.messages.length - 1]!.content
          if (u.includes("truncated judge")) return { content: "The answer is [[9", finish_reason: "length" }
          if (u.includes("failing judge")) return { fault: "status", status: 400 }
          if (u.includes("long answer")) return "Repetitive, but mostly correct. I would give it 3/10."
          return "Helpful and correct. Rating: [[8]]"
        }
      },
      async (server) => {
        const r = await run(server, runStage(judge, { model: "judge" }, rows))
        expect(r.rejected).toEqual([])
        expect(r.rows[0]!.synthesized_response_scoring_annotations).toEqual([
          { response_token_length: 12, judgement: "Helpful and correct. Rating: [[8]]", repetition_flag: false, preference_score: 8 },
          { response_token_length: 2500, judgement: "Repetitive, but mostly correct. I would give it 3/10.", repetition_flag: true, preference_score: 3 },
          { response_token_length: 30, judgement: "The answer is [[9", repetition_flag: false, preference_score: -1 },
          expect.objectContaining({ response_token_length: 40, repetition_flag: false, preference_score: -1 })
        ])
        expect(r.rows[0]).not.toHaveProperty("synthesized_response_token_lengths")
        expect(r.rows[1]!.synthesized_response_scoring_annotations).toEqual([])
        const body = server.requests[0]!.body as { temperature: number; messages: Array<{ content: string }> }
        expect(body.temperature).toBe(0)
        expect(body.messages[1]!.content).toContain("質問 a")
        expect(body.messages[1]!.content).toContain("[[rating]]")
        // The threshold is configurable.
        const low = await run(server, runStage(judge, { model: "judge", repetition_tokens: 10 }, rows))
        expect((low.rows[0]!.synthesized_response_scoring_annotations as Array<{ repetition_flag: boolean }>)[0]!.repetition_flag).toBe(true)
      }
    ))
})

describe("synth/judge structured: true", () => {
  const rows = [
    {
      conversation_id: "s",
      translated_conversation: [{ role: "user", content: "質問 s" }],
      synthesized_assistant_responses: [
        { role: "assistant", content: "first" },
        { role: "assistant", content: "second" },
        { role: "assistant", content: "third" }
      ],
      synthesized_response_token_lengths: [5, 6, 7]
    }
  ]
  // A constrained-decoding server: answers the JSON schema's shape; the reasoning quotes
  // other score formats, which must not win over the JSON score.
  const answers: { readonly [k: string]: string } = {
    first: '{"reasoning": "Better than a [[2]] answer, though not 10/10.", "score": 7}',
    second: '{"reasoning": "It prints [[ and x/10 literally.", "score": 0}',
    third: '{ "reasoning": "Fine.", "score": 10 }'
  }
  const reply = (req: { readonly messages: ReadonlyArray<{ readonly content: string }> }): string => {
    const u = req.messages[req.messages.length - 1]!.content
    const key = Object.keys(answers).find((k) => u.includes(`\n${k}\n`))
    return key === undefined ? "no such answer" : answers[key]!
  }

  it("asks for a JSON schema with reasoning and an integer score 0..10, stores the JSON answer, reads its score", () =>
    withServer({ record: true, chat: reply }, async (server) => {
      const r = await run(server, runStage(judge, { model: "judge", structured: true }, rows))
      expect(r.rejected).toEqual([])
      expect(r.rows[0]!.synthesized_response_scoring_annotations).toEqual([
        { response_token_length: 5, judgement: answers.first, repetition_flag: false, preference_score: 7 },
        { response_token_length: 6, judgement: answers.second, repetition_flag: false, preference_score: 0 },
        { response_token_length: 7, judgement: answers.third, repetition_flag: false, preference_score: 10 }
      ])
      expect(server.requests).toHaveLength(3)
      for (const q of server.requests) {
        const body = q.body as { response_format: unknown; temperature: number; messages: Array<{ content: string }> }
        expect(body.response_format).toEqual({
          type: "json_schema",
          json_schema: {
            name: "judgement",
            strict: true,
            schema: {
              type: "object",
              properties: { reasoning: { type: "string" }, score: { type: "integer", minimum: 0, maximum: 10 } },
              required: ["reasoning", "score"],
              additionalProperties: false
            }
          }
        })
        expect(body.temperature).toBe(0)
        // The shipped structured prompt asks for the JSON object, not for [[rating]].
        expect(body.messages[1]!.content).toContain('{"reasoning": "<your evaluation>", "score": <an integer from 0 to 10>}')
        expect(body.messages[1]!.content).not.toContain("[[rating]]")
      }
    }))

  it("max_reasoning_chars caps the reasoning in the schema; a custom prompt is kept; without structured no response_format is sent", () =>
    withServer({ record: true, chat: reply }, async (server) => {
      await run(server, runStage(judge, { model: "judge", structured: true, max_reasoning_chars: 300, prompt: "Judge {{response}} for {{instruction}}" }, rows))
      const body = server.requests[0]!.body as { response_format: { json_schema: { schema: unknown } }; messages: Array<{ content: string }> }
      expect(body.response_format.json_schema.schema).toEqual(judgementSchema(300))
      expect(judgementSchema(300)).toMatchObject({ properties: { reasoning: { type: "string", maxLength: 300 } } })
      expect(body.messages[1]!.content).toBe("Judge first for 質問 s")
      const plain = await run(server, runStage(judge, { model: "judge" }, rows))
      expect(server.requests[3]!.body).not.toHaveProperty("response_format")
      // The JSON answers still score through parseScore without structured: true.
      expect((plain.rows[0]!.synthesized_response_scoring_annotations as Array<{ preference_score: number }>).map((a) => a.preference_score)).toEqual([7, 0, 10])
    }))

  it("rejects max_reasoning_chars without structured: true", () => {
    expect(() => Schema.decodeUnknownSync(judge.config)({ model: "judge", max_reasoning_chars: 100 })).toThrow("max_reasoning_chars needs structured: true")
  })
})

describe("synth/judge with several judges", () => {
  const rows = [
    {
      conversation_id: "m",
      translated_conversation: [{ role: "user", content: "質問 m" }],
      synthesized_assistant_responses: [
        { role: "assistant", content: "agreed" },
        { role: "assistant", content: "disputed" },
        { role: "assistant", content: "half failed" }
      ],
      synthesized_response_token_lengths: [10, 20, 30]
    }
  ]
  // Two judges on one server, told apart by the model id in the request.
  const reply = (req: { readonly model: string; readonly messages: ReadonlyArray<{ readonly content: string }> }) => {
    const u = req.messages[req.messages.length - 1]!.content
    const second = req.model === "test/gen"
    if (u.includes("\nagreed\n")) return second ? "Rating: [[7]]" : "Rating: [[8]]"
    if (u.includes("\ndisputed\n")) return second ? "Rating: [[2]]" : "Rating: [[9]]"
    return second ? { fault: "status" as const, status: 400 } : "Rating: [[6]]"
  }

  it("stores each judge's score, the mean and the spread, and flags answers the judges disagree on", () =>
    withServer({ chat: reply }, async (server) => {
      const r = await run(server, runStage(judge, { models: ["judge", "m"], max_spread: 3 }, rows))
      expect(r.rejected).toEqual([])
      const anns = r.rows[0]!.synthesized_response_scoring_annotations as Array<Record<string, unknown>>
      expect(anns.map((a) => [a.preference_score, a.preference_score_spread, a.judge_disagreement])).toEqual([
        [7.5, 1, false],
        [5.5, 7, true],
        [6, 0, false]
      ])
      expect(anns[0]).toMatchObject({
        response_token_length: 10,
        judgement: "Rating: [[8]]",
        repetition_flag: false,
        judge_scores: [
          { model: "judge", score: 8, judgement: "Rating: [[8]]" },
          { model: "m", score: 7, judgement: "Rating: [[7]]" }
        ]
      })
      expect((anns[2]!.judge_scores as Array<{ score: number }>).map((s) => s.score)).toEqual([6, -1])
    }))

  it("takes model or models, not both, and at least two distinct judges", () => {
    expect(() => Effect.runSync(decodeConfig(judge, { model: "judge", models: ["judge", "m"] }))).toThrow(/not both/)
    expect(() => Effect.runSync(decodeConfig(judge, {}))).toThrow(/not both/)
    expect(() => Effect.runSync(decodeConfig(judge, { models: ["judge"] }))).toThrow(/at least 2|minItems|2 item/)
    expect(() => Effect.runSync(decodeConfig(judge, { models: ["judge", "judge"] }))).toThrow(/twice/)
  })
})

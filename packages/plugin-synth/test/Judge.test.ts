import { describe, expect, it } from "vitest"
import { runStage } from "@synthline/core/Testing"
import { judge, normalizeScore, parseScore } from "../src/Judge.js"
import { run, withServer } from "./support.js"

describe("parseScore", () => {
  it.each([
    ["the last [[x]] wins", "Good. [[3]] ... on reflection [[8]]", 8],
    ["[[x]] with decimals and spaces", "Rating: [[ 7.5 ]]", 7.5],
    ["[[x]] beats x/10 and JSON", 'I give 2/10 {"score": 4} Rating: [[9]]', 9],
    ["x/10 when there are no brackets", "Overall 6/10, solid.", 6],
    ["the last x/10", "first 3/10 then 7 / 10", 7],
    ["x/10 beats JSON", '{"score": 2} so 5/10', 5],
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
    ["empty gives -1", "", -1]
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
          if (u.includes("long answer")) return "Repetitive. 3/10"
          return "Helpful and correct. Rating: [[8]]"
        }
      },
      async (server) => {
        const r = await run(server, runStage(judge, { model: "judge" }, rows))
        expect(r.rejected).toEqual([])
        expect(r.rows[0]!.synthesized_response_scoring_annotations).toEqual([
          { response_token_length: 12, judgement: "Helpful and correct. Rating: [[8]]", repetition_flag: false, preference_score: 8 },
          { response_token_length: 2500, judgement: "Repetitive. 3/10", repetition_flag: true, preference_score: 3 },
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

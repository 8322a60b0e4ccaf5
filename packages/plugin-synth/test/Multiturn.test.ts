import { describe, expect, it } from "vitest"
import { runStage } from "@synthline/core/Testing"
import { multiturn } from "../src/Multiturn.js"
import { run, withServer } from "./support.js"

const row = (id: string, q: string) => ({
  conversation_id: id,
  translated_conversation: [{ role: "user", content: q }],
  best_response: { role: "assistant", content: `A: ${q}`, index: 0, preference_score: 8 }
})

describe("synth/multiturn", () => {
  it("writes user, assistant, follow-up, answer when the judge gives at least min_score; null otherwise", () =>
    withServer(
      {
        record: true,
        chat: (req) => {
          const last = req.messages[req.messages.length - 1]!.content
          if (last.includes("rate it from 1 to 10")) return last.includes("good") ? "Coherent. [[9]]" : "Weak. [[6]]"
          if (last.includes("Write the user's next message")) return last.includes("broken") ? { fault: "status", status: 400 } : "続きの質問"
          return `二番目の答え (${req.messages.length} messages)`
        }
      },
      async (server) => {
        const r = await run(server, runStage(multiturn, { model: "m", judge_model: "judge" }, [row("a", "good question"), row("b", "meh question"), row("c", "broken question")]))
        expect(r.rows[0]!.synthesized_multiturn_conversation).toEqual([
          { role: "user", content: "good question" },
          { role: "assistant", content: "A: good question" },
          { role: "user", content: "続きの質問" },
          { role: "assistant", content: "二番目の答え (3 messages)" }
        ])
        expect(r.rows[1]!.synthesized_multiturn_conversation).toBeNull()
        expect(r.rows[2]!.synthesized_multiturn_conversation).toBeNull()
        const judged = server.requests.filter((q) => (q.body as { model: string }).model === "test/judge")
        expect(judged).toHaveLength(2)
        expect((judged[0]!.body as { temperature: number }).temperature).toBe(0)
        const lenient = await run(server, runStage(multiturn, { model: "m", min_score: 6 }, [row("b", "meh question")]))
        expect(lenient.rows[0]!.synthesized_multiturn_conversation).toHaveLength(4)
      }
    ))
})

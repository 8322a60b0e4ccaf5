import { describe, expect, it } from "vitest"
import { Effect, Either, Fiber, Runtime } from "effect"
import * as ModelStage from "../src/ModelStage.js"
import * as TestServer from "../src/TestServer.js"
import { client, run } from "./support.js"

describe("ModelStage.ask", () => {
  it("puts all of a row's requests into the model's backlog the moment the row starts, and answers from the cache without an Effect", async () => {
    const server = await TestServer.start({ latencyMs: 30 })
    try {
      await run(
        Effect.gen(function* () {
          const models = yield* client(
            { m: { model: "test/m", endpoints: [server.baseUrl], concurrency: 1 } },
            { cache: { path: "ask.sqlite", mode: "read-write" } }
          )
          const model = yield* models.get("m")
          const asks = [0, 1, 2].map((i) => ({ request: { messages: [{ role: "user", content: "hi" }] }, options: { sampleIndex: i } }))
          const first = ModelStage.ask(model, asks)
          expect(Effect.isEffect(first)).toBe(true)
          if (!Effect.isEffect(first)) return
          const runtime = yield* Effect.runtime<never>()
          const fiber = Runtime.runFork(runtime)(first, { immediate: true })
          // One request on the only slot, two queued: counted before anything else runs.
          expect(model.load.backlog()).toBe(2)
          const answers = yield* Fiber.join(fiber)
          expect(answers.map((a) => Either.isRight(a))).toEqual([true, true, true])
          expect(model.load.backlog()).toBe(0)
          // Asked again: every answer is cached, so they come back synchronously.
          const again = ModelStage.ask(model, asks)
          expect(Effect.isEffect(again)).toBe(false)
          expect(server.counts.chat).toBe(3)
        })
      )
    } finally {
      await server.close()
    }
  })
})

import { describe, expect, it } from "vitest"
import { Chunk, Effect, Either, Fiber, Runtime, Stream } from "effect"
import { StageError } from "@synthline/core/Errors"
import * as Testing from "@synthline/core/Testing"
import { Models } from "../src/Models.js"
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

describe("ModelStage.make", () => {
  const rows = [{ id: "a" }, { id: "b" }, { id: "c" }]

  it("fails the stage before any row with a StageError naming it and the unknown model, listing those declared", async () => {
    const e = await run(
      Effect.gen(function* () {
        const models = yield* client({ m: { model: "test/m", endpoints: ["http://127.0.0.1:9/v1"] } })
        const { context } = Testing.recordingContext("acme/label")
        let built = false
        const made = ModelStage.make(context, ["m", "large"], () => {
          built = true
          return (row) => row
        })
        const error = yield* Effect.flip(Effect.provideService(made, Models, models))
        expect(built).toBe(false)
        return error
      })
    )
    expect(e).toBeInstanceOf(StageError)
    expect(e.message).toBe('stage acme/label: no model named "large" in the models section (declared: m)')
  })

  it("gives the models in the order named and runs each row's outcome in input order: rows, rejects and drops", async () => {
    const server = await TestServer.start({ latencyMs: 5, record: true })
    try {
      const result = await run(
        Effect.gen(function* () {
          const models = yield* client({
            first: { model: "test/first", endpoints: [server.baseUrl] },
            second: { model: "test/second", endpoints: [server.baseUrl] }
          })
          const { context, rejected, dropped } = Testing.recordingContext("acme/label")
          const transform = yield* Effect.provideService(
            ModelStage.make(context, ["second", "first"], ([a, b]) => (row) => {
              if (row.id === "b") return new ModelStage.Reject(row, "no text")
              if (row.id === "c") return new ModelStage.Drop(row, "skipped")
              return ModelStage.map(ModelStage.ask(a, [{ request: { messages: [{ role: "user", content: "hi" }] } }]), ([answer]) => ({
                ...row,
                by: [a.model, b.model],
                ok: answer !== undefined && Either.isRight(answer)
              }))
            }),
            Models,
            models
          )
          const out = yield* Stream.runCollect(transform(Stream.fromIterable(rows)))
          return { out: Chunk.toArray(out), rejected, dropped }
        })
      )
      expect(result.out).toEqual([{ id: "a", by: ["test/second", "test/first"], ok: true }])
      expect(result.rejected).toEqual([{ row: { id: "b" }, error: "acme/label: no text" }])
      expect(result.dropped).toEqual([{ row: { id: "c" }, reason: "skipped" }])
      expect(server.requests.map((r) => (r.body as { model: string }).model)).toEqual(["test/second"])
    } finally {
      await server.close()
    }
  })
})

describe("ModelStage.untilUsable", () => {
  it("asks again after an unusable answer, with the attempt number, up to retries more times; other failures end it at once", async () => {
    const seen: Array<number> = []
    const usableAt = (k: number) => (n: number) =>
      Effect.suspend(() => {
        seen.push(n)
        return n === k ? Effect.succeed(`answer ${n}`) : Effect.fail(new ModelStage.Unusable({ reason: `bad ${n}` }))
      })
    expect(await Effect.runPromise(ModelStage.untilUsable(2, usableAt(2)))).toBe("answer 2")
    expect(seen).toEqual([0, 1, 2])
    seen.length = 0
    const e = await Effect.runPromise(Effect.flip(ModelStage.untilUsable(2, usableAt(5))))
    expect(e).toEqual(new ModelStage.Unusable({ reason: "bad 2" }))
    expect(seen).toEqual([0, 1, 2])
    seen.length = 0
    const hard = await Effect.runPromise(
      Effect.flip(
        ModelStage.untilUsable(5, (n) =>
          Effect.suspend(() => {
            seen.push(n)
            return Effect.fail("down" as const)
          })
        )
      )
    )
    expect(hard).toBe("down")
    expect(seen).toEqual([0])
  })
})

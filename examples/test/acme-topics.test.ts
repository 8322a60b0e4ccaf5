/**
 * Unit test of a model-calling stage, the way a plugin author writes one: core's Testing helpers
 * run the stage over sample rows, @synthline/llm's test server answers on 127.0.0.1, and
 * `Models.layerWith` provides the model the stage asks for.
 */
import { Testing } from "@synthline/core"
import { Sample } from "@synthline/sample"
import { ModelsSection } from "@synthline/llm/Config"
import { layerWith } from "@synthline/llm/Models"
import * as TestServer from "@synthline/llm/TestServer"
import { Effect, Schema } from "effect"
import { afterAll, beforeAll, expect, it } from "vitest"
import { label } from "../plugins/acme-topics.js"

let server: TestServer.TestServer
beforeAll(async () => {
  // Answers "Coding." to instructions mentioning code, "no idea" to the others; the 5th request fails for good.
  server = await TestServer.start({
    chat: (request, n) =>
      n === 5 ? { fault: "status", status: 400, body: '{"error":{"message":"refused"}}' } : /code/i.test(request.messages[1]?.content ?? "") ? "Coding." : "no idea"
  })
})
afterAll(() => server.close())

/** The model `small` on the test server; no response cache in a unit test. */
const models = () =>
  layerWith({
    models: Schema.decodeUnknownSync(ModelsSection)({ small: { model: "test/small", endpoints: [server.baseUrl], max_retries: 0 } }),
    cache: { path: "unused", mode: "off" },
    baseDir: import.meta.dirname,
    env: {}
  })

it("labels every instruction with the topic the model names, rejects a row whose call failed", async () => {
  const rows = Sample.records(1, 20)
  const result = await Effect.runPromise(
    Testing.runStage(label, { model: "small", topics: ["coding", "math"] }, rows).pipe(Effect.provide(models()))
  )
  Testing.assertStats(result, { rows: 19, rejected: ["refused"] })
  for (const row of result.rows) expect(row.acme_topic).toBe(/code/i.test(String((row.conversation as Array<{ content: string }>)[0]!.content)) ? "coding" : "other")
  expect(new Set(result.rows.map((row) => row.acme_topic))).toEqual(new Set(["coding", "other"]))
  expect(server.counts.chat).toBe(20)
})

it("fails the stage, before any row, when the model is not in the models section", async () => {
  const result = await Effect.runPromise(
    Effect.either(Testing.runStage(label, { model: "large", topics: ["coding"] }, Sample.records(1, 3)).pipe(Effect.provide(models())))
  )
  expect(result._tag === "Left" && result.left.message).toContain('no model named "large"')
})

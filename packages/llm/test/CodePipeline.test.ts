/**
 * A pipeline composed in TypeScript runs a model stage through `Runner.run`: its `models` and
 * `cache` sections are options of `Pipeline.to`, decoded with the llm plugin's Schemas.
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import * as Pipeline from "@synthline/core/Pipeline"
import { moderationCategories } from "@synthline/core/Record"
import * as Registry from "@synthline/core/Registry"
import * as Runner from "@synthline/core/Runner"
import * as Sink from "@synthline/core/Sink"
import * as Source from "@synthline/core/Source"
import { complete } from "../src/Complete.js"
import { plugin } from "../src/LlmPlugin.js"
import * as TestServer from "../src/TestServer.js"
import { tempDir } from "./support.js"

const dir = tempDir("code-pipeline")
const moderation = {
  categories: Object.fromEntries(moderationCategories.map((c) => [c, false])),
  category_scores: Object.fromEntries(moderationCategories.map((c) => [c, 0])),
  flagged: false
}
const records = Array.from({ length: 12 }, (_, i) => ({
  conversation_id: `c${i}`,
  model: "vicuna-13b",
  conversation: [
    { role: "user", content: `question ${i}` },
    { role: "assistant", content: `old answer ${i}` }
  ],
  turn: 1,
  language: "English",
  openai_moderation: [moderation, moderation],
  redacted: false
}))
writeFileSync(join(dir, "in.jsonl"), `${records.map((r) => JSON.stringify(r)).join("\n")}\n`)

const lines = (d: string): Array<{ readonly [k: string]: unknown }> =>
  readdirSync(d)
    .filter((f) => f.endsWith(".jsonl"))
    .sort()
    .flatMap((f) => readFileSync(join(d, f), "utf8").split("\n").filter((l) => l !== ""))
    .map((l) => JSON.parse(l))

describe("a pipeline composed in code with model sections", () => {
  it.scoped("runs llm/complete against a local server, caches its answers and fingerprints its models", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.scoped({ record: true })
      const registry = yield* Registry.fromPlugins([{ plugin, specifier: "@synthline/llm" }])
      const composed = (out: string, model: string) =>
        Pipeline.from(Source.jsonl, { path: "in.jsonl" }).pipe(
          Pipeline.through(complete, { model: "m", user: "Reply to: {{conversation.0.content}}", output: "answer", max_tokens: 32 }),
          Pipeline.to(Sink.jsonl, { path: out, compression: "none" }, {
            name: "code",
            seed: 3,
            baseDir: dir,
            registry,
            sections: {
              models: { m: { model, endpoints: [server.baseUrl], retry_base: "5ms", max_retries: 1 } },
              cache: { path: "cache.sqlite" }
            }
          })
        )
      const first = composed("out", "test/m")
      const result = yield* Runner.run(first)
      expect(result.manifest.status).toBe("complete")
      expect(server.counts.chat).toBe(12)
      const rows = lines(join(dir, "out"))
      expect(rows.map((r) => r.conversation_id)).toEqual(records.map((r) => r.conversation_id))
      for (const [i, row] of rows.entries()) {
        const sent = server.requests.find((q) => JSON.stringify(q.body).includes(`Reply to: question ${i}"`))
        const body = sent?.body as { model: string; messages: TestServer.ReceivedChat["messages"]; seed: number; max_tokens: number }
        expect(body.model).toBe("test/m")
        expect(body.messages).toEqual([{ role: "user", content: `Reply to: question ${i}` }])
        expect(row.answer).toBe(TestServer.echo({ ...body, temperature: undefined, body }))
      }
      expect(result.manifest.model_usage.m).toMatchObject({ requests: 12 })

      // The cache section took effect: the same pipeline into another folder sends no request.
      yield* Runner.run(composed("out-again", "test/m"))
      expect(server.counts.chat).toBe(12)
      expect(lines(join(dir, "out-again"))).toEqual(rows)

      // The models section is in the fingerprint: another model is another output.
      expect(composed("out", "test/other").fingerprint).not.toBe(first.fingerprint)
      expect(composed("elsewhere", "test/m").fingerprint).toBe(first.fingerprint)
    }).pipe(Effect.provide(NodeContext.layer)))
})

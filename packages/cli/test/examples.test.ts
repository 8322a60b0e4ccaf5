/**
 * The team plugins in examples/plugins work the way the plugin authoring guide says: loaded
 * from a pipeline file as local `.ts` files, no build. `acme-topics/label` calls a model from
 * the `models` section through @synthline/llm (a local test server on 127.0.0.1 here): every
 * row gets a topic, the manifest counts the calls, and a rerun answers every call from the
 * response cache.
 */
import { describe, expect, it } from "@effect/vitest"
import * as TestServer from "@synthline/llm/TestServer"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { gzipParts, readParts, repoRoot, synthline, tempDir } from "./support.js"

const work = tempDir("examples")

/** The test model's answer to an instruction: a topic named in a sentence, chosen by its length. */
const answer = (instruction: string): string => ["It is about Coding.", "math", "Writing, I think.", "no idea"][instruction.length % 4]!

/** The topic the stage must write for that answer. */
const topic = (instruction: string): string => ({ 0: "coding", 1: "math", 2: "writing", 3: "other" })[instruction.length % 4 as 0 | 1 | 2 | 3]

describe("examples/plugins", () => {
  it("acme-topics/label labels each instruction with a model from the models section; a rerun answers from the cache", async () => {
    expect((await synthline(["sample", "--rows", "300", "--format", "jsonl", "--seed", "5", "--out", join(work, "data")])).code).toBe(0)
    const server = await TestServer.start({ chat: (request) => ({ content: answer(request.messages[request.messages.length - 1]?.content ?? ""), completion_tokens: 2 }), record: true })
    try {
      const file = join(work, "topics.pipeline.yaml")
      writeFileSync(
        file,
        `name: topics
seed: 5
plugins: ["${join(repoRoot, "examples/plugins/acme-topics.ts")}"]
source: { type: jsonl, path: "data/data/*.jsonl" }
models:
  small: { model: test/small, endpoints: ["${server.baseUrl}"], concurrency: 4 }
cache: { path: cache.sqlite }
stages:
  - use: core/select
    languages: [English]
  - use: core/first-turn
  - use: core/limit
    rows: 40
  - use: acme-topics/label
    model: small
    topics: [coding, math, writing]
sink: { type: jsonl, path: out }
`
      )
      const r = await synthline(["run", file])
      expect(r.code, r.stderr).toBe(0)
      const rows = readParts(join(work, "out"), gzipParts)
      expect(rows).toHaveLength(40)
      for (const row of rows) {
        expect(row.acme_topic).toBe(topic((row.conversation as Array<{ content: string }>)[0]!.content))
      }
      expect(new Set(rows.map((x) => x.acme_topic))).toEqual(new Set(["coding", "math", "writing", "other"]))
      // The request the stage sent: its system prompt, temperature 0 and a per-row seed.
      const body = server.requests[0]!.body as { model: string; temperature: number; seed: number; messages: Array<{ role: string }> }
      expect([body.model, body.temperature, typeof body.seed, body.messages.map((m) => m.role)]).toEqual(["test/small", 0, "number", ["system", "user"]])
      const usage = JSON.parse(readFileSync(join(work, "out/manifest.json"), "utf8")).model_usage.small
      expect(usage).toMatchObject({ calls: 40, requests: 40, cache_hits: 0 })

      const again = await synthline(["run", file, "--fresh"])
      expect(again.code, again.stderr).toBe(0)
      expect(server.counts.chat).toBe(40)
      expect(readParts(join(work, "out"), gzipParts)).toEqual(rows)
      expect(JSON.parse(readFileSync(join(work, "out/manifest.json"), "utf8")).model_usage.small).toMatchObject({ calls: 40, requests: 0, cache_hits: 40 })
    } finally {
      await server.close()
    }
  })
})

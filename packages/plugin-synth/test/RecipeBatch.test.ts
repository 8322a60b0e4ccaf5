/**
 * The recipe (examples/lmsys-chat-1m-synth-ja.pipeline.yaml) with its generation and judge models
 * switched to `mode: batch`, against the local test server's Batch API: the same output as the
 * online run, and no chat request sent one by one.
 */
import { describe, expect, it } from "vitest"
import { createHash } from "node:crypto"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { readParts, synthline } from "../../cli/test/support.js"
import type * as TestServer from "@synthline/llm/TestServer"
import { tempDir, withServer } from "./support.js"

const repo = join(import.meta.dirname, "../../..")
const recipe = join(repo, "examples/lmsys-chat-1m-synth-ja.pipeline.yaml")
const work = tempDir("recipe-batch")

const h = (s: string): number => createHash("sha256").update(s).digest().readUInt32LE(0)

/** Judge answers carry a score 0..10; generation answers are deterministic in the prompt and seed. */
const chat = (req: TestServer.ReceivedChat): TestServer.ChatReply => {
  const last = req.messages[req.messages.length - 1]!.content
  if (req.model === "test/judge") return { content: `Reasoning about the answer. Rating: [[${h(last) % 11}]]` }
  return { content: `回答 ${req.seed}: ${last.slice(0, 40)}`, completion_tokens: 50 + (h(`${last}${req.seed}`) % 2200) }
}

/** The recipe as shipped, with both models in batch mode (short window and polls for the test server). */
const batchRecipe = (): string => {
  const text = readFileSync(recipe, "utf8")
  const models = /\nmodels:\n([\s\S]*?)\ncache:/.exec(text)
  expect(models).not.toBeNull()
  const switched = models![1]!.replace(/\n {4}concurrency: 256/g, "\n    concurrency: 256\n    mode: batch\n    batch: { window: 50ms, poll_interval: 10ms }")
  expect(switched.match(/mode: batch/g)).toHaveLength(2)
  const file = join(work, "recipe-batch.pipeline.yaml")
  writeFileSync(file, text.replace(models![1]!, switched))
  return file
}

describe("examples/lmsys-chat-1m-synth-ja.pipeline.yaml in batch mode", () => {
  it("gives the same output as the online run through the local Batch API, with no online chat request", async () => {
    expect((await synthline(["sample", "--rows", "16", "--format", "parquet", "--shards", "1", "--seed", "5", "--out", join(work, "data")])).code).toBe(0)
    await withServer({ chat, record: true, translate: (t) => `訳:${t}` }, async (server) => {
      const env = (name: string) => ({
        SYNTHLINE_DATA: join(work, "data"),
        SYNTH_TEMPLATE_DATA: join(work, "data"),
        SYNTH_BENCHMARK: join(repo, "examples/benchmarks/mt-bench-like.jsonl"),
        SYNTHLINE_OUT: join(work, `out-${name}`),
        SYNTHLINE_CACHE: join(work, `cache-${name}.sqlite`),
        DEEPL_AUTH_KEY: "k:fx",
        DEEPL_BASE_URL: server.url,
        VLLM_URL: server.url,
        JUDGE_URL: server.url,
        GEN_MODEL: "test/gemma",
        JUDGE_MODEL: "test/judge"
      })
      const online = await synthline(["run", recipe], env("online"))
      expect(online.code, online.stderr).toBe(0)
      const onlineChats = server.counts.chat
      expect(onlineChats).toBeGreaterThan(0)
      expect(server.counts.batches).toBe(0)
      const onlineRequests = server.requests.length

      const batch = await synthline(["run", batchRecipe()], env("batch"))
      expect(batch.code, batch.stderr).toBe(0)
      // Every answer came through batches: as many items as the online run sent requests, none online.
      expect(server.requests.slice(onlineRequests).filter((q) => q.path.endsWith("/chat/completions"))).toEqual([])
      expect(server.counts.batches).toBeGreaterThan(0)
      expect(server.counts.batch_requests).toBe(onlineChats)

      for (const suffix of ["+unsafe", "", "-sft", "-dpo"]) {
        const pattern = suffix === "-sft" || suffix === "-dpo" ? /^part-.*\.jsonl$/ : /^part-.*\.jsonl\.gz$/
        const a = readParts(join(work, `out-online${suffix}`), pattern)
        const b = readParts(join(work, `out-batch${suffix}`), pattern)
        expect(b, `out${suffix}`).toEqual(a)
        if (suffix === "+unsafe") expect(a.length).toBeGreaterThan(8)
      }
      const usage = (name: string) => JSON.parse(readFileSync(join(work, `out-${name}+unsafe`, "manifest.json"), "utf8")).model_usage
      const [u1, u2] = [usage("online"), usage("batch")]
      for (const m of ["gemma", "judge"]) {
        expect(u2[m].completions).toBe(u1[m].completions)
        expect(u2[m].batch_prompt_tokens).toBe(u1[m].prompt_tokens)
        expect(u2[m].batch_completion_tokens).toBe(u1[m].completion_tokens)
      }
    })
  }, 180_000)
})

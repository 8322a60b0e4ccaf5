import { describe, expect, it } from "vitest"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Either, Schema } from "effect"
import { gzipParts, readParts, start as startCli, synthline, tree } from "../../cli/test/support.js"
import { readJournal } from "../src/Batch.js"
import * as Cache from "../src/Cache.js"
import { body } from "../src/Chat.js"
import { CacheSection, ModelsSection } from "../src/Config.js"
import { params } from "../src/internal/anthropic.js"
import { make } from "../src/Models.js"
import type { LlmRequestError } from "../src/Errors.js"
import * as TestServer from "../src/TestServer.js"
import { ask, client, run, tempDir } from "./support.js"

// Batch mode of a model with `provider: anthropic`: the Message Batches API of the local test
// server (POST /v1/messages/batches, GET /v1/messages/batches/{id}[/results]).

const key = "sk-ant-test-key-0123"

const withServer = async <A>(options: TestServer.TestServerOptions, f: (s: TestServer.TestServer) => Promise<A>): Promise<A> => {
  const server = await TestServer.start({ apiKey: key, ...options })
  try {
    return await f(server)
  } finally {
    await server.close()
  }
}

const model = (server: TestServer.TestServer, mode: "online" | "batch", batch: { [k: string]: unknown } = {}) => ({
  m: {
    provider: "anthropic",
    model: "claude-test",
    endpoints: [server.baseUrl],
    api_key: key,
    mode,
    retry_base: "5ms",
    batch: { window: "30ms", poll_interval: "10ms", ...batch }
  }
})

/** Asks `n` requests (a system message and a question) at once; each answer text, or the error. */
const askAll = (models: unknown, n: number, options: Parameters<typeof client>[1] = {}) =>
  run(
    Effect.gen(function* () {
      const c = yield* client(models, options)
      const m = yield* c.get("m")
      const answers = yield* Effect.all(
        Array.from({ length: n }, (_, i) =>
          Effect.either(
            m.complete({ ...ask(`question ${i}`, { seed: i, max_tokens: 64 }), messages: [{ role: "system", content: "Be brief." }, ...ask(`question ${i}`).messages] })
          )
        ),
        { concurrency: "unbounded" }
      )
      return {
        answers: answers.map((a) => (Either.isRight(a) ? a.right.content : (a.left as LlmRequestError))),
        usage: structuredClone(m.usage())
      }
    })
  )

describe("batch mode, provider anthropic", () => {
  it("sends Message Batches of at most max_requests with x-api-key, answers like online mode and caches under the same keys", () =>
    withServer({ record: true }, async (server) => {
      const dir = tempDir("anthropic-batch")
      const cache = { path: "cache.sqlite" }
      const r = await askAll(model(server, "batch", { max_requests: 4 }), 10, { dir, cache })
      const online = await withServer({ record: true }, async (plain) => {
        const o = await askAll(model(plain, "online"), 10, { cache: { mode: "off" } })
        // Online calls are Messages requests: the system message in `system`, max_tokens, no seed.
        const sent = plain.requests.find((q) => q.path === "/v1/messages")?.body as { [k: string]: unknown }
        expect(sent).toMatchObject({ model: "claude-test", system: "Be brief.", max_tokens: 64 })
        expect(sent.seed).toBeUndefined()
        expect(sent.messages).toEqual([{ role: "user", content: expect.stringMatching(/^question \d$/) }])
        return o
      })
      expect(online.answers.every((a) => typeof a === "string")).toBe(true)
      expect(r.answers).toEqual(online.answers)
      // No file upload: three batches of 4, 4 and 2 requests, each created in one request.
      expect(server.counts).toMatchObject({ files: 0, batches: 3, batch_requests: 10, chat: 10 })
      const create = server.requests.find((q) => q.path === "/v1/messages/batches")!.body as { requests: Array<{ [k: string]: unknown }> }
      expect(create.requests).toHaveLength(4)
      expect(create.requests[0]).toMatchObject({ params: { model: "claude-test", system: "Be brief.", max_tokens: 64 } })
      expect(String(create.requests[0]!.custom_id)).toMatch(/^[a-zA-Z0-9_-]{1,64}$/)
      expect(r.usage).toMatchObject({ calls: 10, requests: 10, completions: 10, cache_hits: 0 })
      expect(r.usage.prompt_tokens).toBeGreaterThan(0)

      // Online mode over the same cache: every answer is there already, nothing is sent.
      const again = await withServer({}, async (plain) => {
        const a = await askAll(model(plain, "online"), 10, { dir, cache })
        expect(plain.counts.total).toBe(0)
        return a
      })
      expect(again.answers).toEqual(online.answers)
      expect(again.usage).toMatchObject({ calls: 10, cache_hits: 10, requests: 0 })
    }))

  it("resubmits expired, errored (overloaded), unreadable and missing items alone; an invalid_request_error fails with the provider's message", () =>
    withServer(
      {
        batch: {
          item: (request, _id, n) => {
            if (n > 1) return "ok"
            const q = request.messages[request.messages.length - 1]!.content
            if (q === "question 0") return "expired"
            if (q === "question 1") return "malformed"
            if (q === "question 2") return { status: 400, message: "messages.0.content: prompt is too long for this test" }
            if (q === "question 3") return "missing"
            if (q === "question 4") return { status: 529, message: "Overloaded" }
            return "ok"
          }
        }
      },
      async (server) => {
        const r = await askAll(model(server, "batch"), 8, { cache: { mode: "off" } })
        const online = await withServer({}, (plain) => askAll(model(plain, "online"), 8, { cache: { mode: "off" } }))
        const failed = r.answers[2] as LlmRequestError
        expect(typeof failed).not.toBe("string")
        expect(failed.kind).toBe("context_overflow")
        expect(failed.message).toContain("invalid_request_error: messages.0.content: prompt is too long for this test")
        expect(failed.message).not.toContain(key)
        expect(r.answers.filter((_, i) => i !== 2)).toEqual(online.answers.filter((_, i) => i !== 2))
        // The first batch held all 8; the second only the four worth another try.
        expect(server.counts).toMatchObject({ batches: 2, batch_requests: 12 })
        expect(r.usage).toMatchObject({ calls: 8, requests: 12, retries: 4, completions: 7, failures: { context_overflow: 1 } })
      }
    ))

  it("a wrong key fails every call as unauthorized, naming no key", () =>
    withServer({}, async (server) => {
      const r = await askAll({ m: { ...model(server, "batch", { max_attempts: 1 }).m, api_key: "sk-ant-wrong-key" } }, 2, { cache: { mode: "off" } })
      for (const a of r.answers) {
        expect((a as LlmRequestError).kind).toBe("unauthorized")
        expect((a as LlmRequestError).message).not.toContain("sk-ant-wrong-key")
      }
      expect(server.counts.batches).toBe(0)
    }))
})

describe("batch mode, provider anthropic, after a kill between creating a batch and journaling it", () => {
  it("finds the batch by its creation time and size, polls it and submits nothing; without one, the waiting calls are batched", () =>
    withServer({}, async (server) => {
      const questions = [0, 1, 2].map((i) => ({
        messages: [{ role: "system", content: "Be brief." }, ...ask(`question ${i}`).messages],
        seed: i,
        max_tokens: 64
      }))
      const asked = (stateDir: string) =>
        run(
          Effect.gen(function* () {
            const c = yield* make({
              models: Schema.decodeUnknownSync(ModelsSection)(model(server, "batch")),
              cache: Schema.decodeUnknownSync(CacheSection)({ mode: "off" }),
              baseDir: stateDir,
              env: {},
              stateDir
            })
            const m = yield* c.get("m")
            return yield* Effect.all(questions.map((q) => Effect.map(m.complete(q), (a) => a.content)), { concurrency: "unbounded" })
          })
        )
      // What a killed run left: the journal's prepared line, and the batch it created (no submitted line).
      const stateDir = tempDir("anthropic-unjournaled")
      const local = `${Date.now().toString(36)}-4242-1`
      const items = Object.fromEntries(questions.map((q, i) => [`${local}-${i}`, Cache.key("claude-test", q, {}, 0)]))
      writeFileSync(join(stateDir, "llm-batches-m.jsonl"), `${JSON.stringify({ t: "prepared", local, items })}\n`)
      const created = await fetch(`${server.baseUrl}/messages/batches`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": key, "anthropic-version": "2023-06-01" },
        body: JSON.stringify({ requests: questions.map((q, i) => ({ custom_id: `${local}-${i}`, params: params(body("claude-test", q, {})) })) })
      })
      expect(created.status).toBe(200)
      const answers = await asked(stateDir)
      const online = await withServer({}, async (plain) => (await askAll(model(plain, "online"), 3, { cache: { mode: "off" } })).answers)
      expect(answers).toEqual(online)
      expect(server.counts).toMatchObject({ batches: 1, batch_requests: 3 })
      expect(readFileSync(join(stateDir, "llm-batches-m.jsonl"), "utf8")).toContain(`"t":"submitted","local":"${local}","batch":"msgbatch_1"`)

      // A prepared batch of two that never reached the provider (no batch of its size): the calls
      // that waited for it go out after all.
      const other = tempDir("anthropic-unsubmitted")
      const lost = `${Date.now().toString(36)}-4242-2`
      const lostItems = Object.fromEntries(questions.slice(0, 2).map((q, i) => [`${lost}-${i}`, Cache.key("claude-test", q, {}, 0)]))
      writeFileSync(join(other, "llm-batches-m.jsonl"), `${JSON.stringify({ t: "prepared", local: lost, items: lostItems })}\n`)
      expect(await asked(other)).toEqual(online)
      expect(server.counts.batch_requests).toBe(6)
      expect(readFileSync(join(other, "llm-batches-m.jsonl"), "utf8")).toContain(`{"t":"done","local":"${lost}"}`)
    }))
})

describe("batch mode, provider anthropic, limits", () => {
  it("takes max_requests up to 100,000 for anthropic and refuses more than 50,000 for openai", async () => {
    await withServer({}, async (server) => {
      const ok = await askAll(model(server, "batch", { max_requests: 100_000 }), 1, { cache: { mode: "off" } })
      expect(typeof ok.answers[0]).toBe("string")
      const refused = await run(
        Effect.gen(function* () {
          const c = yield* client({ m: { model: "x", endpoints: [server.baseUrl], mode: "batch", batch: { max_requests: 60_000 } } })
          return yield* Effect.flip(c.get("m"))
        })
      )
      expect(refused.message).toContain("batch.max_requests 60000 is more than an OpenAI batch file holds (50,000)")
    })
  })
})

// ---------------------------------------------------------------------------------------------
// A pipeline run in batch mode through the CLI: the output of online mode, and kill -9 while the
// Message Batches are polled submits none of them twice.

const work = tempDir("anthropic-batch-pipeline")
const pipeline = (name: string, url: string, mode: "online" | "batch") => {
  const file = join(work, `${name}.pipeline.yaml`)
  writeFileSync(
    file,
    `name: ${name}
seed: 1
plugins: ["@synthline/llm"]
source: { type: jsonl, path: "data/data/*.jsonl" }
models:
  m:
    provider: anthropic
    model: claude-test
    endpoints: ["${url}"]
    api_key: \${TEST_ANTHROPIC_KEY}
    mode: ${mode}
    retry_base: 10ms
    batch: { window: 200ms, poll_interval: 20ms }
cache: { path: ${name}.sqlite }
stages:
  - use: core/first-turn
  - use: llm/complete
    model: m
    user: "Reply to: {{conversation.0.content}}"
    output: reply
    max_tokens: 128
sink: { type: jsonl, path: out-${name}, compression: gzip }
`
  )
  return file
}

describe("batch mode, provider anthropic, from a pipeline file", () => {
  it("gives the output of online mode; after kill -9 during polling the rerun polls the batches it submitted and submits none again", async () => {
    const gen = await synthline(["sample", "--rows", "120", "--format", "jsonl", "--shards", "2", "--seed", "5", "--out", join(work, "data")])
    expect(gen.code).toBe(0)
    const env = { TEST_ANTHROPIC_KEY: key }
    // The killed run is started with this process's environment.
    process.env.TEST_ANTHROPIC_KEY = key
    await withServer({}, async (server) => {
      const r = await synthline(["run", pipeline("online", server.baseUrl, "online")], env)
      expect(r.code).toBe(0)
      expect(server.counts.chat).toBe(120)
    })
    await withServer({ batch: { polls: 15 } }, async (server) => {
      const file = pipeline("batch", server.baseUrl, "batch")
      const child = startCli(["run", file])
      const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()))
      child.stdout?.resume()
      child.stderr?.resume()
      await new Promise<void>((resolve) => {
        const poll = setInterval(() => {
          if (server.counts.batch_polls >= 3 || child.exitCode !== null) {
            clearInterval(poll)
            child.kill("SIGKILL")
            resolve()
          }
        }, 2)
      })
      await exited
      await server.settled()
      const submitted = server.counts.batches
      expect(submitted).toBeGreaterThan(0)
      const open = readJournal(join(work, "out-batch/_state/run/llm-batches-m.jsonl"))
      expect(open.filter((b) => b.batch !== undefined).length).toBeGreaterThan(0)

      const again = await synthline(["run", file], env)
      expect(again.code).toBe(0)
      expect(again.stderr).toMatch(/model m: batches: .*completed/)
      expect(again.stderr).not.toContain(key)
      // Every request went out in exactly one batch, over both runs.
      expect(server.counts.batch_requests).toBe(120)
      const { "README.md": _a, ...batchFiles } = tree(join(work, "out-batch"))
      const { "README.md": _b, ...onlineFiles } = tree(join(work, "out-online"))
      expect(batchFiles).toEqual(onlineFiles)
      expect(readParts(join(work, "out-batch"), gzipParts)).toHaveLength(120)
      const usage = JSON.parse(readFileSync(join(work, "out-batch/manifest.json"), "utf8")).model_usage.m
      expect(usage).toMatchObject({ calls: 120, completions: 120 })
    })
  }, 120_000)
})

import { describe, expect, it } from "vitest"
import { Effect, Either, Fiber, Layer, Schema } from "effect"
import { collectingUsage, definePlugin, type Plugin, runContextLayer } from "@synthline/core/Plugin"
import { CacheSection, ModelsSection } from "../src/Config.js"
import { layer, Models } from "../src/Models.js"
import * as Provider from "../src/Provider.js"
import * as TestServer from "../src/TestServer.js"
import type { ModelUsage } from "../src/Usage.js"
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { readParts, synthline } from "../../cli/test/support.js"
import { ask, client, run, tempDir } from "./support.js"

const fast = { retry_base: "5ms", retry_max: "2s", cooldown: "300ms" }

describe("Models: requests over real HTTP", () => {
  it("answers a chat request and reports tokens per model and endpoint", async () => {
    const server = await TestServer.start({ record: true, chat: () => ({ content: "hello", prompt_tokens: 11, completion_tokens: 3 }) })
    const usage = collectingUsage()
    try {
      const answer = await run(
        Effect.gen(function* () {
          const models = yield* client({ m: { model: "test/model", endpoints: [server.baseUrl], ...fast } }, { usage })
          const model = yield* models.get("m")
          return yield* model.complete({ ...ask("hi", { seed: 7 }), temperature: 0.6, top_p: 1, max_tokens: 99, extra: { top_k: 5 } })
        })
      )
      expect(answer).toEqual({ content: "hello", finish_reason: "stop", usage: { prompt_tokens: 11, completion_tokens: 3 }, cached: false })
      expect(server.requests[0]!.path).toBe("/v1/chat/completions")
      expect(server.requests[0]!.body).toEqual({
        model: "test/model",
        messages: [{ role: "user", content: "hi" }],
        temperature: 0.6,
        top_p: 1,
        max_tokens: 99,
        seed: 7,
        top_k: 5
      })
      const u = usage.snapshot().m as ModelUsage
      expect(u).toMatchObject({ model: "test/model", calls: 1, requests: 1, completions: 1, prompt_tokens: 11, completion_tokens: 3, cache_hits: 0 })
      expect(u.endpoints[server.baseUrl]).toMatchObject({ requests: 1, prompt_tokens: 11, completion_tokens: 3 })
    } finally {
      await server.close()
    }
  })

  it("balances by least outstanding requests and respects per-endpoint concurrency", async () => {
    const slow = await TestServer.start({ latencyMs: 150 })
    const quick = await TestServer.start({ latencyMs: 5 })
    let inFlight = 0
    let peak = 0
    try {
      await run(
        Effect.gen(function* () {
          const models = yield* client({ m: { model: "x", endpoints: [slow.baseUrl, quick.baseUrl], concurrency: 4, ...fast } })
          const model = yield* models.get("m")
          yield* Effect.forEach(
            Array.from({ length: 80 }, (_, i) => i),
            (i) =>
              Effect.gen(function* () {
                inFlight++
                peak = Math.max(peak, inFlight)
                yield* model.complete(ask(`q${i}`))
                inFlight--
              }),
            { concurrency: 80 }
          )
          expect(model.capacity).toBe(8)
        })
      )
      // The quick endpoint frees its slots ~30x as often, so it takes most of the load; the slow one
      // never holds more than its 4 slots (150 ms each over the run's span).
      expect(slow.counts.chat + quick.counts.chat).toBe(80)
      expect(quick.counts.chat).toBeGreaterThan(slow.counts.chat * 3)
      expect(slow.counts.chat).toBeGreaterThanOrEqual(4)
    } finally {
      await slow.close()
      await quick.close()
    }
  })

  it("gives the slot back when a request is interrupted, in flight or still queued, and the next request goes out", async () => {
    const server = await TestServer.start({ latencyMs: 300, record: true })
    try {
      const answer = await run(
        Effect.gen(function* () {
          const models = yield* client({ m: { model: "x", endpoints: [server.baseUrl], concurrency: 1, ...fast } })
          const model = yield* models.get("m")
          const inFlight = yield* Effect.fork(model.complete(ask("first")))
          const queued = yield* Effect.fork(model.complete(ask("second")))
          yield* Effect.sleep("50 millis")
          yield* Fiber.interrupt(queued)
          yield* Fiber.interrupt(inFlight)
          server.setLatency(1)
          return yield* model.complete(ask("third")).pipe(Effect.timeout("5 seconds"))
        })
      )
      expect(answer.content).toMatch(/: third$/)
      // The interrupted first request reached the server; the queued second never did.
      const asked = server.requests.map((r) => JSON.stringify(r.body))
      expect(asked).toHaveLength(2)
      expect(asked[0]).toContain("first")
      expect(asked[1]).toContain("third")
    } finally {
      await server.close()
    }
  })

  it("cools down an endpoint that keeps failing, sends its load elsewhere, and probes it again later", async () => {
    const broken = await TestServer.start()
    const good = await TestServer.start()
    broken.failAll({ fault: "status", status: 503 })
    try {
      await run(
        Effect.gen(function* () {
          const models = yield* client({
            m: { model: "x", endpoints: [broken.baseUrl, good.baseUrl], concurrency: 2, failure_threshold: 3, ...fast, cooldown: "400ms" }
          })
          const model = yield* models.get("m")
          const started = Date.now()
          yield* Effect.forEach(Array.from({ length: 60 }, (_, i) => i), (i) => model.complete(ask(`a${i}`)), { concurrency: 4 })
          // Three failures in a row, then no more traffic while cooling down: at most one failing
          // probe per 400 ms cool-down that ended while the 60 requests ran (none on an idle
          // machine, where they take well under 400 ms; a few on a busy one).
          const cooldowns = Math.floor((Date.now() - started) / 400)
          expect(broken.counts.chat).toBeLessThanOrEqual(4 + cooldowns)
          expect(good.counts.chat).toBe(60)
          const u = model.usage()
          expect(u.completions).toBe(60)
          expect(u.errors.server_error).toBe(broken.counts.chat)
          expect(u.failures).toEqual({})
          // After the cool-down a single probe goes to it; it has recovered, so it takes load again.
          broken.failAll(undefined)
          yield* Effect.sleep("500 millis")
          const before = broken.counts.chat
          yield* Effect.forEach(Array.from({ length: 40 }, (_, i) => i), (i) => model.complete(ask(`b${i}`)), { concurrency: 4 })
          expect(broken.counts.chat - before).toBeGreaterThan(5)
        })
      )
    } finally {
      await broken.close()
      await good.close()
    }
  })

  it.each([
    ["429 with Retry-After", { fault: "status", status: 429, retryAfter: "0" }, "rate_limited"],
    ["500", { fault: "status", status: 500 }, "server_error"],
    ["502", { fault: "status", status: 502 }, "server_error"],
    ["a dropped connection", { fault: "drop" }, "connection"],
    ["a garbage body", { fault: "garbage" }, "bad_response"],
    ["a hang past the timeout", { fault: "hang" }, "timeout"]
  ] as const)("retries %s and then answers", async (_, fault, kind) => {
    const server = await TestServer.start()
    server.failNext(fault, fault)
    try {
      const { answer, usage } = await run(
        Effect.gen(function* () {
          const models = yield* client({ m: { model: "x", endpoints: [server.baseUrl], timeout: "300ms", ...fast } })
          const model = yield* models.get("m")
          const answer = yield* model.complete(ask("retry me"))
          return { answer, usage: model.usage() }
        })
      )
      expect(answer.content).toContain("retry me")
      expect(server.counts.chat).toBe(3)
      expect(usage).toMatchObject({ calls: 1, requests: 3, retries: 2, completions: 1, errors: { [kind]: 2 }, failures: {} })
    } finally {
      await server.close()
    }
  })

  it("waits as long as Retry-After asks before retrying a 429", async () => {
    const server = await TestServer.start()
    server.failNext({ fault: "status", status: 429, retryAfter: "1" })
    try {
      const started = Date.now()
      await run(
        Effect.gen(function* () {
          const model = yield* (yield* client({ m: { model: "x", endpoints: [server.baseUrl], ...fast } })).get("m")
          yield* model.complete(ask("patience"))
        })
      )
      // Lower bound only: the retry cannot come before the server's Retry-After of one second.
      expect(Date.now() - started).toBeGreaterThanOrEqual(950)
      expect(server.counts.chat).toBe(2)
    } finally {
      await server.close()
    }
  })

  it("gives up after max_retries with the last error, counted as a failure", async () => {
    const server = await TestServer.start()
    server.failAll({ fault: "status", status: 500, body: JSON.stringify({ error: { message: "CUDA out of memory" } }) })
    try {
      const result = await run(
        Effect.gen(function* () {
          const model = yield* (yield* client({ m: { model: "x", endpoints: [server.baseUrl], max_retries: 2, failure_threshold: 100, ...fast } })).get("m")
          const r = yield* Effect.either(model.complete(ask("doomed")))
          return { r, usage: model.usage() }
        })
      )
      expect(Either.isLeft(result.r)).toBe(true)
      const message = Either.isLeft(result.r) ? result.r.left.message : ""
      expect(message).toBe(`model m at ${server.baseUrl}: server_error 500 after 3 attempts: CUDA out of memory`)
      expect(server.counts.chat).toBe(3)
      expect(result.usage.failures).toEqual({ server_error: 1 })
    } finally {
      await server.close()
    }
  })

  it.each([
    [400, "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens.", "context_overflow"],
    [400, "temperature must be at most 2", "bad_request"],
    [401, "invalid api key", "unauthorized"]
  ] as const)("does not retry a %i (%s) and keeps the server's message", async (status, text, kind) => {
    const server = await TestServer.start()
    server.failNext({ fault: "status", status, body: JSON.stringify({ error: { message: text } }) })
    try {
      const r = await run(
        Effect.gen(function* () {
          const model = yield* (yield* client({ m: { model: "x", endpoints: [server.baseUrl], ...fast } })).get("m")
          return yield* Effect.either(model.complete(ask("bad")))
        })
      )
      expect(server.counts.chat).toBe(1)
      expect(Either.isLeft(r) && r.left.kind).toBe(kind)
      expect(Either.isLeft(r) && r.left.message).toContain(text)
    } finally {
      await server.close()
    }
  })

  it("paces requests to requests_per_minute", async () => {
    const server = await TestServer.start()
    try {
      const started = Date.now()
      await run(
        Effect.gen(function* () {
          // 600/min = 10/s with a burst of 20: 40 requests need at least ~2 s.
          const model = yield* (yield* client({ m: { model: "x", endpoints: [server.baseUrl], requests_per_minute: 600, ...fast } })).get("m")
          yield* Effect.forEach(Array.from({ length: 40 }, (_, i) => i), (i) => model.complete(ask(`r${i}`)), { concurrency: 40 })
        })
      )
      expect(Date.now() - started).toBeGreaterThanOrEqual(1900)
      expect(server.counts.chat).toBe(40)
    } finally {
      await server.close()
    }
  })

  it("paces tokens to tokens_per_minute, corrected by the answers' usage", async () => {
    let reported = 10
    const server = await TestServer.start({ chat: () => ({ content: "ok", prompt_tokens: reported, completion_tokens: reported }) })
    try {
      await run(
        Effect.gen(function* () {
          // 6000/min = 100 tokens/s with a burst of 1000.
          const model = yield* (yield* client({ m: { model: "x", endpoints: [server.baseUrl], concurrency: 1, tokens_per_minute: 6000, ...fast } })).get("m")
          // Estimated at ~600 tokens each (max_tokens counts) but reporting 20: corrected from usage,
          // 20 requests fit the burst, where the estimates alone (12,000 tokens) would need ~110 s.
          let started = Date.now()
          yield* Effect.forEach(Array.from({ length: 20 }, (_, i) => i), (i) => model.complete(ask(`c${i}`, { max_tokens: 597 })), { concurrency: 1 })
          expect(Date.now() - started).toBeLessThan(20_000)
          // Estimated and reporting ~100 each: 12 more need 1,200 tokens from a bucket of at most 1,000: ≥ 1.5 s.
          reported = 50
          started = Date.now()
          yield* Effect.forEach(Array.from({ length: 12 }, (_, i) => i), (i) => model.complete(ask(`p${i}`, { max_tokens: 97 })), { concurrency: 1 })
          expect(Date.now() - started).toBeGreaterThanOrEqual(1500)
        })
      )
      expect(server.counts.chat).toBe(32)
    } finally {
      await server.close()
    }
  })

  it("never shows the API key in errors, even when the server echoes it", async () => {
    const key = "sk-test-SECRET-0123456789"
    const server = await TestServer.start({ apiKey: key, record: true })
    server.failNext({ fault: "status", status: 400, body: JSON.stringify({ error: { message: `bad request with key ${key}` } }) })
    try {
      const r = await run(
        Effect.gen(function* () {
          const model = yield* (yield* client({ m: { model: "x", endpoints: [server.baseUrl], api_key: key, ...fast } })).get("m")
          const failed = yield* Effect.either(model.complete(ask("a")))
          const ok = yield* model.complete(ask("b"))
          return { failed, ok, usage: JSON.stringify(model.usage()) }
        })
      )
      expect(server.requests[1]!.authorization).toBe(`Bearer ${key}`)
      expect(r.ok.content).toContain("b")
      const message = Either.isLeft(r.failed) ? r.failed.left.message : ""
      expect(message).toContain("bad request with key <redacted>")
      expect(message).not.toContain("SECRET")
      expect(r.usage).not.toContain("SECRET")
    } finally {
      await server.close()
    }
  })

  it("fills endpoints and key from OPENAI_BASE_URL and OPENAI_API_KEY, and names what is missing", async () => {
    const server = await TestServer.start({ apiKey: "env-key" })
    try {
      const answer = await run(
        Effect.gen(function* () {
          const models = yield* client({ m: { model: "x" } }, { env: { OPENAI_BASE_URL: server.baseUrl, OPENAI_API_KEY: "env-key" } })
          return yield* (yield* models.get("m")).complete(ask("from env"))
        })
      )
      expect(answer.content).toContain("from env")
      const errors = await run(
        Effect.gen(function* () {
          const models = yield* client({ m: { model: "x" } })
          const a = yield* Effect.flip(models.get("m"))
          const b = yield* Effect.flip(models.get("judge"))
          return [a.message, b.message]
        })
      )
      expect(errors[0]).toMatch(/model m has no endpoints: list base URLs under models.m.endpoints .* or set OPENAI_BASE_URL/)
      expect(errors[1]).toBe('no model named "judge" in the models section (declared: m)')
    } finally {
      await server.close()
    }
  })
})

describe("Models: the response cache", () => {
  it("answers a repeated request from the SQLite file, also in a new process-like client; read-only and off behave", async () => {
    const server = await TestServer.start()
    const dir = tempDir("cache")
    const cfg = { m: { model: "x", endpoints: [server.baseUrl], ...fast } }
    try {
      const first = await run(
        Effect.gen(function* () {
          const model = yield* (yield* client(cfg, { dir, cache: {} })).get("m")
          const a = yield* model.complete(ask("q", { seed: 1 }))
          const b = yield* model.complete(ask("q", { seed: 1 }))
          const c = yield* model.complete(ask("q", { seed: 1 }), { sampleIndex: 1 })
          const d = yield* model.complete(ask("q", { seed: 2 }))
          return { a, b, c, d, usage: model.usage() }
        })
      )
      expect(first.a.cached).toBe(false)
      expect(first.b).toEqual({ ...first.a, cached: true })
      expect(first.c.cached).toBe(false)
      expect(first.d.cached).toBe(false)
      expect(server.counts.chat).toBe(3)
      expect(first.usage).toMatchObject({ calls: 4, cache_hits: 1, requests: 3 })

      // A fresh client on the same file (a rerun): no request at all.
      const again = await run(
        Effect.gen(function* () {
          const model = yield* (yield* client(cfg, { dir, cache: { mode: "read-only" } })).get("m")
          const a = yield* model.complete(ask("q", { seed: 1 }))
          const fresh = yield* model.complete(ask("new", { seed: 1 }))
          const fresh2 = yield* model.complete(ask("new", { seed: 1 }))
          return { a, fresh, fresh2 }
        })
      )
      expect(again.a).toEqual(first.b)
      expect(again.fresh.cached).toBe(false)
      expect(again.fresh2.cached).toBe(false) // read-only stores nothing
      expect(server.counts.chat).toBe(5)

      await run(
        Effect.gen(function* () {
          const model = yield* (yield* client(cfg, { dir, cache: { mode: "off" } })).get("m")
          yield* model.complete(ask("q", { seed: 1 }))
        })
      )
      expect(server.counts.chat).toBe(6)
    } finally {
      await server.close()
    }
  })

  it("fails clearly when a read-only cache file does not exist", async () => {
    const server = await TestServer.start()
    try {
      const message = await run(
        Effect.gen(function* () {
          const models = yield* client({ m: { model: "x", endpoints: [server.baseUrl] } }, { dir: tempDir("ro"), cache: { mode: "read-only", path: "missing.sqlite" } })
          return (yield* Effect.flip(models.get("m"))).message
        })
      )
      expect(message).toMatch(/^cannot open the response cache .*missing\.sqlite \(read-only\): /)
    } finally {
      await server.close()
    }
  })
})

describe("Models: requests to other routes (Model.request)", () => {
  const parseResults = (json: unknown): Either.Either<ReadonlyArray<unknown>, string> =>
    typeof json === "object" && json !== null && "results" in json && Array.isArray(json.results)
      ? Either.right(json.results)
      : Either.left(`no results array: ${JSON.stringify(json).slice(0, 40)}`)

  it("POSTs to <base>/moderations with the key and extra_body, retries 429 and garbage, caches decoded answers, counts usage", async () => {
    const server = await TestServer.start({
      record: true,
      apiKey: "sk-route-1",
      moderate: (input) => ({ flagged: input === "bad", categories: { violence: input === "bad" }, category_scores: { violence: input === "bad" ? 0.9 : 0.01 } })
    })
    const usage = collectingUsage()
    const dir = tempDir("route")
    try {
      const results = await run(
        Effect.gen(function* () {
          const models = yield* client(
            { mod: { model: "omni-moderation-latest", endpoints: [server.baseUrl], api_key: "sk-route-1", extra_body: { user: "t" }, ...fast } },
            { usage, dir, cache: { path: "c.sqlite" } }
          )
          const model = yield* models.get("mod")
          const call = (input: ReadonlyArray<string>) => model.request("/moderations", { input }, { parse: parseResults })
          server.failNext({ fault: "status", status: 429, retryAfter: "0" }, { fault: "garbage", body: "{\"id\":1}" })
          const first = yield* call(["ok", "bad"])
          const again = yield* call(["ok", "bad"])
          // A 4xx is not retried and names the server's message.
          server.failNext({ fault: "status", status: 400, body: JSON.stringify({ error: { message: "input too long" } }) })
          const failed = yield* Effect.flip(call(["other"]))
          return { first, again, failed: failed.message }
        })
      )
      expect(results.first.cached).toBe(false)
      expect(results.first.value).toEqual([
        { flagged: false, categories: { violence: false }, category_scores: { violence: 0.01 } },
        { flagged: true, categories: { violence: true }, category_scores: { violence: 0.9 } }
      ])
      expect(results.again).toEqual({ ...results.first, cached: true })
      expect(server.requests.map((r) => r.path)).toEqual(["/v1/moderations", "/v1/moderations", "/v1/moderations", "/v1/moderations"])
      expect(server.requests[2]!.body).toEqual({ user: "t", input: ["ok", "bad"] })
      expect(server.requests[2]!.authorization).toBe("Bearer sk-route-1")
      expect(results.failed).toBe(`model mod at ${server.baseUrl}: bad_request 400: input too long`)
      const u = usage.snapshot().mod as ModelUsage
      expect(u).toMatchObject({ calls: 3, cache_hits: 1, requests: 4, retries: 2, completions: 1, errors: { rate_limited: 1, bad_response: 1, bad_request: 1 } })
    } finally {
      await server.close()
    }
  })

  it("takes its providers from the run's plugins, and refuses a model whose provider no plugin contributes, listing those there are", async () => {
    const echo = Provider.define("echo", () =>
      Effect.succeed({
        endpoints: [{ id: "echo", capacity: 1 }],
        send: (_, body) => Effect.succeed({ content: JSON.stringify(body).length > 0 ? "echoed" : "", finish_reason: "stop", usage: { prompt_tokens: 1, completion_tokens: 1 } })
      })
    )
    const plugin = definePlugin({ name: "echo-provider", version: "1.0.0", stages: [], providers: [echo] })
    const sections = {
      models: Schema.decodeUnknownSync(ModelsSection)({ e: { provider: "echo", model: "x" }, l: { provider: "llama-cpp", model: "y" } }),
      cache: Schema.decodeUnknownSync(CacheSection)({ mode: "off" })
    }
    const withPlugins = (plugins: ReadonlyArray<Plugin>) =>
      Effect.gen(function* () {
        const models = yield* Models
        const answer = yield* Effect.either(Effect.flatMap(models.get("e"), (m) => m.complete(ask("hi"))))
        const unknown = yield* Effect.flip(models.get("l"))
        return { answer: Either.map(answer, (a) => a.content), unknown: unknown.message }
      }).pipe(Effect.provide(Layer.provide(layer, runContextLayer({ sections, baseDir: tempDir("providers"), plugins }))))
    const loaded = await run(withPlugins([plugin]))
    expect(loaded.answer).toEqual(Either.right("echoed"))
    expect(loaded.unknown).toBe(
      'model l: unknown provider "llama-cpp" (available: openai, anthropic, echo; a provider package must be listed in plugins)'
    )
    // Without the plugin the provider does not exist: nothing is registered by importing a module.
    const without = await run(withPlugins([]))
    expect(Either.isLeft(without.answer) && without.answer.left.message).toBe(
      'model e: unknown provider "echo" (available: openai, anthropic; a provider package must be listed in plugins)'
    )
  })

  it("fails with bad_request, without a request, when the provider has no route transport", async () => {
    const chatOnly = Provider.define("chat-only", () =>
      Effect.succeed({
        endpoints: [{ id: "local", capacity: 1 }],
        send: () => Effect.succeed({ content: "ok", finish_reason: "stop", usage: { prompt_tokens: 1, completion_tokens: 1 } })
      })
    )
    const message = await run(
      Effect.gen(function* () {
        const models = yield* client({ c: { provider: "chat-only", model: "x" } }, { providers: [chatOnly] })
        const model = yield* models.get("c")
        const e = yield* Effect.flip(model.request("/moderations", { input: ["a"] }, { parse: (j) => Either.right(j) }))
        return e.message
      })
    )
    expect(message).toBe("model c at local: bad_request: provider chat-only cannot send requests to /moderations")
  })
})

describe("dead endpoints, through the CLI", () => {
  const work = tempDir("dead")
  const rows = Array.from({ length: 20 }, (_, i) => JSON.stringify({ conversation_id: `c${i}`, model: "x", conversation: [{ role: "user", content: `question ${i}` }], turn: 1, language: "English", openai_moderation: [], redacted: false }))
  writeFileSync(join(work, "in.jsonl"), `${rows.join("\n")}\n`)
  const pipeline = (name: string, endpoints: ReadonlyArray<string>, model: string) => {
    const file = join(work, `${name}.pipeline.yaml`)
    writeFileSync(
      file,
      `name: dead
plugins: ["@synthline/llm"]
source: { type: jsonl, path: in.jsonl }
models:
  m: { model: test/model, endpoints: ${JSON.stringify(endpoints)}, ${model} }
cache: { path: ${name}.sqlite }
stages:
  - use: llm/complete
    model: m
    user: "{{conversation.0.content}}"
    output: reply
sink: { type: jsonl, path: out-${name} }
`
    )
    return file
  }
  const rejectsOf = (name: string): string => {
    const dir = join(work, `out-${name}/rejects`)
    return existsSync(dir) ? readdirSync(dir).map((f) => readFileSync(join(dir, f), "utf8")).join("") : ""
  }
  const expectNoDump = (stderr: string) => expect(stderr).not.toMatch(/FiberFailure|\n\s+at .+:\d+:\d+/)
  const small = "timeout: 1s, max_retries: 2, retry_base: 10ms, cooldown: 100ms, failure_threshold: 2"

  it("a closed port: progress says the endpoint cools down until when, then the run stops (exit 1) naming the model, endpoint and last error; no row is rejected and the rerun resumes", async () => {
    const dead = "http://127.0.0.1:1/v1"
    const r = await synthline(["run", pipeline("closed", [dead], `${small}, down_limit: 1s`)])
    expect(r.code, r.stderr).toBe(1)
    expect(r.stderr).toMatch(/warning: model m: endpoint http:\/\/127\.0\.0\.1:1\/v1 is cooling down until \d{4}-\d\d-\d\dT/)
    expect(r.stderr).toContain("model m: no endpoint has answered")
    expect(r.stderr).toContain(dead)
    expect(r.stderr).toContain("ECONNREFUSED")
    expectNoDump(r.stderr)
    expect(rejectsOf("closed")).toBe("")
    // Resumable: the same pipeline pointed at a live server finishes every row.
    const server = await TestServer.start()
    try {
      const again = await synthline(["run", pipeline("closed", [server.baseUrl], `${small}, down_limit: 1s`)])
      expect(again.code, again.stderr).toBe(0)
      expect(readParts(join(work, "out-closed"))).toHaveLength(20)
    } finally {
      await server.close()
    }
  }, 120_000)

  it("every endpoint answers 500: the run stops (exit 1) naming both endpoints and the server's error", async () => {
    const a = await TestServer.start()
    const b = await TestServer.start()
    a.failAll({ fault: "status", status: 500 })
    b.failAll({ fault: "status", status: 503 })
    try {
      const r = await synthline(["run", pipeline("five", [a.baseUrl, b.baseUrl], "timeout: 1s, max_retries: 50, retry_base: 10ms, cooldown: 100ms, failure_threshold: 2, down_limit: 1s")])
      expect(r.code, r.stderr).toBe(1)
      expect(r.stderr).toContain(`(${a.baseUrl}, ${b.baseUrl})`)
      expect(r.stderr).toMatch(/last error: http:\/\/127\.0\.0\.1:\d+\/v1: server_error 50[03]: test server: status 50[03]/)
      expectNoDump(r.stderr)
      expect(rejectsOf("five")).toBe("")
    } finally {
      await a.close()
      await b.close()
    }
  }, 120_000)

  it("a call that keeps timing out gives up at call_timeout: its row goes to rejects with the endpoint's last error, the other rows are answered", async () => {
    const server = await TestServer.start({ chat: (r) => (r.messages[0]?.content === "question 7" ? { fault: "hang" } : TestServer.echo(r)) })
    try {
      const r = await synthline(["run", pipeline("slow", [server.baseUrl], "timeout: 300ms, max_retries: 100, retry_base: 10ms, failure_threshold: 1000, call_timeout: 2s"), "--max-errors", "5"])
      expect(r.code, r.stderr).toBe(0)
      const rejects = rejectsOf("slow")
      expect(rejects.trim().split("\n")).toHaveLength(1)
      expect(rejects).toContain("question 7")
      expect(rejects).toContain(`model m at ${server.baseUrl}: timeout`)
      expect(rejects).toContain("call_timeout 2s")
      expectNoDump(r.stderr)
    } finally {
      await server.close()
    }
  }, 120_000)
})

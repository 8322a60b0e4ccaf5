import { describe, expect, it } from "vitest"
import { readFileSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { Effect, Either } from "effect"
import { gzipParts, readParts, start as startCli, synthline, tree } from "../../cli/test/support.js"
import { readJournal } from "../src/Batch.js"
import type { LlmRequestError } from "../src/Errors.js"
import * as TestServer from "../src/TestServer.js"
import { ask, client, run, tempDir } from "./support.js"

const withServer = async <A>(options: TestServer.TestServerOptions, f: (s: TestServer.TestServer) => Promise<A>): Promise<A> => {
  const server = await TestServer.start(options)
  try {
    return await f(server)
  } finally {
    await server.close()
  }
}

const batchModel = (server: TestServer.TestServer, batch: { [k: string]: unknown } = {}) => ({
  m: {
    model: "test/m",
    endpoints: [server.baseUrl],
    mode: "batch",
    retry_base: "5ms",
    batch: { window: "30ms", poll_interval: "10ms", ...batch }
  }
})

/** Asks `n` one-message requests at once; each answer text, or the error. */
const askAll = (models: unknown, n: number, options: Parameters<typeof client>[1] = {}) =>
  run(
    Effect.gen(function* () {
      const c = yield* client(models, options)
      const m = yield* c.get("m")
      const answers = yield* Effect.all(
        Array.from({ length: n }, (_, i) => Effect.either(m.complete(ask(`question ${i}`, { seed: i })))),
        { concurrency: "unbounded" }
      )
      return {
        answers: answers.map((a) => (Either.isRight(a) ? a.right.content : (a.left as LlmRequestError))),
        usage: structuredClone(m.usage())
      }
    })
  )

describe("batch mode", () => {
  it("groups calls into batch files of at most max_requests, answers like online mode and caches the answers under the same keys", () =>
    withServer({ record: true }, async (server) => {
      const dir = tempDir("batch")
      const cache = { path: "cache.sqlite" }
      const r = await askAll(batchModel(server, { max_requests: 4 }), 10, { dir, cache })
      const online = await withServer({}, (plain) =>
        askAll({ m: { model: "test/m", endpoints: [plain.baseUrl] } }, 10, { cache: { mode: "off" } })
      )
      expect(r.answers).toEqual(online.answers)
      expect(server.counts).toMatchObject({ files: 3, batches: 3, batch_requests: 10, chat: 10 })
      // Each input line is a /v1/chat/completions request with a custom_id.
      const upload = server.requests.find((q) => q.path === "/v1/files")
      expect(upload).toBeDefined()
      const create = server.requests.find((q) => q.path === "/v1/batches")!.body as { [k: string]: unknown }
      expect(create).toMatchObject({ endpoint: "/v1/chat/completions", completion_window: "24h" })
      expect(r.usage).toMatchObject({ calls: 10, requests: 10, completions: 10, cache_hits: 0 })
      expect(r.usage.prompt_tokens).toBeGreaterThan(0)

      // Online mode over the same cache: every answer is there already, nothing is sent.
      const again = await withServer({}, async (plain) => {
        const a = await askAll({ m: { model: "test/m", endpoints: [plain.baseUrl] } }, 10, { dir, cache })
        expect(plain.counts.total).toBe(0)
        return a
      })
      expect(again.answers).toEqual(online.answers)
      expect(again.usage).toMatchObject({ calls: 10, cache_hits: 10, requests: 0 })
    }))

  it("resubmits expired, unreadable and missing items alone, and fails a permanent error with the provider's message", () =>
    withServer(
      {
        batch: {
          item: (request, _id, n) => {
            if (n > 1) return "ok"
            const q = request.messages[0]!.content
            if (q === "question 0") return "expired"
            if (q === "question 1") return "malformed"
            if (q === "question 2") return { status: 400, message: "Invalid 'messages[0].content': too long for this model" }
            if (q === "question 3") return "missing"
            return "ok"
          }
        }
      },
      async (server) => {
        const r = await askAll(batchModel(server), 8, { cache: { mode: "off" } })
        const online = await withServer({}, (plain) => askAll({ m: { model: "test/m", endpoints: [plain.baseUrl] } }, 8, { cache: { mode: "off" } }))
        const failed = r.answers[2]
        expect(typeof failed).not.toBe("string")
        expect((failed as LlmRequestError).kind).toBe("bad_request")
        expect((failed as LlmRequestError).message).toContain("too long for this model")
        expect(r.answers.filter((_, i) => i !== 2)).toEqual(online.answers.filter((_, i) => i !== 2))
        // The first batch held all 8; the second only the three worth another try.
        expect(server.counts).toMatchObject({ batches: 2, batch_requests: 11 })
        expect(r.usage).toMatchObject({ calls: 8, requests: 11, retries: 3, completions: 7, failures: { bad_request: 1 } })
      }
    ))

  it("retries the Batch API's own HTTP exchanges on the model's retry schedule: 503 and 429 (Retry-After) again, 400 not", async () => {
    await withServer({}, async (server) => {
      // In front of the test server: the first two uploads of a batch file answer 503, then 429.
      const faults: Array<{ readonly status: number; readonly headers: { [k: string]: string } }> = []
      const seen: Array<string> = []
      const front = createServer(async (req, res) => {
        const chunks: Array<Buffer> = []
        for await (const c of req) chunks.push(c as Buffer)
        seen.push(`${req.method} ${req.url}`)
        const fault = req.url === "/v1/files" ? faults.shift() : undefined
        if (fault !== undefined) {
          res.writeHead(fault.status, { "content-type": "application/json", ...fault.headers })
          res.end(JSON.stringify({ error: { message: `front: status ${fault.status}` } }))
          return
        }
        const headers = Object.fromEntries(Object.entries(req.headers).flatMap(([k, v]) => (typeof v === "string" && !["host", "content-length", "connection", "transfer-encoding"].includes(k) ? [[k, v]] : [])))
        const answer = await fetch(`${server.baseUrl.replace(/\/v1$/, "")}${req.url}`, {
          method: req.method ?? "GET",
          headers,
          ...(req.method === "POST" ? { body: Buffer.concat(chunks) } : {})
        })
        res.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "application/json" })
        res.end(Buffer.from(await answer.arrayBuffer()))
      })
      await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve))
      const url = `http://127.0.0.1:${(front.address() as AddressInfo).port}/v1`
      try {
        faults.push({ status: 503, headers: {} }, { status: 429, headers: { "retry-after": "0" } })
        const ok = await askAll({ m: { ...batchModel(server).m, endpoints: [url] } }, 2, { cache: { mode: "off" } })
        expect(ok.answers.every((a) => typeof a === "string")).toBe(true)
        expect(seen.filter((s) => s === "POST /v1/files")).toHaveLength(3)
        // A 400 is not retried: the batch's calls fail with its message.
        seen.length = 0
        faults.push({ status: 400, headers: {} }, { status: 400, headers: {} }, { status: 400, headers: {} })
        const bad = await askAll({ m: { ...batchModel(server, { max_attempts: 1 }).m, endpoints: [url] } }, 1, { cache: { mode: "off" } })
        expect(typeof bad.answers[0]).not.toBe("string")
        expect((bad.answers[0] as LlmRequestError).message).toContain("front: status 400")
        expect(seen.filter((s) => s === "POST /v1/files")).toHaveLength(1)
      } finally {
        await new Promise<void>((resolve) => front.close(() => resolve()))
      }
    })
  })

  it("a batch that fails validation is tried again, and past max_attempts its calls fail with the provider's message", async () => {
    await withServer({ batch: { fail: (n) => (n === 1 ? "Enqueued token limit reached" : undefined) } }, async (server) => {
      const r = await askAll(batchModel(server), 3, { cache: { mode: "off" } })
      expect(r.answers.every((a) => typeof a === "string")).toBe(true)
      expect(server.counts.batches).toBe(2)
    })
    await withServer({ batch: { fail: () => "Enqueued token limit reached" } }, async (server) => {
      const r = await askAll(batchModel(server, { max_attempts: 2 }), 3, { cache: { mode: "off" } })
      for (const a of r.answers) expect((a as LlmRequestError).message).toContain("Enqueued token limit reached")
      expect(server.counts.batches).toBe(2)
    })
  })
})

// ---------------------------------------------------------------------------------------------
// A pipeline run in batch mode through the CLI: the output of online mode, and kill -9 while the
// batches are polled submits none of them twice.

const work = tempDir("batch-pipeline")
const pipeline = (name: string, url: string, mode: "online" | "batch", polls = "20ms") => {
  const file = join(work, `${name}.pipeline.yaml`)
  writeFileSync(
    file,
    `name: ${name}
seed: 1
plugins: ["@synthline/llm"]
source: { type: jsonl, path: "data/data/*.jsonl" }
models:
  m:
    model: test/model
    endpoints: ["${url}"]
    mode: ${mode}
    retry_base: 10ms
    batch: { window: 200ms, poll_interval: ${polls} }
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

describe("batch mode from a pipeline file", () => {
  it("gives the output of online mode; after kill -9 during polling the rerun polls the batches it submitted and submits none again", async () => {
    const gen = await synthline(["sample", "--rows", "300", "--format", "jsonl", "--shards", "3", "--seed", "4", "--out", join(work, "data")])
    expect(gen.code).toBe(0)
    await withServer({}, async (server) => {
      const r = await synthline(["run", pipeline("online", server.baseUrl, "online")])
      expect(r.code).toBe(0)
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
      // The journal names the batches the killed run was waiting for.
      const open = readJournal(join(work, "out-batch/_state/run/llm-batches-m.jsonl"))
      expect(open.filter((b) => b.batch !== undefined).length).toBeGreaterThan(0)

      const again = await synthline(["run", file])
      expect(again.code).toBe(0)
      expect(again.stderr).toMatch(/model m: batches: .*completed/)
      // Every request went out in exactly one batch, over both runs.
      expect(server.counts.batch_requests).toBe(300)
      const { "README.md": _a, ...batchFiles } = tree(join(work, "out-batch"))
      const { "README.md": _b, ...onlineFiles } = tree(join(work, "out-online"))
      expect(batchFiles).toEqual(onlineFiles)
      expect(readParts(join(work, "out-batch"), gzipParts)).toHaveLength(300)
      const usage = JSON.parse(readFileSync(join(work, "out-batch/manifest.json"), "utf8")).model_usage.m
      expect(usage).toMatchObject({ calls: 300, completions: 300 })
    })
  }, 120_000)
})

import { describe, expect, it } from "vitest"
import { Effect, Either, Fiber } from "effect"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { Worker } from "node:worker_threads"
import { HttpThread, threadedSender } from "../src/internal/httpThread.js"
import type { Ended } from "../src/internal/wire.js"
import * as TestServer from "../src/TestServer.js"
import { ask, client, run } from "./support.js"

const fast = { retry_base: "5ms", retry_max: "50ms", cooldown: "300ms" }

/** An OpenAI-compatible chat server that answers after `latencyMs` and records the most requests it held at once. */
const countingServer = async (latencyMs: number) => {
  let inFlight = 0
  let peak = 0
  let answered = 0
  let latency = latencyMs
  const arrived: Array<string> = []
  const server: Server = createServer((req, res) => {
    inFlight++
    peak = Math.max(peak, inFlight)
    let body = ""
    req.setEncoding("utf8").on("data", (d: string) => (body += d))
    req.on("end", () => {
      const content = (JSON.parse(body) as { messages: Array<{ content: string }> }).messages[0]!.content
      arrived.push(content)
      res.on("close", () => {
        if (!res.writableFinished) inFlight--
      })
      setTimeout(() => {
        if (res.destroyed) return
        inFlight--
        answered++
        res.setHeader("content-type", "application/json")
        res.end(
          JSON.stringify({
            choices: [{ message: { role: "assistant", content: `re: ${content}` }, finish_reason: "stop" }],
            usage: { prompt_tokens: 1, completion_tokens: 1 }
          })
        )
      }, latency)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    peak: () => peak,
    answered: () => answered,
    arrived,
    setLatency: (ms: number) => {
      latency = ms
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

describe("Models: requests through the HTTP thread", () => {
  it("holds each endpoint at its concurrency on the wire while the client sends requests ahead", async () => {
    const a = await countingServer(40)
    const b = await countingServer(40)
    try {
      const { answers, capacity } = await run(
        Effect.gen(function* () {
          const models = yield* client({ m: { model: "x", endpoints: [a.baseUrl, b.baseUrl], concurrency: 4, http_thread: true, ...fast } })
          const model = yield* models.get("m")
          const answers = yield* Effect.forEach(
            Array.from({ length: 120 }, (_, i) => i),
            (i) => model.complete(ask(`q${i}`)),
            { concurrency: 120 }
          )
          return { answers: answers.map((x) => x.content), capacity: model.capacity }
        })
      )
      expect(answers).toEqual(Array.from({ length: 120 }, (_, i) => `re: q${i}`))
      // 4 on the wire and 4 waiting on the thread per endpoint.
      expect(capacity).toBe(16)
      expect(a.answered() + b.answered()).toBe(120)
      expect(a.peak()).toBe(4)
      expect(b.peak()).toBe(4)
    } finally {
      await a.close()
      await b.close()
    }
  })

  it("is used by default from 256 slots (endpoints × concurrency) on", async () => {
    const server = await TestServer.start()
    try {
      const capacities = await run(
        Effect.gen(function* () {
          const models = yield* client({
            small: { model: "x", endpoints: [server.baseUrl, server.baseUrl], concurrency: 127 },
            large: { model: "x", endpoints: [server.baseUrl, server.baseUrl], concurrency: 128 },
            off: { model: "x", endpoints: [server.baseUrl, server.baseUrl], concurrency: 128, http_thread: false }
          })
          const out: Array<number> = []
          for (const name of ["small", "large", "off"]) {
            const model = yield* models.get(name)
            expect((yield* model.complete(ask(name))).content).toMatch(new RegExp(`${name}$`))
            out.push(model.capacity)
          }
          return out
        })
      )
      expect(capacities).toEqual([254, 2 * (128 + 128), 256])
    } finally {
      await server.close()
    }
  })

  it("never sends a request that was interrupted while it waited on the thread for a connection", async () => {
    const server = await countingServer(300)
    try {
      const answer = await run(
        Effect.gen(function* () {
          const models = yield* client({ m: { model: "x", endpoints: [server.baseUrl], concurrency: 1, http_thread: true, ...fast } })
          const model = yield* models.get("m")
          const inFlight = yield* Effect.fork(model.complete(ask("first")))
          while (server.arrived.length === 0) yield* Effect.sleep("5 millis")
          // Concurrency 1 lets one request more out: it waits on the thread behind the first.
          const ahead = yield* Effect.fork(model.complete(ask("second")))
          yield* Effect.sleep("50 millis")
          yield* Fiber.interrupt(ahead)
          yield* Fiber.interrupt(inFlight)
          server.setLatency(1)
          return yield* model.complete(ask("third")).pipe(Effect.timeout("5 seconds"))
        })
      )
      expect(answer.content).toBe("re: third")
      expect(server.arrived).toEqual(["first", "third"])
      expect(server.answered()).toBe(1)
    } finally {
      await server.close()
    }
  })

  it("falls back to the run's own thread, with one warning, when the HTTP thread dies: the request it held fails as a broken connection", async () => {
    const server = await TestServer.start({ chat: () => "answered" })
    const warnings: Array<string> = []
    const init = { endpoints: [{ baseUrl: server.baseUrl, connections: 2 }], headers: { "content-type": "application/json" } }
    // A thread that takes requests and dies 150 ms later without answering any.
    const dying = new HttpThread(init, () => new Worker("setTimeout(() => process.exit(3), 150)", { eval: true }))
    const sender = threadedSender(dying, init, (m) => warnings.push(m))
    const send = (content: string) =>
      new Promise<Ended>((resolve) =>
        sender.send(0, "/v1/chat/completions", JSON.stringify({ model: "x", messages: [{ role: "user", content }] }), 5_000, resolve)
      )
    try {
      const held = await send("first")
      expect(held).toEqual({ ok: false, failure: { kind: "connection", detail: "synthline's HTTP thread exited (code 3)" } })
      const after = await send("second")
      const again = await send("third")
      expect(after.ok && again.ok).toBe(true)
      if (after.ok) expect(JSON.parse(after.answer.text).choices[0].message.content).toBe("answered")
      expect(server.counts.chat).toBe(2)
      expect(warnings).toEqual(["synthline's HTTP thread exited (code 3); its requests go out from the run's own thread from now on"])
    } finally {
      await sender.close()
      await server.close()
    }
  })

  describe.each([true, false])("http_thread: %s gives what the client's own thread gives", (http_thread) => {
    it("sends the key, retries a 5xx, names a 4xx's message with the key masked, and answers a route", async () => {
      const key = "sk-thread-secret-7"
      const server = await TestServer.start({ record: true, apiKey: key, chat: (r) => `ok ${r.messages[0]!.content}` })
      try {
        const out = await run(
          Effect.gen(function* () {
            const models = yield* client({ m: { model: "x", endpoints: [server.baseUrl], api_key: key, http_thread, ...fast } })
            const model = yield* models.get("m")
            server.failNext({ fault: "status", status: 503 })
            const first = yield* model.complete(ask("one"))
            server.failNext({ fault: "status", status: 400, body: JSON.stringify({ error: { message: `bad key ${key}` } }) })
            const failed = yield* Effect.flip(model.complete(ask("two")))
            const route = yield* model.request("/moderations", { input: ["a"] }, { parse: (j) => Either.right(j) })
            return { first: first.content, failed: failed.message, route: route.value, usage: model.usage() }
          })
        )
        expect(out.first).toBe("ok one")
        expect(out.failed).toBe(`model m at ${server.baseUrl}: bad_request 400: bad key <redacted>`)
        expect(out.route).toMatchObject({ results: [{ flagged: false }] })
        expect(server.requests.map((r) => r.path)).toEqual(["/v1/chat/completions", "/v1/chat/completions", "/v1/chat/completions", "/v1/moderations"])
        expect(server.requests.every((r) => r.authorization === `Bearer ${key}`)).toBe(true)
        expect(out.usage).toMatchObject({ calls: 3, requests: 4, retries: 1, completions: 2, errors: { server_error: 1, bad_request: 1 } })
      } finally {
        await server.close()
      }
    })

    it("times out a request that gets no answer, and reports a refused connection", async () => {
      const server = await TestServer.start()
      const closed = await TestServer.start()
      const refused = closed.baseUrl
      await closed.close()
      try {
        const out = await run(
          Effect.gen(function* () {
            const models = yield* client({
              hang: { model: "x", endpoints: [server.baseUrl], timeout: "150ms", max_retries: 0, http_thread, ...fast },
              gone: { model: "x", endpoints: [refused], max_retries: 0, http_thread, ...fast }
            })
            server.failAll({ fault: "hang" })
            const hang = yield* Effect.flip((yield* models.get("hang")).complete(ask("h")))
            const gone = yield* Effect.flip((yield* models.get("gone")).complete(ask("g")))
            return { hang: hang.kind, gone: gone.kind, goneMessage: gone.message }
          })
        )
        expect(out.hang).toBe("timeout")
        expect(out.gone).toBe("connection")
        expect(out.goneMessage).toContain("ECONNREFUSED")
      } finally {
        server.failAll(undefined)
        await server.close()
      }
    })
  })
})

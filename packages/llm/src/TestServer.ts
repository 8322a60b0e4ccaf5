/**
 * A local OpenAI-compatible (and DeepL-compatible) HTTP server for tests and benchmarks, on
 * 127.0.0.1 with a random port. It answers `POST /v1/chat/completions`, `POST /v1/moderations`
 * and `POST /v2/translate` after a configurable latency (fixed, or drawn per chat request), can
 * be told to fail (429 with Retry-After, 500, hang until the client gives up, drop the
 * connection, garbage bodies, truncated answers), and counts every request (also over HTTP:
 * `GET /_counts`). Plugin authors test their model stages on it.
 */
import { createHash } from "node:crypto"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, type Scope } from "effect"

/** A chat request as the server received it. */
export interface ReceivedChat {
  readonly model: string
  readonly messages: ReadonlyArray<{ readonly role: string; readonly content: string }>
  readonly seed: number | undefined
  readonly temperature: number | undefined
  readonly max_tokens: number | undefined
  /** The whole JSON body. */
  readonly body: { readonly [key: string]: unknown }
}

/** An answer to a chat request. */
export interface ChatReply {
  readonly content: string
  readonly finish_reason?: string
  readonly prompt_tokens?: number
  readonly completion_tokens?: number
}

/** A way to fail one request. */
export type Fault =
  /** Answer with this status (and body); `retryAfter` sets the Retry-After header (seconds or a date). */
  | { readonly fault: "status"; readonly status: number; readonly body?: string; readonly retryAfter?: string }
  /** Never answer (the client's timeout fires). */
  | { readonly fault: "hang" }
  /** Close the connection without an answer. */
  | { readonly fault: "drop" }
  /** Answer 200 with a body that is not a chat completion. */
  | { readonly fault: "garbage"; readonly body?: string }

/** Options of {@link start}. */
export interface TestServerOptions {
  /** Delay before every answer, in ms (default 0). */
  readonly latencyMs?: number
  /**
   * Delay before one chat answer, in ms, overriding `latencyMs` (and `setLatency`) for chat
   * requests with a `messages` list: called once per such request as soon as its body has been
   * read, before the wait, with the request (the same object `chat` later gets) and its 1-based
   * arrival order `n` among chat requests. Lets a benchmark draw heavy-tailed answer times per
   * request and stamp arrivals. Other requests keep `latencyMs`.
   */
  readonly latency?: (request: ReceivedChat, n: number) => number
  /** Answers chat requests (default: a deterministic echo of the last message and the seed). */
  readonly chat?: (request: ReceivedChat, n: number) => ChatReply | Fault | string
  /** Translates one text for `/v2/translate` (default: `[<target>] <text>`). */
  readonly translate?: (text: string, targetLang: string, sourceLang: string | undefined) => string
  /** Moderates one input for `/v1/moderations` (default: nothing flagged). */
  readonly moderate?: (input: string) => ModerationAnswer | Fault
  /** When set, requests must carry `Authorization: Bearer <key>` (or `DeepL-Auth-Key <key>`), else 401. */
  readonly apiKey?: string
  /** Keep every request body in `requests` (default false; counters are always kept). */
  readonly record?: boolean
}

/** One moderation result in the omni-moderation response format. */
export interface ModerationAnswer {
  readonly flagged: boolean
  readonly categories: { readonly [category: string]: boolean }
  readonly category_scores: { readonly [category: string]: number }
}

/** Request counters. */
export interface Counts {
  chat: number
  translate: number
  moderation: number
  /** Requests answered with a fault. */
  faults: number
  total: number
}

/** A running test server. */
export interface TestServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string
  /** `http://127.0.0.1:PORT/v1`: what a model's `endpoints` list. */
  readonly baseUrl: string
  readonly counts: Counts
  /** Recorded requests (with `record: true`). */
  readonly requests: Array<{ readonly path: string; readonly body: unknown; readonly authorization: string | undefined }>
  /** Makes the next requests fail in order, one fault each. */
  readonly failNext: (...faults: ReadonlyArray<Fault>) => void
  /** Makes every request fail with a fault until called with `undefined`. */
  readonly failAll: (fault: Fault | undefined) => void
  /** Changes the latency. */
  readonly setLatency: (ms: number) => void
  /**
   * Resolves once no client connection is open and no request is being handled: every request a
   * client wrote before it went away has been counted.
   */
  readonly settled: () => Promise<void>
  /** Stops the server, cutting open connections. */
  readonly close: () => Promise<void>
}

/** The default chat answer: deterministic in the messages and seed. */
export const echo = (request: ReceivedChat): string => {
  const last = request.messages[request.messages.length - 1]?.content ?? ""
  const h = createHash("sha256").update(JSON.stringify([request.messages, request.seed ?? null])).digest("hex").slice(0, 8)
  return `answer ${h}: ${last.slice(0, 60)}`
}

const tokens = (s: string): number => Math.max(1, Math.ceil(s.length / 4))

const isObject = (u: unknown): u is { readonly [key: string]: unknown } =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const isFault = (u: unknown): u is Fault => isObject(u) && typeof u.fault === "string"

const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const parts: Array<Buffer> = []
    req.on("data", (b: Buffer) => parts.push(b))
    req.on("end", () => resolve(Buffer.concat(parts).toString("utf8")))
    req.on("error", reject)
    req.on("close", () => {
      if (!req.complete) reject(new Error("the client went away before the body ended"))
    })
  })

/** Starts a server on 127.0.0.1 with a random port. */
export const start = async (options: TestServerOptions = {}): Promise<TestServer> => {
  let latency = options.latencyMs ?? 0
  const queue: Array<Fault> = []
  let always: Fault | undefined
  const counts: Counts = { chat: 0, translate: 0, moderation: 0, faults: 0, total: 0 }
  const requests: TestServer["requests"] = []
  let chatArrivals = 0

  const send = (res: ServerResponse, status: number, body: unknown, headers: { [k: string]: string } = {}) => {
    const text = typeof body === "string" ? body : JSON.stringify(body)
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers })
    res.end(text)
  }

  const applyFault = (res: ServerResponse, f: Fault): void => {
    counts.faults++
    switch (f.fault) {
      case "status":
        send(
          res,
          f.status,
          f.body ?? JSON.stringify({ error: { message: `test server: status ${f.status}`, type: "test" } }),
          f.retryAfter !== undefined ? { "retry-after": f.retryAfter } : {}
        )
        return
      case "hang":
        return
      case "drop":
        res.socket?.destroy()
        return
      case "garbage":
        send(res, 200, f.body ?? "<html>502 Bad Gateway</html>")
        return
    }
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const text = await readBody(req)
    if (req.method === "GET" && req.url === "/_counts") return send(res, 200, counts)
    counts.total++
    const path = (req.url ?? "/").split("?")[0] ?? "/"
    const authorization = req.headers.authorization
    const body = safeParse(text)
    if (options.record === true) requests.push({ path, body, authorization })
    const chatRequest = path.endsWith("/chat/completions") && req.method === "POST" ? toChat(body) : undefined
    const wait = options.latency !== undefined && chatRequest !== undefined ? options.latency(chatRequest, ++chatArrivals) : latency
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    if (options.apiKey !== undefined) {
      const ok = authorization === `Bearer ${options.apiKey}` || authorization === `DeepL-Auth-Key ${options.apiKey}`
      if (!ok) return send(res, 401, { error: { message: "invalid api key", type: "auth" } })
    }
    const fault = queue.shift() ?? always
    if (req.method !== "POST") return send(res, 405, { error: { message: "POST only" } })
    if (path.endsWith("/chat/completions")) {
      counts.chat++
      if (fault !== undefined) return applyFault(res, fault)
      if (chatRequest === undefined) return send(res, 400, { error: { message: "messages is required" } })
      const request = chatRequest
      const messages = request.messages
      const answer = options.chat !== undefined ? options.chat(request, counts.chat) : echo(request)
      if (isFault(answer)) return applyFault(res, answer)
      const reply: ChatReply = typeof answer === "string" ? { content: answer } : answer
      const promptTokens = reply.prompt_tokens ?? tokens(messages.map((m) => m.content).join(" "))
      const completionTokens = reply.completion_tokens ?? tokens(reply.content)
      return send(res, 200, {
        id: `chatcmpl-${counts.chat}`,
        object: "chat.completion",
        created: 0,
        model: request.model,
        choices: [
          { index: 0, message: { role: "assistant", content: reply.content }, finish_reason: reply.finish_reason ?? "stop" }
        ],
        usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens }
      })
    }
    if (path.endsWith("/moderations")) {
      counts.moderation++
      if (fault !== undefined) return applyFault(res, fault)
      if (!isObject(body)) return send(res, 400, { error: { message: "input is required" } })
      const inputs = Array.isArray(body.input) ? body.input.map(String) : [String(body.input)]
      const results: Array<ModerationAnswer> = []
      for (const input of inputs) {
        const r = options.moderate !== undefined ? options.moderate(input) : { flagged: false, categories: {}, category_scores: {} }
        if (isFault(r)) return applyFault(res, r)
        results.push(r)
      }
      return send(res, 200, { id: `modr-${counts.moderation}`, model: String(body.model ?? "omni-moderation-latest"), results })
    }
    if (path.endsWith("/v2/translate")) {
      counts.translate++
      if (fault !== undefined) return applyFault(res, fault)
      if (!isObject(body) || !Array.isArray(body.text)) return send(res, 400, { message: "text is required" })
      const target = String(body.target_lang ?? "")
      const source = typeof body.source_lang === "string" ? body.source_lang : undefined
      const translate = options.translate ?? ((t: string, lang: string) => `[${lang}] ${t}`)
      return send(res, 200, {
        translations: body.text.map((t) => ({ detected_source_language: source ?? "EN", text: translate(String(t), target, source) }))
      })
    }
    return send(res, 404, { error: { message: `no route ${path}` } })
  }

  let handling = 0
  const server = createServer((req, res) => {
    handling++
    handle(req, res)
      .catch((e: unknown) => send(res, 500, { error: { message: String(e) } }))
      .finally(() => {
        handling--
      })
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address: AddressInfo | string | null = server.address()
  const port = typeof address === "object" && address !== null ? address.port : 0
  const url = `http://127.0.0.1:${port}`
  return {
    url,
    baseUrl: `${url}/v1`,
    counts,
    requests,
    failNext: (...faults) => void queue.push(...faults),
    failAll: (fault) => {
      always = fault
    },
    setLatency: (ms) => {
      latency = ms
    },
    settled: async () => {
      const open = () => new Promise<number>((resolve, reject) => server.getConnections((e, n) => (e ? reject(e) : resolve(n))))
      while (handling > 0 || (await open()) > 0) await new Promise((r) => setTimeout(r, 5))
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

/** The chat request in a body, or undefined when it has no `messages` list. */
const toChat = (body: unknown): ReceivedChat | undefined =>
  isObject(body) && Array.isArray(body.messages)
    ? {
        model: String(body.model),
        messages: body.messages.filter(isObject).map((m) => ({ role: String(m.role), content: String(m.content) })),
        seed: typeof body.seed === "number" ? body.seed : undefined,
        temperature: typeof body.temperature === "number" ? body.temperature : undefined,
        max_tokens: typeof body.max_tokens === "number" ? body.max_tokens : undefined,
        body
      }
    : undefined

const safeParse = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** A test server as a scoped resource: started now, closed with the scope. */
export const scoped = (options: TestServerOptions = {}): Effect.Effect<TestServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => start(options)),
    (s) => Effect.promise(() => s.close())
  )

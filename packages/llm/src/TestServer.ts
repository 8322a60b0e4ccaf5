/**
 * A local OpenAI-compatible (and DeepL-compatible) HTTP server for tests and benchmarks, on
 * 127.0.0.1 with a random port. It answers `POST /v1/chat/completions` (`n` choices when asked,
 * seeded choice i with seed + i as vLLM does), `POST /v1/moderations`
 * and `POST /v2/translate` after a configurable latency (fixed, or drawn per chat request), can
 * be told to fail (429 with Retry-After, 500, hang until the client gives up, drop the
 * connection, garbage bodies, truncated answers), and counts every request (also over HTTP:
 * `GET /_counts`). It also serves the OpenAI Batch API (`POST /v1/files`, `POST /v1/batches`,
 * `GET /v1/batches[/{id}]`, `GET /v1/files/{id}/content`), answering each item as a chat request
 * and able to expire items, fail whole batches, fail single items and write a malformed output
 * line. It speaks the Anthropic Messages API too (`POST /v1/messages`, `x-api-key`), with its
 * Message Batches (`POST /v1/messages/batches`, `GET /v1/messages/batches[/{id}[/results]]`)
 * and the same item fates. Plugin authors test their model stages on it.
 */
import { createHash } from "node:crypto"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, type Scope } from "effect"
import { isRecord as isObject } from "@synthline/core/Row"

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
  /** Prompt tokens reported as served from the provider's prompt cache (`usage.prompt_tokens_details.cached_tokens`). */
  readonly cached_tokens?: number
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
  /** When set, requests must carry `Authorization: Bearer <key>` (or `DeepL-Auth-Key <key>`, or `x-api-key: <key>`), else 401. */
  readonly apiKey?: string
  /** Keep every request body in `requests` (default false; counters are always kept). */
  readonly record?: boolean
  /** How the Batch API routes behave (default: every batch completes after two status checks). */
  readonly batch?: BatchBehaviour
  /**
   * A request limit on chat requests: at most `requests` per fixed window of `windowMs`, announced
   * in every chat answer's headers (OpenAI's `x-ratelimit-*`, or Anthropic's
   * `anthropic-ratelimit-*`; the limit per minute, what remains, the reset), 429 past it.
   */
  readonly rateLimit?: { readonly requests: number; readonly windowMs: number; readonly style?: "openai" | "anthropic" }
}

/** What becomes of one item of a batch. */
export type BatchItemFate =
  /** Answered as a chat request would be (a {@link Fault} from `chat` becomes an error line). */
  | "ok"
  /** Left out of both result files. */
  | "missing"
  /** A line in the output file that is not JSON. */
  | "malformed"
  /** Not run before the window closed: an error line `batch_expired`, and the batch ends `expired`. */
  | "expired"
  /** An error line with this status and message (a permanent error when 4xx). */
  | { readonly status: number; readonly message: string }

/** How the Batch API routes behave. */
export interface BatchBehaviour {
  /** Status checks a batch stays validating / in progress before it ends (default 2). */
  readonly polls?: number
  /** Makes the `n`th batch (1-based) fail validation, with this message (OpenAI batches; a Message Batch has no such state). */
  readonly fail?: (n: number) => string | undefined
  /** What becomes of each item (default `ok`); `n` is the batch's number (1-based). */
  readonly item?: (request: ReceivedChat, customId: string, n: number) => BatchItemFate
}

/** A batch the server holds. */
interface ServedBatch {
  readonly n: number
  readonly id: string
  readonly input_file_id: string
  readonly created_at: number
  readonly metadata: unknown
  polls: number
  status: string
  output_file_id: string | null
  error_file_id: string | null
  errors: unknown
  request_counts: { total: number; completed: number; failed: number }
}

/** A Message Batch the server holds. */
interface ServedMessageBatch {
  readonly n: number
  readonly id: string
  readonly requests: ReadonlyArray<{ readonly custom_id: string; readonly params: unknown }>
  /** When it was created (ms since the epoch). */
  readonly created: number
  polls: number
  processing_status: "in_progress" | "ended"
  request_counts: { processing: number; succeeded: number; errored: number; canceled: number; expired: number }
  /** The results JSONL, once ended. */
  results: string | undefined
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
  /** Files uploaded (`POST /v1/files`). */
  files: number
  /** Batches created (`POST /v1/batches`, `POST /v1/messages/batches`): what a resumed run must not repeat. */
  batches: number
  /** Status checks of batches (`GET /v1/batches/{id}`, `GET /v1/messages/batches/{id}`). */
  batch_polls: number
  /** Items in the batches created. */
  batch_requests: number
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
  const counts: Counts = { chat: 0, translate: 0, moderation: 0, faults: 0, files: 0, batches: 0, batch_polls: 0, batch_requests: 0, total: 0 }
  const files = new Map<string, { readonly text: string; readonly filename: string; readonly purpose: string }>()
  const batches = new Map<string, ServedBatch>()
  const messageBatches = new Map<string, ServedMessageBatch>()
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

  // The fixed window of `rateLimit`: when it started and the chat requests in it.
  let windowStart = 0
  let inWindow = 0
  const limitHeaders = (): { readonly over: boolean; readonly headers: { [k: string]: string } } | undefined => {
    const rl = options.rateLimit
    if (rl === undefined) return undefined
    const t = Date.now()
    if (t - windowStart >= rl.windowMs) {
      windowStart = t
      inWindow = 0
    }
    inWindow++
    const over = inWindow > rl.requests
    const remaining = Math.max(0, rl.requests - inWindow)
    const resetMs = windowStart + rl.windowMs - t
    const perMinute = String(Math.round((rl.requests * 60_000) / rl.windowMs))
    const headers: { [k: string]: string } =
      rl.style === "anthropic"
        ? {
            "anthropic-ratelimit-requests-limit": perMinute,
            "anthropic-ratelimit-requests-remaining": String(remaining),
            "anthropic-ratelimit-requests-reset": new Date(windowStart + rl.windowMs).toISOString()
          }
        : {
            "x-ratelimit-limit-requests": perMinute,
            "x-ratelimit-remaining-requests": String(remaining),
            "x-ratelimit-reset-requests": `${resetMs}ms`
          }
    if (over) headers["retry-after"] = String(Math.ceil(resetMs / 1000))
    return { over, headers }
  }

  /** The answer to a request with its token counts, or the fault `chat` asked for. */
  const replyTo = (request: ReceivedChat, n: number): { readonly reply: ChatReply; readonly promptTokens: number; readonly completionTokens: number } | Fault => {
    const answer = options.chat !== undefined ? options.chat(request, n) : echo(request)
    if (isFault(answer)) return answer
    const reply: ChatReply = typeof answer === "string" ? { content: answer } : answer
    return {
      reply,
      promptTokens: reply.prompt_tokens ?? tokens(request.messages.map((m) => m.content).join(" ")),
      completionTokens: reply.completion_tokens ?? tokens(reply.content)
    }
  }

  /** An Anthropic Messages answer for a request, or the fault `chat` asked for. */
  const message = (request: ReceivedChat, n: number): { readonly [key: string]: unknown } | Fault => {
    const r = replyTo(request, n)
    if (isFault(r)) return r
    const finish = r.reply.finish_reason ?? "stop"
    const cached = r.reply.cached_tokens ?? 0
    return {
      id: `msg_${n}`,
      type: "message",
      role: "assistant",
      model: request.model,
      content: [{ type: "text", text: r.reply.content }],
      stop_reason: finish === "stop" ? "end_turn" : finish === "length" ? "max_tokens" : finish,
      stop_sequence: null,
      usage: {
        input_tokens: r.promptTokens - cached,
        output_tokens: r.completionTokens,
        ...(cached > 0 ? { cache_read_input_tokens: cached } : {})
      }
    }
  }

  /**
   * The chat completion body for a request, or the fault `chat` asked for. With `n` > 1 in the
   * body it has `n` choices, each answered as a request of its own with, when seeded, seed + its
   * index (vLLM's semantics); the prompt is counted once, the completion tokens of all choices.
   */
  const completion = (request: ReceivedChat, n: number): { readonly [key: string]: unknown } | Fault => {
    const k = typeof request.body.n === "number" && Number.isInteger(request.body.n) && request.body.n > 1 ? request.body.n : 1
    const replies: Array<{ readonly reply: ChatReply; readonly promptTokens: number; readonly completionTokens: number }> = []
    for (let i = 0; i < k; i++) {
      const r = replyTo(i === 0 || request.seed === undefined ? request : { ...request, seed: request.seed + i }, n)
      if (isFault(r)) return r
      replies.push(r)
    }
    const { reply, promptTokens } = replies[0]!
    const completionTokens = replies.reduce((sum, r) => sum + r.completionTokens, 0)
    return {
      id: `chatcmpl-${n}`,
      object: "chat.completion",
      created: 0,
      model: request.model,
      choices: replies.map((r, index) => ({
        index,
        message: { role: "assistant", content: r.reply.content },
        finish_reason: r.reply.finish_reason ?? "stop"
      })),
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
        ...(reply.cached_tokens !== undefined ? { prompt_tokens_details: { cached_tokens: reply.cached_tokens } } : {})
      }
    }
  }

  const batchJson = (b: ServedBatch) => ({
    id: b.id,
    object: "batch",
    endpoint: "/v1/chat/completions",
    errors: b.errors,
    input_file_id: b.input_file_id,
    completion_window: "24h",
    status: b.status,
    output_file_id: b.output_file_id,
    error_file_id: b.error_file_id,
    created_at: b.created_at,
    request_counts: b.request_counts,
    metadata: b.metadata
  })

  /** Runs a batch's items once it is due and writes its result files. */
  const finishBatch = (b: ServedBatch): void => {
    const failure = options.batch?.fail?.(b.n)
    const input = files.get(b.input_file_id)?.text ?? ""
    const lines = input.split("\n").filter((l) => l.trim() !== "")
    if (failure !== undefined) {
      b.status = "failed"
      b.errors = { object: "list", data: [{ code: "invalid_request", message: failure, line: null, param: null }] }
      b.request_counts = { total: lines.length, completed: 0, failed: 0 }
      return
    }
    const out: Array<string> = []
    const err: Array<string> = []
    let expired = false
    let completed = 0
    for (const [i, line] of lines.entries()) {
      const item = safeParse(line)
      const customId = isObject(item) ? String(item.custom_id) : `line-${i + 1}`
      const request = isObject(item) ? toChat(item.body) : undefined
      const reqId = `batch_req_${b.n}_${i + 1}`
      if (request === undefined) {
        err.push(JSON.stringify({ id: reqId, custom_id: customId, response: { status_code: 400, request_id: reqId, body: { error: { message: "messages is required", type: "invalid_request_error" } } }, error: null }))
        continue
      }
      const fate = options.batch?.item?.(request, customId, b.n) ?? "ok"
      if (fate === "missing") continue
      if (fate === "malformed") {
        out.push(`{"id":"${reqId}","custom_id":"${customId}","response":{"status_code":200,"body":{"choi`)
        continue
      }
      if (fate === "expired") {
        expired = true
        err.push(JSON.stringify({ id: reqId, custom_id: customId, response: null, error: { code: "batch_expired", message: "This request could not be executed before the completion window expired." } }))
        continue
      }
      if (typeof fate === "object") {
        err.push(JSON.stringify({ id: reqId, custom_id: customId, response: { status_code: fate.status, request_id: reqId, body: { error: { message: fate.message, type: "invalid_request_error" } } }, error: null }))
        continue
      }
      counts.chat++
      const answer = completion(request, counts.chat)
      if (isFault(answer)) {
        const status = answer.fault === "status" ? answer.status : 500
        err.push(JSON.stringify({ id: reqId, custom_id: customId, response: { status_code: status, request_id: reqId, body: { error: { message: `test server: status ${status}` } } }, error: null }))
        continue
      }
      completed++
      out.push(JSON.stringify({ id: reqId, custom_id: customId, response: { status_code: 200, request_id: reqId, body: answer }, error: null }))
    }
    const store = (rows: Array<string>): string | null => {
      if (rows.length === 0) return null
      const id = `file-${files.size + 1}`
      files.set(id, { text: `${rows.join("\n")}\n`, filename: `${b.id}_${rows === out ? "output" : "error"}.jsonl`, purpose: "batch_output" })
      return id
    }
    b.output_file_id = store(out)
    b.error_file_id = store(err)
    b.status = expired ? "expired" : "completed"
    b.request_counts = { total: lines.length, completed, failed: lines.length - completed }
  }

  /** The Batch API routes; undefined when the request is for none of them. */
  const batchRoute = async (req: IncomingMessage, path: string, text: string, res: ServerResponse): Promise<true | undefined> => {
    if (req.method === "POST" && path.endsWith("/v1/files")) {
      const form = await new Response(text, { headers: { "content-type": String(req.headers["content-type"] ?? "") } })
        .formData()
        .catch(() => undefined)
      const file = form?.get("file")
      if (form === undefined || file === null || file === undefined || typeof file === "string") {
        send(res, 400, { error: { message: "a multipart body with a file is required" } })
        return true
      }
      counts.files++
      const id = `file-${files.size + 1}`
      const content = await file.text()
      files.set(id, { text: content, filename: file.name, purpose: String(form.get("purpose") ?? "") })
      send(res, 200, { id, object: "file", bytes: Buffer.byteLength(content), created_at: 0, filename: file.name, purpose: String(form.get("purpose") ?? "") })
      return true
    }
    if (req.method === "POST" && path.endsWith("/v1/batches")) {
      const body = safeParse(text)
      const fileId = isObject(body) ? body.input_file_id : undefined
      if (typeof fileId !== "string" || !files.has(fileId)) {
        send(res, 400, { error: { message: `no input file ${JSON.stringify(fileId)}` } })
        return true
      }
      if (!isObject(body) || body.endpoint !== "/v1/chat/completions") {
        send(res, 400, { error: { message: "endpoint must be /v1/chat/completions" } })
        return true
      }
      counts.batches++
      const n = counts.batches
      const items = (files.get(fileId)?.text ?? "").split("\n").filter((l) => l.trim() !== "").length
      counts.batch_requests += items
      const b: ServedBatch = {
        n,
        id: `batch_${n}`,
        input_file_id: fileId,
        created_at: n,
        metadata: body.metadata ?? null,
        polls: 0,
        status: "validating",
        output_file_id: null,
        error_file_id: null,
        errors: null,
        request_counts: { total: items, completed: 0, failed: 0 }
      }
      batches.set(b.id, b)
      send(res, 200, batchJson(b))
      return true
    }
    if (req.method === "GET" && path.endsWith("/v1/batches")) {
      const all = [...batches.values()].reverse().map(batchJson)
      send(res, 200, { object: "list", data: all, first_id: all[0]?.id ?? null, last_id: all[all.length - 1]?.id ?? null, has_more: false })
      return true
    }
    const one = /\/v1\/batches\/([^/]+)$/.exec(path)
    if (req.method === "GET" && one !== null) {
      const b = batches.get(decodeURIComponent(one[1]!))
      if (b === undefined) {
        send(res, 404, { error: { message: `no batch ${one[1]}` } })
        return true
      }
      counts.batch_polls++
      b.polls++
      if (b.output_file_id === null && b.error_file_id === null && b.status !== "failed") {
        if (b.polls > (options.batch?.polls ?? 2)) finishBatch(b)
        else if (b.polls > 1) b.status = "in_progress"
      }
      send(res, 200, batchJson(b))
      return true
    }
    const content = /\/v1\/files\/([^/]+)\/content$/.exec(path)
    if (req.method === "GET" && content !== null) {
      const f = files.get(decodeURIComponent(content[1]!))
      if (f === undefined) send(res, 404, { error: { message: `no file ${content[1]}` } })
      else {
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": Buffer.byteLength(f.text) })
        res.end(f.text)
      }
      return true
    }
    return undefined
  }

  /** Runs a Message Batch's requests once it is due and writes its results. */
  const endMessageBatch = (b: ServedMessageBatch): void => {
    const lines: Array<string> = []
    const c = { processing: 0, succeeded: 0, errored: 0, canceled: 0, expired: 0 }
    const errored = (customId: string, status: number, text: string): void => {
      c.errored++
      lines.push(JSON.stringify({ custom_id: customId, result: { type: "errored", error: { type: "error", error: { type: anthropicErrorType(status), message: text } } } }))
    }
    for (const { custom_id: customId, params } of b.requests) {
      const request = fromMessagesParams(params)
      if (request === undefined) {
        errored(customId, 400, "messages: field required")
        continue
      }
      const fate = options.batch?.item?.(request, customId, b.n) ?? "ok"
      if (fate === "missing") continue
      if (fate === "malformed") {
        lines.push(`{"custom_id":"${customId}","result":{"type":"succeeded","message":{"conte`)
        continue
      }
      if (fate === "expired") {
        c.expired++
        lines.push(JSON.stringify({ custom_id: customId, result: { type: "expired" } }))
        continue
      }
      if (typeof fate === "object") {
        errored(customId, fate.status, fate.message)
        continue
      }
      counts.chat++
      const answer = message(request, counts.chat)
      if (isFault(answer)) {
        const status = answer.fault === "status" ? answer.status : 500
        errored(customId, status, `test server: status ${status}`)
        continue
      }
      c.succeeded++
      lines.push(JSON.stringify({ custom_id: customId, result: { type: "succeeded", message: answer } }))
    }
    b.results = lines.length === 0 ? "" : `${lines.join("\n")}\n`
    b.request_counts = c
    b.processing_status = "ended"
  }

  const messageBatchJson = (b: ServedMessageBatch) => ({
    id: b.id,
    type: "message_batch",
    processing_status: b.processing_status,
    request_counts: b.request_counts,
    created_at: new Date(b.created).toISOString(),
    ended_at: b.processing_status === "ended" ? new Date(b.created).toISOString() : null,
    expires_at: new Date(b.created + 86_400_000).toISOString(),
    cancel_initiated_at: null,
    archived_at: null,
    results_url: b.processing_status === "ended" ? `${url}/v1/messages/batches/${b.id}/results` : null
  })

  /** The Anthropic Message Batches routes; undefined when the request is for none of them. */
  const messageBatchRoute = (req: IncomingMessage, path: string, text: string, res: ServerResponse): true | undefined => {
    const anthropicError = (status: number, message: string) =>
      send(res, status, { type: "error", error: { type: anthropicErrorType(status), message } })
    if (req.method === "POST" && path.endsWith("/v1/messages/batches")) {
      const body = safeParse(text)
      const list = isObject(body) && Array.isArray(body.requests) ? body.requests : undefined
      if (list === undefined || list.length === 0) {
        anthropicError(400, "requests: a non-empty list is required")
        return true
      }
      const requests: Array<{ readonly custom_id: string; readonly params: unknown }> = []
      const seen = new Set<string>()
      for (const [i, r] of list.entries()) {
        const id = isObject(r) ? r.custom_id : undefined
        if (typeof id !== "string" || !/^[a-zA-Z0-9_-]{1,64}$/.test(id) || seen.has(id) || !isObject(r) || !isObject(r.params)) {
          anthropicError(400, `requests.${i}: custom_id (1 to 64 of a-z, A-Z, 0-9, _ and -, unique) and params are required`)
          return true
        }
        seen.add(id)
        requests.push({ custom_id: id, params: r.params })
      }
      counts.batches++
      counts.batch_requests += requests.length
      const n = counts.batches
      const b: ServedMessageBatch = {
        n,
        id: `msgbatch_${n}`,
        requests,
        created: Date.now(),
        polls: 0,
        processing_status: "in_progress",
        request_counts: { processing: requests.length, succeeded: 0, errored: 0, canceled: 0, expired: 0 },
        results: undefined
      }
      messageBatches.set(b.id, b)
      send(res, 200, messageBatchJson(b))
      return true
    }
    if (req.method === "GET" && path.endsWith("/v1/messages/batches")) {
      const all = [...messageBatches.values()].reverse().map(messageBatchJson)
      send(res, 200, { data: all, has_more: false, first_id: all[0]?.id ?? null, last_id: all[all.length - 1]?.id ?? null })
      return true
    }
    const results = /\/v1\/messages\/batches\/([^/]+)\/results$/.exec(path)
    if (req.method === "GET" && results !== null) {
      const b = messageBatches.get(decodeURIComponent(results[1]!))
      if (b === undefined || b.results === undefined) {
        anthropicError(b === undefined ? 404 : 400, b === undefined ? `no batch ${results[1]}` : `batch ${b.id} is still processing`)
        return true
      }
      res.writeHead(200, { "content-type": "application/binary", "content-length": Buffer.byteLength(b.results) })
      res.end(b.results)
      return true
    }
    const one = /\/v1\/messages\/batches\/([^/]+)$/.exec(path)
    if (req.method === "GET" && one !== null) {
      const b = messageBatches.get(decodeURIComponent(one[1]!))
      if (b === undefined) {
        anthropicError(404, `no batch ${one[1]}`)
        return true
      }
      counts.batch_polls++
      b.polls++
      if (b.processing_status !== "ended" && b.polls > (options.batch?.polls ?? 2)) endMessageBatch(b)
      send(res, 200, messageBatchJson(b))
      return true
    }
    return undefined
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
      const ok =
        authorization === `Bearer ${options.apiKey}` ||
        authorization === `DeepL-Auth-Key ${options.apiKey}` ||
        req.headers["x-api-key"] === options.apiKey
      if (!ok) return send(res, 401, { error: { message: "invalid api key", type: "auth" } })
    }
    if (messageBatchRoute(req, path, text, res) === true) return
    if ((await batchRoute(req, path, text, res)) === true) return
    const fault = queue.shift() ?? always
    if (req.method !== "POST") return send(res, 405, { error: { message: "POST only" } })
    if (path.endsWith("/chat/completions")) {
      counts.chat++
      if (fault !== undefined) return applyFault(res, fault)
      const limited = limitHeaders()
      if (limited?.over) {
        counts.faults++
        return send(res, 429, { error: { message: "test server: rate limit reached", type: "requests" } }, limited.headers)
      }
      if (chatRequest === undefined) return send(res, 400, { error: { message: "messages is required" } })
      const answer = completion(chatRequest, counts.chat)
      if (isFault(answer)) return applyFault(res, answer)
      return send(res, 200, answer, limited?.headers)
    }
    if (path.endsWith("/v1/messages")) {
      counts.chat++
      if (fault !== undefined) return applyFault(res, fault)
      const limited = limitHeaders()
      if (limited?.over) {
        counts.faults++
        return send(res, 429, { type: "error", error: { type: "rate_limit_error", message: "test server: rate limit reached" } }, limited.headers)
      }
      const request = fromMessagesParams(body)
      if (request === undefined) return send(res, 400, { type: "error", error: { type: "invalid_request_error", message: "messages: field required" } })
      const answer = message(request, counts.chat)
      if (isFault(answer)) return applyFault(res, answer)
      return send(res, 200, answer, limited?.headers)
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

/**
 * The chat request in Anthropic Messages params, or undefined when they have no `messages` list:
 * `system` becomes a first system message, as a chat-completions request would carry it.
 */
const fromMessagesParams = (params: unknown): ReceivedChat | undefined => {
  if (!isObject(params) || !Array.isArray(params.messages)) return undefined
  const system = typeof params.system === "string" ? [{ role: "system", content: params.system }] : []
  return {
    model: String(params.model),
    messages: [...system, ...params.messages.filter(isObject).map((m) => ({ role: String(m.role), content: String(m.content) }))],
    seed: undefined,
    temperature: typeof params.temperature === "number" ? params.temperature : undefined,
    max_tokens: typeof params.max_tokens === "number" ? params.max_tokens : undefined,
    body: params
  }
}

/** The Anthropic error type of an HTTP status. */
const anthropicErrorType = (status: number): string =>
  status === 401
    ? "authentication_error"
    : status === 403
      ? "permission_error"
      : status === 404
        ? "not_found_error"
        : status === 413
          ? "request_too_large"
          : status === 429
            ? "rate_limit_error"
            : status === 529
              ? "overloaded_error"
              : status >= 500
                ? "api_error"
                : "invalid_request_error"

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

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
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, type Scope } from "effect"
import * as Chat from "./internal/testserver/chat.js"
import { handle } from "./internal/testserver/handle.js"
import { send } from "./internal/testserver/respond.js"
import { ServerState } from "./internal/testserver/state.js"

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
export const echo: (request: ReceivedChat) => string = Chat.echo

/** An HTTP server that answers every request from `state`, keeping `state.handling` up to date. */
const serve = (state: ServerState): Server => {
  const server = createServer((req, res) => {
    state.handling++
    handle(state, req, res)
      .catch((e: unknown) => send(res, 500, { error: { message: String(e) } }))
      .finally(() => {
        state.handling--
      })
  })
  server.keepAliveTimeout = 60_000
  return server
}

/** Resolves once no request is being handled and no client connection is open. */
const settled = async (state: ServerState, server: Server): Promise<void> => {
  const open = () => new Promise<number>((resolve, reject) => server.getConnections((e, n) => (e ? reject(e) : resolve(n))))
  while (state.handling > 0 || (await open()) > 0) await new Promise((r) => setTimeout(r, 5))
}

/** The handle of a server listening at `state.url`. */
const handleOf = (state: ServerState, server: Server): TestServer => ({
  url: state.url,
  baseUrl: `${state.url}/v1`,
  counts: state.counts,
  requests: state.requests,
  failNext: (...faults) => void state.queue.push(...faults),
  failAll: (fault) => {
    state.always = fault
  },
  setLatency: (ms) => {
    state.latency = ms
  },
  settled: () => settled(state, server),
  close: () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
})

/** Starts a server on 127.0.0.1 with a random port. */
export const start = async (options: TestServerOptions = {}): Promise<TestServer> => {
  const state = new ServerState(options)
  const server = serve(state)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address: AddressInfo | string | null = server.address()
  const port = typeof address === "object" && address !== null ? address.port : 0
  state.url = `http://127.0.0.1:${port}`
  return handleOf(state, server)
}

/** A test server as a scoped resource: started now, closed with the scope. */
export const scoped = (options: TestServerOptions = {}): Effect.Effect<TestServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => start(options)),
    (s) => Effect.promise(() => s.close())
  )

/**
 * One HTTP POST on an undici connection pool, at the callback level. undici is used directly
 * rather than `fetch` or @effect/platform's HttpClient: at thousands of requests per second the
 * client's CPU per request is the budget (DESIGN §5), and undici's pooled `request` costs a
 * fraction of either. This module imports nothing but undici (no Effect, no core), so the HTTP
 * thread (`httpWorker.ts`) starts in milliseconds; `http.ts` is its Effect form.
 */
import { Agent, type Dispatcher, Pool } from "undici"
import type { FailureKind } from "../Errors.js"

/** `errorText` of `@synthline/core/Errors`, not imported: that module loads all of Effect (≈ 0.8 s in a fresh thread). */
const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** What came back. */
export interface HttpAnswer {
  readonly status: number
  readonly retryAfter: string | undefined
  readonly text: string
  /** The rate-limit headers (`x-ratelimit-*`, `anthropic-ratelimit-*`), names lower-cased, when there are any. */
  readonly limits?: { readonly [name: string]: string } | undefined
}

/** A failure on the wire (no HTTP status). */
export interface WireFailure {
  readonly kind: FailureKind
  readonly detail: string
}

/** An endpoint's connection pool. */
export interface HttpTarget {
  readonly dispatcher: Dispatcher
  readonly origin: string
  readonly path: string
  readonly close: () => Promise<void>
}

/** Opens a connection pool for a base URL (`http://host:port/v1`) with `connections` sockets. */
export const target = (baseUrl: string, route: string, connections: number): HttpTarget => {
  const url = new URL(baseUrl)
  const dispatcher =
    url.protocol === "https:"
      ? new Agent({ connections, keepAliveTimeout: 30_000 })
      : new Pool(url.origin, { connections, pipelining: 1, keepAliveTimeout: 30_000 })
  return {
    dispatcher,
    origin: url.origin,
    path: `${url.pathname.replace(/\/+$/, "")}${route}`,
    close: () => dispatcher.close()
  }
}

const connectionCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_CONNECT_TIMEOUT"
])

const describe = (e: unknown): WireFailure => {
  const code = typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : ""
  const message = errorText(e)
  if (code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") return { kind: "timeout", detail: message }
  if (connectionCodes.has(code)) return { kind: "connection", detail: `${code}: ${message}` }
  return { kind: "connection", detail: code !== "" ? `${code}: ${message}` : message }
}

/** Ends one request: its answer or the error undici gave. */
type Done = (error: unknown, answer: HttpAnswer | undefined) => void

const BOM = 0xfeff

/**
 * Collects one answer through undici's `dispatch` handler interface. `Dispatcher.request` would
 * wrap each answer in a Readable stream, a promise and an AbortSignal listener; at thousands of
 * requests per second those were a large share of the client's CPU per request. The answer is
 * the same: status, the first `Retry-After`, the body decoded as UTF-8 (a BOM dropped, as
 * `body.text()` does).
 */
class Collector implements Dispatcher.DispatchHandler {
  private abortFn: ((reason: Error) => void) | undefined
  private reason: Error | undefined
  private status = 0
  private retryAfter: string | undefined
  private limits: { [name: string]: string } | undefined
  private readonly chunks: Array<Buffer> = []
  private done: Done | undefined

  constructor(done: Done) {
    this.done = done
  }

  /** Aborts the request now, or as soon as undici connects it (it may still be queued in the pool). */
  abort(reason: Error): void {
    if (this.done === undefined) return
    if (this.abortFn !== undefined) this.abortFn(reason)
    else this.reason = reason
  }

  /** Aborts the request and drops its outcome: `done` is not called. */
  cancel(reason: Error): void {
    if (this.done === undefined) return
    this.done = undefined
    if (this.abortFn !== undefined) this.abortFn(reason)
    else this.reason = reason
  }

  onConnect(abort: (reason?: Error) => void): void {
    if (this.reason !== undefined) abort(this.reason)
    else this.abortFn = abort
  }

  onHeaders(statusCode: number, rawHeaders: Array<Buffer>): boolean {
    this.status = statusCode
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!
      // "retry-after" is 11 bytes; compare only the names that length.
      if (name.length === 11 && name.toString("latin1").toLowerCase() === "retry-after") {
        this.retryAfter = rawHeaders[i + 1]!.toString("latin1")
      } else if (name.length >= 18 && (name[0] === 0x78 || name[0] === 0x58 || name[0] === 0x61 || name[0] === 0x41)) {
        // x-ratelimit-… or anthropic-ratelimit-…: only names that long and starting with x or a are read.
        const lower = name.toString("latin1").toLowerCase()
        if (lower.startsWith("x-ratelimit-") || lower.startsWith("anthropic-ratelimit-")) {
          this.limits ??= {}
          this.limits[lower] = rawHeaders[i + 1]!.toString("latin1")
        }
      }
    }
    return true
  }

  onData(chunk: Buffer): boolean {
    this.chunks.push(chunk)
    return true
  }

  onComplete(): void {
    const done = this.done
    if (done === undefined) return
    this.done = undefined
    const text = (this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks)).toString("utf8")
    done(undefined, {
      status: this.status,
      retryAfter: this.retryAfter,
      text: text.charCodeAt(0) === BOM ? text.slice(1) : text,
      limits: this.limits
    })
  }

  onError(error: Error): void {
    const done = this.done
    if (done === undefined) return
    this.done = undefined
    done(error, undefined)
  }
}

/** How one {@link begin} ended: the answer, or why there is none. */
export type Ended = { readonly ok: true; readonly answer: HttpAnswer } | { readonly ok: false; readonly failure: WireFailure }

/**
 * Starts a POST of `body` as JSON now and calls `ended` exactly once, from the I/O callback that
 * completes it (or from the timer), unless cancelled first. Returns the cancel function. This is
 * the callback-level form that lets the client hand a freed connection to the next request
 * before any other work (see `Models`); `post` of `http.ts` is the same as an Effect.
 */
export const begin = (
  t: HttpTarget,
  headers: { readonly [key: string]: string },
  body: string,
  timeoutMs: number,
  ended: (r: Ended) => void
): (() => void) => {
  let timedOut = false
  const collector = new Collector((e, answer) => {
    clearTimeout(timer)
    if (answer !== undefined) ended({ ok: true, answer })
    else ended({ ok: false, failure: timedOut ? { kind: "timeout", detail: `no complete answer within ${timeoutMs} ms` } : describe(e) })
  })
  const timer = setTimeout(() => {
    timedOut = true
    collector.abort(new Error(`no complete answer within ${timeoutMs} ms`))
  }, timeoutMs)
  try {
    t.dispatcher.dispatch({ origin: t.origin, path: t.path, method: "POST", headers, body }, collector)
  } catch (e) {
    collector.onError(e instanceof Error ? e : new Error(String(e)))
  }
  return () => {
    clearTimeout(timer)
    collector.cancel(new Error("interrupted"))
  }
}


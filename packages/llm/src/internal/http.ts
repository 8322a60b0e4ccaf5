/**
 * One HTTP POST on an undici connection pool, as an interruptible Effect with a time limit.
 * undici is used directly rather than `fetch` or @effect/platform's HttpClient: at thousands of
 * requests per second the client's CPU per request is the budget (DESIGN §5), and undici's
 * pooled `request` costs a fraction of either.
 */
import { Effect } from "effect"
import { Agent, type Dispatcher, Pool } from "undici"
import type { FailureKind } from "../Errors.js"

/** What came back. */
export interface HttpAnswer {
  readonly status: number
  readonly retryAfter: string | undefined
  readonly text: string
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
  const message = e instanceof Error ? e.message : String(e)
  if (code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") return { kind: "timeout", detail: message }
  if (connectionCodes.has(code)) return { kind: "connection", detail: `${code}: ${message}` }
  return { kind: "connection", detail: code !== "" ? `${code}: ${message}` : message }
}

/** POSTs `body` as JSON; fails with a {@link WireFailure} on timeout or a broken connection. */
export const post = (
  t: HttpTarget,
  headers: { readonly [key: string]: string },
  body: string,
  timeoutMs: number
): Effect.Effect<HttpAnswer, WireFailure> =>
  Effect.async<HttpAnswer, WireFailure>((resume) => {
    const controller = new AbortController()
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      controller.abort()
    }, timeoutMs)
    t.dispatcher
      .request({ origin: t.origin, path: t.path, method: "POST", headers, body, signal: controller.signal })
      .then(async (res) => {
        const text = await res.body.text()
        const ra = res.headers["retry-after"]
        clearTimeout(timer)
        resume(Effect.succeed({ status: res.statusCode, retryAfter: Array.isArray(ra) ? ra[0] : ra, text }))
      })
      .catch((e: unknown) => {
        clearTimeout(timer)
        resume(
          Effect.fail(timedOut ? { kind: "timeout", detail: `no complete answer within ${timeoutMs} ms` } : describe(e))
        )
      })
    return Effect.sync(() => {
      clearTimeout(timer)
      controller.abort()
    })
  })

/** Milliseconds a `Retry-After` header asks for (seconds or an HTTP date), or undefined. */
export const retryAfterMs = (value: string | undefined, now: number = Date.now()): number | undefined => {
  if (value === undefined || value.trim() === "") return undefined
  const s = Number(value)
  if (Number.isFinite(s)) return Math.max(0, s * 1000)
  const d = Date.parse(value)
  return Number.isNaN(d) ? undefined : Math.max(0, d - now)
}

/**
 * The HTTP side of batch mode: one exchange with the provider's Batch API (its auth headers, the
 * model's timeout, retried on the model's retry schedule, the secret masked in every detail), the
 * JSON objects it answers with, and the lines of a result file.
 */
import { Duration, Effect, Redacted, type Schedule } from "effect"
import type { FormData } from "undici"
import { request } from "undici"
import { errorText } from "@synthline/core/Errors"
import { isRecord as isObject } from "@synthline/core/Row"
import type { ResolvedModel } from "../../Config.js"
import { type AttemptFailure, classifyError } from "../../Provider.js"
import * as Retry from "../../Retry.js"
import * as anthropic from "../anthropic.js"

/** An HTTP answer, or the failure of the last attempt. */
export type Reply =
  | { readonly ok: true; readonly status: number; readonly text: string }
  | { readonly ok: false; readonly failure: AttemptFailure }

/** A JSON object as an answer holds it. */
export type JsonObject = { readonly [key: string]: unknown }

/** The JSON object `text` holds, or none. */
export const parseObject = (text: string): JsonObject | undefined => {
  try {
    const j: unknown = JSON.parse(text)
    return isObject(j) ? j : undefined
  } catch {
    return undefined
  }
}

/** The headers that authenticate a model's requests: Anthropic's, else a bearer token. */
const authOf = (config: ResolvedModel, secret: string | undefined): { readonly [key: string]: string } => {
  const hasKey = secret !== undefined && secret !== ""
  if (config.provider === "anthropic") return { "anthropic-version": anthropic.apiVersion, ...(hasKey ? { "x-api-key": secret } : {}) }
  return hasKey ? { authorization: `Bearer ${secret}` } : {}
}

/** A raw HTTP answer, before it is classified. */
interface Raw {
  readonly status: number
  readonly text: string
  readonly retryAfter: string | undefined
}

/** The Batch API of one model, as batch mode talks to it. */
export class BatchHttp {
  private readonly base: string
  private readonly secret: string | undefined
  private readonly auth: { readonly [key: string]: string }
  private readonly timeoutMs: number
  /** How an exchange is retried: the model's retry schedule (429, 5xx, timeouts, broken connections). */
  private readonly retries: Schedule.Schedule<unknown, AttemptFailure>

  /** `closed` says when the run has ended: no exchange starts after that. */
  constructor(
    config: ResolvedModel,
    private readonly closed: () => boolean
  ) {
    this.base = (config.endpoints[0] ?? "").replace(/\/+$/, "")
    this.secret = config.api_key !== undefined ? Redacted.value(config.api_key) : undefined
    this.auth = authOf(config, this.secret)
    this.timeoutMs = Duration.toMillis(config.timeout)
    this.retries = Retry.ofModel<AttemptFailure>(config)
  }

  /** `s` with the model's secret masked. */
  readonly scrub = (s: string): string => {
    const secret = this.secret
    return secret !== undefined && secret.length >= 4 ? s.split(secret).join("<redacted>") : s
  }

  /** One HTTP exchange, retried on the model's retry schedule; the last failure when it gives up. */
  send(method: "GET" | "POST", path: string, body?: string | FormData): Promise<Reply> {
    const once = Effect.suspend((): Effect.Effect<Reply, AttemptFailure> => {
      if (this.closed()) return Effect.succeed({ ok: false, failure: { kind: "connection", detail: "the run ended" } })
      return this.attempt(method, path, body).pipe(
        Effect.flatMap(({ status, text, retryAfter }): Effect.Effect<Reply, AttemptFailure> => {
          if (status >= 200 && status < 300) return Effect.succeed({ ok: true, status, text })
          const f = classifyError(status, text, retryAfter)
          return Effect.fail({ ...f, detail: this.scrub(`${method} ${path}: ${f.detail}`) })
        })
      )
    })
    return Effect.runPromise(once.pipe(Effect.retry(this.retries), Effect.catchAll((failure) => Effect.succeed<Reply>({ ok: false, failure }))))
  }

  /** The lines of a result file (its path under the base URL), or none when there is no file. */
  async lines(path: string | undefined): Promise<ReadonlyArray<string> | AttemptFailure> {
    if (path === undefined) return []
    const r = await this.send("GET", path)
    return r.ok ? r.text.split("\n").filter((l) => l.trim() !== "") : r.failure
  }

  /** One attempt of an exchange: the status, body and `Retry-After` of the answer, or why there is none. */
  private attempt(method: "GET" | "POST", path: string, body: string | FormData | undefined): Effect.Effect<Raw, AttemptFailure> {
    const headers: { [key: string]: string } = { ...this.auth, accept: "application/json" }
    if (typeof body === "string") headers["content-type"] = "application/json"
    return Effect.tryPromise({
      try: async () => {
        const r = await request(`${this.base}${path}`, {
          method,
          headers,
          ...(body !== undefined ? { body } : {}),
          headersTimeout: this.timeoutMs,
          bodyTimeout: this.timeoutMs
        })
        const ra = r.headers["retry-after"]
        return { status: r.statusCode, text: await r.body.text(), retryAfter: Array.isArray(ra) ? ra[0] : ra }
      },
      catch: (e): AttemptFailure => ({ kind: "connection", detail: this.scrub(`${method} ${path}: ${errorText(e)}`) })
    })
  }
}

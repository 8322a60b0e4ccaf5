/**
 * The test server's request limit on chat requests (`TestServerOptions.rateLimit`): a fixed
 * window of `windowMs` holding at most `requests`, announced in OpenAI's `x-ratelimit-*` or
 * Anthropic's `anthropic-ratelimit-*` headers, with Retry-After once it is used up.
 */
import type { TestServerOptions } from "../../TestServer.js"

/** What the window says about one chat request: whether it is over the limit, and the headers to send. */
export interface Limited {
  readonly over: boolean
  readonly headers: { [k: string]: string }
}

/** The fixed window of `rateLimit`: when it started and the chat requests in it. */
export class RateWindow {
  private windowStart = 0
  private inWindow = 0

  /** A window over the server's options (no limit when `rateLimit` is unset). */
  constructor(private readonly options: TestServerOptions) {}

  /** Counts one chat request in the window; undefined when the server has no `rateLimit`. */
  check(): Limited | undefined {
    const rl = this.options.rateLimit
    if (rl === undefined) return undefined
    const t = Date.now()
    if (t - this.windowStart >= rl.windowMs) {
      this.windowStart = t
      this.inWindow = 0
    }
    this.inWindow++
    const over = this.inWindow > rl.requests
    const remaining = Math.max(0, rl.requests - this.inWindow)
    const resetMs = this.windowStart + rl.windowMs - t
    const perMinute = String(Math.round((rl.requests * 60_000) / rl.windowMs))
    const headers: { [k: string]: string } =
      rl.style === "anthropic"
        ? {
            "anthropic-ratelimit-requests-limit": perMinute,
            "anthropic-ratelimit-requests-remaining": String(remaining),
            "anthropic-ratelimit-requests-reset": new Date(this.windowStart + rl.windowMs).toISOString()
          }
        : {
            "x-ratelimit-limit-requests": perMinute,
            "x-ratelimit-remaining-requests": String(remaining),
            "x-ratelimit-reset-requests": `${resetMs}ms`
          }
    if (over) headers["retry-after"] = String(Math.ceil(resetMs / 1000))
    return { over, headers }
  }
}

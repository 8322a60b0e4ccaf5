/**
 * Rate limits a provider announces in its response headers: OpenAI's (and DeepInfra's, and
 * gateways' in front of vLLM) `x-ratelimit-limit|remaining|reset-requests|tokens`, Anthropic's
 * `anthropic-ratelimit-requests|tokens-limit|remaining|reset`. {@link HeaderLimits} keeps what the
 * latest answer said is left and holds requests back until the window resets once it is used up,
 * so the client slows down before the provider answers 429.
 */

/** One limit as a response announced it. */
export interface Announced {
  /** Per minute (the providers' unit for both). */
  readonly limit?: number | undefined
  readonly remaining?: number | undefined
  /** Milliseconds until the limit is restored. */
  readonly resetMs?: number | undefined
}

/** What one response announced, for requests and for tokens. */
export interface Announcement {
  readonly requests?: Announced | undefined
  readonly tokens?: Announced | undefined
}

/** A header value as a number, or undefined. */
const num = (v: string | undefined): number | undefined => {
  if (v === undefined) return undefined
  const n = Number(v.trim())
  return v.trim() !== "" && Number.isFinite(n) && n >= 0 ? n : undefined
}

/**
 * A reset in milliseconds: OpenAI's durations (`1s`, `6m0s`, `20ms`, `1h2m3.5s`), plain seconds,
 * or an RFC 3339 / HTTP date (Anthropic).
 */
export const resetMs = (v: string | undefined, now: number = Date.now()): number | undefined => {
  if (v === undefined || v.trim() === "") return undefined
  const s = v.trim()
  const plain = num(s)
  if (plain !== undefined) return plain * 1000
  if (/^(\d+(\.\d+)?(h|ms|m|s))+$/.test(s)) {
    let ms = 0
    for (const m of s.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s)/g)) {
      const n = Number(m[1])
      ms += m[2] === "h" ? n * 3_600_000 : m[2] === "m" ? n * 60_000 : m[2] === "s" ? n * 1000 : n
    }
    return ms
  }
  const d = Date.parse(s)
  return Number.isNaN(d) ? undefined : Math.max(0, d - now)
}

/** Reads the rate-limit headers of a response (names lower-cased); undefined when it has none. */
export const parse = (headers: { readonly [name: string]: string }, now: number = Date.now()): Announcement | undefined => {
  const one = (limit: string, remaining: string, reset: string): Announced | undefined => {
    const a = { limit: num(headers[limit]), remaining: num(headers[remaining]), resetMs: resetMs(headers[reset], now) }
    return a.limit === undefined && a.remaining === undefined ? undefined : a
  }
  const requests =
    one("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests") ??
    one("anthropic-ratelimit-requests-limit", "anthropic-ratelimit-requests-remaining", "anthropic-ratelimit-requests-reset")
  const tokens =
    one("x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens") ??
    one("anthropic-ratelimit-tokens-limit", "anthropic-ratelimit-tokens-remaining", "anthropic-ratelimit-tokens-reset") ??
    one("anthropic-ratelimit-input-tokens-limit", "anthropic-ratelimit-input-tokens-remaining", "anthropic-ratelimit-input-tokens-reset")
  return requests === undefined && tokens === undefined ? undefined : { requests, tokens }
}

interface Window {
  remaining: number
  resetAt: number
}

/** What is left of the provider's limits, as its latest answer said, less what was sent since. */
export class HeaderLimits {
  private requests: Window | undefined
  private tokens: Window | undefined

  constructor(private readonly now: () => number = Date.now) {}

  /** Takes in what a response announced. */
  update(a: Announcement): void {
    const t = this.now()
    // Answers arrive out of order: within the window already known (same reset, give or take
    // 50 ms), the smaller remainder is the later truth.
    const window = (x: Announced | undefined, known: Window | undefined): Window | undefined => {
      if (x?.remaining === undefined) return known
      const next = { remaining: x.remaining, resetAt: t + (x.resetMs ?? 1000) }
      if (known !== undefined && t < known.resetAt && next.resetAt <= known.resetAt + 50) {
        return { remaining: Math.min(known.remaining, next.remaining), resetAt: Math.max(known.resetAt, next.resetAt) }
      }
      return next
    }
    this.requests = window(a.requests, this.requests)
    this.tokens = window(a.tokens, this.tokens)
  }

  /**
   * Takes one request of about `tokens` tokens: 0 when it may go now, else the milliseconds until
   * the window that has run out resets (then ask again).
   */
  take(tokens: number): number {
    const t = this.now()
    if (this.requests !== undefined && t >= this.requests.resetAt) this.requests = undefined
    if (this.tokens !== undefined && t >= this.tokens.resetAt) this.tokens = undefined
    const r = this.requests
    const k = this.tokens
    let wait = 0
    if (r !== undefined && r.remaining < 1) wait = Math.max(wait, r.resetAt - t)
    if (k !== undefined && k.remaining < tokens) wait = Math.max(wait, k.resetAt - t)
    if (wait > 0) return Math.ceil(wait)
    if (r !== undefined) r.remaining -= 1
    if (k !== undefined) k.remaining -= tokens
    return 0
  }
}

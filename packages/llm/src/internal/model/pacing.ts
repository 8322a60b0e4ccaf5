/**
 * The rate limits one model's requests are paced by: the configured `requests_per_minute` and
 * `tokens_per_minute` as token buckets, adapted to what the provider's response headers announce
 * (the configured limits stay the ceiling), and the headers' own "nothing left until the reset".
 */
import type { ResolvedModel } from "../../Config.js"
import { TokenBucket } from "../bucket.js"
import { HeaderLimits, parse as parseLimits } from "../limits.js"

/** A model's request and token buckets and its announced limits. */
export class Pacing {
  /**
   * Requests per minute, paced smoothly (a burst of two seconds' worth); undefined while neither
   * the configuration nor the provider set a limit.
   */
  rpm: TokenBucket | undefined
  /**
   * Tokens per minute; they may burst ten seconds' worth, so one request's estimate (which counts
   * `max_tokens`) fits and the correction from `usage` takes effect.
   */
  tpm: TokenBucket | undefined
  /** What the provider's headers say remains: requests are held back once it is used up. */
  readonly announced = new HeaderLimits()

  constructor(private readonly config: ResolvedModel) {
    this.rpm =
      config.requests_per_minute !== undefined
        ? new TokenBucket(config.requests_per_minute, Math.max(1, config.requests_per_minute / 30))
        : undefined
    this.tpm =
      config.tokens_per_minute !== undefined
        ? new TokenBucket(config.tokens_per_minute, Math.max(1, config.tokens_per_minute / 6))
        : undefined
  }

  /** Takes in an answer's rate-limit headers: the buckets follow the provider's limits. */
  readonly rateLimits = (headers: { readonly [name: string]: string }): void => {
    const a = parseLimits(headers)
    if (a === undefined) return
    this.announced.update(a)
    const r = a.requests
    if (r?.limit !== undefined) {
      this.rpm ??= new TokenBucket(r.limit, Math.max(1, r.limit / 30))
      this.rpm.adapt(r.limit, r.remaining, this.config.requests_per_minute)
    }
    const k = a.tokens
    if (k?.limit !== undefined) {
      this.tpm ??= new TokenBucket(k.limit, Math.max(1, k.limit / 6))
      this.tpm.adapt(k.limit, k.remaining, this.config.tokens_per_minute)
    }
  }
}

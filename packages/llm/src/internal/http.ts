/**
 * One HTTP POST on an undici connection pool, as an interruptible Effect with a time limit (the
 * callback-level request is `wire.ts`'s).
 */
import { Effect } from "effect"
import { begin, type HttpAnswer, type HttpTarget, type WireFailure } from "./wire.js"

export { begin, type Ended, type HttpAnswer, type HttpTarget, target, type WireFailure } from "./wire.js"

/** POSTs `body` as JSON; fails with a {@link WireFailure} on timeout or a broken connection. */
export const post = (
  t: HttpTarget,
  headers: { readonly [key: string]: string },
  body: string,
  timeoutMs: number
): Effect.Effect<HttpAnswer, WireFailure> =>
  Effect.async<HttpAnswer, WireFailure>((resume) => {
    const cancel = begin(t, headers, body, timeoutMs, (r) => resume(r.ok ? Effect.succeed(r.answer) : Effect.fail(r.failure)))
    return Effect.sync(cancel)
  })

/** Milliseconds a `Retry-After` header asks for (seconds or an HTTP date), or undefined. */
export const retryAfterMs = (value: string | undefined, now: number = Date.now()): number | undefined => {
  if (value === undefined || value.trim() === "") return undefined
  const s = Number(value)
  if (Number.isFinite(s)) return Math.max(0, s * 1000)
  const d = Date.parse(value)
  return Number.isNaN(d) ? undefined : Math.max(0, d - now)
}

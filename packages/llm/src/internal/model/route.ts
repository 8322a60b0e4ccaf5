/**
 * `Model.request`: a JSON body POSTed to another route of one model's endpoints (`/moderations`),
 * through the same response cache, attempt loop and usage as its chat calls.
 */
import { isRecord as isObject } from "@synthline/core/Row"
import { Effect, Either } from "effect"
import * as Cache from "../../Cache.js"
import { type Completion, preview } from "../../Chat.js"
import type { ResolvedModel } from "../../Config.js"
import { LlmRequestError } from "../../Errors.js"
import type { RequestOptions, RouteAnswer } from "../../Models.js"
import type * as Provider from "../../Provider.js"
import * as Usage from "../../Usage.js"
import type { Attempts } from "./attempts.js"

const tokenCount = (u: unknown): number => (typeof u === "number" && Number.isFinite(u) && u >= 0 ? u : 0)

/** Token counts of a non-chat answer: its `usage` (`prompt_tokens`/`input_tokens`, `completion_tokens`), else zeros. */
const usageOf = (text: string): Completion["usage"] => {
  try {
    const j: unknown = JSON.parse(text)
    const u = isObject(j) ? j.usage : undefined
    if (!isObject(u)) return { prompt_tokens: 0, completion_tokens: 0 }
    return { prompt_tokens: tokenCount(u.prompt_tokens ?? u.input_tokens), completion_tokens: tokenCount(u.completion_tokens) }
  } catch {
    return { prompt_tokens: 0, completion_tokens: 0 }
  }
}

/** An answer to a route request as the attempt loop carries it: its text, decoded value and token counts. */
interface RouteAttempt<A> {
  readonly text: string
  readonly value: A
  readonly usage: Completion["usage"]
}

/** A model's requests to routes other than chat. */
export class RouteCalls {
  constructor(
    private readonly config: ResolvedModel,
    private readonly transport: Provider.Transport,
    private readonly cache: Cache.ResponseCache,
    private readonly usage: Usage.ModelUsage,
    private readonly attempts: Attempts
  ) {}

  /** POSTs `payload` (under the model's `extra_body`) to `route`; fails with `bad_request` when the provider has no HTTP route. */
  readonly request = <A>(route: string, payload: object, options: RequestOptions<A>): Effect.Effect<RouteAnswer<A>, LlmRequestError> =>
    Effect.suspend((): Effect.Effect<RouteAnswer<A>, LlmRequestError> => {
      const { config, cache, usage } = this
      usage.calls++
      const post = this.transport.post
      if (post === undefined) {
        Usage.bump(usage.failures, "bad_request")
        return Effect.fail(
          new LlmRequestError({
            model: config.name,
            endpoint: this.transport.endpoints[0]?.id ?? "(none)",
            kind: "bad_request",
            detail: `provider ${config.provider} cannot send requests to ${route}`,
            attempts: 0
          })
        )
      }
      const full: object = { ...config.extra_body, ...payload }
      const key = cache.mode === "off" ? "" : Cache.routeKey(config.model, route, full, options.sampleIndex ?? 0)
      const decode = (text: string): Either.Either<A, string> => {
        let json: unknown
        try {
          json = JSON.parse(text)
        } catch {
          return Either.left(`the server's answer is not JSON: ${preview(text)}`)
        }
        return options.parse(json)
      }
      if (key !== "") {
        const hit = this.cached(key, decode)
        if (hit !== undefined) return hit
      }
      return this.attempts.run(
        Math.ceil(JSON.stringify(full).length / 4),
        (entry, deadline) =>
          this.attempts.attemptOnSlot(
            (index, ms) =>
              post(index, route, full, ms).pipe(
                Effect.flatMap((raw): Effect.Effect<RouteAttempt<A>, Provider.AttemptFailure> => {
                  const value = decode(raw.text)
                  return Either.isLeft(value)
                    ? Effect.fail({ kind: "bad_response", detail: value.left })
                    : Effect.succeed({ text: raw.text, value: value.right, usage: usageOf(raw.text) })
                })
              ),
            entry,
            deadline
          ),
        (answer) => (key !== "" ? cache.store(key, config.model, { content: answer.text, finish_reason: null, usage: answer.usage }) : undefined)
      ).pipe(Effect.map((answer) => ({ value: answer.value, usage: answer.usage, cached: false })))
    })

  /**
   * The cached answer under `key`, counted as a cache hit, when there is one the parser takes:
   * one the parser now refuses (changed code) is asked again. A cache that cannot be read dies.
   */
  private cached<A>(key: string, decode: (text: string) => Either.Either<A, string>): Effect.Effect<RouteAnswer<A>> | undefined {
    const found = this.cache.lookup(key)
    if (Either.isLeft(found)) return Effect.die(found.left)
    const hit = found.right
    // A cached answer decoded once; one the parser now refuses (changed code) is asked again.
    const value = hit !== undefined ? decode(hit.content) : undefined
    if (hit !== undefined && value !== undefined && Either.isRight(value)) {
      const usage = this.usage
      usage.cache_hits++
      usage.cache_hit_prompt_tokens += hit.usage.prompt_tokens
      usage.cache_hit_completion_tokens += hit.usage.completion_tokens
      return Effect.succeed({ value: value.right, usage: hit.usage, cached: true })
    }
    return undefined
  }
}

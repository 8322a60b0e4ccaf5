/**
 * The translation service of a run: DeepL answers kept in the run's response cache (the
 * `Cache.Responses` service of @synthline/llm — the one SQLite file of the `cache` section, opened
 * once per run for the chat models and DeepL alike — keyed by `deepl`, target/source language,
 * formality and text), so a resumed or repeated run sends no DeepL request twice; and DeepL usage
 * (requests, characters, cache hits, errors, and with a `price` the cost ledger) in the manifest's
 * `model_usage.deepl`.
 */
import { RunError } from "@synthline/core/Errors"
import { RunContext, type UsageRegistry } from "@synthline/core/Plugin"
import * as Cache from "@synthline/llm/Cache"
import * as Usage from "@synthline/llm/Usage"
import { Context, Effect, Layer, type Scope } from "effect"

/** DeepL usage counters. */
export interface DeeplUsage {
  calls: number
  cache_hits: number
  requests: number
  retries: number
  characters: number
  /** Characters of the texts the response cache translated (what they would have cost). */
  cache_hit_characters: number
  failures: number
  /** The cost ledger, once a `synth/translate` stage with a `price` runs (unrounded here). */
  cost?: Usage.Cost
}

/** The translation service. */
export interface TranslationCacheService {
  /** A cached translation. */
  readonly get: (key: string) => string | undefined
  /** Stores a translation. */
  readonly put: (key: string, text: string) => void
  readonly usage: DeeplUsage
}

/** The translation service. */
export class TranslationCache extends Context.Tag("@synthline/plugin-synth/TranslationCache")<
  TranslationCache,
  TranslationCacheService
>() {}

/** The cache key of one text's translation. */
export const keyOf = (text: string, target: string, source: string | undefined, formality: string | undefined): string =>
  Cache.key("deepl", { messages: [{ role: "user", content: text }] }, { target, source: source ?? null, formality: formality ?? null }, 0)

const emptyUsage = (): DeeplUsage => ({ calls: 0, cache_hits: 0, requests: 0, retries: 0, characters: 0, cache_hit_characters: 0, failures: 0 })

/** The service over a response cache's service (opened now), usage registered under `deepl`. */
export const over = (
  responses: Cache.ResponsesService,
  registry?: UsageRegistry
): Effect.Effect<TranslationCacheService, RunError> =>
  Effect.gen(function* () {
    const cache = yield* responses.open.pipe(Effect.mapError((e) => new RunError({ reason: e.message, exitCode: 2 })))
    const usage = emptyUsage()
    if (registry !== undefined) {
      const recovered = registry.register("deepl", () => (usage.cost === undefined ? usage : { ...usage, cost: Usage.rounded(usage.cost) }))
      if (typeof recovered === "object" && recovered !== null) Object.assign(usage, recovered)
    }
    return {
      usage,
      get: (k) => cache.get(k)?.content,
      put: (k, text) => cache.put(k, "deepl", { content: text, finish_reason: "stop", usage: { prompt_tokens: 0, completion_tokens: 0 } })
    }
  })

/** Opens the service over a cache file of its own (mode `off` keeps nothing), for tests and code pipelines. */
export const make = (
  file: string,
  mode: Cache.ResponseCache["mode"],
  registry?: UsageRegistry
): Effect.Effect<TranslationCacheService, RunError, Scope.Scope> =>
  Effect.flatMap(Cache.responses(file, mode), (responses) => over(responses, registry))

/**
 * The service of a run: over the run's response cache (`Cache.layer`, the same value the model
 * client is built with, so the file is opened once), usage into the manifest.
 */
export const layer: Layer.Layer<TranslationCache, RunError, RunContext> = Layer.effect(
  TranslationCache,
  Effect.gen(function* () {
    const run = yield* RunContext
    return yield* over(yield* Cache.Responses, run.usage)
  })
).pipe(Layer.provide(Cache.layer))

/** A service that caches nothing (tests, code pipelines). */
export const layerOff: Layer.Layer<TranslationCache> = Layer.succeed(TranslationCache, {
  usage: emptyUsage(),
  get: () => undefined,
  put: () => undefined
})

/**
 * The translation service of a run: DeepL answers kept in the run's response cache (the
 * `cache` section of @synthline/llm, same SQLite file, keyed by `deepl`, target/source
 * language, formality and text), so a resumed or repeated run sends no DeepL request twice;
 * and DeepL usage (requests, characters, cache hits, errors) in the manifest's `model_usage.deepl`.
 */
import { RunError } from "@synthline/core/Errors"
import { RunContext, type UsageRegistry } from "@synthline/core/RunContext"
import * as Cache from "@synthline/llm/Cache"
import { CacheSection } from "@synthline/llm/Config"
import { Context, Effect, Layer, Schema, type Scope } from "effect"
import { isAbsolute, resolve } from "node:path"

/** DeepL usage counters. */
export interface DeeplUsage {
  calls: number
  cache_hits: number
  requests: number
  retries: number
  characters: number
  failures: number
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

const emptyUsage = (): DeeplUsage => ({ calls: 0, cache_hits: 0, requests: 0, retries: 0, characters: 0, failures: 0 })

/** Opens the service over a cache file (mode `off` keeps nothing). */
export const make = (
  file: string,
  mode: Cache.ResponseCache["mode"],
  registry?: UsageRegistry
): Effect.Effect<TranslationCacheService, RunError, Scope.Scope> =>
  Effect.gen(function* () {
    const cache = yield* Cache.open(file, mode).pipe(Effect.mapError((e) => new RunError({ reason: e.message, exitCode: 2 })))
    const usage = emptyUsage()
    if (registry !== undefined) {
      const recovered = registry.register("deepl", () => usage)
      if (typeof recovered === "object" && recovered !== null) Object.assign(usage, recovered)
    }
    return {
      usage,
      get: (k) => cache.get(k)?.content,
      put: (k, text) => cache.put(k, "deepl", { content: text, finish_reason: "stop", usage: { prompt_tokens: 0, completion_tokens: 0 } })
    }
  })

const isCache = Schema.is(CacheSection)

/** The service of a run: the `cache` section's file and mode, usage into the manifest. */
export const layer: Layer.Layer<TranslationCache, RunError, RunContext> = Layer.scoped(
  TranslationCache,
  Effect.gen(function* () {
    const run = yield* RunContext
    const section = run.sections.cache
    const config = section !== undefined && isCache(section) ? section : Schema.decodeSync(CacheSection)({})
    const file = isAbsolute(config.path) ? config.path : resolve(run.baseDir, config.path)
    return yield* make(file, config.mode, run.usage)
  })
)

/** A service that caches nothing (tests, code pipelines). */
export const layerOff: Layer.Layer<TranslationCache> = Layer.succeed(TranslationCache, {
  usage: emptyUsage(),
  get: () => undefined,
  put: () => undefined
})

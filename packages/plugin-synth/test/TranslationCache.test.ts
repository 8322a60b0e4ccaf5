import { describe, expect, it } from "vitest"
import { readdirSync, readlinkSync } from "node:fs"
import { join } from "node:path"
import { Effect, Layer, Schema } from "effect"
import * as Plugin from "@synthline/core/Plugin"
import { CacheSection, ModelsSection } from "@synthline/llm/Config"
import { Models, layer as modelsLayer } from "@synthline/llm/Models"
import * as TranslationCache from "../src/TranslationCache.js"
import { keyOf } from "../src/TranslationCache.js"
import { tempDir } from "./support.js"

/** How many file descriptors of this process are open on `file` (one per SQLite connection). */
const openCount = (file: string): number =>
  readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return readlinkSync(join("/proc/self/fd", fd)) === file
    } catch {
      return false
    }
  }).length

describe("the response cache of a run", () => {
  it.runIf(process.platform === "linux")("is one SQLite connection shared by the model client and DeepL, and both find each other's answers", async () => {
    const dir = tempDir("shared-cache")
    const file = join(dir, "cache.sqlite")
    const run = Plugin.runContextLayer({
      baseDir: dir,
      sections: {
        cache: Schema.decodeUnknownSync(CacheSection)({ path: "cache.sqlite", mode: "read-write" }),
        models: Schema.decodeUnknownSync(ModelsSection)({ m: { model: "test/m", endpoints: ["http://127.0.0.1:9/v1"] } })
      }
    })
    // As the runner builds plugin services: the plugins' layers merged, over one RunContext.
    const services = Layer.mergeAll(modelsLayer, TranslationCache.layer).pipe(Layer.provide(run))
    const counts = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const context = yield* Layer.build(services)
          const deepl = Effect.runSync(Effect.provide(TranslationCache.TranslationCache, context))
          const models = Effect.runSync(Effect.provide(Models, context))
          yield* models.get("m")
          const key = keyOf("Hello", "JA", undefined, undefined)
          deepl.put(key, "こんにちは")
          return { open: openCount(file), hit: deepl.get(key) }
        })
      )
    )
    expect(counts).toEqual({ open: 1, hit: "こんにちは" })
    // Closed with the run.
    expect(openCount(file)).toBe(0)
  })
})

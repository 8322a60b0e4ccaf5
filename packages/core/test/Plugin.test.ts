/** Plugins: definePlugin and the plugin check, the usage registry, and the RunContext a plugin's services are built for. */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Plugin from "../src/Plugin.js"

describe("Plugin.definePlugin and Plugin.isPlugin", () => {
  it("definePlugin returns the plugin it is given", () => {
    const plugin = { name: "acme", version: "1.2.3", stages: [] }
    expect(Plugin.definePlugin(plugin)).toBe(plugin)
  })

  it("isPlugin accepts a plugin object", () => {
    expect(Plugin.isPlugin(Plugin.definePlugin({ name: "acme", version: "1.2.3", stages: [] }))).toBe(true)
    expect(Plugin.isPlugin({ name: "acme", version: "0.0.1", stages: [], packageName: "@acme/plugin" })).toBe(true)
  })

  it("isPlugin refuses what a plugin module's default export must not be", () => {
    expect(Plugin.isPlugin(undefined)).toBe(false)
    expect(Plugin.isPlugin(null)).toBe(false)
    expect(Plugin.isPlugin("acme")).toBe(false)
    expect(Plugin.isPlugin(() => ({ name: "acme", version: "1", stages: [] }))).toBe(false)
    expect(Plugin.isPlugin({ version: "1", stages: [] })).toBe(false)
    expect(Plugin.isPlugin({ name: "acme", stages: [] })).toBe(false)
    expect(Plugin.isPlugin({ name: "acme", version: 1, stages: [] })).toBe(false)
    expect(Plugin.isPlugin({ name: "acme", version: "1" })).toBe(false)
    expect(Plugin.isPlugin({ name: "acme", version: "1", stages: {} })).toBe(false)
  })
})

describe("Plugin.collectingUsage", () => {
  it("snapshots every registered report, as it is when asked", () => {
    const usage = Plugin.collectingUsage()
    let calls = 0
    usage.register("model-a", () => ({ calls }))
    usage.register("model-b", () => "b")
    calls = 3
    expect(usage.snapshot()).toEqual({ "model-a": { calls: 3 }, "model-b": "b" })
  })

  it("returns the recovered counters of a key, undefined on a fresh run", () => {
    const resumed = Plugin.collectingUsage({ "model-a": { calls: 5 } })
    expect(resumed.register("model-a", () => 0)).toEqual({ calls: 5 })
    expect(resumed.register("model-b", () => 0)).toBeUndefined()
    expect(Plugin.collectingUsage().register("model-a", () => 0)).toBeUndefined()
  })

  it("keeps the last report registered under a key", () => {
    const usage = Plugin.collectingUsage()
    usage.register("m", () => 1)
    usage.register("m", () => 2)
    expect(usage.snapshot()).toEqual({ m: 2 })
  })

  it("is empty before anything registers", () => {
    expect(Plugin.collectingUsage({ old: 1 }).snapshot()).toEqual({})
  })
})

describe("Plugin.runContextLayer", () => {
  it.effect("provides a RunContext with the options given", () =>
    Effect.gen(function* () {
      const usage = Plugin.collectingUsage({ m: 9 })
      const ctx = yield* Plugin.RunContext.pipe(
        Effect.provide(
          Plugin.runContextLayer({ sections: { models: { a: 1 } }, baseDir: "/pipelines", seed: 42, stateDir: "/state", usage })
        )
      )
      expect(ctx.sections).toEqual({ models: { a: 1 } })
      expect(ctx.baseDir).toBe("/pipelines")
      expect(ctx.seed).toBe(42)
      expect(ctx.stateDir).toBe("/state")
      expect(ctx.usage).toBe(usage)
      expect(ctx.usage.register("m", () => 0)).toBe(9)
    })
  )

  it.effect("defaults to no sections, the working folder, seed 0, no state folder and a fresh usage registry", () =>
    Effect.gen(function* () {
      const ctx = yield* Plugin.RunContext.pipe(Effect.provide(Plugin.runContextLayer()))
      expect(ctx.sections).toEqual({})
      expect(ctx.baseDir).toBe(process.cwd())
      expect(ctx.seed).toBe(0)
      expect(ctx.stateDir).toBeUndefined()
      expect(ctx.plugins).toBeUndefined()
      expect(ctx.usage.register("m", () => 1)).toBeUndefined()
    })
  )
})

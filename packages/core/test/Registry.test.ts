/** Loading plugins and indexing what they contribute: the core plugin first, dependencies, clashes, and load errors in words. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Schema } from "effect"
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { definePlugin, type Plugin } from "../src/Plugin.js"
import * as Registry from "../src/Registry.js"
import * as Stage from "../src/Stage.js"

// Inside the repo, so plugin files resolve packages as a user's project would.
mkdirSync(join(import.meta.dirname, ".tmp"), { recursive: true })
const dir = mkdtempSync(join(import.meta.dirname, ".tmp", "registry-"))

const stage = (id: string) =>
  Stage.make({ id, description: id, config: Stage.NoConfig, requires: [], provides: [], make: () => Effect.succeed((rows) => rows) })

const base: Plugin = definePlugin({ name: "base", version: "1.0.0", stages: [stage("base/one")], sections: { base: Schema.Struct({ on: Schema.Boolean }) } })
const team: Plugin = definePlugin({ name: "team", version: "0.1.0", stages: [stage("team/two")], dependencies: [base] })

const loadError = (specifier: string) =>
  Effect.map(Effect.either(Registry.loadPlugin(specifier, dir)), (r) => (Either.isLeft(r) ? r.left.message : "loaded"))

describe("Registry.fromPlugins", () => {
  it.effect("puts the core plugin first, brings in dependencies before their dependents, and indexes stages and sections", () =>
    Effect.gen(function* () {
      const registry = yield* Registry.fromPlugins([{ plugin: team, specifier: "./team.ts" }])
      expect(registry.plugins.map((p) => [p.plugin.name, p.specifier])).toEqual([
        ["core", "builtin"],
        ["base", "./team.ts → base"],
        ["team", "./team.ts"]
      ])
      expect([...registry.stages.keys()]).toEqual(expect.arrayContaining(["core/select", "base/one", "team/two"]))
      expect(registry.sections.get("base")?.plugin).toBe("base")
      expect([...registry.sources.keys()]).toEqual(expect.arrayContaining(["jsonl", "parquet"]))
      expect([...registry.sinks.keys()]).toEqual(expect.arrayContaining(["jsonl"]))
    }))

  it.effect("takes a plugin listed twice (or also brought in as a dependency) once", () =>
    Effect.gen(function* () {
      const registry = yield* Registry.fromPlugins([
        { plugin: base, specifier: "./base.ts" },
        { plugin: team, specifier: "./team.ts" },
        { plugin: { ...base }, specifier: "./base-again.ts" }
      ])
      expect(registry.plugins.map((p) => p.plugin.name)).toEqual(["core", "base", "team"])
    }))

  it.effect("refuses two different plugins of one name, naming both", () =>
    Effect.gen(function* () {
      const other = definePlugin({ name: "base", version: "2.0.0", stages: [] })
      const r = yield* Effect.either(Registry.fromPlugins([{ plugin: base, specifier: "./base.ts" }, { plugin: other, specifier: "other-base" }]))
      expect(Either.isLeft(r) && r.left.message).toBe('cannot load plugin other-base: plugin name "base" is already taken by ./base.ts (1.0.0)')
    }))
})

describe("Registry.loadPlugin", () => {
  it.effect("loads a local plugin file's default export", () =>
    Effect.gen(function* () {
      writeFileSync(join(dir, "plain.mjs"), `export default { name: "plain", version: "0.0.1", stages: [] }\n`)
      const plugin = yield* Registry.loadPlugin("./plain.mjs", dir)
      expect([plugin.name, plugin.version]).toEqual(["plain", "0.0.1"])
    }))

  it.effect("says why a plugin cannot be loaded: no such file (with the nearest name), no plugin exported, a stage id of another plugin", () =>
    Effect.gen(function* () {
      writeFileSync(join(dir, "acme.mjs"), `export default { name: "acme", version: "1.0.0", stages: [] }\n`)
      expect(yield* loadError("./acme.js")).toMatch(/^cannot load plugin \.\/acme\.js: no such file .*acme\.js — did you mean acme\.mjs\?$/)
      writeFileSync(join(dir, "empty.mjs"), `export const x = 1\n`)
      expect(yield* loadError("./empty.mjs")).toBe(
        "cannot load plugin ./empty.mjs: its default export is not a plugin (export default definePlugin({ name, version, stages }))"
      )
      writeFileSync(join(dir, "wrong.mjs"), `export default { name: "wrong", version: "1.0.0", stages: [{ id: "right/x" }] }\n`)
      expect(yield* loadError("./wrong.mjs")).toBe('cannot load plugin ./wrong.mjs: stage id right/x must start with "wrong/"')
    }))

  it.effect("an npm name that is not installed names the installed plugin packages nearest to it", () =>
    Effect.gen(function* () {
      expect(yield* loadError("@synthline/plugin-pi")).toMatch(
        /^cannot load plugin @synthline\/plugin-pi: no installed package is named @synthline\/plugin-pi — did you mean @synthline\/plugin-pii\? \(install it next to the pipeline file/
      )
    }))
})

/**
 * The plugin registry: loads plugins by npm specifier or relative path (a local `.ts` plugin
 * loads without a build step, through tsx) and indexes their stages, sources, sinks and
 * pipeline-file sections. The `core` plugin is always present.
 */
import { Effect } from "effect"
import { existsSync } from "node:fs"
import { isAbsolute, resolve } from "node:path"
import { pathToFileURL } from "node:url"
import * as CorePlugin from "./CorePlugin.js"
import { PluginLoadError } from "./Errors.js"
import { isPlugin, type Plugin } from "./Plugin.js"
import type { AnySink } from "./Sink.js"
import type { AnySource } from "./Source.js"
import type { AnyStage } from "./Stage.js"

/** A loaded plugin and where it came from. */
export interface LoadedPlugin {
  readonly plugin: Plugin
  /** The specifier as written in the pipeline file, or `builtin`. */
  readonly specifier: string
}

/** Every stage, source, sink and section of a set of plugins. */
export interface Registry {
  readonly plugins: ReadonlyArray<LoadedPlugin>
  readonly stages: ReadonlyMap<string, AnyStage>
  readonly sources: ReadonlyMap<string, AnySource>
  readonly sinks: ReadonlyMap<string, AnySink>
  /** Top-level section name → owning plugin name and Schema. */
  readonly sections: ReadonlyMap<
    string,
    {
      readonly plugin: string
      readonly schema: NonNullable<Plugin["sections"]>[string]
      readonly fingerprint?: NonNullable<Plugin["fingerprint"]>[string] | undefined
    }
  >
}

const isPathSpecifier = (s: string): boolean =>
  s.startsWith("./") || s.startsWith("../") || isAbsolute(s) || s.startsWith("file:")

const importModule = (specifier: string, baseDir: string): Effect.Effect<unknown, PluginLoadError> =>
  Effect.tryPromise({
    try: async () => {
      if (isPathSpecifier(specifier)) {
        const file = specifier.startsWith("file:") ? new URL(specifier).pathname : resolve(baseDir, specifier)
        if (!existsSync(file)) throw new Error(`no such file ${file}`)
        if (/\.[cm]?tsx?$/.test(file)) {
          const { tsImport } = await import("tsx/esm/api")
          return await tsImport(pathToFileURL(file).href, pathToFileURL(resolve(baseDir, "pipeline")).href)
        }
        return await import(pathToFileURL(file).href)
      }
      try {
        return await import(specifier)
      } catch (e) {
        // Not resolvable from synthline itself: resolve from the pipeline file's folder.
        const { tsImport } = await import("tsx/esm/api")
        try {
          return await tsImport(specifier, pathToFileURL(resolve(baseDir, "pipeline")).href)
        } catch {
          throw e
        }
      }
    },
    catch: (e) => new PluginLoadError({ specifier, reason: e instanceof Error ? e.message.split("\n")[0]! : String(e) })
  })

const checkPlugin = (specifier: string, plugin: Plugin): Effect.Effect<Plugin, PluginLoadError> => {
  for (const stage of plugin.stages) {
    if (!stage.id.startsWith(`${plugin.name}/`)) {
      return Effect.fail(
        new PluginLoadError({ specifier, reason: `stage id ${stage.id} must start with "${plugin.name}/"` })
      )
    }
  }
  return Effect.succeed(plugin)
}

/** Loads one plugin module and returns its default-exported plugin. */
export const loadPlugin = (specifier: string, baseDir: string): Effect.Effect<Plugin, PluginLoadError> =>
  importModule(specifier, baseDir).pipe(
    Effect.flatMap((mod) => {
      const candidate =
        typeof mod === "object" && mod !== null && "default" in mod ? (mod as { default: unknown }).default : mod
      return isPlugin(candidate)
        ? checkPlugin(specifier, candidate)
        : Effect.fail(
            new PluginLoadError({
              specifier,
              reason: "its default export is not a plugin (export default definePlugin({ name, version, stages }))"
            })
          )
    })
  )

/** Builds a registry from plugins already in hand (the core plugin is added first). */
export const fromPlugins = (loaded: ReadonlyArray<LoadedPlugin>): Effect.Effect<Registry, PluginLoadError> =>
  Effect.gen(function* () {
    const all: Array<LoadedPlugin> = []
    const seen = new Map<string, LoadedPlugin>()
    const add = (lp: LoadedPlugin): Effect.Effect<void, PluginLoadError> =>
      Effect.gen(function* () {
        const prev = seen.get(lp.plugin.name)
        if (prev !== undefined) {
          if (prev.plugin === lp.plugin || prev.plugin.version === lp.plugin.version) return
          return yield* new PluginLoadError({
            specifier: lp.specifier,
            reason: `plugin name "${lp.plugin.name}" is already taken by ${prev.specifier} (${prev.plugin.version})`
          })
        }
        seen.set(lp.plugin.name, lp)
        for (const dep of lp.plugin.dependencies ?? []) yield* add({ plugin: dep, specifier: `${lp.specifier} → ${dep.name}` })
        all.push(lp)
      })
    yield* add({ plugin: CorePlugin.plugin, specifier: "builtin" })
    for (const lp of loaded) yield* add(lp)
    const stages = new Map<string, AnyStage>()
    const sources = new Map<string, AnySource>()
    const sinks = new Map<string, AnySink>()
    const sections = new Map<
      string,
      {
        plugin: string
        schema: NonNullable<Plugin["sections"]>[string]
        fingerprint?: NonNullable<Plugin["fingerprint"]>[string] | undefined
      }
    >()
    for (const { plugin } of all) {
      for (const s of plugin.stages) stages.set(s.id, s)
      for (const s of plugin.sources ?? []) sources.set(s.type, s)
      for (const s of plugin.sinks ?? []) sinks.set(s.type, s)
      for (const [k, schema] of Object.entries(plugin.sections ?? {})) sections.set(k, { plugin: plugin.name, schema, fingerprint: plugin.fingerprint?.[k] })
    }
    return { plugins: all, stages, sources, sinks, sections }
  })

/** Loads the plugins a pipeline file lists (relative paths resolve against `baseDir`). */
export const load = (specifiers: ReadonlyArray<string>, baseDir: string): Effect.Effect<Registry, PluginLoadError> =>
  Effect.forEach(specifiers, (specifier) =>
    loadPlugin(specifier, baseDir).pipe(Effect.map((plugin) => ({ plugin, specifier })))
  ).pipe(Effect.flatMap(fromPlugins))

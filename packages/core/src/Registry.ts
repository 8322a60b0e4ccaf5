/**
 * The plugin registry: loads plugins by npm specifier or relative path (a local `.ts` plugin
 * loads without a build step, through tsx) and indexes their stages, sources, sinks,
 * pipeline-file sections and profilers. The `core` plugin is always present.
 */
import { Effect } from "effect"
import { existsSync, readdirSync, realpathSync } from "node:fs"
import { createRequire } from "node:module"
import { basename, dirname, isAbsolute, join, resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as CorePlugin from "./internal/corePlugin.js"
import { didYouMean, errorText, PluginLoadError } from "./Errors.js"
import { isPlugin, type Plugin } from "./Plugin.js"
import { type AnyProfiler, coreKeys } from "./internal/profile.js"
import { type AnySink, withOptions } from "./Sink.js"
import type { AnySource } from "./Source.js"
import type { AnyStage } from "./Stage.js"

/** A loaded plugin and where it came from. */
export interface LoadedPlugin {
  readonly plugin: Plugin
  /** The specifier as written in the pipeline file, or `builtin`. */
  readonly specifier: string
  /** For a plugin a sink option implied ({@link loadImplied}): the module URL it was loaded from. */
  readonly url?: string | undefined
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
  /** The profilers of every plugin, in load order (their keys are distinct). */
  readonly profilers: ReadonlyArray<AnyProfiler>
}

const isPathSpecifier = (s: string): boolean =>
  s.startsWith("./") || s.startsWith("../") || isAbsolute(s) || s.startsWith("file:")

const safeList = (dir: string): ReadonlyArray<string> => {
  try {
    return readdirSync(dir)
  } catch {
    return []
  }
}

/**
 * Names of the plugin packages installed where a pipeline in `baseDir` (or synthline itself)
 * resolves packages: `@synthline/plugin-*`, `synthline-plugin-*`, `@scope/synthline-plugin-*`.
 */
const installedPlugins = (baseDir: string): ReadonlyArray<string> => {
  const names = new Set<string>()
  for (const start of [baseDir, dirname(fileURLToPath(import.meta.url))]) {
    for (let dir = resolve(start); ; dir = dirname(dir)) {
      const nm = join(dir, "node_modules")
      for (const entry of safeList(nm)) {
        if (entry.startsWith("@")) {
          for (const sub of safeList(join(nm, entry))) if (/^(plugin-|provider-|synthline-plugin-)/.test(sub)) names.add(`${entry}/${sub}`)
        } else if (entry.startsWith("synthline-plugin-")) names.add(entry)
      }
      if (dirname(dir) === dir) break
    }
  }
  return [...names].sort()
}

/** Why a plugin cannot be imported, in words without synthline's own file paths. */
const notFound = (specifier: string, baseDir: string, e: unknown): string | undefined => {
  const code = typeof e === "object" && e !== null && "code" in e ? e.code : undefined
  const message = errorText(e)
  if (code !== "ERR_MODULE_NOT_FOUND" || !message.includes(`'${specifier}'`)) return undefined
  return `no installed package is named ${specifier}${didYouMean(specifier, installedPlugins(baseDir))} (install it next to the pipeline file, or give a relative path to a local plugin)`
}

let tsxHooks: Promise<void> | undefined

/**
 * Lets this thread's `import()` load TypeScript files: tsx's module hooks, registered once (and
 * not when the process already runs under tsx). A plugin file is then imported like any module,
 * so it shares the one copy of effect and @synthline/core already loaded — tsx's scoped
 * `tsImport` would load a second copy of both (slow to start, and errors of the plugin's copy
 * are other classes than the runner's).
 */
const typeScriptImports = (): Promise<void> => {
  const underTsx = [...process.execArgv, process.env.NODE_OPTIONS ?? ""].some((a) => /\btsx\b/.test(a))
  tsxHooks ??= underTsx ? Promise.resolve() : import("tsx/esm/api").then(({ register }) => void register())
  return tsxHooks
}

const importModule = (specifier: string, baseDir: string): Effect.Effect<unknown, PluginLoadError> =>
  Effect.tryPromise({
    try: async () => {
      if (isPathSpecifier(specifier)) {
        const file = specifier.startsWith("file:") ? new URL(specifier).pathname : resolve(baseDir, specifier)
        if (!existsSync(file)) {
          const near = didYouMean(basename(file), safeList(dirname(file)))
          throw new Error(`no such file ${file}${near}`)
        }
        if (/\.[cm]?tsx?$/.test(file)) {
          await typeScriptImports()
          return await import(pathToFileURL(file).href)
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
          const missing = notFound(specifier, baseDir, e)
          throw missing !== undefined ? new Error(missing) : e
        }
      }
    },
    catch: (e) => new PluginLoadError({ specifier, reason: errorText(e).split("\n")[0]! })
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
    const profilers = new Map<string, { readonly profiler: AnyProfiler; readonly lp: LoadedPlugin }>()
    for (const lp of all) {
      for (const p of lp.plugin.profilers ?? []) {
        const prev = profilers.get(p.key)
        if (coreKeys.has(p.key) || (prev !== undefined && prev.profiler !== p)) {
          return yield* new PluginLoadError({
            specifier: lp.specifier,
            reason: `profiler key "${p.key}" is already taken by ${prev === undefined ? "core's profile" : prev.lp.specifier}`
          })
        }
        profilers.set(p.key, { profiler: p, lp })
      }
    }
    for (const { plugin } of all) {
      for (const s of plugin.stages) stages.set(s.id, s)
      for (const s of plugin.sources ?? []) sources.set(s.type, s)
      for (const s of plugin.sinks ?? []) sinks.set(s.type, s)
      for (const [k, schema] of Object.entries(plugin.sections ?? {})) sections.set(k, { plugin: plugin.name, schema, fingerprint: plugin.fingerprint?.[k] })
    }
    // Sink options (`encrypt`, ...) join every sink that writes its parts through an encoder.
    const sinkOptions = all.flatMap(({ plugin }) => plugin.sinkOptions ?? [])
    for (const [type, s] of sinks) sinks.set(type, withOptions(s, sinkOptions))
    return { plugins: all, stages, sources, sinks, sections, profilers: [...profilers.values()].map((p) => p.profiler) }
  })

/**
 * Sink options defined by synthline's own optional packages, and the package of each: a
 * pipeline file that uses one loads that package without listing it under `plugins:`. Names
 * only; the package itself defines the option.
 */
export const optionPackages: ReadonlyMap<string, string> = new Map([
  ["encrypt", "@synthline/release"],
  ["source_key_from", "@synthline/release"]
])

/** The installed package `specifier` as the program running (the CLI that depends on it) resolves it, if it does. */
const fromProgram = (specifier: string): string | undefined => {
  const main = process.argv[1]
  if (main === undefined || !existsSync(main)) return undefined
  try {
    return createRequire(realpathSync(main)).resolve(specifier)
  } catch {
    return undefined
  }
}

/**
 * Loads a package a pipeline file implies through {@link optionPackages}: resolved from the
 * program running (the CLI depends on it), else as any plugin (from core, then from the
 * pipeline's folder).
 */
export const loadImplied = (
  specifier: string,
  baseDir: string,
  /** Where another thread of this run found it (a worker thread's program is core's worker). */
  known?: string | undefined
): Effect.Effect<LoadedPlugin, PluginLoadError> => {
  const file = fromProgram(specifier)
  const url = known ?? (file === undefined ? undefined : pathToFileURL(file).href)
  const implied = (plugin: Plugin, from: string | undefined): LoadedPlugin => ({ plugin, specifier: `${specifier} (implied)`, url: from })
  const plain = Effect.map(loadPlugin(specifier, baseDir), (plugin) => implied(plugin, undefined))
  return url === undefined ? plain : Effect.orElse(Effect.map(loadPlugin(url, baseDir), (plugin) => implied(plugin, url)), () => plain)
}

/** The module URLs of the implied plugins of a registry that were found from the program, by package (for worker threads). */
export const impliedUrls = (registry: Registry): { readonly [specifier: string]: string } =>
  Object.fromEntries(
    registry.plugins.flatMap((p) => (p.url !== undefined && p.plugin.packageName !== undefined ? [[p.plugin.packageName, p.url]] : []))
  )

/** Loads the plugins a pipeline file lists (relative paths resolve against `baseDir`). */
export const load = (specifiers: ReadonlyArray<string>, baseDir: string): Effect.Effect<Registry, PluginLoadError> =>
  Effect.forEach(specifiers, (specifier) =>
    loadPlugin(specifier, baseDir).pipe(Effect.map((plugin) => ({ plugin, specifier })))
  ).pipe(Effect.flatMap(fromPlugins))

/**
 * The services (`Plugin.layer`) a run's stages need, built for the plugins whose stages are
 * used: by the runner, and by each worker thread for the stages it makes.
 */
import { Context, Effect, Layer, type Scope } from "effect"
import type { RunError } from "../../Errors.js"
import type { StageUse } from "../../Pipeline.js"
import { type Plugin, RunContext, type RunContextShape } from "../../Plugin.js"
import type { Registry } from "../../Registry.js"

/** Every plugin that owns a used stage, and the plugins those depend on. */
export const neededPlugins = (registry: Registry, stages: ReadonlyArray<StageUse>): ReadonlyArray<Plugin> => {
  const byName = new Map(registry.plugins.map(({ plugin }) => [plugin.name, plugin]))
  const needed = new Set<Plugin>()
  const need = (plugin: Plugin | undefined): void => {
    if (plugin === undefined || needed.has(plugin)) return
    needed.add(plugin)
    for (const dep of plugin.dependencies ?? []) need(byName.get(dep.name) ?? dep)
  }
  for (const use of stages) need(byName.get(use.stage.id.slice(0, use.stage.id.indexOf("/"))))
  return [...needed]
}

/**
 * Builds the services (`Plugin.layer`) of every plugin that owns a used stage, and of the
 * plugins those depend on, into the run's scope.
 */
export const pluginServices = (
  registry: Registry,
  stages: ReadonlyArray<StageUse>,
  run: RunContextShape
): Effect.Effect<Context.Context<never>, RunError, Scope.Scope> => {
  const layers = neededPlugins(registry, stages).flatMap((p) => (p.layer !== undefined ? [p.layer] : []))
  if (layers.length === 0) return Effect.succeed(Context.empty())
  const merged = Layer.mergeAll(layers[0]!, ...layers.slice(1)).pipe(
    Layer.provide(Layer.succeed(RunContext, { ...run, plugins: registry.plugins.map((p) => p.plugin) }))
  )
  return Layer.build(merged)
}


/**
 * What a run gives the services plugins contribute (`Plugin.layer`): the decoded top-level
 * sections of the pipeline file, its folder and seed, a folder for durable state, and a usage
 * registry whose counters end up in the manifest's `model_usage` and survive a resume.
 */
import { Context, Layer } from "effect"
import type { Plugin } from "./Plugin.js"

/** Counters a service reports into the manifest, committed with every work unit. */
export interface UsageRegistry {
  /**
   * Registers `report` under `key` (a model name, say); its result becomes
   * `manifest.model_usage[key]`. Returns what the last committed work unit of an interrupted
   * run recorded under that key, so counters continue from it; `undefined` on a fresh run.
   */
  readonly register: (key: string, report: () => unknown) => unknown
}

/** The run a plugin's services are built for. */
export interface RunContextShape {
  /** Decoded top-level sections of the pipeline file (`models`, `cache`, ...); absent ones are missing. */
  readonly sections: { readonly [key: string]: unknown }
  /** Folder of the pipeline file: relative paths in sections resolve against it. */
  readonly baseDir: string
  /** The pipeline seed. */
  readonly seed: number
  /** Folder for this shard's durable state, or `undefined` outside a run (tests). */
  readonly stateDir: string | undefined
  readonly usage: UsageRegistry
  /** Prints a warning through the run's progress reporter (a model's endpoint cooling down, say); absent outside a run. */
  readonly warn?: ((message: string) => void) | undefined
  /**
   * Replaces the run's secrets by `<redacted>` in a text (see `Secrets`): for what a service
   * writes itself (names of endpoints in state files, say); absent outside a run.
   */
  readonly scrub?: ((text: string) => string) | undefined
  /** Every plugin loaded for the run (what they contribute besides stages: model providers, say); absent outside a run. */
  readonly plugins?: ReadonlyArray<Plugin> | undefined
}

/** The run a plugin's services are built for. */
export class RunContext extends Context.Tag("@synthline/core/RunContext")<RunContext, RunContextShape>() {}

/** A usage registry that keeps what is registered, for the runner and for tests. */
export interface CollectingUsage extends UsageRegistry {
  /** Every registered key with its current report. */
  readonly snapshot: () => { [key: string]: unknown }
}

/** Makes a usage registry; `recovered` holds the counters of an interrupted run, by key. */
export const collectingUsage = (recovered: { readonly [key: string]: unknown } = {}): CollectingUsage => {
  const reports = new Map<string, () => unknown>()
  return {
    register: (key, report) => {
      reports.set(key, report)
      return recovered[key]
    },
    snapshot: () => Object.fromEntries([...reports].map(([k, r]) => [k, r()]))
  }
}

/** A RunContext for tests and library use outside the runner. */
export const layer = (
  options: {
    readonly sections?: { readonly [key: string]: unknown }
    readonly baseDir?: string
    readonly seed?: number
    readonly stateDir?: string
    readonly usage?: UsageRegistry
    readonly plugins?: ReadonlyArray<Plugin>
  } = {}
): Layer.Layer<RunContext> =>
  Layer.succeed(RunContext, {
    sections: options.sections ?? {},
    baseDir: options.baseDir ?? process.cwd(),
    seed: options.seed ?? 0,
    stateDir: options.stateDir,
    usage: options.usage ?? collectingUsage(),
    plugins: options.plugins
  })

/**
 * Plugins: a package or a local `.ts`/`.js` file whose default export is
 * `definePlugin({ name, version, stages, sources?, sinks?, sections?, profilers? })`. Stage ids are
 * `<plugin name>/<stage name>`. A plugin may contribute top-level pipeline-file sections
 * (with their own Schema), profilers of the rows written (manifest `profile` and dataset card)
 * and depend on other plugins it brings in by itself. The services a plugin contributes are built
 * for a {@link RunContext}: the run's sections, folder, seed, state folder and usage counters.
 */
import { Context, Layer, type Schema } from "effect"
import type { RunError } from "./Errors.js"
import type { AnyProfiler } from "./internal/profile.js"
import type { AnySink, AnySinkOption } from "./Sink.js"
import type { AnySource } from "./Source.js"
import type { AnyStage } from "./Stage.js"

export {
  /**
   * Starts a plugin's own worker thread from the module `name` next to the caller
   * (`moduleWorker(import.meta.url, "signWorker", { workerData })`): the built `.js`, or from
   * TypeScript sources the `.ts` through tsx.
   */
  moduleWorker
} from "./internal/exec/spawn.js"

/** A plugin. */
export interface Plugin {
  /** Short name used in stage ids (`core`, `moderation`, `acme`). */
  readonly name: string
  readonly version: string
  /** The npm package name, when published (for the manifest). */
  readonly packageName?: string
  readonly stages: ReadonlyArray<AnyStage>
  readonly sources?: ReadonlyArray<AnySource>
  readonly sinks?: ReadonlyArray<AnySink>
  /**
   * Options this plugin adds to every sink that accepts part encoders (`encrypt`, say): see
   * {@link AnySinkOption}. A pipeline file that uses one loads the plugin that defines it.
   */
  readonly sinkOptions?: ReadonlyArray<AnySinkOption>
  /** Top-level pipeline-file sections this plugin owns, each with its Schema. */
  // biome-ignore lint/suspicious/noExplicitAny: sections are any decoded JSON
  readonly sections?: { readonly [key: string]: Schema.Schema<any, any> }
  /**
   * What each of this plugin's sections contributes to the pipeline fingerprint (default: the
   * whole decoded section). Leave out what does not change the output (endpoints, keys, limits)
   * so a run resumes when only those change.
   */
  // biome-ignore lint/suspicious/noExplicitAny: sections are any decoded JSON
  readonly fingerprint?: { readonly [key: string]: (decoded: any) => unknown }
  /**
   * Services this plugin's stages need (a model client, say), built once per run from the
   * {@link RunContext} and provided to every stage's `make`. Built only when the pipeline uses
   * a stage of this plugin or of a plugin that depends on it.
   */
  // biome-ignore lint/suspicious/noExplicitAny: a plugin may provide any services
  readonly layer?: Layer.Layer<any, RunError, RunContext>
  /**
   * What this plugin counts in the rows each sink receives: each profiler's state goes into the
   * manifest's `profile` under its key, and its sections into the dataset card.
   */
  readonly profilers?: ReadonlyArray<AnyProfiler>
  /**
   * Model providers this plugin contributes (`provider:` names in the `models` section of
   * @synthline/llm, which defines their shape and gives them to the run's model client).
   */
  readonly providers?: ReadonlyArray<PluginProvider>
  /** Plugins this one needs; loaded with it. */
  readonly dependencies?: ReadonlyArray<Plugin>
}

/** A model provider a plugin contributes; @synthline/llm's `Provider.define` makes them. */
export interface PluginProvider {
  /** The name pipeline files use as `provider:`. */
  readonly name: string
}

/**
 * Defines a plugin; the identity function, there for inference. The loader checks that every
 * stage id starts with `<name>/`.
 */
export const definePlugin = <P extends Plugin>(plugin: P): P => plugin

/** True for values that look like a plugin (what a plugin module's default export must be). */
export const isPlugin = (u: unknown): u is Plugin =>
  typeof u === "object" &&
  u !== null &&
  typeof (u as { name?: unknown }).name === "string" &&
  typeof (u as { version?: unknown }).version === "string" &&
  Array.isArray((u as { stages?: unknown }).stages)

// ---------------------------------------------------------------------------------------------
// What a run gives the services plugins contribute (`layer`): the decoded top-level sections of
// the pipeline file, its folder and seed, a folder for durable state, and a usage registry whose
// counters end up in the manifest's `model_usage` and survive a resume.

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

/** A {@link RunContext} for tests and library use outside the runner. */
export const runContextLayer = (
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

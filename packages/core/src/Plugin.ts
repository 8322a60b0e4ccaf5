/**
 * Plugins: a package or a local `.ts`/`.js` file whose default export is
 * `definePlugin({ name, version, stages, sources?, sinks?, sections?, profilers? })`. Stage ids are
 * `<plugin name>/<stage name>`. A plugin may contribute top-level pipeline-file sections
 * (with their own Schema), profilers of the rows written (manifest `profile` and dataset card)
 * and depend on other plugins it brings in by itself.
 */
import type { Layer, Schema } from "effect"
import type { RunError } from "./Errors.js"
import type { AnyProfiler } from "./Profile.js"
import type { RunContext } from "./RunContext.js"
import type { AnySink, AnySinkOption } from "./Sink.js"
import type { AnySource } from "./Source.js"
import type { AnyStage } from "./Stage.js"

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

/**
 * Stages: a stage definition has an id (`plugin/name`), a config Schema, the fields it
 * `requires` and `provides`, and `make(config, ctx)`, which may acquire resources in a Scope
 * and returns a transformation of the row stream. Per-row stages are built with
 * {@link mapChunks} so they work on whole chunks without one Effect per row.
 */
import type { Effect, Schema, Scope, Stream } from "effect"
import type { StageError } from "./Errors.js"
import type { Row } from "./Row.js"
import type { AnySource } from "./Source.js"

/** Deterministic randomness: every choice derives from `(seed, stage id, conversation_id, index)`, so reruns, resumes and shards agree. */
export * as Random from "./internal/random.js"

/**
 * Row-wise stages with request-level admission, the scheduling every model stage shares (through
 * `@synthline/llm`'s `ModelStage`): outcomes (`Reject`, `Drop`), model `Gate`s, `transform` and `fuse`.
 */
export * as Rowwise from "./internal/rowwise.js"

export { doc, make, mapChunks, NoConfig, type OptionDoc } from "./internal/stage.js"

/**
 * The built-in `core` stages, typed for code pipelines (`Pipeline.through(Stage.core.select, { languages: ["English"] })`):
 * `select`, `firstTurn`, `dedup`, `limit`, `sample`, `fields`, and `all` as the `core` plugin registers them.
 */
export * as core from "./stages/core.js"

/** An append-only, durable log a stateful stage keeps so it can resume exactly. */
export interface Journal {
  /** Entries written by earlier, completed work units of this run (replay them in `make`). */
  readonly recovered: ReadonlyArray<string>
  /** Appends one entry; it becomes durable when the current work unit commits. */
  readonly append: (entry: string) => void
}

/** What the runner gives a stage when it is made. All callbacks are synchronous and cheap. */
export interface StageContext {
  /** The stage instance id, e.g. `core/dedup` or `core/dedup#2` when used twice. */
  readonly stageId: string
  /** The pipeline seed. */
  readonly seed: number
  /** Folder of the pipeline file: relative paths in options resolve against it. */
  readonly baseDir: string
  /** Drops a row with a reason (counted in stats; sent to the `route` branch when one is set). */
  readonly drop: (row: Row, reason: string) => void
  /** Sends a row the stage cannot process to the rejects sink with the error. */
  readonly reject: (row: Row, error: string) => void
  /**
   * Adds `n` (default 1) to this stage's counter `name` (the stage's `counts` in stats and the
   * manifest, e.g. values redacted by type), for the work unit `row` belongs to; absent outside a run.
   */
  readonly count?: ((row: Row, name: string, n?: number) => void) | undefined
  /** This stage's durable state journal. */
  readonly journal: Journal
  /**
   * Says how far a long step of the stage's own has come, before or between units (a first pass
   * over the whole dataset, say), as a short line (`indexing: units 12/102 · 120,000 rows`);
   * `done` marks the step's last line, which is always shown. Reporters throttle the others.
   * Absent outside a run and in worker threads.
   */
  readonly progress?: ((message: string, done?: boolean) => void) | undefined
  /**
   * The pipeline's source with its decoded config (the whole input, before sharding), for a stage
   * that reads the dataset itself (a first pass); absent outside a pipeline run.
   */
  readonly source?: { readonly def: AnySource; readonly config: unknown } | undefined
  /**
   * Asks the stage's {@link Central} decider (stages that declare one): one request per chunk,
   * answered in unit order whichever thread processes the chunk's unit.
   */
  readonly decide?: ((request: unknown) => Effect.Effect<unknown, StageError>) | undefined
}

/**
 * The decisions of a stateful stage, taken by the runner in unit order (so the stage can run
 * in worker threads: the rows stay there, only requests and answers travel). The stage's
 * transform computes a small request per chunk (hashes, a row count), calls
 * {@link StageContext.decide} once for that chunk, and applies the answer. Requests and answers
 * must be structured-cloneable (plain data, typed arrays).
 */
export interface Central<Config = unknown, Request = unknown, Response = unknown> {
  /** The decision state, rebuilt from the journal entries of committed units. */
  readonly open: (config: Config, recovered: ReadonlyArray<string>, stageId: string) => Effect.Effect<Decider<Request, Response>, StageError>
  /**
   * `true` when an answer depends only on its request and on the state `open` built, never on
   * earlier requests (lookups in an index built before any unit, as `dedup/near-dedup`'s): the
   * requests are then answered as they come, in any order, and in worker threads the stage gets
   * a unit's rows chunk by chunk instead of the whole unit as one chunk, so the unit's rows are
   * not all held at once. Such a decider must not journal.
   */
  readonly independent?: boolean
}

/** A stateful stage's decision state (see {@link Central}). */
export interface Decider<Request, Response> {
  /** Decides one chunk's request; `journal` appends an entry that becomes durable with the unit. Throws on a bad request. */
  readonly decide: (request: Request, journal: (entry: string) => void) => Response
}

/** A stream transformation made by a stage. */
export type Transform<In extends Row, Out extends Row> = (
  rows: Stream.Stream<In, StageError>
) => Stream.Stream<Out, StageError>

/** A stage definition. `In`/`Out` type the rows for code pipelines; pipeline files use `Row`. */
export interface Stage<
  Config = unknown,
  In extends Row = Row,
  Out extends Row = Row,
  R = never,
  // biome-ignore lint/suspicious/noExplicitAny: the encoded side of a config Schema is any JSON
  ConfigInput = any
> {
  readonly id: string
  readonly description: string
  /** Decodes the options written in a pipeline file (`ConfigInput`) into the stage's `Config`. */
  readonly config: Schema.Schema<Config, ConfigInput>
  /** Dotted field paths the stage reads (may depend on the config); `synthline plan` checks them against earlier `provides`. */
  readonly requires: ReadonlyArray<string> | ((config: Config) => ReadonlyArray<string>)
  /** Field names the stage adds or rewrites. May depend on the config. */
  readonly provides: ReadonlyArray<string> | ((config: Config) => ReadonlyArray<string>)
  /** Fields the stage removes, given its config (e.g. `core/fields`). */
  readonly removes?: (config: Config) => ReadonlyArray<string>
  /**
   * Fields the stage reads when a row has them, besides `requires` (`synthline plan` does not
   * check them). Declaring it, even as `[]`, says that `requires` and `reads` name every field
   * the stage reads: only then may a pipeline that narrows its rows (see {@link keeps}) leave
   * the source columns no stage names unread. A stage without it makes the runner read every
   * column for the stages before it.
   */
  readonly reads?: ReadonlyArray<string> | ((config: Config) => ReadonlyArray<string>)
  /**
   * The only input fields whose values can reach the stage's output rows, given its config, or
   * `undefined` when any can (`core/fields` with `keep`). After such a stage the pipeline needs
   * no other source column, which lets a columnar source skip them.
   */
  readonly keeps?: (config: Config) => ReadonlyArray<string> | undefined
  readonly make: (config: Config, ctx: StageContext) => Effect.Effect<Transform<In, Out>, StageError, Scope.Scope | R>
  /** Whether the stage keeps state across rows (journaled; the runner never shards it silently). */
  readonly stateful?: boolean
  /**
   * Where a stateful stage's state lives when its rows are processed in worker threads: a
   * stateful stage with `central` runs in workers, one without runs the whole pipeline in the
   * runner's thread.
   */
  // biome-ignore lint/suspicious/noExplicitAny: requests and answers are the stage's own
  readonly central?: Central<Config, any, any>
  /**
   * Schemas of the fields the stage provides, by field name (may depend on the config). Dataset
   * cards derive their `features` from them; fields without one are inferred from the rows.
   */
  readonly fields?: FieldSchemas | ((config: Config) => FieldSchemas)
}

/** Schemas of row fields by top-level field name. */
export type FieldSchemas = { readonly [name: string]: Schema.Schema.Any }

/** Any stage, as held in plugin registries. */
// biome-ignore lint/suspicious/noExplicitAny: registries hold stages of every config type
export type AnyStage = Stage<any, any, any, any, any>

/** The fields a stage requires under a given config. */
export const requiredFields = (stage: AnyStage, config: unknown): ReadonlyArray<string> =>
  typeof stage.requires === "function" ? stage.requires(config) : stage.requires

/** The fields a stage reads besides `requires` when rows have them, or `undefined` when it does not say. */
export const readFields = (stage: AnyStage, config: unknown): ReadonlyArray<string> | undefined =>
  stage.reads === undefined ? undefined : typeof stage.reads === "function" ? stage.reads(config) : stage.reads

/** The fields a stage provides under a given config. */
export const providedFields = (stage: AnyStage, config: unknown): ReadonlyArray<string> =>
  typeof stage.provides === "function" ? stage.provides(config) : stage.provides

/** The field Schemas a stage declares under a given config. */
export const fieldSchemas = (stage: AnyStage, config: unknown): FieldSchemas =>
  stage.fields === undefined ? {} : typeof stage.fields === "function" ? stage.fields(config) : stage.fields


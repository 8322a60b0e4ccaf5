/**
 * Test helpers for stage authors (and synthline's own tests): decode a stage's options the way
 * a pipeline file is decoded, run a stage over rows in memory with a context that records every
 * drop, reject and journal entry, and replay a run in parts as a resumed run would. Plain
 * functions returning data, so they work with any test framework.
 */
import { Effect, type ParseResult, Schema, type Scope, Stream } from "effect"
import type { StageError } from "./Errors.js"
import type { Row } from "./Row.js"
import * as Central from "./internal/exec/central.js"
import type { Stage, StageContext } from "./Stage.js"

/** Options of {@link runStage} and {@link recordingContext}. */
export interface RunStageOptions {
  /** Pipeline seed (default 0). */
  readonly seed?: number
  /** Journal entries recovered from earlier work units (default none). */
  readonly journal?: ReadonlyArray<string>
  /** Stage instance id (default the stage's id). */
  readonly stageId?: string
  /** Folder relative paths resolve against (default the working directory). */
  readonly baseDir?: string
  /** Rows per chunk fed to the stage (default: chunks of up to 4096 rows, as `Stream.fromIterable`). */
  readonly chunkSize?: number
  /** The pipeline source the stage sees in {@link StageContext.source} (default none). */
  readonly source?: StageContext["source"]
}

/** A dropped row and its reason. */
export interface Dropped {
  readonly row: Row
  readonly reason: string
}

/** A rejected row and its error. */
export interface Rejected {
  readonly row: Row
  readonly error: string
}

/** What a stage did with the rows it was given. */
export interface StageRunResult<Out extends Row = Row> {
  /** Rows the stage emitted, in order. */
  readonly rows: Array<Out>
  /** Rows dropped, in order, with their reasons. */
  readonly dropped: Array<Dropped>
  /** Rows rejected, in order, with their errors. */
  readonly rejected: Array<Rejected>
  /** Journal entries the stage appended (not including recovered ones). */
  readonly journal: Array<string>
  /** Number of dropped rows per reason. */
  readonly droppedByReason: { [reason: string]: number }
  /** The stage's own counters (`count`), e.g. `redacted:EMAIL`. */
  readonly counts: { [name: string]: number }
}

/** A {@link StageContext} that records what the stage reports, and the records. */
export interface RecordingContext {
  readonly context: StageContext
  readonly dropped: Array<Dropped>
  readonly rejected: Array<Rejected>
  /** Entries appended to the journal. */
  readonly journal: Array<string>
  readonly droppedByReason: { [reason: string]: number }
  readonly counts: { [name: string]: number }
}

/** Makes a stage context that records drops, rejects and journal appends in memory. */
export const recordingContext = (stageId: string, options: RunStageOptions = {}): RecordingContext => {
  const dropped: Array<Dropped> = []
  const rejected: Array<Rejected> = []
  const journal: Array<string> = []
  const droppedByReason: { [reason: string]: number } = {}
  const counts: { [name: string]: number } = {}
  const context: StageContext = {
    stageId: options.stageId ?? stageId,
    seed: options.seed ?? 0,
    baseDir: options.baseDir ?? process.cwd(),
    drop: (row, reason) => {
      dropped.push({ row, reason })
      droppedByReason[reason] = (droppedByReason[reason] ?? 0) + 1
    },
    reject: (row, error) => {
      rejected.push({ row, error })
    },
    count: (_row, name, n = 1) => {
      counts[name] = (counts[name] ?? 0) + n
    },
    journal: {
      recovered: [...(options.journal ?? [])],
      append: (entry) => {
        journal.push(entry)
      }
    },
    source: options.source
  }
  return { context, dropped, rejected, journal, droppedByReason, counts }
}

/**
 * Decodes a stage's options as a pipeline file's are: defaults filled in, unknown keys
 * rejected, every problem reported in the error's `message`.
 */
export const decodeConfig = <Config, In extends Row, Out extends Row, R, ConfigInput>(
  stage: Stage<Config, In, Out, R, ConfigInput>,
  input: unknown
): Effect.Effect<Config, ParseResult.ParseError> =>
  Schema.decodeUnknown(stage.config, { onExcessProperty: "error", errors: "all" })(input)

/**
 * Runs a stage over rows: decodes `config` (the options as written in a pipeline file), makes
 * the stage in a Scope with a {@link recordingContext}, and collects what comes out.
 */
export const runStage = <Config, In extends Row, Out extends Row, R, ConfigInput>(
  stage: Stage<Config, In, Out, R, ConfigInput>,
  config: ConfigInput,
  rows: Iterable<In>,
  options: RunStageOptions = {}
): Effect.Effect<StageRunResult<Out>, StageError | ParseResult.ParseError, Exclude<R, Scope.Scope>> =>
  Effect.scoped(
    Effect.gen(function* () {
      const decoded = yield* decodeConfig(stage, config)
      const recorder = recordingContext(stage.id, options)
      const { stageId, journal } = recorder.context
      // A stage with run-wide decisions gets them answered here, in row order, as in a run.
      const decider = stage.central === undefined ? undefined : yield* stage.central.open(decoded, journal.recovered, stageId)
      const context =
        decider === undefined
          ? recorder.context
          : { ...recorder.context, decide: Central.localDecide(decider, stageId, (entry) => void recorder.journal.push(entry)) }
      const transform = yield* stage.make(decoded, context)
      const input = Stream.fromIterable(rows)
      const chunked = options.chunkSize === undefined ? input : input.pipe(Stream.rechunk(options.chunkSize))
      const out = yield* Stream.runCollect(transform(chunked))
      return {
        rows: Array.from(out),
        dropped: recorder.dropped,
        rejected: recorder.rejected,
        journal: recorder.journal,
        droppedByReason: recorder.droppedByReason,
        counts: recorder.counts
      }
    })
  )

/**
 * Runs a stage over consecutive parts of the input the way a resumed run does: each part
 * gets a fresh stage instance that recovers the journal entries the earlier parts appended.
 * The combined result of a stateful stage must equal one {@link runStage} over all rows.
 */
export const runInParts = <Config, In extends Row, Out extends Row, R, ConfigInput>(
  stage: Stage<Config, In, Out, R, ConfigInput>,
  config: ConfigInput,
  parts: Iterable<Iterable<In>>,
  options: RunStageOptions = {}
): Effect.Effect<StageRunResult<Out>, StageError | ParseResult.ParseError, Exclude<R, Scope.Scope>> =>
  Effect.gen(function* () {
    const recovered = [...(options.journal ?? [])]
    const total: StageRunResult<Out> = { rows: [], dropped: [], rejected: [], journal: [], droppedByReason: {}, counts: {} }
    for (const part of parts) {
      const r = yield* runStage(stage, config, part, { ...options, journal: recovered })
      total.rows.push(...r.rows)
      total.dropped.push(...r.dropped)
      total.rejected.push(...r.rejected)
      total.journal.push(...r.journal)
      for (const [name, n] of Object.entries(r.counts)) total.counts[name] = (total.counts[name] ?? 0) + n
      recovered.push(...r.journal)
      for (const [reason, n] of Object.entries(r.droppedByReason)) {
        total.droppedByReason[reason] = (total.droppedByReason[reason] ?? 0) + n
      }
    }
    return total
  })

/** Splits rows at the given indices: `splitAt(rows, 3, 7)` gives rows [0,3), [3,7), [7,n). */
export const splitAt = <A>(rows: ReadonlyArray<A>, ...indices: ReadonlyArray<number>): Array<Array<A>> => {
  const parts: Array<Array<A>> = []
  let start = 0
  for (const i of indices) {
    parts.push(rows.slice(start, i))
    start = i
  }
  parts.push(rows.slice(start))
  return parts
}

/** Row counts of a run: emitted, dropped, rejected. */
export interface Counts {
  readonly rows: number
  readonly dropped: number
  readonly rejected: number
}

/** The row counts of a run, for one-line assertions. */
export const counts = (result: StageRunResult<Row>): Counts => ({
  rows: result.rows.length,
  dropped: result.dropped.length,
  rejected: result.rejected.length
})

/** What {@link assertStats} checks; every key is optional and only the given ones are compared. */
export interface ExpectedStats {
  /** Rows emitted. */
  readonly rows?: number
  /** Dropped rows per reason, exactly (reasons not listed must not occur). */
  readonly dropped?: { readonly [reason: string]: number }
  /** Rejected rows: their number, or one pattern per reject in order (a string must occur in the error). */
  readonly rejected?: number | ReadonlyArray<string | RegExp>
}

/**
 * Checks a run's emitted, dropped-by-reason and rejected rows in one call, and throws an Error
 * listing every difference (so it works in any test framework):
 * `assertStats(result, { rows: 2, dropped: { short: 1 }, rejected: ["not a string"] })`.
 */
export const assertStats = (result: StageRunResult<Row>, expected: ExpectedStats): void => {
  const problems: Array<string> = []
  if (expected.rows !== undefined && result.rows.length !== expected.rows) {
    problems.push(`rows: expected ${expected.rows}, got ${result.rows.length}`)
  }
  if (expected.dropped !== undefined) {
    const reasons = new Set([...Object.keys(expected.dropped), ...Object.keys(result.droppedByReason)])
    for (const reason of [...reasons].sort()) {
      const want = expected.dropped[reason] ?? 0
      const got = result.droppedByReason[reason] ?? 0
      if (want !== got) problems.push(`dropped ${JSON.stringify(reason)}: expected ${want}, got ${got}`)
    }
  }
  if (expected.rejected !== undefined) {
    const errors = result.rejected.map((r) => r.error)
    if (typeof expected.rejected === "number") {
      if (errors.length !== expected.rejected) {
        problems.push(`rejected: expected ${expected.rejected}, got ${errors.length}${errors.length > 0 ? ` (${errors.map((e) => JSON.stringify(e)).join(", ")})` : ""}`)
      }
    } else {
      if (errors.length !== expected.rejected.length) {
        problems.push(`rejected: expected ${expected.rejected.length}, got ${errors.length}`)
      }
      expected.rejected.forEach((pattern, i) => {
        const error = errors[i]
        const ok = error !== undefined && (typeof pattern === "string" ? error.includes(pattern) : pattern.test(error))
        if (!ok) problems.push(`rejected[${i}]: expected an error matching ${String(typeof pattern === "string" ? JSON.stringify(pattern) : pattern)}, got ${error === undefined ? "none" : JSON.stringify(error)}`)
      })
    }
  }
  if (problems.length > 0) throw new Error(`stage run differs from the expected stats:\n  ${problems.join("\n  ")}`)
}

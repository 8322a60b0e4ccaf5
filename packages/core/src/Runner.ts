/**
 * The runner: source → units → stages → outlets → commit, with reading, stage work and writing
 * overlapping and memory bounded. After every unit it commits all sinks, stage journals and
 * cumulative stats into a completion marker under `<sink>/_state/`, so a rerun after `kill -9`
 * resumes and the output equals an uninterrupted run byte for byte. Every run writes
 * `manifest.json` into the sink folder. While it runs, it holds a lock file (`_state/run.lock`,
 * one per shard), so a second process into the same folder refuses.
 *
 * This module is the sequence of steps; each step lives in `internal/run/`: `checkpoint`
 * (markers, run.json, journals, the resume decision), `outlets` (main sink, rejects, routes,
 * drops), `stages` (stage contexts), `executor` (the unit loop, in this thread or in worker
 * threads), `commit` (units in order), `finish` (files, manifest and dataset-card observers).
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Effect, Either, type Scope } from "effect"
import { RunError, type SinkError, type SourceError, type StageError } from "./Errors.js"
import * as Lock from "./internal/io/lock.js"
import { Footers, makeFooters } from "./internal/io/parquetRead.js"
import { pluginServices } from "./internal/exec/services.js"
import * as Checkpoint from "./internal/run/checkpoint.js"
import * as Commit from "./internal/run/commit.js"
import * as Executor from "./internal/run/executor.js"
import * as Finish from "./internal/run/finish.js"
import * as Outlets from "./internal/run/outlets.js"
import { Pending, snapshot } from "./internal/run/pending.js"
import * as Stages from "./internal/run/stages.js"
import { emptyStats, type RunStats } from "./internal/run/stats.js"
import type * as Manifest from "./Manifest.js"
import type { ResolvedPipeline } from "./Pipeline.js"
import * as Progress from "./Progress.js"
import { type CollectingUsage, collectingUsage } from "./Plugin.js"
import * as Secrets from "./internal/secrets.js"
import * as Shard from "./Shard.js"
import type { WorkUnit } from "./Source.js"

export type { LostUnit, RejectRecord, RunStats, StageStats } from "./internal/run/stats.js"
export {
  /** What counts against `--max-errors`: every rejected row, and every row lost with an unreadable unit. */
  errorCount,
  /** Rows lost in all (`null` when some lost unit's size is unknown), and where, in words. */
  lostSummary
} from "./internal/run/stats.js"
export {
  /** How many worker threads a run uses, and a warning when workers were asked for and cannot be used. */
  workerPlan
} from "./internal/run/executor.js"
export {
  /**
   * The old-generation cap, in MB, the runner gives each of its worker threads for these units
   * (a base plus room for the largest unit's rows; undefined when a unit's size is unknown): for
   * a plugin that runs worker threads of its own and sizes them alike.
   */
  heapMbFor as workerHeapMbFor
} from "./internal/exec/pool.js"

/** Options of a run. */
export interface RunOptions {
  readonly shard?: Shard.Shard | undefined
  /** Start over: forget completion markers and previous output of this shard. */
  readonly fresh?: boolean | undefined
  /** Rejected rows tolerated; past it the run stops after the current unit with exit code 1. Default 0. */
  readonly maxErrors?: number | undefined
  readonly reporter?: Progress.Reporter | undefined
  /**
   * Bound in bytes of each model-stage reorder buffer (rows in flight or waiting for their turn
   * to leave in input order); default `Rowwise.defaultBufferBytes`.
   */
  readonly bufferBytes?: number | undefined
  /**
   * Worker threads that process whole work units (read, stages, encoding of the main sink's
   * bytes) while this thread commits them in unit order. A number asks for that many (and
   * warns when the pipeline must run in one thread); `auto` takes one per core when the run
   * has 2+ units and (when the source knows) 50,000+ rows left, and runs in one thread, quietly,
   * when the pipeline cannot use workers or the run is too small to repay their start.
   * Default 1: everything in the caller's thread.
   */
  readonly workers?: number | "auto" | undefined
}

/** What a run did. */
export interface RunResult {
  readonly status: "complete" | "already-complete"
  readonly manifestPath: string
  readonly manifest: Manifest.Manifest
}

/** The state folder of a shard inside the sink folder. */
export const stateDir = (sinkDir: string, shard: Shard.Shard): string =>
  `${sinkDir}/_state/${shard.count === 1 ? "run" : Shard.prefix(shard)}`

/** The lock file a run of a shard holds in the sink folder while it runs (`_state/run.lock` unsharded). */
export const lockFile = (sinkDir: string, shard: Shard.Shard): string => `${stateDir(sinkDir, shard)}.lock`

/** The manifest file of a shard inside the sink folder. */
export const manifestFile = (sinkDir: string, shard: Shard.Shard): string =>
  shard.count === 1 ? `${sinkDir}/manifest.json` : `${sinkDir}/manifest-${Shard.prefix(shard).slice(5)}.json`

/** A live run of a shard in a sink folder: who holds its lock (`pid@host`; `null` when its lock file holds no readable record). */
export interface LiveRun {
  readonly holder: string | null
}

/** The live run of a shard in the sink folder (one holding its lock), `undefined` when none runs it. */
export const liveRun = (sinkDir: string, shard: Shard.Shard): Effect.Effect<LiveRun | undefined> =>
  Effect.map(Lock.liveLocks(`${sinkDir}/_state`, (name) => `${sinkDir}/_state/${name}` === lockFile(sinkDir, shard)), (held) => {
    const first = held[0]
    return first === undefined ? undefined : { holder: first.holder === undefined ? null : `${first.holder.pid}@${first.holder.host}` }
  })

/** Runs a resolved pipeline. */
export const run = (
  pipeline: ResolvedPipeline,
  options: RunOptions = {}
): Effect.Effect<RunResult, RunError | SinkError | SourceError | StageError, FileSystem.FileSystem | Path.Path> => {
  // No secret leaves in a manifest, reject, marker, card, progress event or error message.
  const scrub = Secrets.ofPipeline(pipeline)
  const reporter = options.reporter ?? Progress.silent
  return Effect.scoped(
    runScoped(pipeline, { ...options, reporter: { report: (e) => reporter.report(scrub.event(e)) } }, scrub)
  ).pipe(
    // The parquet footers this run parses are its own, dropped when it ends.
    Effect.provideServiceEffect(Footers, Effect.sync(() => makeFooters())),
    Effect.mapError(scrub.error)
  )
}

/** What a run knows once it holds its lock and has planned its units. */
interface Setup {
  readonly pipeline: ResolvedPipeline
  readonly scrub: Secrets.Scrubber
  readonly shard: Shard.Shard
  readonly reporter: Progress.Reporter
  readonly started: number
  readonly sinkDir: string
  readonly state: string
  readonly manifestPath: string
  readonly units: ReadonlyArray<WorkUnit>
  readonly unitIds: ReadonlyArray<string>
}

type RunFailure = RunError | SinkError | SourceError | StageError

const runScoped = (
  pipeline: ResolvedPipeline,
  options: RunOptions,
  scrub: Secrets.Scrubber
): Effect.Effect<RunResult, RunFailure, FileSystem.FileSystem | Path.Path | Scope.Scope> =>
  Effect.gen(function* () {
    const setup = yield* prepare(pipeline, options, scrub)
    const decision = yield* Checkpoint.open({
      fs: yield* FileSystem.FileSystem,
      state: setup.state,
      manifestPath: setup.manifestPath,
      sinkDir: setup.sinkDir,
      fingerprint: pipeline.fingerprint,
      unitIds: setup.unitIds,
      fresh: options.fresh === true,
      scrub
    })
    if (decision._tag === "AlreadyComplete") return alreadyComplete(setup, decision.manifest)
    const { checkpoint } = decision
    yield* Finish.removeStaleCards(pipeline, setup.sinkDir)
    const stats = checkpoint.marker?.stats ?? emptyStats(pipeline.stages, [...pipeline.branches.keys()])
    announce(setup, checkpoint)
    const outlets = yield* Outlets.open(pipeline, {
      sinkDir: setup.sinkDir,
      prefix: Shard.prefix(setup.shard),
      marker: checkpoint.marker,
      stats,
      scrub
    })
    // Plugin services (a model client, say), built for the plugins whose stages are used.
    const usage = collectingUsage(checkpoint.marker?.usage ?? {})
    const services = yield* pluginServices(pipeline.registry, pipeline.stages, {
      sections: pipeline.sections,
      baseDir: pipeline.baseDir,
      seed: pipeline.seed,
      stateDir: setup.state,
      usage,
      warn: (message: string) => setup.reporter.report({ type: "warning", message }),
      scrub: scrub.text
    })
    const pending = new Pending(pipeline.stages.length, checkpoint.unitsDone)
    const stages = yield* Stages.make(pipeline, checkpoint, pending, setup.unitIds, services, setup.reporter)
    const progress = progressOf(setup, stats, pending)
    const committer = Commit.make({ ...setup, stats, pending, outlets, checkpoint, usage, snapshot: progress, maxErrors: options.maxErrors ?? 0 })
    yield* Executor.execute({
      ...setup,
      unitsDone: checkpoint.unitsDone,
      stages,
      pending,
      committer,
      snapshot: progress,
      workers: options.workers,
      bufferBytes: options.bufferBytes
    })
    return yield* finish(setup, { outlets, stats, stopped: committer.stopped(), resumed: checkpoint.marker !== undefined, usage, progress })
  })

/** Takes the shard's lock in the sink folder and plans the shard's work units. */
const prepare = (pipeline: ResolvedPipeline, options: RunOptions, scrub: Secrets.Scrubber) =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const shard = options.shard ?? Shard.whole
    const reporter = options.reporter ?? Progress.silent
    const started = Date.now()
    const sinkDir = path.resolve(pipeline.baseDir, pipeline.sink.config.path)
    // One process at a time writes a shard of this sink folder (and none while a merge writes it).
    yield* Lock.acquire(lockFile(sinkDir, shard), "synthline run", sinkDir, (message) =>
      reporter.report({ type: "warning", message })
    )
    yield* Lock.refuseIfHeld(yield* Lock.liveLocks(`${sinkDir}/_state`, (name) => name === "merge.lock"), sinkDir)
    const units = Shard.select(yield* pipeline.source.def.plan(pipeline.source.config, { baseDir: pipeline.baseDir }), shard)
    const setup: Setup = {
      pipeline,
      scrub,
      shard,
      reporter,
      started,
      sinkDir,
      state: stateDir(sinkDir, shard),
      manifestPath: manifestFile(sinkDir, shard),
      units,
      unitIds: units.map((u) => u.id)
    }
    return setup
  })

/** The answer when this pipeline's manifest says the run is complete: nothing to do. */
const alreadyComplete = (setup: Setup, manifest: Manifest.Manifest): RunResult => {
  const units = setup.units.length
  setup.reporter.report({
    type: "finish",
    status: "already-complete",
    snapshot: {
      unitsDone: units,
      units,
      rowsRead: manifest.source.rows_read,
      rowsWritten: manifest.outputs.main.rows,
      rejected: manifest.rejects.count,
      elapsedMs: 0,
      stages: []
    },
    manifest: setup.manifestPath,
    output: setup.sinkDir
  })
  return { status: "already-complete", manifestPath: setup.manifestPath, manifest }
}

/** Reports the start, and warns that each shard keeps its own state in stateful stages. */
const announce = (setup: Setup, checkpoint: Checkpoint.Checkpoint): void => {
  const { pipeline, shard, reporter } = setup
  reporter.report({
    type: "start",
    name: pipeline.name,
    units: setup.units.length,
    unitsDone: checkpoint.unitsDone,
    resumed: checkpoint.marker !== undefined,
    shard: shard.count === 1 ? "unsharded" : `shard ${shard.index}/${shard.count}`,
    fingerprint: pipeline.fingerprint
  })
  if (shard.count === 1) return
  for (const s of pipeline.stages) {
    if (s.stage.stateful !== true) continue
    reporter.report({
      type: "warning",
      message: `${s.instanceId} keeps state across rows; in a sharded run each shard keeps its own (e.g. dedup finds duplicates within a shard only)`
    })
  }
}

/** The progress snapshot of the run: committed stats plus the units in flight. */
const progressOf = (setup: Setup, stats: RunStats, pending: Pending): (() => Progress.Snapshot) => {
  const rowsTotal = setup.units.every((u) => u.rows !== undefined)
    ? setup.units.reduce((n, u) => n + (u.rows ?? 0), 0)
    : undefined
  const run = {
    units: setup.units.length,
    rowsTotal,
    started: setup.started,
    // Made after the stages: a stage's first pass over the dataset does not slow the rate down.
    unitsStarted: Date.now(),
    routes: setup.pipeline.stages.map((s) => s.route),
    sinkWhere: setup.pipeline.sinkSelection?.where?.text,
    // Rows/s and ETA count only what this run does, not the units a resumed run skips.
    before: { rowsRead: stats.rows_read, unitsDone: stats.units_done }
  }
  return () => snapshot(stats, pending, run)
}

/** Completes the files, writes the dataset cards and the manifest, and reports the end. */
const finish = (
  setup: Setup,
  run: {
    readonly outlets: Outlets.Outlets
    readonly stats: RunStats
    readonly stopped: string | undefined
    readonly resumed: boolean
    readonly usage: CollectingUsage
    readonly progress: () => Progress.Snapshot
  }
) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const done = yield* Finish.finish(run.outlets, {
      ...setup,
      stopped: run.stopped,
      resumed: run.resumed,
      unitsTotal: setup.units.length,
      stats: run.stats,
      modelUsage: () => run.usage.snapshot(),
      observers: [Finish.datasetCards(path), Finish.manifestFile(fs)]
    })
    const branches = Object.entries(done.manifest.outputs.branches).map(([name, b]) => ({
      name,
      path: path.resolve(setup.pipeline.baseDir, b.path),
      rows: b.rows
    }))
    setup.reporter.report({
      type: "finish",
      status: done.status,
      snapshot: run.progress(),
      manifest: setup.manifestPath,
      output: setup.sinkDir,
      ...(branches.length > 0 ? { branches } : {})
    })
    if (run.stopped !== undefined) return yield* new RunError({ reason: run.stopped, exitCode: 1 })
    const result: RunResult = { status: "complete", manifestPath: setup.manifestPath, manifest: done.manifest }
    return result
  })

/** Resolves the shard from a `--shard` value or the environment. */
export const resolveShard = (
  flag: string | undefined,
  env: { readonly [key: string]: string | undefined }
): Either.Either<Shard.Shard, string> =>
  flag !== undefined
    ? Shard.parse(flag)
    : Either.map(Shard.fromEnv(env), (s) => s ?? Shard.whole)

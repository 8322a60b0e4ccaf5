/**
 * The runner: source → stages → sink as one Effect stream per work unit, with reading, stage
 * work and writing overlapping and memory bounded. After every unit it commits all sinks,
 * stage journals and cumulative stats into a completion marker under `<sink>/_state/`, so a
 * rerun after `kill -9` resumes and the output equals an uninterrupted run byte for byte.
 * Every run writes `manifest.json` into the sink folder. While it runs, it holds a lock file
 * (`_state/run.lock`, one per shard), so a second process into the same folder refuses.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { availableParallelism } from "node:os"
import * as Path from "@effect/platform/Path"
import { Chunk, Effect, Either, Option, Schema, type Scope, Stream } from "effect"
import { RunError, SinkError, type SourceError, type StageError } from "./Errors.js"
import * as DatasetCard from "./DatasetCard.js"
import * as Lock from "./internal/io/lock.js"
import * as Central from "./internal/exec/central.js"
import { emptyDelta, type LostUnit, sourceReject, type UnitDelta } from "./internal/exec/delta.js"
import * as Pool from "./internal/exec/pool.js"
import { pluginServices } from "./internal/exec/services.js"
import type { UnitDone } from "./internal/exec/protocol.js"
import * as Manifest from "./Manifest.js"
import type { ResolvedPipeline, StageUse } from "./Pipeline.js"
import * as Profile from "./Profile.js"
import * as Progress from "./Progress.js"
import * as Release from "./Release.js"
import * as RunContext from "./RunContext.js"
import * as Secrets from "./Secrets.js"
import { origin, type Row, unitOf, withUnit } from "./Row.js"
import * as Rowwise from "./Rowwise.js"
import * as Shard from "./Shard.js"
import type { OutputFile, SinkCheckpoint, SinkWriter } from "./Sink.js"
import * as Sinks from "./Sinks.js"
import type { SourceReject } from "./Source.js"
import type { Decider, StageContext, Transform } from "./Stage.js"

export type { LostUnit, RejectRecord } from "./internal/exec/delta.js"

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
   * has units enough and runs in one thread, quietly, when the pipeline cannot use workers.
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

/** The cumulative per-stage counters stored in markers and manifests. */
export interface StageStats {
  readonly id: string
  readonly use: string
  rows_in: number
  rows_out: number
  dropped: { [reason: string]: number }
  routed: number
  rejected: number
}

/** Cumulative counters of a run (deterministic: equal for a resumed and an uninterrupted run). */
export interface RunStats {
  units_done: number
  rows_read: number
  source_rejected: number
  rows_written: number
  branch_rows: { [branch: string]: number }
  rejected: number
  stages: Array<StageStats>
  /** What the rows written to the main sink and to each branch look like (for dataset cards). */
  profiles: { main: Profile.Profile; branches: { [branch: string]: Profile.Profile } }
  /** Units (or parts) the source could not read, with the rows lost in each (absent in markers of older runs). */
  lost?: Array<LostUnit>
}


/**
 * What counts against `--max-errors`: every rejected row, and every row lost with a unit that
 * could not be read (a lost unit is one reject record but all its rows); `Infinity` when a unit
 * of unknown size was lost.
 */
export const errorCount = (stats: Pick<RunStats, "rejected" | "lost">): number => {
  let n = stats.rejected
  for (const l of stats.lost ?? []) n += (l.rows ?? Number.POSITIVE_INFINITY) - 1
  return n
}

/** Rows lost in all (`null` when some lost unit's size is unknown), and where, in words. */
export const lostSummary = (lost: ReadonlyArray<LostUnit>): { readonly rows: number | null; readonly where: string } => {
  let rows: number | null = 0
  for (const l of lost) rows = rows === null || l.rows === null ? null : rows + l.rows
  const place = (l: LostUnit): string =>
    l.row_group === undefined ? l.file : `${l.file} row group ${l.row_group} (rows ${l.row_start}-${l.row_end})`
  const shown = lost.slice(0, 3).map(place).join(", ")
  return { rows, where: lost.length > 3 ? `${shown} and ${lost.length - 3} more` : shown }
}

interface Marker {
  readonly version: 1
  readonly seq: number
  readonly unit: string
  readonly stats: RunStats
  readonly sinks: {
    readonly main: SinkCheckpoint
    readonly rejects: SinkCheckpoint
    readonly branches: { readonly [name: string]: SinkCheckpoint }
  }
  readonly journals: { readonly [instanceId: string]: number }
  /** Cumulative `model_usage` at this commit. */
  readonly usage?: { readonly [key: string]: unknown }
}

interface RunState {
  readonly fingerprint: string
  readonly units: ReadonlyArray<string>
}

const pad = (n: number): string => String(n).padStart(6, "0")

const runError = (reason: string, exitCode: 1 | 2 = 1): RunError => new RunError({ reason, exitCode })

const fsError =
  (what: string) =>
  (e: { readonly message: string }): RunError =>
    runError(`${what}: ${e.message}`)

/** The state folder of a shard inside the sink folder. */
export const stateDir = (sinkDir: string, shard: Shard.Shard): string =>
  `${sinkDir}/_state/${shard.count === 1 ? "run" : Shard.prefix(shard)}`

/** The lock file a run of a shard holds in the sink folder while it runs (`_state/run.lock` unsharded). */
export const lockFile = (sinkDir: string, shard: Shard.Shard): string => `${stateDir(sinkDir, shard)}.lock`

/** The manifest file of a shard inside the sink folder. */
export const manifestFile = (sinkDir: string, shard: Shard.Shard): string =>
  shard.count === 1 ? `${sinkDir}/manifest.json` : `${sinkDir}/manifest-${Shard.prefix(shard).slice(5)}.json`

const emptyStats = (stages: ReadonlyArray<StageUse>, branches: ReadonlyArray<string>): RunStats => ({
  units_done: 0,
  rows_read: 0,
  source_rejected: 0,
  rows_written: 0,
  branch_rows: Object.fromEntries([...branches].map((b) => [b, 0])),
  rejected: 0,
  lost: [],
  profiles: { main: Profile.empty(), branches: Object.fromEntries([...branches].map((b) => [b, Profile.empty()])) },
  stages: stages.map((s) => ({
    id: s.instanceId,
    use: s.stage.id,
    rows_in: 0,
    rows_out: 0,
    dropped: {},
    routed: 0,
    rejected: 0
  }))
})

/** Adds a committed unit's counters to the run's. */
const mergeDelta = (stats: RunStats, d: UnitDelta): void => {
  stats.rows_read += d.rows_read
  stats.source_rejected += d.source_rejected
  stats.rows_written += d.rows_written
  stats.rejected += d.rejected
  if (d.lost.length > 0) stats.lost = [...(stats.lost ?? []), ...d.lost]
  for (const [i, st] of d.stages.entries()) {
    const to = stats.stages[i]!
    to.rows_in += st.rows_in
    to.rows_out += st.rows_out
    to.routed += st.routed
    to.rejected += st.rejected
    for (const [reason, n] of Object.entries(st.dropped)) to.dropped[reason] = (to.dropped[reason] ?? 0) + n
  }
}

/** Splits chunks that hold rows of several units, so a stateful stage sees one unit per chunk. */
const splitByUnit = <E, R>(stream: Stream.Stream<Row, E, R>): Stream.Stream<Row, E, R> =>
  stream.pipe(
    Stream.chunks,
    Stream.mapConcat((c): Array<Chunk.Chunk<Row>> => {
      if (c.length === 0) return []
      const rows = Chunk.toReadonlyArray(c)
      if (unitOf(rows[0]!) === unitOf(rows[rows.length - 1]!)) return [c]
      const out: Array<Chunk.Chunk<Row>> = []
      let start = 0
      let cur = unitOf(rows[0]!)
      for (let k = 1; k < rows.length; k++) {
        const u = unitOf(rows[k]!)
        if (u !== undefined && u !== cur) {
          out.push(Chunk.unsafeFromArray(rows.slice(start, k)))
          start = k
          cur = u
        }
      }
      out.push(Chunk.unsafeFromArray(rows.slice(start)))
      return out
    }),
    Stream.flattenChunks
  )

/** Ends the row stream early when the run must stop (more rejects than --max-errors). */
const stopRun: unique symbol = Symbol("@synthline/core/Runner/stop")


const MAX_REJECT_RAW = 1_000_000

const trimRaw = (raw: unknown): unknown =>
  typeof raw === "string" && raw.length > MAX_REJECT_RAW ? `${raw.slice(0, MAX_REJECT_RAW)}… (truncated)` : raw

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
  ).pipe(Effect.mapError(scrub.error))
}

const runScoped = (
  pipeline: ResolvedPipeline,
  options: RunOptions,
  scrub: Secrets.Scrubber
): Effect.Effect<
  RunResult,
  RunError | SinkError | SourceError | StageError,
  FileSystem.FileSystem | Path.Path | Scope.Scope
> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const shard = options.shard ?? Shard.whole
    const reporter = options.reporter ?? Progress.silent
    const maxErrors = options.maxErrors ?? 0
    const started = Date.now()
    const startedAt = new Date(started).toISOString()

    const sinkDir = path.resolve(pipeline.baseDir, pipeline.sink.config.path)
    const state = stateDir(sinkDir, shard)
    const manifestPath = manifestFile(sinkDir, shard)
    const prefix = Shard.prefix(shard)
    const shardLabel = shard.count === 1 ? "unsharded" : `shard ${shard.index}/${shard.count}`

    // ---- one process at a time writes a shard of this sink folder (and none while a merge writes it)
    yield* Lock.acquire(lockFile(sinkDir, shard), "synthline run", sinkDir, (message) =>
      reporter.report({ type: "warning", message })
    )
    yield* Lock.refuseIfHeld(yield* Lock.liveLocks(`${sinkDir}/_state`, (name) => name === "merge.lock"), sinkDir)

    // ---- plan work units
    const env = { baseDir: pipeline.baseDir }
    const allUnits = yield* pipeline.source.def.plan(pipeline.source.config, env)
    const units = Shard.select(allUnits, shard)
    const unitIds = units.map((u) => u.id)
    const rowsTotal = units.every((u) => u.rows !== undefined)
      ? units.reduce((n, u) => n + (u.rows ?? 0), 0)
      : undefined

    // ---- state: fresh, resume or already complete
    if (options.fresh === true) {
      yield* fs.remove(state, { recursive: true }).pipe(Effect.ignore)
      yield* fs.remove(manifestPath).pipe(Effect.ignore)
    }
    const readJson = (file: string) =>
      fs.readFileString(file).pipe(
        Effect.flatMap((text) =>
          Effect.try({ try: (): unknown => JSON.parse(text), catch: () => runError(`${file} is not valid JSON`) })
        ),
        Effect.option
      )
    const previous = yield* readJson(`${state}/run.json`)
    if (Option.isSome(previous)) {
      const prev = previous.value as RunState
      if (prev.fingerprint !== pipeline.fingerprint) {
        return yield* runError(
          `${sinkDir} holds a run of a different pipeline (fingerprint ${prev.fingerprint.slice(0, 12)}, this one ${pipeline.fingerprint.slice(0, 12)}); use --fresh to start over or choose another sink path`,
          2
        )
      }
      if (JSON.stringify(prev.units) !== JSON.stringify(unitIds)) {
        return yield* runError(
          `the input changed since the interrupted run in ${sinkDir} (different work units); use --fresh to start over`,
          2
        )
      }
      const done = yield* readJson(manifestPath)
      if (Option.isSome(done)) {
        const manifest = done.value as Manifest.Manifest
        if (manifest.fingerprint === pipeline.fingerprint && manifest.status === "complete") {
          reporter.report({
            type: "finish",
            status: "already-complete",
            snapshot: {
              unitsDone: units.length,
              units: units.length,
              rowsRead: manifest.source.rows_read,
              rowsWritten: manifest.outputs.main.rows,
              rejected: manifest.rejects.count,
              elapsedMs: 0,
              stages: []
            },
            manifest: manifestPath,
            output: sinkDir
          })
          return { status: "already-complete" as const, manifestPath, manifest }
        }
      }
    }
    yield* fs.makeDirectory(`${state}/units`, { recursive: true }).pipe(Effect.mapError(fsError(`cannot create ${state}`)))
    yield* fs.remove(manifestPath).pipe(Effect.ignore)

    // The last completion marker, in processing order.
    const markerNames = yield* fs.readDirectory(`${state}/units`).pipe(Effect.orElseSucceed(() => []))
    const lastName = markerNames.filter((n) => /^\d{6}\.json$/.test(n)).sort().pop()
    let marker: Marker | undefined
    if (lastName !== undefined) {
      const m = yield* readJson(`${state}/units/${lastName}`)
      if (Option.isSome(m)) marker = m.value as Marker
      if (marker !== undefined && unitIds[marker.seq] !== marker.unit) {
        return yield* runError(`completion marker ${lastName} does not match the planned units; use --fresh`, 2)
      }
    }
    yield* writeAtomic(fs, `${state}/run.json`, JSON.stringify({ fingerprint: pipeline.fingerprint, units: unitIds }))
    // Markers past the one we resume from cannot exist (they are written in order), but clean anyway.
    for (const n of markerNames) {
      if (n.endsWith(".tmp")) yield* fs.remove(`${state}/units/${n}`).pipe(Effect.ignore)
    }

    const resumed = marker !== undefined
    const stats: RunStats = marker?.stats ?? emptyStats(pipeline.stages, [...pipeline.branches.keys()])
    const unitsDone = marker === undefined ? 0 : marker.seq + 1

    reporter.report({
      type: "start",
      name: pipeline.name,
      units: units.length,
      unitsDone,
      resumed,
      shard: shardLabel,
      fingerprint: pipeline.fingerprint
    })
    if (shard.count > 1) {
      for (const s of pipeline.stages) {
        if (s.stage.stateful === true) {
          reporter.report({
            type: "warning",
            message: `${s.instanceId} keeps state across rows; in a sharded run each shard keeps its own (e.g. dedup finds duplicates within a shard only)`
          })
        }
      }
    }

    // ---- sinks (an encrypting sink asks for the release key of the pipeline's own source, derived once)
    const sourceKey = yield* Effect.cached(
      Release.keyFromSource(pipeline.source.def, pipeline.source.config, pipeline.baseDir).pipe(
        Effect.map((k) => k.passphrase),
        Effect.mapError((e) => new SinkError({ path: sinkDir, reason: `cannot derive the release key from the source: ${e.message}` }))
      )
    )
    const mainWriter = yield* pipeline.sink.def.open(pipeline.sink.config, {
      dir: sinkDir,
      prefix,
      resume: marker?.sinks.main,
      baseDir: pipeline.baseDir,
      sourceKey
    })
    const rejectsConfig = Schema.decodeUnknownSync(Sinks.jsonl.config)({ path: "rejects", compression: "none" })
    const rejectsWriter = yield* Sinks.jsonl.open(rejectsConfig, {
      dir: `${sinkDir}/rejects`,
      prefix,
      resume: marker?.sinks.rejects
    })
    const branchWriters = new Map<string, SinkWriter>()
    for (const [name, b] of pipeline.branches) {
      branchWriters.set(
        name,
        yield* b.def.open(b.config, {
          dir: path.resolve(pipeline.baseDir, b.config.path),
          prefix,
          resume: marker?.sinks.branches[name],
          baseDir: pipeline.baseDir,
          sourceKey
        })
      )
    }

    // ---- profiles of what each sink receives
    const declared = Profile.declaredShapes(pipeline)
    const observeMain = Profile.observer(stats.profiles.main, declared)
    const observeBranch = new Map(
      [...pipeline.branches.keys()].map((name) => {
        stats.profiles.branches[name] ??= Profile.empty()
        return [name, Profile.observer(stats.profiles.branches[name]!, declared)]
      })
    )

    // ---- plugin services (a model client, say), built for the plugins whose stages are used
    const usage = RunContext.collectingUsage(marker?.usage ?? {})
    const services = yield* pluginServices(pipeline.registry, pipeline.stages, {
      sections: pipeline.sections,
      baseDir: pipeline.baseDir,
      seed: pipeline.seed,
      stateDir: state,
      usage,
      warn: (message: string) => reporter.report({ type: "warning", message }),
      scrub: scrub.text
    })

    // ---- what each unit contributes until it commits
    // Units overlap: the source reads unit k+1 while stages still work on unit k's last rows
    // (a model stage keeps its slots full across the boundary). Every row carries its unit, so
    // counters, rejects, routed rows and journal entries are kept per unit and committed in
    // unit order when the sink has seen the last of a unit's rows: a resumed run sees exactly
    // the units it committed, whatever was in flight when it stopped.
    const branchOf = pipeline.stages.map((s) => s.route)
    const deltas = new Map<number, UnitDelta>()
    const deltaOf = (seq: number): UnitDelta => {
      let d = deltas.get(seq)
      if (d === undefined) {
        d = emptyDelta(pipeline.stages.length)
        deltas.set(seq, d)
      }
      return d
    }
    // The unit whose rows a stage received last (for journal entries and untagged rows).
    const stageUnit: Array<number> = pipeline.stages.map(() => unitsDone)
    const unitAt = (row: Row, i: number): number => unitOf(row) ?? stageUnit[i]!

    const transforms: Array<Transform<Row, Row>> = []
    const deciders = new Map<number, Decider<unknown, unknown>>()
    for (const [i, use] of pipeline.stages.entries()) {
      const file = `${state}/journal-${pad(i)}.log`
      const recovered = yield* recoverJournal(fs, file, marker?.journals[use.instanceId] ?? 0)
      const decider = use.stage.central === undefined ? undefined : yield* use.stage.central.open(use.config, recovered, use.instanceId)
      if (decider !== undefined) deciders.set(i, decider)
      const ctx: StageContext = {
        stageId: use.instanceId,
        seed: pipeline.seed,
        baseDir: pipeline.baseDir,
        drop: (row, reason) => {
          const d = deltaOf(unitAt(row, i))
          const st = d.stages[i]!
          if (branchOf[i] !== undefined) {
            st.routed++
            d.routes[i]!.push(row)
          } else {
            st.dropped[reason] = (st.dropped[reason] ?? 0) + 1
          }
        },
        reject: (row, error) => {
          const seq = unitAt(row, i)
          const d = deltaOf(seq)
          d.stages[i]!.rejected++
          d.rejected++
          d.rejects[i + 1]!.push({ stage: use.instanceId, error, source: origin(row) ?? null, unit: units[seq]?.id ?? "", row })
        },
        journal: { recovered, append: (entry) => void deltaOf(stageUnit[i]!).journals[i]!.push(entry) },
        source: pipeline.source,
        decide: decider === undefined ? undefined : Central.localDecide(decider, use.instanceId, (entry) => void deltaOf(stageUnit[i]!).journals[i]!.push(entry))
      }
      transforms.push(yield* use.stage.make(use.config, ctx).pipe(Effect.provide(services)))
    }
    const journalBytes = new Map<string, number>(pipeline.stages.map((use) => [use.instanceId, marker?.journals[use.instanceId] ?? 0]))

    // ---- progress
    const snapshot = (): Progress.Snapshot => {
      let rowsRead = stats.rows_read
      let rowsWritten = stats.rows_written
      let rejected = stats.rejected
      const lost = [...(stats.lost ?? [])]
      const stages = stats.stages.map((s) => ({ id: s.id, rowsIn: s.rows_in, rowsOut: s.rows_out }))
      for (const d of deltas.values()) {
        rowsRead += d.rows_read
        rowsWritten += d.rows_written
        rejected += d.rejected
        lost.push(...d.lost)
        for (const [i, st] of d.stages.entries()) {
          stages[i]!.rowsIn += st.rows_in
          stages[i]!.rowsOut += st.rows_out
        }
      }
      return {
        unitsDone: stats.units_done,
        units: units.length,
        rowsRead,
        rowsTotal,
        rowsWritten,
        rejected,
        ...(lost.length > 0 ? { lost: lostSummary(lost) } : {}),
        elapsedMs: Date.now() - started,
        stages
      }
    }

    // ---- the row stream: every remaining unit, in order, each row tagged with its unit
    const source: Stream.Stream<Row, SourceError | StageError, FileSystem.FileSystem | Path.Path> = Stream.fromIterable(
      units.slice(unitsDone).map((unit, k) => [unit, unitsDone + k] as const)
    ).pipe(
      Stream.flatMap(
        ([unit, seq]) => {
          const io = { reject: (r: SourceReject) => sourceReject(deltaOf(seq), unit.id, r) }
          return pipeline.source.def.read(unit, pipeline.source.config, io, env).pipe(
            Stream.mapChunks((c) => {
              deltaOf(seq).rows_read += c.length
              for (const row of c) withUnit(row, seq)
              return c
            })
          )
        },
        { concurrency: 1 }
      ),
      Stream.bufferChunks({ capacity: 4 })
    )

    /** Counts a chunk into per-unit counters (rows of one unit come together, in unit order). */
    const countChunk = (c: Chunk.Chunk<Row>, i: number, field: "rows_in" | "rows_out"): void => {
      if (c.length === 0) return
      const first = unitAt(Chunk.unsafeGet(c, 0), i)
      const last = unitAt(Chunk.unsafeGet(c, c.length - 1), i)
      if (first === last) deltaOf(first).stages[i]![field] += c.length
      else for (const row of c) deltaOf(unitAt(row, i)).stages[i]![field]++
      if (field === "rows_in") stageUnit[i] = last
    }

    let stream: Stream.Stream<Row, SourceError | StageError, FileSystem.FileSystem | Path.Path> = source
    for (let i = 0; i < transforms.length; ) {
      // Consecutive row-wise stages (model stages) run fused: a row moves on as soon as it is through one.
      let j = i
      while (j < transforms.length && Rowwise.stepOf(transforms[j]!) !== undefined) j++
      if (j - i >= 2 || (j - i === 1 && options.bufferBytes !== undefined)) {
        const first = i
        const steps = transforms.slice(i, j).map((t) => Rowwise.stepOf(t)!)
        const fused = Rowwise.fuse(steps, {
          bufferBytes: options.bufferBytes,
          observe: (input, stop) => {
            const d = deltaOf(unitAt(input, first))
            for (let k = 0; k < steps.length && k <= stop; k++) {
              const st = d.stages[first + k]!
              st.rows_in++
              if (k < stop) st.rows_out++
            }
          }
        })
        stream = fused(stream as Stream.Stream<Row, StageError>)
        i = j
        continue
      }
      const idx = i
      const stateful = pipeline.stages[idx]!.stage.stateful === true
      const entering = (stateful ? splitByUnit(stream) : stream).pipe(
        Stream.mapChunks((c) => {
          countChunk(c, idx, "rows_in")
          return c
        })
      ) as Stream.Stream<Row, StageError>
      stream = transforms[idx]!(entering).pipe(
        Stream.mapChunks((c) => {
          countChunk(c, idx, "rows_out")
          return c
        })
      )
      i++
    }

    // ---- commits, in unit order
    const commitUnit = (seq: number) =>
      Effect.gen(function* () {
        const d = deltaOf(seq)
        deltas.delete(seq)
        const records = d.rejects.flat()
        if (records.length > 0) {
          yield* rejectsWriter.write(
            Chunk.unsafeFromArray(records.map((r) => ({ ...r, error: scrub.text(r.error), row: scrub.json(trimRaw(r.row)) })))
          )
        }
        for (const [i, rows] of d.routes.entries()) {
          const name = branchOf[i]
          if (name === undefined || rows.length === 0) continue
          const chunk = Chunk.unsafeFromArray(rows)
          stats.branch_rows[name] = (stats.branch_rows[name] ?? 0) + chunk.length
          observeBranch.get(name)?.(chunk)
          yield* branchWriters.get(name)!.write(chunk)
        }
        mergeDelta(stats, d)
        // Commit: sinks, then journals, then the marker that makes the unit done.
        const main = yield* mainWriter.commit
        const rejects = yield* rejectsWriter.commit
        const branches: { [name: string]: SinkCheckpoint } = {}
        for (const [name, w] of branchWriters) branches[name] = yield* w.commit
        const journals: { [id: string]: number } = {}
        for (const [i, use] of pipeline.stages.entries()) {
          const entries = d.journals[i]!
          let bytes = journalBytes.get(use.instanceId) ?? 0
          if (entries.length > 0) {
            bytes += yield* appendDurable(`${state}/journal-${pad(i)}.log`, `${entries.join("\n")}\n`)
            journalBytes.set(use.instanceId, bytes)
          }
          journals[use.instanceId] = bytes
        }
        stats.units_done = seq + 1
        const m: Marker = {
          version: 1,
          seq,
          unit: units[seq]!.id,
          stats,
          sinks: { main, rejects, branches },
          journals,
          usage: scrub.record(usage.snapshot())
        }
        yield* writeAtomic(fs, `${state}/units/${pad(seq)}.json`, scrub.text(JSON.stringify(m)))
        reporter.report({ type: "unit", unit: units[seq]!.id, snapshot: snapshot() })
      })

    let stopped: string | undefined
    let sinkUnit = unitsDone
    /** Commits every unit before `upTo`; false when the run must stop (too many rejects). */
    const commitBefore = (upTo: number) =>
      Effect.gen(function* () {
        for (; sinkUnit < upTo; sinkUnit++) {
          yield* commitUnit(sinkUnit)
          const errors = errorCount(stats)
          if (errors > maxErrors) {
            const lost = lostSummary(stats.lost ?? [])
            stopped =
              lost.rows === null
                ? `rows of unknown number were lost (${lost.where}: the file cannot be read), which --max-errors cannot allow; see ${sinkDir}/rejects/ (repair or remove the file, then rerun)`
                : `${errors} rows rejected${lost.rows > 0 ? ` or lost (${lost.rows} lost with unreadable units: ${lost.where})` : ""}, more than --max-errors ${maxErrors}; see ${sinkDir}/rejects/ (a rerun with a higher --max-errors resumes from here)`
            return false
          }
        }
        return true
      })
    const write = (rows: Array<Row>, seq: number) =>
      Effect.gen(function* () {
        const chunk = Chunk.unsafeFromArray(rows)
        yield* mainWriter.write(chunk)
        deltaOf(seq).rows_written += chunk.length
        observeMain(chunk)
      })
    // ---- worker threads: they process whole units; here their results commit in unit order
    const threads = workerPlan(options.workers, pipeline, transforms, units.length - unitsDone)
    if (threads.warning !== undefined) reporter.report({ type: "warning", message: threads.warning })
    const results =
      threads.workers <= 1
        ? undefined
        : yield* Pool.start({
            workers: threads.workers,
            init: { file: pipeline.file!, fingerprint: pipeline.fingerprint, shard, unitIds },
            first: unitsDone,
            total: units.length,
            coordinator: new Central.Coordinator(deciders, unitsDone, (i, seq, entry) => void deltaOf(seq).journals[i]!.push(entry))
          })
    const writeEncoded = mainWriter.writeEncoded
    const commitResult = (r: UnitDone) =>
      Effect.gen(function* () {
        absorbDelta(deltaOf(r.seq), r.delta)
        if (r.encoded !== undefined) {
          if (writeEncoded === undefined) {
            return yield* runError(`sink ${pipeline.sink.def.type} declares an encoding but cannot append encoded rows`)
          }
          yield* writeEncoded(r.encoded)
        } else if (r.rows !== undefined && r.rows.length > 0) yield* mainWriter.write(Chunk.unsafeFromArray([...r.rows]))
        Profile.absorb(stats.profiles.main, r.profile)
        if (!(yield* commitBefore(r.seq + 1))) return yield* Effect.fail(stopRun)
        reporter.report({ type: "progress", snapshot: snapshot() })
      })
    // (runForEachChunk, not Stream.chunks + runForEachWhile: that pair holds far more rows in memory.)
    const consumeRows = stream.pipe(
      Stream.runForEachChunk((chunk) =>
        Effect.gen(function* () {
          let run: Array<Row> = []
          for (const row of chunk) {
            const seq = unitOf(row) ?? sinkUnit
            if (seq > sinkUnit) {
              if (run.length > 0) yield* write(run, sinkUnit)
              run = []
              if (!(yield* commitBefore(seq))) return yield* Effect.fail(stopRun)
            }
            run.push(row)
          }
          if (run.length > 0) yield* write(run, sinkUnit)
          reporter.report({ type: "progress", snapshot: snapshot() })
        })
      )
    )
    yield* (results === undefined ? consumeRows : Stream.runForEach(results, commitResult)).pipe(
      Effect.catchIf(
        (e): e is typeof stopRun => e === stopRun,
        () => Effect.void
      )
    )
    if (stopped === undefined) yield* commitBefore(units.length)

    // ---- finish
    const finishedAt = new Date().toISOString()
    const mainFiles: ReadonlyArray<OutputFile> = stopped === undefined ? yield* mainWriter.finish : []
    const rejectFiles: ReadonlyArray<OutputFile> = stopped === undefined ? yield* rejectsWriter.finish : []
    const branchFiles: { [name: string]: ReadonlyArray<OutputFile> } = {}
    if (stopped === undefined) for (const [name, w] of branchWriters) branchFiles[name] = yield* w.finish

    const made = Manifest.make({
      pipeline,
      shard,
      status: stopped === undefined ? "complete" : "stopped",
      startedAt,
      finishedAt,
      wallMs: Date.now() - started,
      resumed,
      unitsTotal: units.length,
      stats,
      sinkDir,
      mainFiles,
      rejectFiles,
      branchFiles,
      modelUsage: scrub.record(usage.snapshot())
    })
    const manifestText = `${scrub.text(JSON.stringify(made, null, 2))}\n`
    const manifest: Manifest.Manifest = scrub.secrets.length === 0 ? made : JSON.parse(manifestText)
    // Dataset cards, before the manifest that marks the run complete (a crash in between redoes
    // both): for a whole run now; a sharded run gets them from `synthline merge`.
    if (stopped === undefined && shard.count === 1) {
      yield* DatasetCard.writeAll(manifest, {
        pipelineFile: pipeline.file,
        secrets: scrub.secrets,
        dirs: {
          main: sinkDir,
          branches: Object.fromEntries(
            [...pipeline.branches].map(([name, b]) => [name, path.resolve(pipeline.baseDir, b.config.path)])
          )
        }
      }).pipe(Effect.mapError((e) => runError(e.message)))
    }
    yield* writeAtomic(fs, manifestPath, manifestText)
    reporter.report({
      type: "finish",
      status: stopped === undefined ? "complete" : "stopped",
      snapshot: snapshot(),
      manifest: manifestPath,
      output: sinkDir
    })
    if (stopped !== undefined) return yield* runError(stopped)
    return { status: "complete" as const, manifestPath, manifest }
  })

/** Adds what a worker counted for a unit to the unit's delta (which holds the journal entries its decisions made here). */
const absorbDelta = (into: UnitDelta, d: UnitDelta): void => {
  into.rows_read += d.rows_read
  into.source_rejected += d.source_rejected
  into.rows_written += d.rows_written
  into.rejected += d.rejected
  for (const [i, st] of d.stages.entries()) {
    const to = into.stages[i]!
    to.rows_in += st.rows_in
    to.rows_out += st.rows_out
    to.routed += st.routed
    to.rejected += st.rejected
    for (const [reason, n] of Object.entries(st.dropped)) to.dropped[reason] = (to.dropped[reason] ?? 0) + n
  }
  for (const [i, records] of d.rejects.entries()) into.rejects[i]!.push(...records)
  into.lost.push(...d.lost)
  for (const [i, rows] of d.routes.entries()) into.routes[i]!.push(...rows)
}

/** Units a run should have before worker threads pay for their start (each loads the pipeline). */
const minUnitsForWorkers = 2

/**
 * How many worker threads a run uses, and a warning when workers were asked for and the
 * pipeline must run in one thread: a pipeline composed in code (workers load the file), a
 * stage whose rows wait on calls (model clients share slots and caches in one thread), or a
 * stateful stage without a central decider.
 */
export const workerPlan = (
  requested: number | "auto" | undefined,
  pipeline: ResolvedPipeline,
  transforms: ReadonlyArray<Transform<Row, Row>>,
  unitsLeft: number
): { readonly workers: number; readonly warning?: string | undefined } => {
  if (requested === undefined || requested === 1) return { workers: 1 }
  const why = oneThreadReason(pipeline, transforms)
  if (requested === "auto") {
    if (why !== undefined || unitsLeft < minUnitsForWorkers) return { workers: 1 }
    return { workers: Math.min(availableParallelism(), unitsLeft) }
  }
  if (why !== undefined) return { workers: 1, warning: `--workers ${requested}: running in one thread, because ${why}` }
  return { workers: Math.max(1, Math.min(requested, unitsLeft)) }
}

const oneThreadReason = (pipeline: ResolvedPipeline, transforms: ReadonlyArray<Transform<Row, Row>>): string | undefined => {
  if (pipeline.file === undefined) return "the pipeline was composed in code (worker threads load a pipeline file)"
  const calls = pipeline.stages.find((_, i) => Rowwise.stepOf(transforms[i]!) !== undefined)
  if (calls !== undefined) return `${calls.instanceId} waits on calls (model requests share endpoint slots and the response cache in one thread)`
  const stateful = pipeline.stages.find((s) => s.stage.stateful === true && s.stage.central === undefined)
  if (stateful !== undefined) return `${stateful.instanceId} keeps state across rows without a central decider`
  return undefined
}

/** Writes a file under a temporary name and renames it into place. */
const writeAtomic = (fs: FileSystem.FileSystem, file: string, text: string): Effect.Effect<void, RunError> =>
  Effect.gen(function* () {
    const tmp = `${file}.tmp`
    yield* fs.writeFileString(tmp, text)
    yield* fs.rename(tmp, file)
  }).pipe(Effect.mapError(fsError(`cannot write ${file}`)))

/** Appends text to a file and fsyncs it; returns the bytes appended. */
const appendDurable = (file: string, text: string): Effect.Effect<number, RunError> =>
  Effect.tryPromise({
    try: async () => {
      const { open } = await import("node:fs/promises")
      const bytes = Buffer.from(text, "utf8")
      const handle = await open(file, "a")
      try {
        await handle.write(bytes)
        await handle.sync()
      } finally {
        await handle.close()
      }
      return bytes.length
    },
    catch: (e) => runError(`cannot write ${file}: ${e instanceof Error ? e.message : String(e)}`)
  })

/** Truncates a journal to its committed length and returns its entries. */
const recoverJournal = (
  fs: FileSystem.FileSystem,
  file: string,
  committed: number
): Effect.Effect<ReadonlyArray<string>, RunError> =>
  Effect.gen(function* () {
    if (committed === 0) {
      yield* fs.remove(file).pipe(Effect.ignore)
      return []
    }
    yield* fs.truncate(file, BigInt(committed)).pipe(Effect.mapError(fsError(`cannot recover ${file}`)))
    const text = yield* fs.readFileString(file).pipe(Effect.mapError(fsError(`cannot recover ${file}`)))
    return text.slice(0, -1).split("\n")
  })

/** Resolves the shard from a `--shard` value or the environment. */
export const resolveShard = (
  flag: string | undefined,
  env: { readonly [key: string]: string | undefined }
): Either.Either<Shard.Shard, string> =>
  flag !== undefined
    ? Shard.parse(flag)
    : Either.map(Shard.fromEnv(env), (s) => s ?? Shard.whole)

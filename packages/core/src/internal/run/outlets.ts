/**
 * Outlets: where a committed unit's rows go besides the main sink. Each takes the unit's delta
 * (`write`), then checkpoints (`commit`) and completes its files (`finish`) on its own:
 * - rejects: the unit's reject records (scrubbed, oversized raw rows truncated) to `rejects/`;
 * - routes: the rows each routing stage sent to its branch, to that branch's sink;
 * - outputs: the rows that reach the end of the pipeline, each output's `where:` selection of
 *   them to its sink (written as they come, like the main sink's; counted when the unit commits);
 * - drops: dropped rows go nowhere, what remains of them (counts by stage and reason, with the
 *   unit's other counters) folds into the run's stats.
 * {@link open} opens the main sink and every outlet, resuming each from the checkpoint.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Chunk, Effect, Option, Schema, type Scope } from "effect"
import { RunError, type SinkError } from "../../Errors.js"
import type { ResolvedPipeline } from "../../Pipeline.js"
import * as Profile from "../profile.js"
import type { Row } from "../../Row.js"
import type * as Secrets from "../secrets.js"
import type { OutputFile, SinkCheckpoint, SinkWriter } from "../../Sink.js"
import * as Sinks from "../../io/sinks.js"
import * as Where from "../where.js"
import type { Collected } from "../exec/collect.js"
import type { UnitDelta } from "../exec/delta.js"
import type { Marker } from "./checkpoint.js"
import { mergeDelta, type RunStats } from "./stats.js"

/** Something a committed unit's delta flows into. */
export interface Outlet<C, F> {
  readonly write: (d: UnitDelta) => Effect.Effect<void, SinkError>
  /** Makes what was written durable; its checkpoint goes into the unit's marker. */
  readonly commit: Effect.Effect<C, SinkError>
  /** Completes the files; lists them for the manifest. */
  readonly finish: Effect.Effect<F, SinkError>
}

/** Raw rows longer than this are truncated in reject records. */
const MAX_REJECT_RAW = 1_000_000

const trimRaw = (raw: unknown): unknown =>
  typeof raw === "string" && raw.length > MAX_REJECT_RAW ? `${raw.slice(0, MAX_REJECT_RAW)}… (truncated)` : raw

/** The rejects outlet: source's records first, then each stage's, each in row order. */
export const rejects = (writer: SinkWriter, scrub: Secrets.Scrubber): Outlet<SinkCheckpoint, ReadonlyArray<OutputFile>> => ({
  write: (d) => {
    const records = d.rejects.flat()
    if (records.length === 0) return Effect.void
    return writer.write(
      Chunk.unsafeFromArray(records.map((r) => ({ ...r, error: scrub.text(r.error), row: scrub.json(trimRaw(r.row)) })))
    )
  },
  commit: writer.commit,
  finish: writer.finish
})

/** The routes outlet: each routing stage's rows to its branch (counted and profiled there). */
export const routes = (
  pipeline: ResolvedPipeline,
  writers: ReadonlyMap<string, SinkWriter>,
  stats: RunStats
): Outlet<{ [name: string]: SinkCheckpoint }, { [name: string]: ReadonlyArray<OutputFile> }> => {
  const declared = Profile.profiling(pipeline)
  const observe = new Map(
    [...pipeline.branches.keys()].map((name) => {
      stats.profiles.branches[name] ??= Profile.empty()
      return [name, Profile.observer(stats.profiles.branches[name]!, declared)]
    })
  )
  const branchOf = pipeline.stages.map((s) => s.route)
  return {
    write: (d) =>
      Effect.gen(function* () {
        for (const [i, rows] of d.routes.entries()) {
          const name = branchOf[i]
          if (name === undefined || rows.length === 0) continue
          const chunk = Chunk.unsafeFromArray(rows)
          stats.branch_rows[name] = (stats.branch_rows[name] ?? 0) + chunk.length
          observe.get(name)?.(chunk)
          yield* writers.get(name)!.write(chunk)
        }
      }),
    commit: eachWriter(writers, (w) => w.commit),
    finish: eachWriter(writers, (w) => w.finish)
  }
}

/** `f` of every branch writer, by branch name. */
const eachWriter = <A>(
  writers: ReadonlyMap<string, SinkWriter>,
  f: (w: SinkWriter) => Effect.Effect<A, SinkError>
): Effect.Effect<{ [name: string]: A }, SinkError> =>
  Effect.gen(function* () {
    const out: { [name: string]: A } = {}
    for (const [name, w] of writers) out[name] = yield* f(w)
    return out
  })

/** The outputs at the end of the pipeline: each takes its selection of the main sink's rows. */
export interface Selected {
  /** Writes each output's selection of rows of the unit being committed next. */
  readonly write: (rows: Chunk.Chunk<Row>) => Effect.Effect<void, SinkError>
  /** Appends each output's share of a unit a worker thread processed (the unit being committed next). */
  readonly take: (collected: ReadonlyArray<Collected>) => Effect.Effect<void, RunError | SinkError>
  /** Adds the rows written since the last call to the run's stats (when their unit commits). */
  readonly settle: () => void
}

/** The outputs outlet over the branch writers of the pipeline's outputs (checkpointed with the branches). */
export const outputs = (pipeline: ResolvedPipeline, writers: ReadonlyMap<string, SinkWriter>, stats: RunStats): Selected => {
  const declared = Profile.profiling(pipeline)
  const selected = [...(pipeline.outputs ?? [])].map(([name, o]) => {
    stats.profiles.branches[name] ??= Profile.empty()
    const b = pipeline.branches.get(name)!
    const records = b.def.records?.(b.config)
    return {
      name,
      type: b.def.type,
      where: o.where,
      records,
      writer: writers.get(name)!,
      observe: Profile.observer(stats.profiles.branches[name]!, declared)
    }
  })
  const unsettled = new Map<string, number>()
  return {
    write: (rows) =>
      Effect.gen(function* () {
        for (const s of selected) {
          const where = s.where
          const chunk = where === undefined ? rows : Chunk.filter(rows, (row) => Where.matches(where, row))
          if (chunk.length === 0) continue
          // An export sink counts what it writes (its records), not the rows it is given.
          const records = s.records
          const written = records === undefined ? chunk : Chunk.filterMap(chunk, (row) => recordOf(records, row))
          unsettled.set(s.name, (unsettled.get(s.name) ?? 0) + written.length)
          s.observe(written)
          yield* s.writer.write(chunk)
        }
      }),
    take: (collected) =>
      Effect.gen(function* () {
        for (const [k, s] of selected.entries()) {
          const c = collected[k]!
          yield* writeCollected(s.writer, s.type, c)
          if (c.written > 0) unsettled.set(s.name, (unsettled.get(s.name) ?? 0) + c.written)
          Profile.absorb(stats.profiles.branches[s.name]!, c.profile, pipeline.registry.profilers)
        }
      }),
    settle: () => {
      for (const [name, n] of unsettled) stats.branch_rows[name] = (stats.branch_rows[name] ?? 0) + n
      unsettled.clear()
    }
  }
}

const recordOf = (records: (row: Row) => Row | undefined | string, row: Row): Option.Option<Row> => {
  const r = records(row)
  return r === undefined || typeof r === "string" ? Option.none() : Option.some(r)
}

/** Appends one unit's share of a sink that a worker thread made (bytes, or rows for a sink without an encoding). */
export const writeCollected = (writer: SinkWriter, type: string, c: Collected): Effect.Effect<void, RunError | SinkError> => {
  if (c.encoded !== undefined) {
    if (writer.writeEncoded === undefined) {
      return new RunError({ reason: `sink ${type} declares an encoding but cannot append encoded rows`, exitCode: 1 })
    }
    return writer.writeEncoded(c.encoded)
  }
  if (c.rows === undefined || c.rows.length === 0) return Effect.void
  return writer.write(Chunk.unsafeFromArray([...c.rows]))
}

/** The drops outlet: the unit's counters (drops by stage and reason among them) into the run's stats. */
export const drops = (stats: RunStats): Outlet<void, void> => ({
  write: (d) => Effect.sync(() => mergeDelta(stats, d)),
  commit: Effect.void,
  finish: Effect.void
})

/** The main sink with the profile of what it receives. */
export interface Main {
  readonly writer: SinkWriter
  readonly observe: (rows: Chunk.Chunk<Row>) => void
}

/** Every place a run writes to. */
export interface Outlets {
  readonly main: Main
  readonly rejects: Outlet<SinkCheckpoint, ReadonlyArray<OutputFile>>
  readonly routes: Outlet<{ [name: string]: SinkCheckpoint }, { [name: string]: ReadonlyArray<OutputFile> }>
  readonly outputs: Selected
  readonly drops: Outlet<void, void>
}

/**
 * Opens the main sink, the rejects sink and every branch sink, resuming each from the marker
 * (each sees the pipeline's source, from which a sink option such as `encrypt` derives its key).
 */
export const open = (
  pipeline: ResolvedPipeline,
  at: {
    readonly sinkDir: string
    readonly prefix: string
    readonly marker: Marker | undefined
    readonly stats: RunStats
    readonly scrub: Secrets.Scrubber
  }
): Effect.Effect<Outlets, SinkError, Scope.Scope | FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const { sinkDir, prefix, marker } = at
    // One object for every sink of the run: a sink option derives what it needs from it once.
    const source = { def: pipeline.source.def, config: pipeline.source.config, baseDir: pipeline.baseDir }
    const opened = { prefix, baseDir: pipeline.baseDir, source }
    const main = yield* pipeline.sink.def.open(pipeline.sink.config, { ...opened, dir: sinkDir, resume: marker?.sinks.main })
    const rejectsConfig = Schema.decodeUnknownSync(Sinks.jsonl.config)({ path: "rejects", compression: "none" })
    const rejectsWriter = yield* Sinks.jsonl.open(rejectsConfig, { dir: `${sinkDir}/rejects`, prefix, resume: marker?.sinks.rejects })
    const branches = new Map<string, SinkWriter>()
    for (const [name, b] of pipeline.branches) {
      const dir = path.resolve(pipeline.baseDir, b.config.path)
      branches.set(name, yield* b.def.open(b.config, { ...opened, dir, resume: marker?.sinks.branches[name] }))
    }
    return {
      main: { writer: main, observe: Profile.observer(at.stats.profiles.main, Profile.profiling(pipeline)) },
      rejects: rejects(rejectsWriter, at.scrub),
      routes: routes(pipeline, branches, at.stats),
      outputs: outputs(pipeline, branches, at.stats),
      drops: drops(at.stats)
    }
  })

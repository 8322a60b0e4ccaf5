/**
 * The executor: runs every remaining work unit and hands the results to the committer in unit
 * order. Either in this thread, as one stream over all units (each row tagged with its unit;
 * consecutive row-wise stages fused, stateful stages seeing one unit per chunk, counters kept
 * per unit), or in worker threads (`internal/exec/pool.ts`) that process whole units, with the
 * decisions of stateful stages taken here in unit order.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import { Chunk, Effect, type Scope, Stream } from "effect"
import { availableParallelism } from "node:os"
import type { RunError, SinkError, SourceError, StageError } from "../../Errors.js"
import type { ResolvedPipeline } from "../../Pipeline.js"
import { sourceColumns } from "../columns.js"
import * as Registry from "../../Registry.js"
import type * as Progress from "../../Progress.js"
import { type Row, unitOf, withUnit } from "../../Row.js"
import * as Rowwise from "../rowwise.js"
import type * as Shard from "../../Shard.js"
import type { SourceReject, WorkUnit } from "../../Source.js"
import type { Transform } from "../../Stage.js"
import * as Central from "../exec/central.js"
import { sourceReject } from "../exec/delta.js"
import * as Pool from "../exec/pool.js"
import type { Committer } from "./commit.js"
import type { Pending } from "./pending.js"
import type { Stages } from "./stages.js"

/** What {@link execute} runs. */
export interface ExecuteOptions {
  readonly pipeline: ResolvedPipeline
  readonly shard: Shard.Shard
  readonly units: ReadonlyArray<WorkUnit>
  /** Units committed before this process started. */
  readonly unitsDone: number
  readonly stages: Stages
  readonly pending: Pending
  readonly committer: Committer
  readonly reporter: Progress.Reporter
  readonly snapshot: () => Progress.Snapshot
  readonly workers: number | "auto" | undefined
  readonly bufferBytes: number | undefined
}

type ExecError = RunError | SinkError | SourceError | StageError

/** Ends the row stream early when the run must stop (more rejects than --max-errors). */
const stopRun: unique symbol = Symbol("@synthline/core/Runner/stop")

/** Runs the remaining units and commits all of them (or up to where the committer stops). */
export const execute = (o: ExecuteOptions): Effect.Effect<void, ExecError, FileSystem.FileSystem | Path.Path | Scope.Scope> =>
  Effect.gen(function* () {
    const left = o.units.slice(o.unitsDone)
    const rowsLeft = left.every((u) => u.rows !== undefined) ? left.reduce((n, u) => n + (u.rows ?? 0), 0) : undefined
    const threads = workerPlan(o.workers, o.pipeline, o.stages.transforms, left.length, rowsLeft)
    if (threads.warning !== undefined) o.reporter.report({ type: "warning", message: threads.warning })
    const work = threads.workers <= 1 ? inProcess(o) : yield* pooled(o, threads.workers)
    yield* work.pipe(
      Effect.catchIf(
        (e): e is typeof stopRun => e === stopRun,
        () => Effect.void
      )
    )
    if (o.committer.stopped() === undefined) yield* o.committer.commitBefore(o.units.length)
  })

/** Fails with {@link stopRun} when the committer says the run must stop. */
const orStop = <E>(proceed: Effect.Effect<boolean, E>): Effect.Effect<void, E | typeof stopRun> =>
  Effect.flatMap(proceed, (ok) => (ok ? Effect.void : Effect.fail(stopRun)))

/** Worker threads process whole units; their results commit here in unit order. */
const pooled = (o: ExecuteOptions, workers: number) =>
  Effect.gen(function* () {
    const { pipeline, pending, committer } = o
    const results = yield* Pool.start({
      workers,
      init: { file: pipeline.file!, fingerprint: pipeline.fingerprint, units: o.units, implied: Registry.impliedUrls(pipeline.registry) },
      first: o.unitsDone,
      total: o.units.length,
      heapMb: workerHeapMb(o.units, process.env),
      warn: (message) => o.reporter.report({ type: "warning", message }),
      coordinator: new Central.Coordinator(
        o.stages.deciders,
        o.unitsDone,
        (i, seq, entry) => void pending.of(seq).journals[i]!.push(entry),
        new Set([...o.stages.deciders.keys()].filter((i) => pipeline.stages[i]!.stage.central?.independent === true))
      )
    })
    return Stream.runForEach(results, (r) =>
      Effect.zipRight(
        orStop(committer.unit(r)),
        Effect.sync(() => o.reporter.report({ type: "progress", snapshot: o.snapshot() }))
      )
    )
  })

/**
 * Each worker's heap cap: from the units' size ({@link Pool.heapMbFor}), or
 * `SYNTHLINE_WORKER_HEAP_MB` (0: none) — a test sets a cap small enough to run out of memory.
 */
export const workerHeapMb = (units: ReadonlyArray<WorkUnit>, env: { readonly [key: string]: string | undefined }): number | undefined => {
  const set = env.SYNTHLINE_WORKER_HEAP_MB
  if (set !== undefined && /^[0-9]+$/.test(set)) return Number(set) === 0 ? undefined : Number(set)
  return Pool.heapMbFor(units)
}

/** The whole run as one stream in this thread; rows reach the committer as they leave the last stage. */
const inProcess = (o: ExecuteOptions): Effect.Effect<void, ExecError | typeof stopRun, FileSystem.FileSystem | Path.Path> => {
  const { committer } = o
  // (runForEachChunk, not Stream.chunks + runForEachWhile: that pair holds far more rows in memory.)
  return rowStream(o).pipe(
    Stream.runForEachChunk((chunk) =>
      Effect.gen(function* () {
        let run: Array<Row> = []
        for (const row of chunk) {
          const seq = unitOf(row) ?? committer.next()
          if (seq > committer.next()) {
            if (run.length > 0) yield* committer.rows(run, committer.next())
            run = []
            yield* orStop(committer.commitBefore(seq))
          }
          run.push(row)
        }
        if (run.length > 0) yield* committer.rows(run, committer.next())
        o.reporter.report({ type: "progress", snapshot: o.snapshot() })
      })
    )
  )
}

type Rows = Stream.Stream<Row, SourceError | StageError, FileSystem.FileSystem | Path.Path>

/** Every remaining unit, in order, each row tagged with its unit, through every stage. */
const rowStream = (o: ExecuteOptions): Rows => {
  const { pipeline, pending, units, unitsDone } = o
  const env = { baseDir: pipeline.baseDir, columns: sourceColumns(pipeline) }
  let stream: Rows = Stream.fromIterable(units.slice(unitsDone).map((unit, k) => [unit, unitsDone + k] as const)).pipe(
    Stream.flatMap(
      ([unit, seq]) => {
        const io = { reject: (r: SourceReject) => sourceReject(pending.of(seq), unit.id, r) }
        return pipeline.source.def.read(unit, pipeline.source.config, io, env).pipe(
          Stream.mapChunks((c) => {
            pending.of(seq).rows_read += c.length
            for (const row of c) withUnit(row, seq)
            return c
          })
        )
      },
      { concurrency: 1 }
    ),
    Stream.bufferChunks({ capacity: 4 })
  )
  const transforms = o.stages.transforms
  for (let i = 0; i < transforms.length; ) {
    // Consecutive row-wise stages (model stages) run fused: a row moves on as soon as it is through one.
    let j = i
    while (j < transforms.length && Rowwise.stepOf(transforms[j]!) !== undefined) j++
    if (j - i >= 2 || (j - i === 1 && o.bufferBytes !== undefined)) {
      stream = fused(o, i, j)(stream)
      i = j
    } else {
      stream = counted(o, i)(stream)
      i++
    }
  }
  return stream
}

/** Row-wise stages `first` to `end` (exclusive), fused; each row counted in its unit at every stage it reached. */
const fused = (o: ExecuteOptions, first: number, end: number) => {
  const steps = o.stages.transforms.slice(first, end).map((t) => Rowwise.stepOf(t)!)
  const transform = Rowwise.fuse(steps, {
    bufferBytes: o.bufferBytes,
    observe: (input, stop) => {
      const d = o.pending.of(o.pending.unitAt(input, first))
      for (let k = 0; k < steps.length && k <= stop; k++) {
        const st = d.stages[first + k]!
        st.rows_in++
        if (k < stop) st.rows_out++
      }
    }
  })
  return (stream: Rows): Rows => transform(stream as Stream.Stream<Row, StageError>)
}

/** Stage `i` on its own, one unit per chunk, rows counted in and out per unit. */
const counted = (o: ExecuteOptions, i: number) => {
  const { pending } = o
  /** Counts a chunk into per-unit counters (rows of one unit come together, in unit order). */
  const count = (c: Chunk.Chunk<Row>, field: "rows_in" | "rows_out"): void => {
    if (c.length === 0) return
    const first = pending.unitAt(Chunk.unsafeGet(c, 0), i)
    const last = pending.unitAt(Chunk.unsafeGet(c, c.length - 1), i)
    if (first === last) pending.of(first).stages[i]![field] += c.length
    else for (const row of c) pending.of(pending.unitAt(row, i)).stages[i]![field]++
    if (field === "rows_in") pending.stageUnit[i] = last
  }
  return (stream: Rows): Rows => {
    // Every stage sees one unit per chunk, so a row it builds anew (without the unit tag, as
    // `core/fields keep` does) is tagged with the unit of the chunk it came from: commits,
    // counters and resumes follow units whatever the stage does to its rows.
    const entering = splitByUnit(stream).pipe(
      Stream.mapChunks((c) => {
        count(c, "rows_in")
        return c
      })
      // (Stages are typed over StageError streams; source errors pass through them untouched.)
    ) as Stream.Stream<Row, StageError>
    return o.stages.transforms[i]!(entering).pipe(
      Stream.mapChunks((c) => {
        const seq = pending.stageUnit[i]!
        for (const row of c) if (unitOf(row) === undefined) withUnit(row, seq)
        count(c, "rows_out")
        return c
      })
    )
  }
}

/** Splits chunks that hold rows of several units, so a stage sees one unit per chunk. */
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

/** Units a run should have before worker threads pay for their start (each loads the pipeline). */
const minUnitsForWorkers = 2

/**
 * Rows (when the source knows them) a run should have before `auto` starts workers: below it
 * one thread is done before the workers have loaded the pipeline and its plugins.
 */
export const minRowsForWorkers = 50_000

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
  unitsLeft: number,
  rowsLeft?: number | undefined
): { readonly workers: number; readonly warning?: string | undefined } => {
  if (requested === undefined || requested === 1) return { workers: 1 }
  const why = oneThreadReason(pipeline, transforms)
  if (requested === "auto") {
    if (why !== undefined || unitsLeft < minUnitsForWorkers) return { workers: 1 }
    if (rowsLeft !== undefined && rowsLeft < minRowsForWorkers) return { workers: 1 }
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

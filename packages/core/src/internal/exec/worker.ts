/**
 * A worker thread of the runner (see `pool.ts`): loads the pipeline file, takes the shard's
 * units as the runner planned them, makes the stages once, then processes each unit it is sent as one stream — read,
 * stages, JSON (and gzip) encoding of the rows of the main sink and of every output (each its
 * `where:` selection) — and posts back the bytes and the unit's delta. Stages with a `central` decider see the unit as one chunk and ask the runner
 * for their decisions, which it takes in unit order.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Cause, Chunk, Effect, type Scope, Stream } from "effect"
import { parentPort, workerData } from "node:worker_threads"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import { errorText, SinkError, type SourceError, StageError } from "../../Errors.js"
import { Footers, makeFooters } from "../io/parquetRead.js"
import * as Pipeline from "../../Pipeline.js"
import * as Profile from "../profile.js"
import type { Row } from "../../Row.js"
import type { SourceReject, WorkUnit } from "../../Source.js"
import type * as Sink from "../../Sink.js"
import type { StageContext, Transform } from "../../Stage.js"
import * as Where from "../where.js"
import { Collector } from "./collect.js"
import { emptyDelta, sourceReject, stageCount, stageDrop, stageReject, type UnitDelta } from "./delta.js"
import { EncodeError } from "./encode.js"
import type { FromWorker, ToWorker, WorkerFailure, WorkerInit } from "./protocol.js"

const port = parentPort!
const init = workerData as WorkerInit
const post = (message: FromWorker, transfer?: ReadonlyArray<ArrayBuffer>): void =>
  port.postMessage(message, transfer as Array<ArrayBuffer> | undefined)

const failure = (e: unknown): WorkerFailure => {
  if (typeof e === "object" && e !== null && "_tag" in e) {
    const { _tag, ...fields } = e as { readonly _tag: string }
    return { _tag, fields: JSON.parse(JSON.stringify(fields)), message: String((e as { readonly message?: unknown }).message) }
  }
  return { _tag: "Defect", fields: {}, message: e instanceof Error ? (e.stack ?? e.message) : String(e) }
}

// ---- answers to `decide`, by request id
let nextId = 0
const answers = new Map<number, (m: Extract<ToWorker, { t: "decided" }>) => void>()
const units: Array<number> = []
let ended = false
let wake: (() => void) | undefined
port.on("message", (m: ToWorker) => {
  if (m.t === "decided") {
    const resume = answers.get(m.id)
    answers.delete(m.id)
    resume?.(m)
    return
  }
  if (m.t === "unit") units.push(m.seq)
  else ended = true
  const w = wake
  wake = undefined
  w?.()
})

/** The next unit to process, or undefined once the runner has no more. */
const nextUnit: Effect.Effect<number | undefined> = Effect.async<number | undefined>((resume) => {
  const take = (): boolean => {
    if (units.length > 0) {
      resume(Effect.succeed(units.shift()))
      return true
    }
    if (ended) {
      resume(Effect.succeed(undefined))
      return true
    }
    return false
  }
  if (!take()) wake = () => void take()
})

/** Rows encoded between two looks at the encoders' backlog. */
const sliceRows = 1024

/** The unit being processed: the stages' callbacks write into its delta. */
interface Current {
  seq: number
  delta: UnitDelta
}

/** Stage `i`'s context in a worker: drops, rejects and routed rows go to the current unit's delta, decisions to the runner. */
const stageContext = (
  pipeline: Pipeline.ResolvedPipeline,
  planned: ReadonlyArray<WorkUnit>,
  current: Current,
  i: number,
  use: Pipeline.StageUse
): StageContext => {
  const decide = (request: unknown) =>
    Effect.async<unknown, StageError>((resume) => {
      const id = nextId++
      answers.set(id, (m) =>
        resume(m.ok ? Effect.succeed(m.value) : Effect.fail(new StageError({ stage: use.instanceId, reason: m.error })))
      )
      post({ t: "decide", id, stage: i, seq: current.seq, request })
    })
  return {
    stageId: use.instanceId,
    seed: pipeline.seed,
    baseDir: pipeline.baseDir,
    drop: (row, reason) => stageDrop(current.delta, i, use.route, row, reason),
    count: (_row, name, n) => stageCount(current.delta, i, name, n),
    reject: (row, error) => stageReject(current.delta, i, use.instanceId, planned[current.seq]!.id, row, error),
    journal: {
      recovered: [],
      append: () => {
        throw new Error(`${use.instanceId} journals outside its central decider, which worker threads cannot keep`)
      }
    },
    source: pipeline.source,
    decide: use.stage.central === undefined ? undefined : decide
  }
}

/** Loads the pipeline and checks it is the runner's; the units are the runner's. */
const load = Effect.gen(function* () {
  const pipeline = yield* Pipeline.load(init.file, { implied: init.implied })
  if (pipeline.fingerprint !== init.fingerprint) {
    return yield* new StageError({ stage: "worker", reason: `${init.file} changed since the run started (another fingerprint); rerun` })
  }
  return { pipeline, planned: init.units }
})

/** Unit `k` through every stage, as one stream. */
const unitStream = (
  pipeline: Pipeline.ResolvedPipeline,
  unit: WorkUnit,
  current: Current,
  transforms: ReadonlyArray<Transform<Row, Row>>,
  /** The source columns the pipeline needs (`Pipeline.sourceColumns`), worked out once. */
  columns: ReadonlyArray<string> | undefined
): Stream.Stream<Row, SourceError | StageError, FileSystem.FileSystem | Path.Path> => {
  const count = (i: number, field: "rows_in" | "rows_out") =>
    Stream.mapChunks((c: Chunk.Chunk<Row>) => {
      current.delta.stages[i]![field] += c.length
      return c
    })
  /** A central stage sees its unit as one chunk (one request); a unit with no row at it just closes. */
  const wholeUnit =
    (i: number) =>
    <E, R>(rows: Stream.Stream<Row, E, R>): Stream.Stream<Row, E, R> =>
      Stream.unwrap(
        Effect.map(Stream.runCollect(rows), (all) => {
          if (all.length > 0) return Stream.fromChunk(all)
          post({ t: "close", stage: i, seq: current.seq })
          return Stream.empty
        })
      )
  const io = { reject: (r: SourceReject) => sourceReject(current.delta, unit.id, r) }
  let stream: Stream.Stream<Row, SourceError | StageError, FileSystem.FileSystem | Path.Path> = pipeline.source.def
    .read(unit, pipeline.source.config, io, { baseDir: pipeline.baseDir, columns })
    .pipe(
      Stream.mapChunks((c) => {
        current.delta.rows_read += c.length
        return c
      })
    )
  for (const [i, use] of pipeline.stages.entries()) {
    // An independent decider answers any chunk at once: its stage streams like any other.
    if (use.stage.central !== undefined && use.stage.central.independent !== true) stream = wholeUnit(i)(stream)
    // (Stages are typed over StageError streams; source errors pass through them untouched.)
    const entering = stream.pipe(count(i, "rows_in")) as Stream.Stream<Row, StageError>
    stream = transforms[i]!(entering).pipe(count(i, "rows_out"))
  }
  return stream
}

/** The sinks a unit's rows end in: the main sink and each output, each with its `where:` selection. */
const sinksOf = (pipeline: Pipeline.ResolvedPipeline) => {
  const declared = Profile.profiling(pipeline)
  const collector = (def: Sink.SinkDefinition, config: Sink.SinkBaseConfig) => {
    const records = def.records?.(config)
    // An export sink applies its records itself: it gets rows, not bytes.
    const encoding = records === undefined ? def.encoding?.(config) : undefined
    return () => new Collector(encoding, declared, records)
  }
  const outputs = [...(pipeline.outputs ?? [])].map(([name, o]) => {
    const b = pipeline.branches.get(name)!
    return { name, where: o.where, make: collector(b.def, b.config) }
  })
  return { main: collector(pipeline.sink.def, pipeline.sink.config), outputs }
}

const program = Effect.gen(function* () {
  const { pipeline, planned } = yield* load
  const stages = pipeline.stages
  const sinks = sinksOf(pipeline)
  const columns = Pipeline.sourceColumns(pipeline)
  const mainWhere = pipeline.sinkSelection?.where
  const current: Current = { seq: 0, delta: emptyDelta(stages.length) }
  const transforms: Array<Transform<Row, Row>> = []
  for (const [i, use] of stages.entries()) {
    const ctx = stageContext(pipeline, planned, current, i, use)
    // Only stages of plugins without services run in workers (the runner checks), so nothing is left to provide.
    transforms.push(yield* (use.stage.make(use.config, ctx) as Effect.Effect<Transform<Row, Row>, StageError, Scope.Scope>))
  }

  const processUnit = (k: number) =>
    Effect.gen(function* () {
      current.seq = k
      current.delta = emptyDelta(stages.length)
      const delta = current.delta
      const unit = planned[k]!
      const main = sinks.main()
      const outputs = sinks.outputs.map((o) => ({ name: o.name, where: o.where, collector: o.make() }))
      const collectors = [main, ...outputs.map((o) => o.collector)]
      let at = "main sink"
      const sinkError = (e: unknown) =>
        new SinkError({
          path: pipeline.sink.config.path,
          reason: e instanceof EncodeError ? `${at}: ${e.message} (row ${e.index + 1} written of unit ${unit.id})` : errorText(e)
        })
      const push = (rows: ReadonlyArray<Row>) =>
        Effect.try({
          try: () => {
            at = "main sink"
            const selected = mainWhere === undefined ? rows : rows.filter((row) => Where.matches(mainWhere, row))
            main.push(selected)
            delta.rows_written += selected.length
            delta.sink_dropped += rows.length - selected.length
            for (const o of outputs) {
              at = `output ${o.name}`
              const where = o.where
              o.collector.push(where === undefined ? rows : rows.filter((row) => Where.matches(where, row)))
            }
          },
          catch: sinkError
        })
      /** Waits while a collector's deflate works through its backlog (so memory stays bounded). */
      const settle = Effect.suspend(() => {
        const waiting = collectors.map((c) => c.settled()).filter((p) => p !== undefined)
        return waiting.length === 0 ? Effect.void : Effect.tryPromise({ try: () => Promise.all(waiting), catch: sinkError })
      })
      // A central stage hands on its unit as one chunk: it is encoded a slice at a time.
      yield* Stream.runForEachChunk(unitStream(pipeline, unit, current, transforms, columns), (c) =>
        Effect.gen(function* () {
          const rows = Chunk.toReadonlyArray(c)
          for (let i = 0; i < rows.length; i += sliceRows) {
            yield* push(rows.length <= sliceRows ? rows : rows.slice(i, i + sliceRows))
            yield* settle
          }
        })
      )
      const done = yield* Effect.tryPromise({ try: () => Promise.all(collectors.map((c) => c.finish())), catch: sinkError })
      const transfer = new Set(done.flatMap((d) => d.transfer))
      post({ t: "done", seq: k, delta, main: done[0]!.collected, outputs: done.slice(1).map((d) => d.collected) }, [...transfer])
    })

  post({ t: "ready" })
  for (;;) {
    const k = yield* nextUnit
    if (k === undefined) return
    yield* processUnit(k)
  }
})

Effect.runPromise(
  program.pipe(
    Effect.scoped,
    Effect.provide(NodeContext.layer),
    // This worker's share of the run: the parquet footers it parses are kept for its next units.
    Effect.provideServiceEffect(Footers, Effect.sync(() => makeFooters())),
    Effect.catchAllCause((cause) =>
      Effect.sync(() => post({ t: "failed", error: failure(Cause.squash(cause)) }))
    )
  )
).then(() => port.close())

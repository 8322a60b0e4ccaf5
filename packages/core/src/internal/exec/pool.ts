/**
 * The runner's worker threads. Units are handed out in order, at most two waiting per worker
 * and a bounded window ahead of the unit being committed; their results come back in any
 * order and leave in unit order. Decisions of stateful stages are taken here, by the
 * {@link Coordinator}, in unit order.
 */
import { Effect, Option, type Scope, Stream } from "effect"
import { Worker } from "node:worker_threads"
import { PipelineFileError, PluginLoadError, RunError, SinkError, SourceError, StageError } from "../../Errors.js"
import type { Coordinator } from "./central.js"
import type { FromWorker, ToWorker, UnitDone, WorkerFailure, WorkerInit } from "./protocol.js"

/** Errors a worker can end a run with. */
export type PoolError = RunError | SinkError | SourceError | StageError

/** Options of {@link start}. */
export interface PoolOptions {
  readonly workers: number
  readonly init: WorkerInit
  /** First unit to process (units before it are committed). */
  readonly first: number
  /** Units of the shard. */
  readonly total: number
  readonly coordinator: Coordinator
  /** Units handed out beyond the one being committed (default 2 per worker + 2). */
  readonly window?: number | undefined
}

/** The worker module next to this one: TypeScript sources under the source condition, else the build. */
const fromSource = import.meta.url.endsWith(".ts")

/** Starts a worker; from TypeScript sources it imports the worker module through tsx (whose loader a worker does not inherit). */
const spawn = (init: WorkerInit): Worker => {
  if (!fromSource) return new Worker(new URL("./worker.js", import.meta.url), { workerData: init })
  const api = JSON.stringify(import.meta.resolve("tsx/esm/api"))
  const entry = JSON.stringify(new URL("./worker.ts", import.meta.url).href)
  const boot = `import(${api}).then(({ tsImport }) => tsImport(${entry}, ${JSON.stringify(import.meta.url)}))`
  return new Worker(boot, { eval: true, workerData: init })
}

const rebuild = (f: WorkerFailure): PoolError => {
  const fields = f.fields as never
  switch (f._tag) {
    case "StageError":
      return new StageError(fields)
    case "SourceError":
      return new SourceError(fields)
    case "SinkError":
      return new SinkError(fields)
    case "RunError":
      return new RunError(fields)
    case "PipelineFileError":
    case "PluginLoadError": {
      const e = f._tag === "PipelineFileError" ? new PipelineFileError(fields) : new PluginLoadError(fields)
      return new RunError({ reason: `a worker thread could not load the pipeline: ${e.message}`, exitCode: 1 })
    }
    default:
      return new RunError({ reason: `a worker thread failed: ${f.message}`, exitCode: 1 })
  }
}

interface Slot {
  readonly worker: Worker
  outstanding: number
  finished: boolean
}

/** Hands out units, collects their results, and gives them back in unit order. */
class Dispatch {
  private next: number
  private taken: number
  private readonly done = new Map<number, UnitDone>()
  private failure: PoolError | undefined
  private waiter: ((result: UnitDone | undefined) => void) | undefined
  private endSent = false
  private readonly window: number

  constructor(
    private readonly slots: ReadonlyArray<Slot>,
    private readonly options: PoolOptions
  ) {
    this.next = options.first
    this.taken = options.first
    this.window = options.window ?? options.workers * 2 + 2
    for (const w of slots) this.listen(w)
    this.assign()
  }

  private signal(): void {
    const w = this.waiter
    if (w === undefined) return
    if (this.failure !== undefined || this.done.has(this.taken) || this.taken >= this.options.total) {
      this.waiter = undefined
      const r = this.done.get(this.taken)
      if (r !== undefined) this.done.delete(this.taken)
      w(r)
    }
  }

  private fail(e: PoolError): void {
    this.failure ??= e
    this.signal()
  }

  private assign(): void {
    const { total } = this.options
    while (this.failure === undefined && this.next < total && this.next < this.taken + this.window) {
      let best = this.slots[0]!
      for (const w of this.slots) if (w.outstanding < best.outstanding) best = w
      if (best.outstanding >= 2) break
      best.outstanding++
      send(best, { t: "unit", seq: this.next++ })
    }
    if (this.next >= total && !this.endSent) {
      this.endSent = true
      for (const w of this.slots) send(w, { t: "end" })
    }
  }

  private listen(w: Slot): void {
    const { coordinator } = this.options
    w.worker.on("message", (m: FromWorker) => {
      switch (m.t) {
        case "decide":
          coordinator.request(m.stage, m.seq, m.request, (r) => {
            send(w, r.ok ? { t: "decided", id: m.id, ok: true, value: r.value } : { t: "decided", id: m.id, ok: false, error: r.error })
            // A worker asks once per unit and stage: the unit is past the stage.
            coordinator.close(m.stage, m.seq)
          })
          return
        case "close":
          return coordinator.close(m.stage, m.seq)
        case "done":
          w.outstanding--
          coordinator.closeAll(m.seq)
          this.done.set(m.seq, m)
          this.assign()
          return this.signal()
        case "failed":
          return this.fail(rebuild(m.error))
        case "ready":
          return
      }
    })
    w.worker.on("error", (e) => this.fail(new RunError({ reason: `a worker thread failed: ${e.stack ?? e.message}`, exitCode: 1 })))
    w.worker.on("exit", (code) => {
      w.finished = true
      if (code !== 0 && this.failure === undefined) this.fail(new RunError({ reason: `a worker thread exited with code ${code}`, exitCode: 1 }))
      else if (w.outstanding > 0 && this.failure === undefined) {
        this.fail(new RunError({ reason: "a worker thread stopped with units still to process", exitCode: 1 }))
      }
    })
  }

  /** The next unit's result in unit order; fails with none once every unit was taken. */
  readonly take: Effect.Effect<UnitDone, Option.Option<PoolError>> = Effect.async<UnitDone, Option.Option<PoolError>>((resume) => {
    this.waiter = (r) => {
      if (r !== undefined) {
        this.taken++
        this.assign()
        resume(Effect.succeed(r))
      } else if (this.failure !== undefined) resume(Effect.fail(Option.some(this.failure)))
      else resume(Effect.fail(Option.none()))
    }
    this.signal()
  })
}

const send = (w: Slot, m: ToWorker): void => w.worker.postMessage(m)

/** Starts the workers in the scope; the stream gives every unit from `first` on, in unit order. */
export const start = (options: PoolOptions): Effect.Effect<Stream.Stream<UnitDone, PoolError>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const slots = yield* Effect.acquireRelease(
      Effect.sync((): ReadonlyArray<Slot> =>
        Array.from({ length: options.workers }, () => ({
          worker: spawn(options.init),
          outstanding: 0,
          finished: false
        }))
      ),
      (ws) => Effect.promise(() => Promise.all(ws.map((w) => w.worker.terminate())))
    )
    return Stream.repeatEffectOption(new Dispatch(slots, options).take)
  })

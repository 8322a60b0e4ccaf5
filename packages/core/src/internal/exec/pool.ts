/**
 * The runner's worker threads. Units are handed out in order, at most two waiting per worker
 * and a bounded window ahead of the unit being committed; their results come back in any
 * order and leave in unit order. Decisions of stateful stages are taken here, by the
 * {@link Coordinator}, in unit order.
 *
 * Each worker's old generation is capped (`heapMb`, from the size of the shard's units), so
 * threads together stay near one thread's memory. A worker that runs out of it
 * (`ERR_WORKER_OUT_OF_MEMORY`) is replaced by one with twice the cap, which redoes the units
 * the dead one held, and past {@link maxHeapMb} by one without a cap (the default limit the
 * runner's own thread has). Nothing of a dead worker's unit was committed and its stateful
 * stages get the answers they had, so the bytes are those of a run that never failed.
 */
import { Effect, Option, type Scope, Stream } from "effect"
import { Worker } from "node:worker_threads"
import { PipelineFileError, PluginLoadError, RunError, SinkError, SourceError, StageError } from "../../Errors.js"
import type { Coordinator } from "./central.js"
import type { WorkUnit } from "../../Source.js"
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
  /** Old-generation cap of each worker in MB (`resourceLimits.maxOldGenerationSizeMb`); absent: none. */
  readonly heapMb?: number | undefined
  /** Says that a worker ran out of memory and its units are being redone. */
  readonly warn?: ((message: string) => void) | undefined
}

/** A cap that doubles past this becomes no cap at all. */
export const maxHeapMb = 4096

/** The worker module next to this one: TypeScript sources under the source condition, else the build. */
const fromSource = import.meta.url.endsWith(".ts")

/** Starts a worker; from TypeScript sources it imports the worker module through tsx (whose loader a worker does not inherit). */
const spawn = (init: WorkerInit, heapMb: number | undefined): Worker => {
  const resourceLimits = heapMb === undefined ? {} : { resourceLimits: { maxOldGenerationSizeMb: heapMb } }
  if (!fromSource) return new Worker(new URL("./worker.js", import.meta.url), { workerData: init, ...resourceLimits })
  const api = JSON.stringify(import.meta.resolve("tsx/esm/api"))
  const entry = JSON.stringify(new URL("./worker.ts", import.meta.url).href)
  const boot = `import(${api}).then(({ tsImport }) => tsImport(${entry}, ${JSON.stringify(import.meta.url)}))`
  return new Worker(boot, { eval: true, workerData: init, ...resourceLimits })
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
  /** Its old-generation cap in MB (absent: none). */
  readonly heapMb: number | undefined
  /** Units sent to it and not yet done, in the order sent. */
  readonly units: Array<number>
  finished: boolean
  /** Out of memory: replaced, its messages and exit no longer count. */
  dead: boolean
}

const slot = (init: WorkerInit, heapMb: number | undefined): Slot => ({
  worker: spawn(init, heapMb),
  heapMb,
  units: [],
  finished: false,
  dead: false
})

/** Hands out units, collects their results, and gives them back in unit order. */
class Dispatch {
  private next: number
  private taken: number
  private readonly done = new Map<number, UnitDone>()
  private failure: PoolError | undefined
  private waiter: ((result: UnitDone | undefined) => void) | undefined
  private endSent = false
  private readonly window: number

  /** The live workers. */
  readonly slots: Array<Slot>

  constructor(private readonly options: PoolOptions) {
    this.next = options.first
    this.taken = options.first
    this.window = options.window ?? options.workers * 2 + 2
    this.slots = Array.from({ length: options.workers }, () => slot(options.init, options.heapMb))
    for (const w of this.slots) this.listen(w)
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
      for (const w of this.slots) if (w.units.length < best.units.length) best = w
      if (best.units.length >= 2) break
      best.units.push(this.next)
      send(best, { t: "unit", seq: this.next++ })
    }
    if (this.next >= total && !this.endSent) {
      this.endSent = true
      for (const w of this.slots) send(w, { t: "end" })
    }
  }

  /**
   * Replaces a worker that ran out of memory by one with twice its cap (none past
   * {@link maxHeapMb}), which redoes the dead one's units in the order they were sent.
   */
  private replace(dead: Slot): void {
    dead.dead = true
    const at = this.slots.indexOf(dead)
    if (dead.heapMb === undefined || at < 0) {
      this.fail(new RunError({ reason: `a worker thread ran out of memory at unit ${dead.units[0] ?? "?"} without a heap cap`, exitCode: 1 }))
      return
    }
    const heapMb = dead.heapMb * 2 > maxHeapMb ? undefined : dead.heapMb * 2
    const fresh = slot(this.options.init, heapMb)
    this.slots[at] = fresh
    this.listen(fresh)
    this.options.warn?.(
      `a worker thread ran out of memory (heap cap ${dead.heapMb} MB)${dead.units.length > 0 ? ` at unit ${this.options.init.units[dead.units[0]!]?.id ?? dead.units[0]}` : ""}; redoing its units in a new worker ${heapMb === undefined ? "without a cap" : `with ${heapMb} MB`}`
    )
    for (const seq of dead.units) {
      this.options.coordinator.redo(seq)
      fresh.units.push(seq)
      send(fresh, { t: "unit", seq })
    }
    if (this.endSent) send(fresh, { t: "end" })
    void dead.worker.terminate()
  }

  private listen(w: Slot): void {
    const { coordinator } = this.options
    w.worker.on("message", (m: FromWorker) => {
      if (w.dead) return
      switch (m.t) {
        case "decide":
          coordinator.request(m.stage, m.seq, m.request, (r) => {
            send(w, r.ok ? { t: "decided", id: m.id, ok: true, value: r.value } : { t: "decided", id: m.id, ok: false, error: r.error })
            // A worker asks once per unit and stage (it gives the stage the whole unit as one
            // chunk): the unit is past the stage. (An independent stage asks per chunk and waits
            // for no unit, so closing it here changes nothing.)
            coordinator.close(m.stage, m.seq)
          })
          return
        case "close":
          return coordinator.close(m.stage, m.seq)
        case "done":
          w.units.splice(w.units.indexOf(m.seq), 1)
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
    w.worker.on("error", (e: Error & { readonly code?: string }) => {
      if (w.dead) return
      if (e.code === "ERR_WORKER_OUT_OF_MEMORY" && this.failure === undefined) return this.replace(w)
      this.fail(new RunError({ reason: `a worker thread failed: ${e.stack ?? e.message}`, exitCode: 1 }))
    })
    w.worker.on("exit", (code) => {
      w.finished = true
      if (w.dead) return
      if (code !== 0 && this.failure === undefined) this.fail(new RunError({ reason: `a worker thread exited with code ${code}`, exitCode: 1 }))
      else if (w.units.length > 0 && this.failure === undefined) {
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

const send = (w: Slot, m: ToWorker): void => {
  if (!w.dead) w.worker.postMessage(m)
}

/** Starts the workers in the scope; the stream gives every unit from `first` on, in unit order. */
export const start = (options: PoolOptions): Effect.Effect<Stream.Stream<UnitDone, PoolError>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const dispatch = yield* Effect.acquireRelease(
      Effect.sync(() => new Dispatch(options)),
      (d) => Effect.promise(() => Promise.all(d.slots.map((w) => w.worker.terminate())))
    )
    return Stream.repeatEffectOption(dispatch.take)
  })

/**
 * The old-generation cap of a worker for the shard's units, in MB: a base for the loaded
 * pipeline and plugins plus room for the largest unit's rows (3 × its bytes on disk, or 5 MB
 * per thousand rows), at least 96 MB; absent (no cap) when a unit's size is unknown. A 10,000-row
 * unit of LMSYS-shaped parquet (18.6 MB on disk) gets 102 MB; 64 MB ran out of memory there.
 */
export const heapMbFor = (units: ReadonlyArray<WorkUnit>): number | undefined => {
  let largest = 0
  for (const u of units) {
    const mb = u.bytes !== undefined ? (u.bytes / 2 ** 20) * 3 : u.rows !== undefined ? (u.rows / 1000) * 5 : undefined
    if (mb === undefined) return undefined
    largest = Math.max(largest, mb)
  }
  return Math.max(96, Math.ceil(48 + largest))
}

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

/** Starts the workers in the scope; the stream gives every unit from `first` on, in unit order. */
export const start = (options: PoolOptions): Effect.Effect<Stream.Stream<UnitDone, PoolError>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { total, coordinator } = options
    const window = options.window ?? options.workers * 2 + 2
    const workers = yield* Effect.acquireRelease(
      Effect.sync(() =>
        Array.from({ length: options.workers }, () => ({
          worker: spawn(options.init),
          outstanding: 0,
          finished: false
        }))
      ),
      (ws) => Effect.promise(() => Promise.all(ws.map((w) => w.worker.terminate())))
    )

    let next = options.first
    let taken = options.first
    const done = new Map<number, UnitDone>()
    let failure: PoolError | undefined
    let waiter: ((result: UnitDone | undefined) => void) | undefined
    let endSent = false

    const signal = (): void => {
      const w = waiter
      if (w === undefined) return
      if (failure !== undefined || done.has(taken) || taken >= total) {
        waiter = undefined
        const r = done.get(taken)
        if (r !== undefined) done.delete(taken)
        w(r)
      }
    }
    const fail = (e: PoolError): void => {
      failure ??= e
      signal()
    }
    const send = (w: (typeof workers)[number], m: ToWorker): void => w.worker.postMessage(m)
    const assign = (): void => {
      while (failure === undefined && next < total && next < taken + window) {
        let best = workers[0]!
        for (const w of workers) if (w.outstanding < best.outstanding) best = w
        if (best.outstanding >= 2) break
        best.outstanding++
        send(best, { t: "unit", seq: next++ })
      }
      if (next >= total && !endSent) {
        endSent = true
        for (const w of workers) send(w, { t: "end" })
      }
    }

    for (const w of workers) {
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
            done.set(m.seq, m)
            assign()
            return signal()
          case "failed":
            return fail(rebuild(m.error))
          case "ready":
            return
        }
      })
      w.worker.on("error", (e) => fail(new RunError({ reason: `a worker thread failed: ${e.stack ?? e.message}`, exitCode: 1 })))
      w.worker.on("exit", (code) => {
        w.finished = true
        if (code !== 0 && failure === undefined) fail(new RunError({ reason: `a worker thread exited with code ${code}`, exitCode: 1 }))
        else if (w.outstanding > 0 && failure === undefined) {
          fail(new RunError({ reason: "a worker thread stopped with units still to process", exitCode: 1 }))
        }
      })
    }
    assign()

    const take: Effect.Effect<UnitDone, Option.Option<PoolError>> = Effect.async<UnitDone, Option.Option<PoolError>>((resume) => {
      waiter = (r) => {
        if (r !== undefined) {
          taken++
          assign()
          resume(Effect.succeed(r))
        } else if (failure !== undefined) resume(Effect.fail(Option.some(failure)))
        else resume(Effect.fail(Option.none()))
      }
      signal()
    })
    return Stream.repeatEffectOption(take)
  })

/**
 * A model's HTTP on a thread of its own (`models.<name>.http_thread`). The stage's thread reads
 * the source, runs the stages, keeps the cache and writes the sink; at thousands of requests per
 * second it is busy most of the time, and an answer that arrives while it is busy waits for it
 * before its slot can take the next request (case d of the occupancy bench: ≈ 20 ms per slot
 * cycle at 100 ms answers). Here the sockets live on a thread that does nothing else: the
 * client sends requests ahead of the endpoints' free connections (`ahead` per endpoint), the
 * thread holds each endpoint at `concurrency` on the wire and starts a waiting request from the
 * callback that ends the one before. Requests and answers cross in batches: everything the
 * client starts in one turn of its event loop goes in one message, and the thread answers once
 * per turn of its own.
 */
import { moduleWorker } from "@synthline/core/Plugin"
import type { Worker } from "node:worker_threads"
import { begin, type Ended, type HttpTarget, target } from "./wire.js"
import type { FromHttp, HttpWorkerInit, ToHttp } from "./httpWorker.js"

/**
 * The thread's young generation: what it keeps between collections is the requests out and the
 * answers of one turn, so a small one is enough. The default (V8's, as the main thread's) cost
 * ≈ 40 MB more peak RSS at 10,000 rows × 256 slots (`llm-saturation`'s pipeline: 388 against
 * 424–442 MB), with no measurable change in case d's rate.
 */
const resourceLimits = { maxYoungGenerationSizeMb: 8 }

const spawn = (init: HttpWorkerInit): Worker => moduleWorker(import.meta.url, "httpWorker", { workerData: init, resourceLimits })

/**
 * Requests the client may have out per endpoint beyond its `concurrency`, waiting on the HTTP
 * thread for a connection: as many again, which covers the client's thread being busy for one
 * answer's time (100 ms at 100 ms answers; in case d of the occupancy bench, 4 interleaved pairs
 * against half as many were ahead in each pair).
 */
export const aheadOf = (concurrency: number): number => concurrency

/** The HTTP thread of one model. */
export class HttpThread {
  private readonly worker: Worker
  private readonly waiting = new Map<number, (r: Ended) => void>()
  private outbox = HttpThread.emptyBatch()
  private bodies = ""
  private readonly paths = new Map<string, number>()
  private scheduled = false
  private nextId = 0
  private stopped: string | undefined
  private closing = false
  private closed: (() => void) | undefined

  /** `spawnWorker` starts the thread (tests give one that fails). */
  constructor(init: HttpWorkerInit, spawnWorker: (init: HttpWorkerInit) => Worker = spawn) {
    this.worker = spawnWorker(init)
    this.worker.unref()
    this.worker.on("message", (m: FromHttp) => this.received(m))
    const stop = (why: string) => {
      this.stopped ??= why
      this.failAll()
      this.closed?.()
    }
    this.worker.on("error", (e) => stop(`synthline's HTTP thread stopped: ${e instanceof Error ? e.message : String(e)}`))
    this.worker.on("exit", (code) => stop(`synthline's HTTP thread exited (code ${code})`))
  }

  /**
   * Sends `body` (JSON) to `path` on endpoint `index` and calls `ended` exactly once with how it
   * ended, unless the returned function cancels it first. The time limit counts from when the
   * request goes on the wire.
   */
  begin(index: number, path: string, body: string, timeoutMs: number, ended: (r: Ended) => void): () => void {
    if (this.stopped !== undefined) {
      ended({ ok: false, failure: { kind: "connection", detail: this.stopped } })
      return () => undefined
    }
    const id = this.nextId++
    this.waiting.set(id, ended)
    // While requests are out the thread keeps the process alive: their callers wait on it.
    if (this.waiting.size === 1) this.worker.ref()
    const b = this.outbox
    let p = this.paths.get(path)
    if (p === undefined) {
      p = this.paths.size
      this.paths.set(path, p)
      b.paths.push(path)
    }
    b.ids.push(id)
    b.endpoints.push(index)
    b.path.push(p)
    b.timeoutMs.push(timeoutMs)
    b.lengths.push(body.length)
    this.bodies += body
    this.schedule()
    return () => {
      if (!this.waiting.delete(id)) return
      if (this.waiting.size === 0) this.worker.unref()
      this.outbox.cancels.push(id)
      this.schedule()
    }
  }

  /** Why the thread stopped on its own (it could not start, or it died); undefined while it runs or once closed. */
  get failed(): string | undefined {
    return this.closing ? undefined : this.stopped
  }

  /** Cancels what is out, closes the connections and ends the thread. */
  close(): Promise<void> {
    this.closing = true
    if (this.stopped !== undefined) return this.worker.terminate().then(() => undefined)
    return new Promise<void>((resolve) => {
      this.closed = resolve
      this.worker.ref()
      this.outbox = { ...this.outbox, close: true }
      this.schedule()
    }).then(() => {
      this.stopped ??= "the model's client was closed"
      this.failAll()
      return this.worker.terminate().then(() => undefined)
    })
  }

  private static emptyBatch(): ToHttp {
    return { paths: [], ids: [], endpoints: [], path: [], timeoutMs: [], bodies: "", lengths: [], cancels: [], close: false }
  }

  /** Posts what was started, cancelled or closed in this turn of the event loop, as one message, at its end. */
  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      const batch: ToHttp = { ...this.outbox, bodies: this.bodies }
      this.outbox = HttpThread.emptyBatch()
      this.bodies = ""
      if (this.stopped === undefined) this.worker.postMessage(batch)
    })
  }

  private received(m: FromHttp): void {
    if (m.closed) {
      this.closed?.()
      return
    }
    let offset = 0
    let extra = 0
    let failure = 0
    for (let i = 0; i < m.ids.length; i++) {
      const length = m.lengths[i]!
      const text = m.texts.slice(offset, offset + length)
      offset += length
      const id = m.ids[i]!
      let r: Ended
      if (m.status[i] === 0) r = { ok: false, failure: m.failures[failure++]![1] }
      else {
        const x = m.extras[extra]?.[0] === i ? m.extras[extra++] : undefined
        r = { ok: true, answer: { status: m.status[i]!, retryAfter: x?.[1], text, limits: x?.[2] } }
      }
      const ended = this.waiting.get(id)
      if (ended === undefined) continue
      this.waiting.delete(id)
      ended(r)
    }
    if (this.waiting.size === 0) this.worker.unref()
  }

  private failAll(): void {
    const all = [...this.waiting.values()]
    this.waiting.clear()
    const failure: Ended = { ok: false, failure: { kind: "connection", detail: this.stopped ?? "synthline's HTTP thread stopped" } }
    for (const ended of all) ended(failure)
  }
}

/** Sends a JSON body to `path` on endpoint `index` and calls `ended` once, unless cancelled (the form of `wire.begin`). */
export type Sender = (index: number, path: string, body: string, timeoutMs: number, ended: (r: Ended) => void) => () => void

/**
 * A model's requests through its HTTP thread while the thread runs. Once it has stopped on its
 * own (it could not start, or it died), they go out from this thread on connection pools of
 * their own, after one warning: the requests out at that moment fail as broken connections and
 * the attempt loop sends them again, so nothing is lost.
 */
export const threadedSender = (
  thread: HttpThread,
  init: HttpWorkerInit,
  warn: (message: string) => void
): { readonly send: Sender; readonly close: () => Promise<void> } => {
  let local: Array<HttpTarget> | undefined
  const fallback = (why: string): Array<HttpTarget> => {
    if (local !== undefined) return local
    warn(`${why}; its requests go out from the run's own thread from now on`)
    local = init.endpoints.map((ep) => target(ep.baseUrl, "", ep.connections))
    return local
  }
  return {
    send: (index, path, body, timeoutMs, ended) => {
      const why = thread.failed
      if (why === undefined) return thread.begin(index, path, body, timeoutMs, ended)
      return begin({ ...fallback(why)[index]!, path }, init.headers, body, timeoutMs, ended)
    },
    close: async () => {
      await thread.close()
      if (local !== undefined) await Promise.allSettled(local.map((t) => t.close()))
    }
  }
}

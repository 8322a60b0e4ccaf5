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
import { createRequire } from "node:module"
import { pathToFileURL } from "node:url"
import { Worker } from "node:worker_threads"
import type { Ended } from "./wire.js"
import type { FromHttp, HttpWorkerInit, ToHttp } from "./httpWorker.js"

/** From TypeScript sources (tests) the worker module is imported through tsx, whose loader a worker does not inherit. */
const fromSource = import.meta.url.endsWith(".ts")

/** tsx's ESM API module (`import.meta.resolve` is missing under vitest's module runner: there, its CommonJS twin's path). */
const tsxApi = (): string =>
  typeof import.meta.resolve === "function"
    ? import.meta.resolve("tsx/esm/api")
    : pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm/api").replace(/\.cjs$/, ".mjs")).href

const spawn = (init: HttpWorkerInit): Worker => {
  if (!fromSource) return new Worker(new URL("./httpWorker.js", import.meta.url), { workerData: init })
  const api = JSON.stringify(tsxApi())
  const entry = JSON.stringify(new URL("./httpWorker.ts", import.meta.url).href)
  const boot = `import(${api}).then(({ tsImport }) => tsImport(${entry}, ${JSON.stringify(import.meta.url)}))`
  const conditions = process.execArgv.some((a) => a.includes("@synthline/source")) ? [] : ["--conditions=@synthline/source"]
  return new Worker(boot, { eval: true, workerData: init, execArgv: [...process.execArgv, ...conditions] })
}

/**
 * Requests the client may have out per endpoint beyond its `concurrency`, waiting on the HTTP
 * thread for a connection: enough to cover the client's thread being busy for `concurrency / 2`
 * answers' time (50 ms at 100 ms answers).
 */
export const aheadOf = (concurrency: number): number => Math.ceil(concurrency / 2)

/** The HTTP thread of one model. */
export class HttpThread {
  private readonly worker: Worker
  private readonly waiting = new Map<number, (r: Ended) => void>()
  private outbox: Array<ToHttp> = []
  private scheduled = false
  private nextId = 0
  private stopped: string | undefined
  private closed: (() => void) | undefined

  constructor(init: HttpWorkerInit) {
    this.worker = spawn(init)
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
    this.post({ t: "send", id, e: index, path, body, timeoutMs })
    return () => {
      if (!this.waiting.delete(id)) return
      if (this.waiting.size === 0) this.worker.unref()
      this.post({ t: "cancel", id })
    }
  }

  /** Cancels what is out, closes the connections and ends the thread. */
  close(): Promise<void> {
    if (this.stopped !== undefined) return this.worker.terminate().then(() => undefined)
    return new Promise<void>((resolve) => {
      this.closed = resolve
      this.worker.ref()
      this.post({ t: "close" })
    }).then(() => {
      this.stopped ??= "the model's client was closed"
      this.failAll()
      return this.worker.terminate().then(() => undefined)
    })
  }

  private post(op: ToHttp): void {
    this.outbox.push(op)
    if (this.scheduled) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      const ops = this.outbox
      this.outbox = []
      if (this.stopped === undefined) this.worker.postMessage(ops)
    })
  }

  private received(m: FromHttp): void {
    if (m.t === "closed") {
      this.closed?.()
      return
    }
    for (let i = 0; i < m.ids.length; i++) {
      const ended = this.waiting.get(m.ids[i]!)
      if (ended === undefined) continue
      this.waiting.delete(m.ids[i]!)
      ended(m.results[i]!)
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

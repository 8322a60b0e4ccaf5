/**
 * The HTTP thread of a model (see `httpThread.ts`): it owns the model's connection pools and,
 * per endpoint, at most `connections` requests on the wire; requests sent beyond that wait here
 * in arrival order and go out from the very callback that ends an earlier one, whatever the
 * client's own thread is doing. A request's time limit starts when it goes on the wire. Answers
 * go back in one message per turn of this thread's event loop.
 */
import { parentPort, workerData } from "node:worker_threads"
import { begin, type Ended, type HttpTarget, target } from "./wire.js"

/** What the thread is started with. */
export interface HttpWorkerInit {
  /** Each endpoint's base URL (`http://host:port/v1`) and the requests it takes at once. */
  readonly endpoints: ReadonlyArray<{ readonly baseUrl: string; readonly connections: number }>
  /** Headers of every request (the credentials among them: they stay in memory). */
  readonly headers: { readonly [key: string]: string }
}

/** A request to send: `path` is the whole path on the endpoint's origin (`/v1/chat/completions`). */
export interface SendOp {
  readonly t: "send"
  readonly id: number
  readonly e: number
  readonly path: string
  readonly body: string
  readonly timeoutMs: number
}

/** What the client's thread posts: requests, cancellations, or the end. */
export type ToHttp = SendOp | { readonly t: "cancel"; readonly id: number } | { readonly t: "close" }

/** What the thread posts back: the requests that ended since the last message, or that it closed. */
export type FromHttp = { readonly t: "ended"; readonly ids: Array<number>; readonly results: Array<Ended> } | { readonly t: "closed" }

interface Pending {
  readonly op: SendOp
  cancel: (() => void) | undefined
  cancelled: boolean
}

interface Endpoint {
  readonly pool: HttpTarget
  readonly limit: number
  active: number
  readonly queue: Array<Pending>
  head: number
}

const init = workerData as HttpWorkerInit
const port = parentPort!
const endpoints: Array<Endpoint> = init.endpoints.map((ep) => ({
  pool: target(ep.baseUrl, "", ep.connections),
  limit: ep.connections,
  active: 0,
  queue: [],
  head: 0
}))
const pending = new Map<number, Pending>()
let ids: Array<number> = []
let results: Array<Ended> = []
let flushing = false

const flush = (): void => {
  flushing = false
  if (ids.length === 0) return
  const message: FromHttp = { t: "ended", ids, results }
  ids = []
  results = []
  port.postMessage(message)
}

/** Starts queued requests while the endpoint has room. */
const next = (ep: Endpoint): void => {
  while (ep.active < ep.limit && ep.head < ep.queue.length) {
    const p = ep.queue[ep.head]!
    ep.queue[ep.head++] = undefined as unknown as Pending
    if (!p.cancelled) go(ep, p)
  }
  if (ep.head > 1024 && ep.head * 2 > ep.queue.length) {
    ep.queue.splice(0, ep.head)
    ep.head = 0
  }
}

const go = (ep: Endpoint, p: Pending): void => {
  ep.active++
  const { op } = p
  p.cancel = begin({ ...ep.pool, path: op.path }, init.headers, op.body, op.timeoutMs, (r) => {
    pending.delete(op.id)
    ep.active--
    // The freed connection takes the next request before the answer is passed on.
    next(ep)
    ids.push(op.id)
    results.push(r)
    if (!flushing) {
      flushing = true
      setImmediate(flush)
    }
  })
}

const cancel = (id: number): void => {
  const p = pending.get(id)
  if (p === undefined) return
  pending.delete(id)
  p.cancelled = true
  if (p.cancel !== undefined) {
    p.cancel()
    const ep = endpoints[p.op.e]!
    ep.active--
    next(ep)
  }
}

const close = async (): Promise<void> => {
  for (const id of [...pending.keys()]) cancel(id)
  await Promise.allSettled(endpoints.map((ep) => ep.pool.close()))
  port.postMessage({ t: "closed" } satisfies FromHttp)
}

port.on("message", (ops: ReadonlyArray<ToHttp>) => {
  for (const op of ops) {
    if (op.t === "send") {
      const ep = endpoints[op.e]!
      const p: Pending = { op, cancel: undefined, cancelled: false }
      pending.set(op.id, p)
      if (ep.active < ep.limit && ep.head === ep.queue.length) go(ep, p)
      else ep.queue.push(p)
    } else if (op.t === "cancel") cancel(op.id)
    else void close()
  }
})

/**
 * The HTTP thread of a model (see `httpThread.ts`): it owns the model's connection pools and,
 * per endpoint, at most `connections` requests on the wire; requests sent beyond that wait here
 * in arrival order and go out from the very callback that ends an earlier one, whatever the
 * client's own thread is doing. A request's time limit starts when it goes on the wire. Answers
 * go back in one message per turn of this thread's event loop.
 */
import { parentPort, workerData } from "node:worker_threads"
import { begin, type HttpTarget, target, type WireFailure } from "./wire.js"

/** What the thread is started with. */
export interface HttpWorkerInit {
  /** Each endpoint's base URL (`http://host:port/v1`) and the requests it takes at once. */
  readonly endpoints: ReadonlyArray<{ readonly baseUrl: string; readonly connections: number }>
  /** Headers of every request (the credentials among them: they stay in memory). */
  readonly headers: { readonly [key: string]: string }
}

/**
 * What the client's thread posts in one message: requests (in columns, their bodies one after
 * another in one string, so a message clones a few arrays and one string however many requests
 * it carries), cancellations, or the end. `paths` are the paths first used in this message,
 * numbered on from the last message's.
 */
export interface ToHttp {
  readonly paths: Array<string>
  readonly ids: Array<number>
  readonly endpoints: Array<number>
  readonly path: Array<number>
  readonly timeoutMs: Array<number>
  readonly bodies: string
  readonly lengths: Array<number>
  readonly cancels: Array<number>
  readonly close: boolean
}

/**
 * What the thread posts back once per turn of its event loop: the requests that ended since the
 * last message (in columns; an answer's text in `texts`, cut by `lengths`; status 0 for a
 * failure on the wire, given in `failures` by its position), or that it closed.
 */
export interface FromHttp {
  readonly closed: boolean
  readonly ids: Array<number>
  readonly status: Array<number>
  readonly texts: string
  readonly lengths: Array<number>
  /** Answers with a `Retry-After` or rate-limit headers: [position, Retry-After, headers]. */
  readonly extras: Array<[number, string | undefined, { readonly [name: string]: string } | undefined]>
  readonly failures: Array<[number, WireFailure]>
}

interface SendOp {
  readonly id: number
  readonly e: number
  readonly path: string
  readonly body: string
  readonly timeoutMs: number
}

interface Pending {
  readonly op: SendOp
  cancel: (() => void) | undefined
  cancelled: boolean
}

interface Endpoint {
  readonly pool: HttpTarget
  readonly limit: number
  active: number
  /** Requests waiting, from `head` on (those before it have gone out: emptied slots). */
  readonly queue: Array<Pending | undefined>
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
const paths: Array<string> = []

/** The columns of the next message back (its texts apart: a string is not changed in place). */
const emptyOut = (): FromHttp => ({ closed: false, ids: [], status: [], texts: "", lengths: [], extras: [], failures: [] })
let out = emptyOut()
let texts = ""
let flushing = false

const flush = (): void => {
  flushing = false
  if (out.ids.length === 0) return
  const message: FromHttp = { ...out, texts }
  out = emptyOut()
  texts = ""
  port.postMessage(message)
}

/** Starts queued requests while the endpoint has room. */
const next = (ep: Endpoint): void => {
  while (ep.active < ep.limit && ep.head < ep.queue.length) {
    const p = ep.queue[ep.head]!
    ep.queue[ep.head++] = undefined
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
    const at = out.ids.length
    out.ids.push(op.id)
    if (r.ok) {
      const a = r.answer
      out.status.push(a.status)
      texts += a.text
      out.lengths.push(a.text.length)
      if (a.retryAfter !== undefined || a.limits !== undefined) out.extras.push([at, a.retryAfter, a.limits])
    } else {
      out.status.push(0)
      out.lengths.push(0)
      out.failures.push([at, r.failure])
    }
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
  port.postMessage({ ...emptyOut(), closed: true } satisfies FromHttp)
}

port.on("message", (m: ToHttp) => {
  for (const p of m.paths) paths.push(p)
  // Cancellations first: a request cancelled in the turn that started it is never sent.
  const cancelled = m.cancels.length > 0 ? new Set(m.cancels) : undefined
  for (const id of m.cancels) cancel(id)
  let offset = 0
  for (let i = 0; i < m.ids.length; i++) {
    const body = m.bodies.slice(offset, offset + m.lengths[i]!)
    offset += m.lengths[i]!
    if (cancelled?.has(m.ids[i]!)) continue
    const op: SendOp = { id: m.ids[i]!, e: m.endpoints[i]!, path: paths[m.path[i]!]!, body, timeoutMs: m.timeoutMs[i]! }
    const ep = endpoints[op.e]!
    const p: Pending = { op, cancel: undefined, cancelled: false }
    pending.set(op.id, p)
    if (ep.active < ep.limit && ep.head === ep.queue.length) go(ep, p)
    else ep.queue.push(p)
  }
  if (m.close) void close()
})

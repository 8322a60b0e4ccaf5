/**
 * The response cache's writer thread: commits batches of staged answers on its own SQLite
 * connection, so the inserts and the WAL checkpoints' fsyncs are off the model client's event
 * loop (case d of the occupancy bench: about 1.2 s of a 15 s run on that thread). A caller resumes
 * only once the writer has answered for its batch, so what a caller sees is committed, as with
 * a commit on the client's thread. {@link CacheWriter.drain} waits for every batch sent,
 * blocking (`Atomics.wait` and `receiveMessageOnPort`), for the synchronous paths (`commit`,
 * `size`, closing the file).
 */
import { createRequire } from "node:module"
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from "node:worker_threads"

/** One answer to insert. */
export interface WriterRow {
  readonly key: string
  readonly model: string
  readonly content: string
  readonly finish_reason: string | null
  readonly prompt_tokens: number
  readonly completion_tokens: number
}

/**
 * Why a batch was not committed: SQLite's code and message, as the writer caught them; `stopped`
 * when the writer cannot commit anything (the thread is gone, or it could not open the file).
 */
export interface WriteFailure {
  readonly code: string
  readonly message: string
  readonly stopped?: true | undefined
}

/** The writer's answer for a batch. */
interface Reply {
  readonly id: number
  readonly failure?: WriteFailure | undefined
}

/** A batch sent and not answered yet. */
type Done = (failure: WriteFailure | undefined) => void

/** How long a blocking {@link CacheWriter.drain} waits for the writer (SQLite's busy timeout is 10 s). */
const drainTimeoutMs = 120_000

/**
 * The writer thread's code (a CommonJS script, evaluated): open the file like the client's
 * connection (WAL, synchronous NORMAL, checkpoints every 10,000 pages), then per message one
 * transaction; answer on the reply port, then bump the signal so a blocked drain wakes.
 */
const script = `
const { workerData, parentPort } = require("node:worker_threads")
const Database = require(workerData.sqlite)
const signal = new Int32Array(workerData.signal)
const reply = workerData.port
const answer = (message) => {
  reply.postMessage(message)
  Atomics.add(signal, 0, 1)
  Atomics.notify(signal, 0)
}
let db
let insertAll
let opening
try {
  db = new Database(workerData.file)
  db.pragma("busy_timeout = 10000")
  db.pragma("synchronous = NORMAL")
  db.pragma("wal_autocheckpoint = 10000")
  const insert = db.prepare("INSERT OR REPLACE INTO responses (key, model, content, finish_reason, prompt_tokens, completion_tokens, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
  insertAll = db.transaction((b) => {
    for (let i = 0; i < b.keys.length; i++) insert.run(b.keys[i], b.models[i], b.contents[i], b.finish[i], b.prompt[i], b.completion[i], b.now)
  })
} catch (e) {
  insertAll = undefined
  opening = { code: String((e && e.code) || ""), message: String((e && e.message) || e), stopped: true }
}
parentPort.on("message", (b) => {
  if (b.close) {
    try { if (db) db.close() } catch {}
    answer({ id: b.id })
    return
  }
  if (insertAll === undefined) return answer({ id: b.id, failure: opening })
  try {
    insertAll(b)
    answer({ id: b.id })
  } catch (e) {
    answer({ id: b.id, failure: { code: String((e && e.code) || ""), message: String((e && e.message) || e) } })
  }
})
`

/** Batches of answers committed on a worker thread, in the order they were sent. */
export class CacheWriter {
  private readonly worker: Worker
  private readonly replies: MessagePort
  private readonly signal = new Int32Array(new SharedArrayBuffer(4))
  private readonly waiting = new Map<number, Done>()
  private nextId = 0
  /** Why the thread is gone (it exited or failed); every later batch fails with it. */
  private stopped: WriteFailure | undefined

  /** A writer for the SQLite file `file` (its table exists: the client's connection made it). */
  constructor(file: string) {
    const { port1, port2 } = new MessageChannel()
    this.replies = port1
    this.worker = new Worker(script, {
      eval: true,
      workerData: { file, sqlite: createRequire(import.meta.url).resolve("better-sqlite3"), signal: this.signal.buffer, port: port2 },
      transferList: [port2]
    })
    this.worker.unref()
    this.replies.unref()
    this.replies.on("message", (m: Reply) => this.answered(m))
    const stop = (why: string) => {
      this.stopped ??= { code: "", message: `the cache's writer thread stopped: ${why}`, stopped: true }
      this.failAll()
    }
    this.worker.on("error", (e) => stop(e instanceof Error ? e.message : String(e)))
    this.worker.on("exit", (code) => stop(`it exited with code ${code}`))
  }

  /** Batches sent and not answered yet. */
  get inFlight(): number {
    return this.waiting.size
  }

  /** Sends `rows` to be committed in one transaction; `done` gets the failure, if any, once they are (or are not). */
  send(rows: ReadonlyArray<WriterRow>, done: Done): void {
    if (this.stopped !== undefined) {
      done(this.stopped)
      return
    }
    const id = this.nextId++
    const n = rows.length
    const batch = {
      id,
      now: Date.now(),
      keys: new Array<string>(n),
      models: new Array<string>(n),
      contents: new Array<string>(n),
      finish: new Array<string | null>(n),
      prompt: new Array<number>(n),
      completion: new Array<number>(n)
    }
    for (let i = 0; i < n; i++) {
      const r = rows[i]!
      batch.keys[i] = r.key
      batch.models[i] = r.model
      batch.contents[i] = r.content
      batch.finish[i] = r.finish_reason
      batch.prompt[i] = r.prompt_tokens
      batch.completion[i] = r.completion_tokens
    }
    this.waiting.set(id, done)
    // While a batch is out the reply port keeps the process alive: its callers wait on it.
    if (this.waiting.size === 1) this.replies.ref()
    this.worker.postMessage(batch)
  }

  /** Blocks until every batch sent is answered (their `done` run), or the writer is found gone. */
  drain(): void {
    const deadline = Date.now() + drainTimeoutMs
    while (this.waiting.size > 0) {
      // The writer posts its reply before it bumps the signal: read the signal first, so a
      // reply that arrives after the port was found empty changes it and the wait returns.
      const seen = Atomics.load(this.signal, 0)
      const m = receiveMessageOnPort(this.replies)
      if (m !== undefined) {
        this.answered(m.message as Reply)
        continue
      }
      if (this.stopped === undefined && Date.now() >= deadline) {
        this.stopped = { code: "", message: `the cache's writer thread did not answer within ${drainTimeoutMs / 1000} s`, stopped: true }
      }
      if (this.stopped !== undefined) {
        this.failAll()
        return
      }
      Atomics.wait(this.signal, 0, seen, 100)
    }
  }

  /** Commits what was sent, closes the writer's connection and ends the thread. */
  close(): void {
    if (this.stopped === undefined) {
      const id = this.nextId++
      this.waiting.set(id, () => undefined)
      this.worker.postMessage({ id, close: true })
      this.drain()
    }
    this.stopped ??= { code: "", message: "the cache was closed", stopped: true }
    this.replies.close()
    void this.worker.terminate()
  }

  private answered(m: Reply): void {
    const done = this.waiting.get(m.id)
    if (done === undefined) return
    this.waiting.delete(m.id)
    if (this.waiting.size === 0) this.replies.unref()
    done(m.failure)
  }

  private failAll(): void {
    const failure = this.stopped!
    const all = [...this.waiting.values()]
    this.waiting.clear()
    this.replies.unref()
    for (const done of all) done(failure)
  }
}

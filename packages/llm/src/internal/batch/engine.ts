/**
 * The batcher of one model: the calls waiting for an answer (by cache key), the groups they are
 * sent in, each batch followed from its journal line to its results, the resubmission of items
 * worth another batch, and the pick-up of the batches a killed run left in the journal.
 */
import { Duration, Effect } from "effect"
import type { BatchHooks, Batcher, BatchStatus } from "../../Batch.js"
import type { ResolvedModel } from "../../Config.js"
import { type FailureKind, isRetryable, LlmRequestError } from "../../Errors.js"
import { type AttemptFailure, isFailure } from "../../Provider.js"
import { Board } from "./board.js"
import type { Answer, Dialect } from "./dialect.js"
import { BatchHttp, type JsonObject, parseObject } from "./http.js"
import { Journal, type Tracked } from "./journal.js"
import * as messages from "./messages.js"
import * as openai from "./openai.js"
import { Grouper, type Item } from "./queue.js"

/** The states a batch ends in. */
const terminal = new Set<string>(["completed", "failed", "expired", "cancelled"])

/** Resolves after `ms` milliseconds (at once when that is not positive). */
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)))

/** The results of an ended batch: the outcome of each custom id it answered, and how many lines could not be read. */
interface Results {
  readonly outcomes: Map<string, Answer | AttemptFailure>
  readonly malformed: number
}

/** The batcher of one model (see `Batch.make`). */
export class Engine implements Batcher {
  private closed = false
  private counter = 0
  /** Requests by cache key: waiting to be batched, or in a batch of this run or a killed one. */
  private readonly items = new Map<string, Item>()
  /** Keys a journaled batch of an earlier run holds, with no caller yet. */
  private readonly adopted = new Map<string, Tracked>()
  private readonly journal: Journal
  private readonly http: BatchHttp
  private readonly dialect: Dialect
  private readonly board: Board
  private readonly grouper: Grouper
  private readonly pollMs: number

  /** Makes the batcher (`endpointId` names the endpoint in errors) and picks up the batches a killed run journaled in `journal`. */
  constructor(
    private readonly config: ResolvedModel,
    journal: string | undefined,
    private readonly hooks: BatchHooks,
    private readonly endpointId: string
  ) {
    const isClosed = (): boolean => this.closed
    this.journal = new Journal(journal)
    this.http = new BatchHttp(config, isClosed)
    // Anthropic's Message Batches, else the OpenAI-compatible Batch API.
    this.dialect = config.provider === "anthropic" ? messages.dialect(config, this.http) : openai.dialect(config, this.http, this.journal)
    this.board = new Board(config.name, (message) => hooks.progress(message))
    this.grouper = new Grouper(config.batch, Duration.toMillis(config.batch.window), isClosed, (group) => void this.submit(group))
    this.pollMs = Duration.toMillis(config.batch.poll_interval)
    this.adopt()
  }

  /** Answers one chat request body (`Chat.body`) whose cache key is `key`, through a batch. */
  readonly call = (payload: object, key: string): Effect.Effect<Answer, LlmRequestError> =>
    Effect.async<Answer, LlmRequestError>((resume) => {
      const waiter = (r: Answer | LlmRequestError) => resume(r instanceof LlmRequestError ? Effect.fail(r) : Effect.succeed(r))
      this.wait(payload, key, waiter)
      return Effect.sync(() => this.forget(key, waiter))
    })

  /** Batches by state, and the requests in each. */
  readonly states = (): { [status: string]: { batches: number; requests: number } } => this.board.states()

  /** Stops polling (what is journaled stays for the next run). */
  readonly close = (): void => {
    this.closed = true
    this.grouper.stop()
  }

  /** Adds `waiter` to the call of `key`, queueing its request unless it is waited for already. */
  private wait(payload: object, key: string, waiter: (r: Answer | LlmRequestError) => void): void {
    const existing = this.items.get(key)
    if (existing !== undefined) {
      existing.waiters.push(waiter)
      return
    }
    const item: Item = { key, line: this.dialect.request(payload), payload, attempts: 0, waiters: [waiter] }
    this.items.set(key, item)
    // A batch of a killed run holds it: wait for that batch rather than paying again.
    if (!this.adopted.has(key)) this.grouper.add(item)
    else item.attempts = 1
  }

  /** Removes a waiter that was interrupted (its request stays in its batch). */
  private forget(key: string, waiter: (r: Answer | LlmRequestError) => void): void {
    const item = this.items.get(key)
    if (item === undefined) return
    const i = item.waiters.indexOf(waiter)
    if (i >= 0) item.waiters.splice(i, 1)
  }

  /** The error a call fails with. */
  private errorOf(kind: FailureKind, detail: string, attempts: number, status?: number): LlmRequestError {
    return new LlmRequestError({ model: this.config.name, endpoint: this.endpointId, kind, status, detail, attempts })
  }

  /** Ends the call of `item` with `r`, for every waiter. */
  private settle(item: Item, r: Answer | LlmRequestError): void {
    this.items.delete(item.key)
    for (const w of item.waiters.splice(0)) w(r)
  }

  /** Journals, creates and follows one batch of `group`. */
  private async submit(group: Array<Item>): Promise<void> {
    const { b, entries } = this.prepare(group)
    const batch = await this.dialect.create(b, entries)
    if (typeof batch !== "string") return this.abandon(b, group, batch)
    return this.submitted(b, batch, group.length)
  }

  /** Gives the items of `group` their custom ids in a new batch, and journals it. */
  private prepare(group: Array<Item>): { readonly b: Tracked; readonly entries: ReadonlyArray<string> } {
    const local = `${Date.now().toString(36)}-${process.pid}-${++this.counter}`
    const ids = new Map<string, string>()
    const entries: Array<string> = []
    group.forEach((item, i) => {
      const id = `${local}-${i}`
      ids.set(id, item.key)
      entries.push(this.dialect.entry(id, item.line))
      item.attempts++
    })
    const b: Tracked = { local, ids, status: "preparing", requests: group.length }
    this.board.tracked.set(local, b)
    this.journal.write({ t: "prepared", local, items: Object.fromEntries(ids) })
    this.board.report()
    return { b, entries }
  }

  /** Fails the calls of a batch that could not be created, and closes it in the journal. */
  private abandon(b: Tracked, group: Array<Item>, f: AttemptFailure): void {
    this.board.tracked.delete(b.local)
    this.journal.write({ t: "done", local: b.local })
    for (const item of group) {
      this.hooks.gaveUp(f.kind)
      this.settle(item, this.errorOf(f.kind, f.detail, item.attempts, f.status))
    }
    this.board.report()
  }

  /** Journals a batch the provider accepted, then follows it. */
  private async submitted(b: Tracked, batch: string, requests: number): Promise<void> {
    b.batch = batch
    b.status = "validating"
    this.journal.write({ t: "submitted", local: b.local, batch })
    this.hooks.sent(requests)
    this.board.report()
    await this.follow(b)
  }

  /** Polls a submitted batch until it ends, then takes in its results. */
  private async follow(b: Tracked): Promise<void> {
    for (;;) {
      if (this.closed) return
      await delay(this.pollMs)
      if (this.closed) return
      const r = await this.http.send("GET", this.dialect.statusPath(b.batch!))
      // The batch stays journaled: a later run polls it again.
      if (!r.ok) return this.release(b, r.failure, true)
      const o = parseObject(r.text) ?? {}
      const status = this.dialect.status(o)
      if (status !== b.status) {
        // The provider's word for it, shown as it is.
        b.status = status as BatchStatus
        this.board.report()
      }
      if (terminal.has(status)) return this.take(b, o)
    }
  }

  /**
   * Stops following `b`, left journaled for a later run, and fails the calls of this run that wait
   * for it with `f` (counted as given up when `gaveUp`).
   */
  private release(b: Tracked, f: AttemptFailure, gaveUp: boolean): void {
    this.board.tracked.delete(b.local)
    for (const key of b.ids.values()) {
      const item = this.items.get(key)
      if (item !== undefined) {
        if (gaveUp) this.hooks.gaveUp(f.kind)
        this.settle(item, this.errorOf(f.kind, `batch ${b.batch}: ${f.detail}`, item.attempts, f.status))
      }
      this.adopted.delete(key)
    }
    this.board.report()
  }

  /** Takes in the results of an ended batch: answers, resubmissions and failures. */
  private async take(b: Tracked, o: JsonObject): Promise<void> {
    const results = await this.collect(b, o)
    // Not downloadable now: the batch stays journaled and a later run takes it in.
    if ("kind" in results) return this.release(b, results, false)
    if (results.malformed > 0) {
      this.hooks.progress(`model ${this.config.name}: batch ${b.batch}: ${results.malformed} unreadable result line(s); their requests are resubmitted`)
    }
    const batchError = openai.batchFailure(o, this.http.scrub)
    for (const [id, key] of b.ids) {
      const outcome: Answer | AttemptFailure =
        results.outcomes.get(id) ??
        (b.status === "failed" ? batchError : { kind: "timeout", detail: `batch ${b.batch} ended ${b.status} without an answer to ${id}` })
      this.deliver(key, outcome)
    }
    this.board.finish(b, b.status)
    this.journal.write({ t: "done", local: b.local })
    this.board.report()
  }

  /** Downloads and reads the result files of an ended batch, or says why one could not be downloaded. */
  private async collect(b: Tracked, o: JsonObject): Promise<Results | AttemptFailure> {
    const outcomes = new Map<string, Answer | AttemptFailure>()
    let malformed = 0
    for (const path of this.dialect.resultPaths(b, o)) {
      const lines = await this.http.lines(path)
      if ("kind" in lines) return lines
      for (const line of lines) {
        const j = parseObject(line)
        const id = j?.custom_id
        if (j === undefined || typeof id !== "string" || !b.ids.has(id)) {
          malformed++
          continue
        }
        outcomes.set(id, this.dialect.outcome(j))
      }
    }
    return { outcomes, malformed }
  }

  /** Takes in the outcome of one item: stores an answer, resubmits a retryable failure, fails the call otherwise. */
  private deliver(key: string, outcome: Answer | AttemptFailure): void {
    this.adopted.delete(key)
    const item = this.items.get(key)
    if (!isFailure(outcome)) {
      this.hooks.answered(key, outcome)
      if (item !== undefined) this.settle(item, outcome)
      return
    }
    this.hooks.failed(outcome.kind)
    if (item === undefined) return
    if (isRetryable(outcome.kind) && item.attempts < this.config.batch.max_attempts) {
      this.hooks.retried(1)
      this.grouper.add(item)
    } else {
      this.hooks.gaveUp(outcome.kind)
      this.settle(item, this.errorOf(outcome.kind, outcome.detail, item.attempts, outcome.status))
    }
  }

  /** Follows every batch a killed run left open in the journal. */
  private adopt(): void {
    for (const b of this.journal.open()) {
      this.board.tracked.set(b.local, b)
      for (const key of b.ids.values()) this.adopted.set(key, b)
      void this.resume(b)
    }
  }

  /** Picks up a batch a killed run left: polls it if it was submitted, else looks for it, else batches its calls again. */
  private async resume(b: Tracked): Promise<void> {
    const lookup = this.lookup(b)
    if (lookup !== undefined) {
      const found = await lookup
      if (found !== undefined) {
        b.batch = found
        b.status = "validating"
        this.journal.write({ t: "submitted", local: b.local, batch: found })
      }
    }
    if (b.batch === undefined) return this.requeue(b)
    this.board.report()
    await this.follow(b)
  }

  /** Looks for the batch a killed run created for `b` but did not journal; none when it cannot be looked for. */
  private lookup(b: Tracked): Promise<string | undefined> | undefined {
    if (b.batch !== undefined) return undefined
    if (b.file !== undefined) return openai.findByFile(this.http, b.file)
    return this.dialect.findUnjournaled?.(b, this.board.batchIds())
  }

  /** Drops a batch that was never submitted: its calls are batched again, those that came while it was looked for too. */
  private requeue(b: Tracked): void {
    this.board.tracked.delete(b.local)
    this.journal.write({ t: "done", local: b.local })
    for (const key of b.ids.values()) {
      this.adopted.delete(key)
      const item = this.items.get(key)
      // A call that came meanwhile waited for this batch instead of being queued.
      if (item !== undefined) {
        item.attempts = 0
        this.grouper.add(item)
      }
    }
  }
}

/**
 * Row-wise stages with request-level admission: the scheduling every model stage shares.
 *
 * A row-wise stage is a function from one row to its outcome (the new row, a {@link Reject} or
 * a {@link Drop}), synchronous when it needs no call (a cached answer, a skipped row) and an
 * Effect otherwise. The scheduler admits rows one by one while the stage's models have room
 * (their {@link Gate}s: requests queued for an endpoint slot stay below a low-water mark), so
 * every endpoint slot is refilled as soon as it frees up, never when a chunk's slowest call
 * ends. Rows finish out of order and leave in input order through a reorder buffer bounded in
 * bytes: when it is full (behind a straggler) admission pauses instead of memory growing.
 *
 * Consecutive row-wise stages are fused by the runner ({@link fuse}): a row goes on to the next
 * stage as soon as it is through the previous one, so in `generate → judge` the judge starts on
 * a row the moment its answers exist and both models stay busy. Rejects, drops and counters are
 * reported at the in-order exit, so the output, the rejects and the stats are the same bytes
 * whatever the timing.
 */
import { Cause, Chunk, Effect, Exit, Fiber, Option, Queue, Runtime, Stream } from "effect"
import type { StageError } from "../Errors.js"
import { type Row, sameUnit } from "../Row.js"
import type { StageContext, Transform } from "../Stage.js"

/** A row the stage cannot process: it goes to rejects with the reason (prefixed with the stage id). */
export class Reject {
  constructor(
    readonly row: Row,
    readonly reason: string
  ) {}
}

/** A row the stage drops with a reason (counted; sent to the stage's `route` branch when it has one). */
export class Drop {
  constructor(
    readonly row: Row,
    readonly reason: string
  ) {}
}

/** What one row became in a stage. */
export type Outcome = Row | Reject | Drop

/**
 * The outcome of a row, now or after calls. The Effect fails only to stop the whole stage with a
 * {@link StageError} (a damaged response cache, a model whose every endpoint stays down).
 */
export type Pending = Outcome | Effect.Effect<Outcome, StageError>

/**
 * How busy what a stage calls is: a model's requests queued for an endpoint slot (waiting on a
 * rate limit, a retry back-off or a free slot) and how many it runs at once.
 */
export interface Gate {
  /** Requests accepted but not on an endpoint slot yet. */
  readonly backlog: () => number
  /** Requests it runs at once. */
  readonly capacity: number
  /** Calls `listener` whenever the backlog may have dropped (a slot was given back); returns the unsubscribe. */
  readonly subscribe: (listener: () => void) => () => void
}

/** One row-wise stage. */
export interface Step {
  /** The stage's context: rejects and drops are reported through it, in input order. */
  readonly ctx: StageContext
  /** The outcome of one row. A failed call is a {@link Reject}; a StageError stops the stage (and the run). */
  readonly one: (row: Row) => Pending
  /** What the stage calls (its models); none for a stage that only computes. */
  readonly gates: ReadonlyArray<Gate>
  /** Bound of the reorder buffer in bytes when the stage runs alone (default {@link defaultBufferBytes}). */
  readonly bufferBytes?: number | undefined
}

/** The default bound of a reorder buffer: 256 MiB of rows (estimated) in flight or waiting for their turn. */
export const defaultBufferBytes = 256 * 1024 * 1024

/** Symbol under which a row-wise transform carries its {@link Step}, so the runner can fuse it. */
export const StepKey: unique symbol = Symbol.for("@synthline/core/Rowwise/Step")

/** A transform made from a {@link Step}. */
export interface RowwiseTransform extends Transform<Row, Row> {
  readonly [StepKey]: Step
}

/** The step of a transform made by {@link transform}, if it is one. */
export const stepOf = (t: Transform<Row, Row>): Step | undefined => (t as Partial<RowwiseTransform>)[StepKey]

/** Options of {@link fuse}. */
export interface FuseOptions {
  /** Bound of the reorder buffer in bytes (default: the smallest of the steps', else {@link defaultBufferBytes}). */
  readonly bufferBytes?: number | undefined
  /**
   * Called for every row at the in-order exit with the input row and the index of the step that
   * rejected or dropped it (`steps.length` when it passed every step): the runner's counters.
   */
  readonly observe?: ((input: Row, stop: number) => void) | undefined
}

/** A row-wise stage as a stream transform (alone; the runner fuses neighbours). */
export const transform = (step: Step): RowwiseTransform => {
  const t = (rows: Stream.Stream<Row, StageError>) => fuse([step])(rows)
  return Object.assign(t, { [StepKey]: step })
}

/**
 * A rough size of a row in memory, in bytes: two per string character plus a little per value
 * and key. Conservative for one-byte strings, which V8 stores in one byte each.
 */
export const approxBytes = (v: unknown): number => {
  switch (typeof v) {
    case "string":
      return 16 + 2 * v.length
    case "object": {
      if (v === null) return 8
      if (Array.isArray(v)) {
        let n = 16
        for (const x of v) n += approxBytes(x)
        return n
      }
      let n = 32
      const o = v as { readonly [key: string]: unknown }
      const keys = Object.keys(o)
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!
        n += 16 + k.length + approxBytes(o[k])
      }
      return n
    }
    default:
      return 8
  }
}

/** What a fiber, a map entry and closures cost per row in flight, on top of the row itself. */
const perRowOverhead = 1024

/** Rows emitted downstream at once when more are ready; fewer wait at most {@link flushMs}. */
const emitRows = 512
const flushMs = 10

interface Done {
  readonly outcome: Outcome
  readonly stop: number
}

interface Entry {
  readonly input: Row
  /** The input row's estimate. */
  readonly inputBytes: number
  /** What the row counts for in the buffer now: its input's estimate while it waits on calls (the reservation for its answers is counted apart), then its result's. */
  bytes: number
  done: Done | undefined
}

type Item =
  | { readonly _tag: "rows"; readonly rows: Chunk.Chunk<Row>; readonly bytes: number }
  | { readonly _tag: "end" }
  | { readonly _tag: "fail"; readonly cause: Cause.Cause<StageError> }

const isEnd = (o: Outcome): o is Reject | Drop => o instanceof Reject || o instanceof Drop

/** Requests a gate may have queued before the first stage of a chain stops admitting rows. */
const lowWater = (g: Gate): number => Math.max(8, Math.ceil(g.capacity / 4))

/** The bound of a chain's reorder buffer: the option, else the smallest of the steps', else the default. */
const boundOf = (steps: ReadonlyArray<Step>, options: FuseOptions): number =>
  options.bufferBytes ??
  steps.reduce<number | undefined>((m, s) => (s.bufferBytes === undefined ? m : Math.min(m ?? s.bufferBytes, s.bufferBytes)), undefined) ??
  defaultBufferBytes

/** The estimate of a result row: the input's, adjusted for the top-level fields a stage set or removed. */
const resultBytes = (entry: Entry, result: Row): number => {
  const input = entry.input
  let bytes = entry.inputBytes
  for (const k of Object.keys(result)) {
    const v = result[k]
    const before = input[k]
    if (v === before) continue
    bytes += approxBytes(v) - (before === undefined ? -16 - k.length : approxBytes(before))
  }
  if (Object.keys(input).length > Object.keys(result).length) {
    for (const k of Object.keys(input)) if (!(k in result)) bytes -= 16 + k.length + approxBytes(input[k])
  }
  return bytes
}


/**
 * The state of one fused chain and its event handlers: the pump (emit what is ready in order,
 * admit what fits; run on every event) and the reader (keeps up to two chunks of upstream rows
 * ready for admission).
 */
class Fusion {
  readonly entries = new Map<number, Entry>()
  admitted = 0
  head = 0
  /** The first row at or after head that is not done yet. */
  readyEnd = 0
  /** Rows whose outcome is not known yet. */
  waiting = 0
  /** How much a row's answers add to it, on average (bytes). */
  growth: number | undefined
  /**
   * Every row waiting on calls has at least one, so at most all slots plus the queue the gates
   * allow: a bound that holds even when a stage's calls reach its model's backlog late.
   */
  readonly waitingCap: number
  /** Rows admitted and not yet emitted: results, and inputs of rows still waiting on calls. */
  heldBytes = 0
  /** Rows emitted and not yet taken downstream. */
  outBytes = 0
  readonly inbox: Array<Chunk.Chunk<Row>> = []
  /** Index into inbox[0]. */
  inboxAt = 0
  upstreamDone = false
  failure: Cause.Cause<StageError> | undefined
  upstreamFailure: Cause.Cause<StageError> | undefined
  finished = false
  readonly running = new Set<Fiber.RuntimeFiber<Done, StageError>>()
  readerWake: (() => void) | undefined
  flushTimer: ReturnType<typeof setTimeout> | undefined
  forceFlush = false
  scheduled = false
  pumping = false
  again = false
  /**
   * What each row still waiting on calls reserves for its answers before any row is back: an
   * equal share of the bound for each row that may wait.
   */
  readonly initialShare: number

  constructor(
    readonly steps: ReadonlyArray<Step>,
    readonly bound: number,
    readonly observe: FuseOptions["observe"],
    readonly runFork: <A, E>(effect: Effect.Effect<A, E>, options?: Runtime.RunForkOptions) => Fiber.RuntimeFiber<A, E>,
    readonly out: Queue.Queue<Item>
  ) {
    const gated = steps.flatMap((s) => s.gates)
    this.waitingCap = gated.length === 0 ? Number.POSITIVE_INFINITY : gated.reduce((n, g) => n + g.capacity + lowWater(g), 0)
    this.initialShare = Number.isFinite(this.waitingCap) ? bound / this.waitingCap : 0
  }

  readonly schedule = (): void => {
    if (this.scheduled || this.finished) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      this.pump()
    })
  }

  /**
   * What each row still waiting on calls reserves for its answers: what the answers of recent
   * rows added. It applies to every waiting row at once, including those admitted before it was
   * known, so once the first rows are back the bound holds for all of them.
   */
  readonly reserve = (): number => (this.growth === undefined ? this.initialShare : Math.max(0, this.growth))

  readonly open = (): boolean => {
    if (this.heldBytes + this.waiting * this.reserve() + this.outBytes >= this.bound) return false
    if (this.waiting >= this.waitingCap) return false
    for (const g of this.steps[0]!.gates) if (g.backlog() >= lowWater(g)) return false
    for (let i = 1; i < this.steps.length; i++) for (const g of this.steps[i]!.gates) if (g.backlog() >= g.capacity) return false
    return true
  }

  readonly continueFrom = (k: number, row: Row): Done | Effect.Effect<Done, StageError> => {
    let cur = row
    for (let i = k; i < this.steps.length; i++) {
      const r = this.steps[i]!.one(cur)
      if (Effect.isEffect(r)) {
        return Effect.flatMap(r, (o): Effect.Effect<Done, StageError> => {
          if (isEnd(o)) return Effect.succeed({ outcome: o, stop: i })
          const next = this.continueFrom(i + 1, o)
          return Effect.isEffect(next) ? next : Effect.succeed(next)
        })
      }
      if (isEnd(r)) return { outcome: r, stop: i }
      cur = r
    }
    return { outcome: cur, stop: this.steps.length }
  }

  readonly settle = (seq: number, entry: Entry, done: Done): void => {
    entry.done = done
    const bytes = isEnd(done.outcome) ? perRowOverhead : resultBytes(entry, done.outcome)
    this.heldBytes += bytes - entry.bytes
    entry.bytes = bytes
    if (!isEnd(done.outcome)) this.growth = this.growth === undefined ? bytes - entry.inputBytes : 0.9 * this.growth + 0.1 * (bytes - entry.inputBytes)
    if (seq === this.readyEnd) {
      this.readyEnd++
      for (;;) {
        const e = this.entries.get(this.readyEnd)
        if (e === undefined || e.done === undefined) break
        this.readyEnd++
      }
    }
  }

  readonly admit = (row: Row): void => {
    const seq = this.admitted++
    const inputBytes = approxBytes(row) + perRowOverhead
    const entry: Entry = { input: row, inputBytes, bytes: inputBytes, done: undefined }
    this.heldBytes += entry.bytes
    this.entries.set(seq, entry)
    const r = this.continueFrom(0, row)
    if (!Effect.isEffect(r)) {
      this.settle(seq, entry, r)
      return
    }
    this.waiting++
    const fiber = this.runFork(r, { immediate: true })
    this.running.add(fiber)
    fiber.addObserver((exit) => {
      this.running.delete(fiber)
      this.waiting--
      if (Exit.isSuccess(exit)) this.settle(seq, entry, exit.value)
      else if (!Cause.isInterruptedOnly(exit.cause)) this.failure ??= exit.cause
      this.schedule()
    })
  }

  readonly emit = (): void => {
    const rows: Array<Row> = []
    let bytes = 0
    for (; this.head < this.readyEnd; this.head++) {
      const e = this.entries.get(this.head)!
      this.entries.delete(this.head)
      const { outcome, stop } = e.done!
      this.observe?.(e.input, stop)
      // A row a stage built anew still belongs to its input's work unit.
      if (outcome instanceof Reject) {
        const ctx = this.steps[stop]!.ctx
        ctx.reject(sameUnit(e.input, outcome.row), `${ctx.stageId}: ${outcome.reason}`)
        this.heldBytes -= e.bytes
      } else if (outcome instanceof Drop) {
        this.steps[stop]!.ctx.drop(sameUnit(e.input, outcome.row), outcome.reason)
        this.heldBytes -= e.bytes
      } else {
        rows.push(sameUnit(e.input, outcome))
        bytes += e.bytes
      }
    }
    if (rows.length > 0) {
      this.heldBytes -= bytes
      this.outBytes += bytes
      this.out.unsafeOffer({ _tag: "rows", rows: Chunk.unsafeFromArray(rows), bytes })
    }
  }

  readonly pump = (): void => {
    if (this.pumping) {
      this.again = true
      return
    }
    this.pumping = true
    try {
      do {
        this.again = false
        if (this.finished) return
        if (this.failure !== undefined) {
          this.finished = true
          this.out.unsafeOffer({ _tag: "fail", cause: this.failure })
          return
        }
        // Admit from the inbox while there is room; a spent chunk makes room for the reader.
        for (;;) {
          if (this.inbox.length > 0 && this.inboxAt >= this.inbox[0]!.length) {
            this.inbox.shift()
            this.inboxAt = 0
            this.readerWake?.()
          }
          if (this.inbox.length === 0 || !this.open()) break
          this.admit(Chunk.unsafeGet(this.inbox[0]!, this.inboxAt++))
        }
        const drained = this.upstreamDone && this.inbox.length === 0
        const ready = this.readyEnd - this.head
        if (ready >= emitRows || (ready > 0 && (drained || this.forceFlush || this.running.size === 0))) {
          this.forceFlush = false
          this.emit()
        } else if (ready > 0 && this.flushTimer === undefined) {
          this.flushTimer = setTimeout(() => {
            this.flushTimer = undefined
            this.forceFlush = true
            this.schedule()
          }, flushMs)
        }
        if (drained && this.head === this.admitted) {
          this.finished = true
          this.out.unsafeOffer(this.upstreamFailure === undefined ? { _tag: "end" } : { _tag: "fail", cause: this.upstreamFailure })
          return
        }
      } while (this.again)
    } finally {
      this.pumping = false
    }
  }

  /** Resumes at once while the inbox has room for another chunk, else when the pump spends one. */
  readonly waitForRoom: Effect.Effect<void> = Effect.async<void>((resume) => {
    if (this.inbox.length < 2) return resume(Effect.void)
    this.readerWake = () => {
      this.readerWake = undefined
      resume(Effect.void)
    }
  })

  /** Pulls upstream chunks into the inbox until upstream ends (or fails). */
  readonly reader = (pull: Effect.Effect<Chunk.Chunk<Row>, Option.Option<StageError>>): Effect.Effect<void> => {
    const self = this
    return Effect.gen(function* () {
      for (;;) {
        yield* self.waitForRoom
        const next = yield* Effect.exit(pull)
        if (Exit.isSuccess(next)) {
          if (next.value.length > 0) self.inbox.push(next.value)
          self.schedule()
          continue
        }
        const end = Cause.flipCauseOption(next.cause)
        if (Option.isSome(end)) self.upstreamFailure = end.value
        self.upstreamDone = true
        self.schedule()
        return
      }
    })
  }

  /** Takes the next chunk downstream (its bytes leave the buffer), or ends or fails the stream. */
  readonly take: Effect.Effect<Chunk.Chunk<Row>, Option.Option<StageError>> = Effect.suspend(() =>
    Effect.flatMap(Queue.take(this.out), (item): Effect.Effect<Chunk.Chunk<Row>, Option.Option<StageError>> => {
      switch (item._tag) {
        case "rows":
          this.outBytes -= item.bytes
          this.schedule()
          return Effect.succeed(item.rows)
        case "end":
          return Effect.fail(Option.none())
        case "fail":
          return Effect.failCause(Cause.map(item.cause, Option.some))
      }
    })
  )
}

/**
 * Runs consecutive row-wise steps as one: each row goes through the steps in turn as soon as
 * the previous one is done with it, rows are admitted while the first step's models have room,
 * later steps' models have at most one capacity queued and the buffer has room, and rows leave
 * in input order.
 */
export const fuse =
  (steps: ReadonlyArray<Step>, options: FuseOptions = {}): Transform<Row, Row> =>
  (input) =>
    Stream.unwrapScoped(
      Effect.gen(function* () {
        const runtime = yield* Effect.runtime<never>()
        const out = yield* Queue.unbounded<Item>()
        const pull = yield* Stream.toPull(input)
        const f = new Fusion(steps, boundOf(steps, options), options.observe, Runtime.runFork(runtime), out)
        const unsubscribe: Array<() => void> = []
        for (const s of steps) for (const g of s.gates) unsubscribe.push(g.subscribe(f.schedule))
        yield* Effect.forkScoped(f.reader(pull))
        yield* Effect.addFinalizer(() =>
          Effect.gen(function* () {
            f.finished = true
            if (f.flushTimer !== undefined) clearTimeout(f.flushTimer)
            for (const u of unsubscribe) u()
            yield* Fiber.interruptAll([...f.running])
          })
        )
        return Stream.repeatEffectChunkOption(f.take)
      })
    )

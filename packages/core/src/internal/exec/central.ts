/**
 * Decisions of stateful stages taken in unit order, wherever the units' rows are processed.
 * A stage with `central` (see `Stage.Central`) asks its decider one request per chunk; with
 * worker threads the requests of different units arrive in any order, so each stage serves a
 * unit's requests only once every earlier unit is closed at that stage (its rows are past
 * the stage). The state then evolves exactly as in one thread reading the units in order.
 *
 * A stage whose decider is independent (`Central.independent`: lookups in state built before
 * any unit) is served at once instead, in any order, and keeps no answers.
 *
 * A unit is redone when its worker dies (out of memory, see `pool.ts`); its requests then come
 * again. Each answer is kept until its unit's result is in, and a request asked again gets the
 * same answer without the decider seeing it twice (its state and journal stay as one pass made them).
 */
import { Effect } from "effect"
import { errorText, StageError } from "../../Errors.js"
import type { Decider } from "../../Stage.js"

/** `StageContext.decide` for a decider in the runner's own thread: answers at once, in stream order. */
export const localDecide =
  (decider: Decider<unknown, unknown>, stageId: string, journal: (entry: string) => void) =>
  (request: unknown): Effect.Effect<unknown, StageError> =>
    Effect.try({
      try: () => decider.decide(request, journal),
      catch: (e) => new StageError({ stage: stageId, reason: errorText(e) })
    })

interface Waiting {
  readonly seq: number
  readonly request: unknown
  readonly reply: (response: Either) => void
}

/** A decision, or why the decider failed. */
export type Either = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: string }

/** One stage's ordered decisions. */
class StageQueue {
  /** Every unit below this one is closed at the stage. */
  private next: number
  private readonly closed = new Set<number>()
  private readonly waiting: Array<Waiting> = []
  /** Answers by unit, in request order, until the unit's result is in; and how many a redone unit has had again. */
  private readonly answered = new Map<number, { readonly answers: Array<Either>; replayed: number }>()

  constructor(
    private readonly decider: Decider<unknown, unknown>,
    first: number,
    private readonly journal: (seq: number, entry: string) => void,
    /** Answers depend on nothing earlier (`Central.independent`): served at once, none kept. */
    private readonly independent = false
  ) {
    this.next = first
  }

  request(seq: number, request: unknown, reply: (response: Either) => void): void {
    if (this.independent) reply(this.decide(seq, request))
    else if (seq <= this.next) this.serve(seq, request, reply)
    else this.waiting.push({ seq, request, reply })
  }

  private decide(seq: number, request: unknown): Either {
    try {
      return { ok: true, value: this.decider.decide(request, (entry) => this.journal(seq, entry)) }
    } catch (e) {
      return { ok: false, error: errorText(e) }
    }
  }

  close(seq: number): void {
    if (seq < this.next) return
    this.closed.add(seq)
    while (this.closed.delete(this.next)) this.next++
    if (this.waiting.length === 0) return
    // Serve in unit order, each unit's requests in arrival order.
    const ready = this.waiting.filter((w) => w.seq <= this.next).sort((a, b) => a.seq - b.seq)
    if (ready.length === 0) return
    for (const w of ready) this.waiting.splice(this.waiting.indexOf(w), 1)
    for (const w of ready) this.serve(w.seq, w.request, w.reply)
  }

  /** Forgets unit `seq`'s answers (its result is in: it will not be redone). */
  forget(seq: number): void {
    this.answered.delete(seq)
  }

  /** Unit `seq` is being redone: its requests get the answers it had, in order. */
  redo(seq: number): void {
    const a = this.answered.get(seq)
    if (a !== undefined) a.replayed = 0
    // A request of the dead worker still waiting is dropped: the unit asks again.
    for (let k = this.waiting.length - 1; k >= 0; k--) if (this.waiting[k]!.seq === seq) this.waiting.splice(k, 1)
  }

  private serve(seq: number, request: unknown, reply: (response: Either) => void): void {
    let kept = this.answered.get(seq)
    if (kept !== undefined && kept.replayed < kept.answers.length) {
      reply(kept.answers[kept.replayed++]!)
      return
    }
    const response = this.decide(seq, request)
    if (kept === undefined) {
      kept = { answers: [], replayed: 0 }
      this.answered.set(seq, kept)
    }
    kept.answers.push(response)
    kept.replayed = kept.answers.length
    reply(response)
  }
}

/** The ordered decisions of every stage of a run that has a decider. */
export class Coordinator {
  private readonly queues: Map<number, StageQueue>

  constructor(
    deciders: ReadonlyMap<number, Decider<unknown, unknown>>,
    first: number,
    journal: (stage: number, seq: number, entry: string) => void,
    /** Stages whose deciders are independent (`Central.independent`). */
    independent: ReadonlySet<number> = new Set()
  ) {
    this.queues = new Map([...deciders].map(([i, d]) => [i, new StageQueue(d, first, (seq, e) => journal(i, seq, e), independent.has(i))]))
  }

  /** Asks stage `stage`'s decider on behalf of unit `seq`; `reply` runs once it is that unit's turn. */
  request(stage: number, seq: number, request: unknown, reply: (response: Either) => void): void {
    const q = this.queues.get(stage)
    if (q === undefined) reply({ ok: false, error: `stage ${stage} takes no central decisions` })
    else q.request(seq, request, reply)
  }

  /** Unit `seq` has no more requests for `stage`. */
  close(stage: number, seq: number): void {
    this.queues.get(stage)?.close(seq)
  }

  /** Unit `seq` has no more requests for any stage (its result is in): its answers are forgotten. */
  closeAll(seq: number): void {
    for (const q of this.queues.values()) {
      q.close(seq)
      q.forget(seq)
    }
  }

  /** Unit `seq` is redone from the start (its worker died): every stage replays the answers it had. */
  redo(seq: number): void {
    for (const q of this.queues.values()) q.redo(seq)
  }
}

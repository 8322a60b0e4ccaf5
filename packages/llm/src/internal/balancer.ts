/**
 * Least-outstanding-requests balancing over a model's endpoints with per-endpoint concurrency.
 * An endpoint that fails `threshold` times in a row is cooled down (doubling up to a cap while
 * it keeps failing) and then probed with a single request before it takes load again.
 * Callers that find every endpoint busy wait in arrival order, each until its deadline at most.
 */
import { Effect } from "effect"

/** An endpoint slot holder. */
export interface Slot {
  readonly index: number
  outstanding: number
  readonly capacity: number
  failures: number
  cooldownUntil: number
  cooldownMs: number
}

/** How a request on an endpoint ended, for its health. */
export type Outcome = "ok" | "failed" | "neutral"

const noop = (): void => {}

/** A queued job: what runs with a slot, and what runs instead when it gives up (its deadline, or {@link Balancer.fail}). */
interface Waiter {
  readonly run: (slot: Slot) => void
  readonly giveUp: (() => void) | undefined
  timer: ReturnType<typeof setTimeout> | undefined
}

export class Balancer {
  readonly slots: Array<Slot>
  private readonly waiters: Array<Waiter> = []
  private timer: ReturnType<typeof setTimeout> | undefined
  private rr = 0
  private failed = false

  constructor(
    capacities: ReadonlyArray<number>,
    private readonly threshold: number,
    private readonly baseCooldownMs: number,
    private readonly maxCooldownMs: number,
    private readonly now: () => number = Date.now,
    /** Called when an endpoint starts a cool-down, with its end (ms since the epoch). */
    private readonly onCooldown: (slot: Slot, until: number) => void = noop
  ) {
    this.slots = capacities.map((capacity, index) => ({
      index,
      outstanding: 0,
      capacity,
      failures: 0,
      cooldownUntil: 0,
      cooldownMs: baseCooldownMs
    }))
  }

  /** Requests one endpoint can take now: 0 while cooling, 1 while probing, else its capacity. */
  private room(s: Slot, t: number): number {
    if (s.failures < this.threshold) return s.capacity - s.outstanding
    if (t < s.cooldownUntil) return 0
    return 1 - s.outstanding
  }

  private pick(): Slot | undefined {
    const t = this.now()
    let best: Slot | undefined
    const n = this.slots.length
    for (let k = 0; k < n; k++) {
      const s = this.slots[(this.rr + k) % n]!
      if (this.room(s, t) <= 0) continue
      if (best === undefined || s.outstanding < best.outstanding) best = s
    }
    if (best !== undefined) {
      best.outstanding++
      this.rr = (best.index + 1) % n
    }
    return best
  }

  private dispatch(): void {
    while (this.waiters.length > 0) {
      const s = this.pick()
      if (s === undefined) break
      const w = this.waiters.shift()!
      if (w.timer !== undefined) clearTimeout(w.timer)
      w.run(s)
    }
    if (this.waiters.length > 0) this.wakeAfterCooldown()
  }

  /** When every free endpoint is cooling down, wakes the queue at the earliest end of a cool-down. */
  private wakeAfterCooldown(): void {
    if (this.timer !== undefined) return
    const t = this.now()
    let next = Number.POSITIVE_INFINITY
    for (const s of this.slots) if (s.failures >= this.threshold && s.cooldownUntil > t) next = Math.min(next, s.cooldownUntil)
    if (next === Number.POSITIVE_INFINITY) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.dispatch()
    }, next - t + 1)
  }

  /** Waits at most `ms` for an endpoint with room: `undefined` when it gives up (its deadline, or {@link fail}). */
  acquireWithin(ms: number): Effect.Effect<Slot | undefined> {
    return Effect.async<Slot | undefined>((resume) => {
      const withdraw = this.submit((s) => resume(Effect.succeed(s)), { afterMs: ms, run: () => resume(Effect.succeed(undefined)) })
      return Effect.sync(withdraw)
    })
  }

  /** Waits for an endpoint with room; interruption leaves the queue. */
  readonly acquire: Effect.Effect<Slot> = Effect.async<Slot>((resume) => {
    const withdraw = this.submit((s) => resume(Effect.succeed(s)))
    return Effect.sync(withdraw)
  })

  /**
   * Runs `job` with an endpoint now if one has room and nobody is waiting, else queues it; a
   * queued job runs synchronously inside the {@link release} that frees its endpoint, so a
   * request can start from the very callback that ended the previous one. Returns a function
   * that takes a job still waiting out of the queue.
   */
  submit(job: (slot: Slot) => void, giveUp?: { readonly afterMs: number; readonly run: () => void }): () => void {
    if (this.failed) {
      giveUp?.run()
      return noop
    }
    if (this.waiters.length === 0) {
      const s = this.pick()
      if (s !== undefined) {
        job(s)
        return noop
      }
    }
    const w: Waiter = { run: job, giveUp: giveUp?.run, timer: undefined }
    const withdraw = (): void => {
      if (w.timer !== undefined) clearTimeout(w.timer)
      w.timer = undefined
      const i = this.waiters.indexOf(w)
      if (i >= 0) this.waiters.splice(i, 1)
    }
    if (giveUp !== undefined) {
      w.timer = setTimeout(() => {
        w.timer = undefined
        withdraw()
        giveUp.run()
      }, Math.max(0, giveUp.afterMs))
    }
    this.waiters.push(w)
    this.wakeAfterCooldown()
    return withdraw
  }

  /** From now on no job gets a slot: every queued job gives up, and so does every later one. */
  fail(): void {
    this.failed = true
    for (const w of this.waiters.splice(0)) {
      if (w.timer !== undefined) clearTimeout(w.timer)
      w.giveUp?.()
    }
  }

  /** Gives an endpoint back with the outcome of its request. */
  release(s: Slot, outcome: Outcome): void {
    s.outstanding--
    if (outcome === "ok") {
      s.failures = 0
      s.cooldownMs = this.baseCooldownMs
    } else if (outcome === "failed") {
      const t = this.now()
      if (s.failures >= this.threshold) {
        // Already cooling: a request that was in flight when the cool-down began changes nothing.
        // Past the cool-down this was the probe: cool down again, for twice as long.
        if (t >= s.cooldownUntil) {
          s.cooldownMs = Math.min(this.maxCooldownMs, s.cooldownMs * 2)
          s.cooldownUntil = t + s.cooldownMs
          this.onCooldown(s, s.cooldownUntil)
        }
      } else if (++s.failures >= this.threshold) {
        s.cooldownUntil = t + s.cooldownMs
        this.onCooldown(s, s.cooldownUntil)
      }
    }
    this.dispatch()
  }

  /** Whether an endpoint is cooling down now. */
  cooling(s: Slot): boolean {
    return s.failures >= this.threshold && this.now() < s.cooldownUntil
  }

  /** Stops the cool-down timer and the queued jobs' deadlines. */
  close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    for (const w of this.waiters) if (w.timer !== undefined) clearTimeout(w.timer)
  }
}

/**
 * The batches of one batcher by state: those it follows (its own and a killed run's) and those
 * that ended, counted with their requests, and the progress line that sums them up.
 */
import type { BatchStatus } from "../../Batch.js"
import type { Tracked } from "./journal.js"

/** Batches and requests in one state. */
interface Count {
  batches: number
  requests: number
}

/** The order states are shown in. */
const order = ["preparing", "validating", "in_progress", "finalizing", "completed", "failed", "expired", "cancelled"]

/** The batches a batcher follows and those that ended, with the progress line about them. */
export class Board {
  /** The batches followed, by local id. */
  readonly tracked = new Map<string, Tracked>()
  private readonly finished = new Map<string, Count>()
  private lastProgress = ""

  /** `model` names the model in the progress line, which goes to `progress` whenever it changes. */
  constructor(
    private readonly model: string,
    private readonly progress: (message: string) => void
  ) {}

  /** Batches by state, and the requests in each. */
  readonly states = (): { [status: string]: Count } => {
    const out: { [status: string]: Count } = {}
    for (const [k, v] of this.finished) out[k] = { ...v }
    for (const b of this.tracked.values()) {
      const e = out[b.status] ?? { batches: 0, requests: 0 }
      e.batches++
      e.requests += b.requests
      out[b.status] = e
    }
    return out
  }

  /** Shows the progress line, when it changed. */
  report(): void {
    const s = this.states()
    const parts = order.filter((k) => s[k] !== undefined).map((k) => `${s[k]!.batches} ${k} (${s[k]!.requests} requests)`)
    const line = `model ${this.model}: batches: ${parts.length === 0 ? "none" : parts.join(", ")}`
    if (line !== this.lastProgress) {
      this.lastProgress = line
      this.progress(line)
    }
  }

  /** Stops following `b`, counting it as ended in `status`. */
  finish(b: Tracked, status: BatchStatus): void {
    this.tracked.delete(b.local)
    const e = this.finished.get(status) ?? { batches: 0, requests: 0 }
    e.batches++
    e.requests += b.requests
    this.finished.set(status, e)
  }

  /** The batch ids of the batches followed. */
  batchIds(): ReadonlySet<string> {
    return new Set([...this.tracked.values()].flatMap((t) => (t.batch !== undefined ? [t.batch] : [])))
  }
}

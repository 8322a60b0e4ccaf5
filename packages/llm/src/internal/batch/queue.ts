/**
 * The requests of batch mode waiting for a batch, and how they are grouped: a group goes out when
 * it holds `max_requests` requests, when the next one would take it past `max_bytes`, or when the
 * batch window has passed since its first request came.
 */
import type { LlmRequestError } from "../../Errors.js"
import type { Answer } from "./dialect.js"

/** One request waiting for, or in, a batch. */
export interface Item {
  readonly key: string
  readonly line: string
  readonly payload: object
  attempts: number
  readonly waiters: Array<(r: Answer | LlmRequestError) => void>
}

/** The limits of one group. */
export interface GroupLimits {
  readonly max_requests: number
  readonly max_bytes: number
}

/** Gathers items into groups and hands each full (or timed-out) group to `submit`. */
export class Grouper {
  private queue: Array<Item> = []
  private queueBytes = 0
  private timer: ReturnType<typeof setTimeout> | undefined

  /** `closed` says when the run has ended: no group goes out after that. */
  constructor(
    private readonly limits: GroupLimits,
    private readonly windowMs: number,
    private readonly closed: () => boolean,
    private readonly submit: (group: Array<Item>) => void
  ) {}

  /** Adds an item, sending the group out first when it would not fit. */
  readonly add = (item: Item): void => {
    const bytes = Buffer.byteLength(item.line) + 1
    const { max_requests, max_bytes } = this.limits
    if (this.queue.length > 0 && (this.queue.length >= max_requests || this.queueBytes + bytes > max_bytes)) this.flush()
    this.queue.push(item)
    this.queueBytes += bytes
    if (this.queue.length >= max_requests) this.flush()
    else if (this.timer === undefined) this.timer = setTimeout(this.flush, this.windowMs)
  }

  /** Sends the group out now (unless it is empty or the run has ended). */
  readonly flush = (): void => {
    this.stop()
    if (this.queue.length === 0 || this.closed()) return
    const group = this.queue
    this.queue = []
    this.queueBytes = 0
    this.submit(group)
  }

  /** Cancels the window's timer. */
  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }
}

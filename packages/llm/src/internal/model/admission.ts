/**
 * Admission of one model's requests to its endpoint slots: the {@link Balancer} over its endpoints,
 * the backlog of calls waiting for a slot (what `Model.load` reports to request-level admission),
 * the requests in flight, and the counting of a request when it takes a slot.
 */
import type { Rowwise } from "@synthline/core/Stage"
import { Duration } from "effect"
import type { ResolvedModel } from "../../Config.js"
import type * as Provider from "../../Provider.js"
import type * as Usage from "../../Usage.js"
import { Balancer, type Outcome, type Slot } from "../balancer.js"
import type { EndpointFailures } from "./health.js"

/** A call's place in the backlog: counted from its first attempt until it holds a slot, again while it backs off. */
export interface QueueEntry {
  /** Counts the call in the backlog (once however often it is called). */
  readonly enter: () => void
  /** Takes the call out of the backlog, if it is in it, and tells the listeners. */
  readonly leave: () => void
}

/** The balancer over a model's endpoints; a cool-down is announced through `warn`. */
export const openBalancer = (
  config: ResolvedModel,
  transport: Provider.Transport,
  failures: EndpointFailures,
  warn: (message: string) => void
): Balancer =>
  new Balancer(
    transport.endpoints.map((e) => e.capacity),
    config.failure_threshold,
    Duration.toMillis(config.cooldown),
    Math.max(Duration.toMillis(config.cooldown), 300_000),
    Date.now,
    (slot, until) => warn(failures.cooldownNotice(config.name, slot, until))
  )

/** Requests accepted and not on a slot yet, requests in flight, and who wants to hear when slots free up. */
export class Admission {
  /** Calls accepted and not on a slot yet (rate limits, back-off, every slot taken). */
  backlog = 0
  /** Requests on an endpoint slot. */
  inFlight = 0
  /** Since when requests have been in flight without a break (time in flight is what an hourly price is charged for). */
  busySince = 0
  /** The model's load, for request-level admission (`Stage.Rowwise`). */
  readonly load: Rowwise.Gate
  private readonly listeners = new Set<() => void>()

  constructor(
    readonly balancer: Balancer,
    private readonly usage: Usage.ModelUsage,
    private readonly wire: Usage.WireLog,
    private readonly endpointIds: ReadonlyArray<string>,
    capacity: number
  ) {
    this.load = {
      backlog: () => this.backlog,
      capacity,
      subscribe: (listener) => {
        this.listeners.add(listener)
        return () => void this.listeners.delete(listener)
      }
    }
  }

  /** Tells every listener that the backlog or the slots changed. */
  notify(): void {
    for (const l of this.listeners) l()
  }

  /** A new call's place in the backlog. */
  entry(): QueueEntry {
    let queued = false
    return {
      enter: (): void => {
        if (!queued) {
          queued = true
          this.backlog++
        }
      },
      leave: (): void => {
        if (queued) {
          queued = false
          this.backlog--
          this.notify()
        }
      }
    }
  }

  /** A call took `slot`: out of the backlog, in flight, and counted as a request on its endpoint. */
  taken(slot: Slot, entry: QueueEntry): void {
    entry.leave()
    if (this.inFlight === 0) this.busySince = Date.now()
    this.inFlight++
    this.usage.requests++
    this.usage.endpoints[this.endpointIds[slot.index]!]!.requests++
    this.wire.request(slot.index)
  }

  /** A request gave `slot` back, ending as `outcome`. */
  release(slot: Slot, outcome: Outcome): void {
    this.inFlight--
    if (this.inFlight === 0) this.usage.busy_ms += Date.now() - this.busySince
    this.balancer.release(slot, outcome)
    this.notify()
  }
}

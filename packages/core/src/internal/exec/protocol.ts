/**
 * Messages between the runner and its worker threads. A worker loads the pipeline file itself,
 * is given the runner's planned work units, and processes the ones it is sent: it reads them, runs the
 * stages and encodes the main sink's bytes; only encoded bytes, counters, rejects and routed
 * rows travel back. Stateful stages ask the runner for their decisions (`decide`), which it
 * takes in unit order.
 */
import type { Profile } from "../../Profile.js"
import type { EncodedRows } from "../../Sink.js"
import type { Row } from "../../Row.js"
import type { WorkUnit } from "../../Source.js"
import type { UnitDelta } from "./delta.js"

/** What a worker is started with (`workerData`). */
export interface WorkerInit {
  readonly file: string
  readonly fingerprint: string
  /**
   * The shard's planned units, as the runner planned them: a worker does not plan again (planning
   * a plain JSON-lines file reads it whole, once is enough).
   */
  readonly units: ReadonlyArray<WorkUnit>
}

/** Runner → worker. */
export type ToWorker =
  | { readonly t: "unit"; readonly seq: number }
  | { readonly t: "decided"; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly t: "decided"; readonly id: number; readonly ok: false; readonly error: string }
  | { readonly t: "end" }

/** An error a worker failed with, by its tag and fields (rebuilt as the same class by the runner). */
export interface WorkerFailure {
  readonly _tag: string
  readonly fields: { readonly [key: string]: unknown }
  readonly message: string
}

/** One unit, processed. */
export interface UnitDone {
  readonly t: "done"
  readonly seq: number
  readonly delta: UnitDelta
  /** The main sink's rows, encoded (sinks with an encoding) … */
  readonly encoded?: EncodedRows | undefined
  /** … or as rows (sinks without one). */
  readonly rows?: ReadonlyArray<Row> | undefined
  /** What the main sink's rows of this unit look like. */
  readonly profile: Profile
}

/** Worker → runner. */
export type FromWorker =
  | { readonly t: "ready" }
  | { readonly t: "decide"; readonly id: number; readonly stage: number; readonly seq: number; readonly request: unknown }
  /** Unit `seq` brings no request to `stage` (no row of it reached the stage). */
  | { readonly t: "close"; readonly stage: number; readonly seq: number }
  | UnitDone
  | { readonly t: "failed"; readonly error: WorkerFailure }

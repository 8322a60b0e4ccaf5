/**
 * Messages between the runner and its worker threads. A worker loads the pipeline file itself,
 * plans the same work units, and processes the units it is given: it reads them, runs the
 * stages and encodes the main sink's bytes; only encoded bytes, counters, rejects and routed
 * rows travel back. Stateful stages ask the runner for their decisions (`decide`), which it
 * takes in unit order.
 */
import type { Profile } from "../../Profile.js"
import type { EncodedRows } from "../../Sink.js"
import type { Row } from "../../Row.js"
import type { UnitDelta } from "./delta.js"

/** What a worker is started with (`workerData`). */
export interface WorkerInit {
  readonly file: string
  readonly fingerprint: string
  readonly shard: { readonly index: number; readonly count: number }
  /** Ids of the shard's planned units, to check the worker plans the same ones. */
  readonly unitIds: ReadonlyArray<string>
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

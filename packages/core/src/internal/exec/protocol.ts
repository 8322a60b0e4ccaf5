/**
 * Messages between the runner and its worker threads. A worker loads the pipeline file itself,
 * is given the runner's planned work units, and processes the ones it is sent: it reads them, runs the
 * stages and encodes the bytes of the main sink and of every output; only encoded bytes, counters, rejects and routed
 * rows travel back. Stateful stages ask the runner for their decisions (`decide`), which it
 * takes in unit order.
 */
import type { WorkUnit } from "../../Source.js"
import type { Collected } from "./collect.js"
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
  /** Where the runner found the plugins the file's sink options imply (see `DecodeOptions.implied`). */
  readonly implied?: { readonly [specifier: string]: string } | undefined
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
  /** The main sink's share of the unit (its `where:` selection of the rows that reach the end). */
  readonly main: Collected
  /** Each output's share (its `where:` selection), in the order of the pipeline's `outputs:`. */
  readonly outputs: ReadonlyArray<Collected>
}

/** Worker → runner. */
export type FromWorker =
  | { readonly t: "ready" }
  | { readonly t: "decide"; readonly id: number; readonly stage: number; readonly seq: number; readonly request: unknown }
  /** Unit `seq` brings no request to `stage` (no row of it reached the stage). */
  | { readonly t: "close"; readonly stage: number; readonly seq: number }
  | UnitDone
  | { readonly t: "failed"; readonly error: WorkerFailure }

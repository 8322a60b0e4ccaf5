/**
 * Batch mode of a model (`mode: batch`): its chat calls are grouped into batch files and sent
 * through the OpenAI-compatible Batch API (`POST /files` with purpose `batch`, `POST /batches`,
 * `GET /batches/{id}` until it ends, then the output and error files from
 * `GET /files/{id}/content`). Each answer is stored in the same response cache as an online
 * call, under the same key. Every batch is journaled in the run's state folder before it is
 * submitted (its `custom_id` → cache key map, then its file id, then its batch id), so a killed
 * run resumes by polling the batches it submitted, never by submitting them again. Items that
 * expired, failed for a retryable reason or are missing from the output are resubmitted in a
 * later batch, alone; permanent errors fail their calls with the provider's message.
 *
 * A model with `provider: anthropic` goes through the Anthropic Message Batches API instead
 * (`POST /messages/batches` with the requests inline, `GET /messages/batches/{id}` until its
 * `processing_status` is `ended`, then the JSONL of `GET /messages/batches/{id}/results`), with
 * the same journal (there is no file step), resubmissions and cache keys.
 */
import type { Effect } from "effect"
import type { Completion } from "./Chat.js"
import type { ResolvedModel } from "./Config.js"
import type { FailureKind, LlmRequestError } from "./Errors.js"
import { Engine } from "./internal/batch/engine.js"
import * as Journal from "./internal/batch/journal.js"
import { displayUrl } from "./Provider.js"

type Answer = Omit<Completion, "cached">

/** A batch's state as the provider reports it. */
export type BatchStatus =
  | "preparing"
  | "validating"
  | "in_progress"
  | "finalizing"
  | "completed"
  | "failed"
  | "expired"
  | "cancelling"
  | "cancelled"

/** What the model around a batcher is told, so its usage and cache stay those of online calls. */
export interface BatchHooks {
  /** An item went out in a batch (counted as a request). */
  readonly sent: (items: number) => void
  /** An item came back answered; stores it in the cache (a failure here stops the run). */
  readonly answered: (key: string, answer: Answer) => void
  /** An item failed (an attempt; it may be resubmitted). */
  readonly failed: (kind: FailureKind) => void
  /** An item was resubmitted. */
  readonly retried: (items: number) => void
  /** A call failed for good. */
  readonly gaveUp: (kind: FailureKind) => void
  /** A line for the progress display. */
  readonly progress: (message: string) => void
}

/** The batch client of one model. */
export interface Batcher {
  /** Answers one chat request body (`Chat.body`) whose cache key is `key`, through a batch. */
  readonly call: (payload: object, key: string) => Effect.Effect<Answer, LlmRequestError>
  /** Batches by state, and the requests in each. */
  readonly states: () => { readonly [status: string]: { readonly batches: number; readonly requests: number } }
  /** Stops polling (what is journaled stays for the next run). */
  readonly close: () => void
}

/** Reads a journal: every batch not yet done, in the order they were prepared. */
export const readJournal = (file: string): ReadonlyArray<Journal.Tracked> => Journal.readJournal(file)

/**
 * Makes the batcher of a model. `journal` is the file its batches are recorded in (none: batches
 * live in memory only, and a killed run cannot pick them up).
 */
export const make = (
  config: ResolvedModel,
  journal: string | undefined,
  hooks: BatchHooks,
  /** How the endpoint is named in errors (the run's secrets masked). */
  endpointId: string = displayUrl(config.endpoints[0] ?? "")
): Batcher => new Engine(config, journal, hooks, endpointId)

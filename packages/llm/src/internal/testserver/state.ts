/**
 * What one running test server holds: its options, counters, faults to come, latency, uploaded
 * files, batches and recorded requests. Every route handler of the test server reads and changes
 * one {@link ServerState}; `TestServer.start` creates it and hands its parts out in the handle.
 */
import type { Counts, Fault, TestServer, TestServerOptions } from "../../TestServer.js"
import { RateWindow } from "./rateLimit.js"

/** A file uploaded (`POST /v1/files`) or written as a batch's results. */
export interface StoredFile {
  readonly text: string
  readonly filename: string
  readonly purpose: string
}

/** A batch the server holds. */
export interface ServedBatch {
  readonly n: number
  readonly id: string
  readonly input_file_id: string
  readonly created_at: number
  readonly metadata: unknown
  polls: number
  status: string
  output_file_id: string | null
  error_file_id: string | null
  errors: unknown
  request_counts: { total: number; completed: number; failed: number }
}

/** A Message Batch the server holds. */
export interface ServedMessageBatch {
  readonly n: number
  readonly id: string
  readonly requests: ReadonlyArray<{ readonly custom_id: string; readonly params: unknown }>
  /** When it was created (ms since the epoch). */
  readonly created: number
  polls: number
  processing_status: "in_progress" | "ended"
  request_counts: { processing: number; succeeded: number; errored: number; canceled: number; expired: number }
  /** The results JSONL, once ended. */
  results: string | undefined
}

/** The mutable state of one test server, shared by its route handlers. */
export class ServerState {
  /** Delay before every answer, in ms (`latencyMs`, then `setLatency`). */
  latency: number
  /** Faults for the next requests, in order (`failNext`). */
  readonly queue: Array<Fault> = []
  /** The fault of every request while set (`failAll`). */
  always: Fault | undefined = undefined
  /** The request counters. */
  readonly counts: Counts = { chat: 0, translate: 0, moderation: 0, faults: 0, files: 0, batches: 0, batch_polls: 0, batch_requests: 0, total: 0 }
  /** Uploaded files and batch result files, by id. */
  readonly files = new Map<string, StoredFile>()
  /** OpenAI batches, by id. */
  readonly batches = new Map<string, ServedBatch>()
  /** Anthropic Message Batches, by id. */
  readonly messageBatches = new Map<string, ServedMessageBatch>()
  /** Recorded requests (with `record: true`). */
  readonly requests: TestServer["requests"] = []
  /** Chat requests whose body has been read so far: the `n` that `options.latency` gets. */
  chatArrivals = 0
  /** Requests being handled now (`settled` waits for none). */
  handling = 0
  /** `http://127.0.0.1:PORT`, once the server listens. */
  url = ""
  /** The fixed window of `rateLimit`. */
  readonly window: RateWindow

  /** A fresh state for a server started with these options. */
  constructor(readonly options: TestServerOptions) {
    this.latency = options.latencyMs ?? 0
    this.window = new RateWindow(options)
  }
}

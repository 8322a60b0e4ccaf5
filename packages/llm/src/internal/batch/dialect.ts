/**
 * What differs between the Batch APIs batch mode speaks (the OpenAI-compatible one and
 * Anthropic's Message Batches): the shape of a request line, how a batch is created, where it is
 * polled and its results read, how a result line reads, and how a batch a killed run created but
 * did not journal is found again.
 */
import type { Completion } from "../../Chat.js"
import type { AttemptFailure } from "../../Provider.js"
import type { JsonObject } from "./http.js"
import type { Tracked } from "./journal.js"

/** An answer of a batch item (never from the cache). */
export type Answer = Omit<Completion, "cached">

/** One Batch API, as batch mode uses it. */
export interface Dialect {
  /** The request of a chat body (`Chat.body`) in this API's shape, as JSON. */
  readonly request: (payload: object) => string
  /** One line of a batch: the request `line` under its custom id. */
  readonly entry: (customId: string, line: string) => string
  /** Creates the batch `b` of `entries` (uploading its file first where the API has one): its batch id, or why not. */
  readonly create: (b: Tracked, entries: ReadonlyArray<string>) => Promise<string | AttemptFailure>
  /** The path a batch is polled at. */
  readonly statusPath: (batch: string) => string
  /** The state a poll of a batch reports. */
  readonly status: (o: JsonObject) => string
  /** Where an ended batch's results are (an entry with no path: that file does not exist). */
  readonly resultPaths: (b: Tracked, o: JsonObject) => ReadonlyArray<string | undefined>
  /** One result line: the answer, or why there is none. */
  readonly outcome: (line: JsonObject) => Answer | AttemptFailure
  /**
   * Finds the batch a killed run created for `b`, which names no file, but did not journal;
   * `known` are the batch ids the journal names. Absent: such a batch cannot be found.
   */
  readonly findUnjournaled?: (b: Tracked, known: ReadonlySet<string>) => Promise<string | undefined>
}

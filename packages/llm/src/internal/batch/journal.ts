/**
 * The journal of batch mode: one JSON line per step of a batch (`prepared` with its
 * `custom_id` → cache key map, `uploaded` with its file id, `submitted` with its batch id, `done`),
 * each appended before the step it announces is taken, so a killed run's successor knows which
 * batches to poll and which to look for.
 */
import { appendFileSync, mkdirSync, readFileSync } from "node:fs"
import { dirname } from "node:path"
import { isRecord as isObject } from "@synthline/core/Row"
import type { BatchStatus } from "../../Batch.js"

/** One batch of this run or of a killed one. */
export interface Tracked {
  readonly local: string
  /** custom_id → cache key. */
  readonly ids: Map<string, string>
  status: BatchStatus
  file?: string
  batch?: string
  requests: number
}

/** A journal line. */
export type JournalRecord =
  | { readonly t: "prepared"; readonly local: string; readonly items: { readonly [customId: string]: string } }
  | { readonly t: "uploaded"; readonly local: string; readonly file: string }
  | { readonly t: "submitted"; readonly local: string; readonly batch: string }
  | { readonly t: "done"; readonly local: string }

/** Applies one parsed journal line to the batches still open. */
const apply = (open: Map<string, Tracked>, r: { readonly [key: string]: unknown }, local: string): void => {
  if (r.t === "prepared" && isObject(r.items)) {
    const ids = new Map<string, string>()
    for (const [id, key] of Object.entries(r.items)) if (typeof key === "string") ids.set(id, key)
    open.set(local, { local, ids, status: "preparing", requests: ids.size })
  } else if (r.t === "uploaded" && typeof r.file === "string") {
    const b = open.get(local)
    if (b !== undefined) b.file = r.file
  } else if (r.t === "submitted" && typeof r.batch === "string") {
    const b = open.get(local)
    if (b !== undefined) {
      b.batch = r.batch
      b.status = "validating"
    }
  } else if (r.t === "done") open.delete(local)
}

/** Reads a journal: every batch not yet done, in the order they were prepared. */
export const readJournal = (file: string): ReadonlyArray<Tracked> => {
  let text: string
  try {
    text = readFileSync(file, "utf8")
  } catch {
    return []
  }
  const open = new Map<string, Tracked>()
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue
    let r: unknown
    try {
      r = JSON.parse(line)
    } catch {
      // A line a kill cut short: the last one, for a step that did not finish.
      continue
    }
    if (!isObject(r) || typeof r.local !== "string") continue
    apply(open, r, r.local)
  }
  return [...open.values()]
}

/** The journal file of one batcher (none: batches live in memory only). */
export class Journal {
  /** Creates the journal's folder, when there is a journal. */
  constructor(readonly file: string | undefined) {
    if (file !== undefined) mkdirSync(dirname(file), { recursive: true })
  }

  /** Appends one record. */
  write(r: JournalRecord): void {
    if (this.file === undefined) return
    // Appended synchronously: on disk (the page cache) before the step it announces is taken.
    appendFileSync(this.file, `${JSON.stringify(r)}\n`)
  }

  /** The batches a killed run left open (none without a journal). */
  open(): ReadonlyArray<Tracked> {
    return this.file === undefined ? [] : readJournal(this.file)
  }
}

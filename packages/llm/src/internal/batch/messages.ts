/**
 * Anthropic's Message Batches API: the batch created by `POST /messages/batches` with its
 * requests inline (no file step), polled at `GET /messages/batches/{id}` until its
 * `processing_status` is `ended`, its results the JSONL of `GET /messages/batches/{id}/results`.
 */
import { Duration } from "effect"
import { isRecord as isObject } from "@synthline/core/Row"
import type { ResolvedModel } from "../../Config.js"
import * as anthropic from "../anthropic.js"
import type { Dialect } from "./dialect.js"
import { type BatchHttp, type JsonObject, parseObject } from "./http.js"
import type { Tracked } from "./journal.js"

/** How many requests a listed Message Batch holds, in all its states. */
const requestCount = (d: JsonObject): number => {
  const c = isObject(d.request_counts) ? d.request_counts : {}
  return ["processing", "succeeded", "errored", "canceled", "expired"].reduce((n, k) => n + (typeof c[k] === "number" ? c[k] : 0), 0)
}

/** The window, in epoch milliseconds, in which a killed run may have created the batch of `b`. */
const creationWindow = (config: ResolvedModel, b: Tracked): { readonly from: number; readonly to: number } | undefined => {
  const prepared = Number.parseInt(b.local.split("-")[0] ?? "", 36)
  if (!Number.isFinite(prepared)) return undefined
  return { from: prepared - 60_000, to: prepared + Duration.toMillis(config.timeout) * (config.max_retries + 1) + 60_000 }
}

/**
 * Finds the Message Batch a killed run created for `b` but did not journal (it died in
 * between): one created around the time `b` was prepared, with as many requests, that no open
 * batch of the journal names (`known`). A Message Batch names no input file, so this is a guess; a
 * wrong one costs a wait, not an answer: its results hold none of `b`'s custom ids, and those
 * items are resubmitted as missing.
 */
export const findMessageBatch = async (
  config: ResolvedModel,
  http: BatchHttp,
  b: Tracked,
  known: ReadonlySet<string>
): Promise<string | undefined> => {
  const window = creationWindow(config, b)
  if (window === undefined) return undefined
  const { from, to } = window
  let after: string | undefined
  for (let page = 0; page < 20; page++) {
    const r = await http.send("GET", `/messages/batches?limit=100${after !== undefined ? `&after_id=${encodeURIComponent(after)}` : ""}`)
    if (!r.ok) return undefined
    const list = parseObject(r.text)
    const data = Array.isArray(list?.data) ? list.data : []
    let older = false
    for (const d of data) {
      if (!isObject(d) || typeof d.id !== "string") continue
      const created = typeof d.created_at === "string" ? Date.parse(d.created_at) : Number.NaN
      if (created < from) older = true
      if (known.has(d.id) || !(created >= from && created <= to)) continue
      if (requestCount(d) === b.ids.size) return d.id
    }
    // The list is newest first: past the prepared time, the rest is older still.
    if (older || list?.has_more !== true || typeof list.last_id !== "string") return undefined
    after = list.last_id
  }
  return undefined
}

/** The Message Batches API of a model. */
export const dialect = (config: ResolvedModel, http: BatchHttp): Dialect => ({
  request: (payload) => JSON.stringify(anthropic.params(payload)),
  entry: (customId, line) => `{"custom_id":${JSON.stringify(customId)},"params":${line}}`,
  create: async (_b, entries) => {
    // One request creates the batch, its requests inline: nothing to upload first.
    const created = await http.send("POST", "/messages/batches", `{"requests":[${entries.join(",")}]}`)
    if (!created.ok) return created.failure
    const batch = parseObject(created.text)?.id
    if (typeof batch !== "string") return { kind: "bad_response", detail: `POST /messages/batches: no batch id in ${created.text.slice(0, 200)}` }
    return batch
  },
  statusPath: (batch) => `/messages/batches/${encodeURIComponent(batch)}`,
  status: (o) => anthropic.batchStatus(o),
  resultPaths: (b) => [`/messages/batches/${encodeURIComponent(b.batch!)}/results`],
  outcome: (line) => anthropic.resultOutcome(line, http.scrub),
  findUnjournaled: (b, known) => findMessageBatch(config, http, b, known)
})

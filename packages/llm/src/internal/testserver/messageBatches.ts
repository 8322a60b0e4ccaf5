/**
 * The test server's Anthropic Message Batches: `POST /v1/messages/batches`,
 * `GET /v1/messages/batches[/{id}[/results]]`. A batch is in progress for `BatchBehaviour.polls`
 * status checks; then its requests are answered as Messages requests (each with its
 * {@link BatchItemFate}) into a results JSONL.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { isRecord as isObject } from "@synthline/core/Row"
import type { BatchItemFate } from "../../TestServer.js"
import { anthropicErrorType, fromMessagesParams, message } from "./chat.js"
import { isFault, safeParse, send } from "./respond.js"
import type { ServedMessageBatch, ServerState } from "./state.js"

/** A Message Batch's request as it was created. */
type BatchRequest = ServedMessageBatch["requests"][number]

/** A Message Batch as the API shows it. */
const messageBatchJson = (state: ServerState, b: ServedMessageBatch) => ({
  id: b.id,
  type: "message_batch",
  processing_status: b.processing_status,
  request_counts: b.request_counts,
  created_at: new Date(b.created).toISOString(),
  ended_at: b.processing_status === "ended" ? new Date(b.created).toISOString() : null,
  expires_at: new Date(b.created + 86_400_000).toISOString(),
  cancel_initiated_at: null,
  archived_at: null,
  results_url: b.processing_status === "ended" ? `${state.url}/v1/messages/batches/${b.id}/results` : null
})

/** Answers with an Anthropic error body. */
const anthropicError = (res: ServerResponse, status: number, message: string): void =>
  send(res, status, { type: "error", error: { type: anthropicErrorType(status), message } })

/** Runs a Message Batch's requests once it is due and writes its results. */
const endMessageBatch = (state: ServerState, b: ServedMessageBatch): void => {
  const lines: Array<string> = []
  const c = { processing: 0, succeeded: 0, errored: 0, canceled: 0, expired: 0 }
  const errored = (customId: string, status: number, text: string): void => {
    c.errored++
    lines.push(JSON.stringify({ custom_id: customId, result: { type: "errored", error: { type: "error", error: { type: anthropicErrorType(status), message: text } } } }))
  }
  for (const { custom_id: customId, params } of b.requests) {
    const request = fromMessagesParams(params)
    if (request === undefined) {
      errored(customId, 400, "messages: field required")
      continue
    }
    const fate: BatchItemFate = state.options.batch?.item?.(request, customId, b.n) ?? "ok"
    if (fate === "missing") continue
    if (fate === "malformed") {
      lines.push(`{"custom_id":"${customId}","result":{"type":"succeeded","message":{"conte`)
      continue
    }
    if (fate === "expired") {
      c.expired++
      lines.push(JSON.stringify({ custom_id: customId, result: { type: "expired" } }))
      continue
    }
    if (typeof fate === "object") {
      errored(customId, fate.status, fate.message)
      continue
    }
    state.counts.chat++
    const answer = message(state.options, request, state.counts.chat)
    if (isFault(answer)) {
      const status = answer.fault === "status" ? answer.status : 500
      errored(customId, status, `test server: status ${status}`)
      continue
    }
    c.succeeded++
    lines.push(JSON.stringify({ custom_id: customId, result: { type: "succeeded", message: answer } }))
  }
  b.results = lines.length === 0 ? "" : `${lines.join("\n")}\n`
  b.request_counts = c
  b.processing_status = "ended"
}

/** The requests of a create body, or the message of why they are not acceptable. */
const batchRequests = (text: string): Array<BatchRequest> | string => {
  const body = safeParse(text)
  const list = isObject(body) && Array.isArray(body.requests) ? body.requests : undefined
  if (list === undefined || list.length === 0) return "requests: a non-empty list is required"
  const requests: Array<BatchRequest> = []
  const seen = new Set<string>()
  for (const [i, r] of list.entries()) {
    const id = isObject(r) ? r.custom_id : undefined
    if (typeof id !== "string" || !/^[a-zA-Z0-9_-]{1,64}$/.test(id) || seen.has(id) || !isObject(r) || !isObject(r.params)) {
      return `requests.${i}: custom_id (1 to 64 of a-z, A-Z, 0-9, _ and -, unique) and params are required`
    }
    seen.add(id)
    requests.push({ custom_id: id, params: r.params })
  }
  return requests
}

/** `POST /v1/messages/batches`: a new batch, in progress. */
const createMessageBatch = (state: ServerState, text: string, res: ServerResponse): true => {
  const requests = batchRequests(text)
  if (typeof requests === "string") {
    anthropicError(res, 400, requests)
    return true
  }
  state.counts.batches++
  state.counts.batch_requests += requests.length
  const n = state.counts.batches
  const b: ServedMessageBatch = {
    n,
    id: `msgbatch_${n}`,
    requests,
    created: Date.now(),
    polls: 0,
    processing_status: "in_progress",
    request_counts: { processing: requests.length, succeeded: 0, errored: 0, canceled: 0, expired: 0 },
    results: undefined
  }
  state.messageBatches.set(b.id, b)
  send(res, 200, messageBatchJson(state, b))
  return true
}

/** `GET /v1/messages/batches`: every batch, newest first. */
const listMessageBatches = (state: ServerState, res: ServerResponse): true => {
  const all = [...state.messageBatches.values()].reverse().map((b) => messageBatchJson(state, b))
  send(res, 200, { data: all, has_more: false, first_id: all[0]?.id ?? null, last_id: all[all.length - 1]?.id ?? null })
  return true
}

/** `GET /v1/messages/batches/{id}/results`: the results JSONL of an ended batch. */
const messageBatchResults = (state: ServerState, id: string, res: ServerResponse): true => {
  const b = state.messageBatches.get(decodeURIComponent(id))
  if (b === undefined || b.results === undefined) {
    anthropicError(res, b === undefined ? 404 : 400, b === undefined ? `no batch ${id}` : `batch ${b.id} is still processing`)
    return true
  }
  res.writeHead(200, { "content-type": "application/binary", "content-length": Buffer.byteLength(b.results) })
  res.end(b.results)
  return true
}

/** `GET /v1/messages/batches/{id}`: a status check, which ends the batch once due. */
const pollMessageBatch = (state: ServerState, id: string, res: ServerResponse): true => {
  const b = state.messageBatches.get(decodeURIComponent(id))
  if (b === undefined) {
    anthropicError(res, 404, `no batch ${id}`)
    return true
  }
  state.counts.batch_polls++
  b.polls++
  if (b.processing_status !== "ended" && b.polls > (state.options.batch?.polls ?? 2)) endMessageBatch(state, b)
  send(res, 200, messageBatchJson(state, b))
  return true
}

/** The Anthropic Message Batches routes; undefined when the request is for none of them. */
export const messageBatchRoute = (state: ServerState, req: IncomingMessage, path: string, text: string, res: ServerResponse): true | undefined => {
  if (req.method === "POST" && path.endsWith("/v1/messages/batches")) return createMessageBatch(state, text, res)
  if (req.method === "GET" && path.endsWith("/v1/messages/batches")) return listMessageBatches(state, res)
  const results = /\/v1\/messages\/batches\/([^/]+)\/results$/.exec(path)
  if (req.method === "GET" && results !== null) return messageBatchResults(state, results[1]!, res)
  const one = /\/v1\/messages\/batches\/([^/]+)$/.exec(path)
  if (req.method === "GET" && one !== null) return pollMessageBatch(state, one[1]!, res)
  return undefined
}

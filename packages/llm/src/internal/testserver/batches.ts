/**
 * The test server's OpenAI Batch API: `POST /v1/files` (multipart upload), `POST /v1/batches`,
 * `GET /v1/batches[/{id}]` and `GET /v1/files/{id}/content`. A batch stays validating, then in
 * progress, for `BatchBehaviour.polls` status checks; then its items are answered as chat
 * requests (each with its {@link BatchItemFate}) into an output and an error file.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { isRecord as isObject } from "@synthline/core/Row"
import type { BatchItemFate } from "../../TestServer.js"
import { completion, toChat } from "./chat.js"
import { isFault, safeParse, send } from "./respond.js"
import type { ServedBatch, ServerState } from "./state.js"

/** The lines a batch's items write, and how many completed; `expired` once one item expired. */
interface BatchResults {
  readonly out: Array<string>
  readonly err: Array<string>
  completed: number
  expired: boolean
}

/** A batch as the API shows it. */
const batchJson = (b: ServedBatch) => ({
  id: b.id,
  object: "batch",
  endpoint: "/v1/chat/completions",
  errors: b.errors,
  input_file_id: b.input_file_id,
  completion_window: "24h",
  status: b.status,
  output_file_id: b.output_file_id,
  error_file_id: b.error_file_id,
  created_at: b.created_at,
  request_counts: b.request_counts,
  metadata: b.metadata
})

/** A result line of an item that got an HTTP answer. */
const responseLine = (reqId: string, customId: string, status: number, body: unknown): string =>
  JSON.stringify({ id: reqId, custom_id: customId, response: { status_code: status, request_id: reqId, body }, error: null })

/** The error body of a batch item refused as an invalid request. */
const invalid = (message: string) => ({ error: { message, type: "invalid_request_error" } })

/** Runs the `i`th line (0-based) of a batch's input and writes its result line, as its fate says. */
const runItem = (state: ServerState, b: ServedBatch, line: string, i: number, results: BatchResults): void => {
  const item = safeParse(line)
  const customId = isObject(item) ? String(item.custom_id) : `line-${i + 1}`
  const request = isObject(item) ? toChat(item.body) : undefined
  const reqId = `batch_req_${b.n}_${i + 1}`
  if (request === undefined) {
    results.err.push(responseLine(reqId, customId, 400, invalid("messages is required")))
    return
  }
  const fate: BatchItemFate = state.options.batch?.item?.(request, customId, b.n) ?? "ok"
  if (fate === "missing") return
  if (fate === "malformed") {
    results.out.push(`{"id":"${reqId}","custom_id":"${customId}","response":{"status_code":200,"body":{"choi`)
    return
  }
  if (fate === "expired") {
    results.expired = true
    results.err.push(
      JSON.stringify({ id: reqId, custom_id: customId, response: null, error: { code: "batch_expired", message: "This request could not be executed before the completion window expired." } })
    )
    return
  }
  if (typeof fate === "object") {
    results.err.push(responseLine(reqId, customId, fate.status, invalid(fate.message)))
    return
  }
  state.counts.chat++
  const answer = completion(state.options, request, state.counts.chat)
  if (isFault(answer)) {
    const status = answer.fault === "status" ? answer.status : 500
    results.err.push(responseLine(reqId, customId, status, { error: { message: `test server: status ${status}` } }))
    return
  }
  results.completed++
  results.out.push(responseLine(reqId, customId, 200, answer))
}

/** Stores a batch's result lines as a new file; null when there are none. */
const storeResults = (state: ServerState, b: ServedBatch, rows: Array<string>, kind: "output" | "error"): string | null => {
  if (rows.length === 0) return null
  const id = `file-${state.files.size + 1}`
  state.files.set(id, { text: `${rows.join("\n")}\n`, filename: `${b.id}_${kind}.jsonl`, purpose: "batch_output" })
  return id
}

/** Runs a batch's items once it is due and writes its result files. */
const finishBatch = (state: ServerState, b: ServedBatch): void => {
  const failure = state.options.batch?.fail?.(b.n)
  const input = state.files.get(b.input_file_id)?.text ?? ""
  const lines = input.split("\n").filter((l) => l.trim() !== "")
  if (failure !== undefined) {
    b.status = "failed"
    b.errors = { object: "list", data: [{ code: "invalid_request", message: failure, line: null, param: null }] }
    b.request_counts = { total: lines.length, completed: 0, failed: 0 }
    return
  }
  const results: BatchResults = { out: [], err: [], completed: 0, expired: false }
  for (const [i, line] of lines.entries()) runItem(state, b, line, i, results)
  b.output_file_id = storeResults(state, b, results.out, "output")
  b.error_file_id = storeResults(state, b, results.err, "error")
  b.status = results.expired ? "expired" : "completed"
  b.request_counts = { total: lines.length, completed: results.completed, failed: lines.length - results.completed }
}

/** `POST /v1/files`: keeps the multipart body's file. */
const uploadFile = async (state: ServerState, req: IncomingMessage, text: string, res: ServerResponse): Promise<true> => {
  const form = await new Response(text, { headers: { "content-type": String(req.headers["content-type"] ?? "") } })
    .formData()
    .catch(() => undefined)
  const file = form?.get("file")
  if (form === undefined || file === null || file === undefined || typeof file === "string") {
    send(res, 400, { error: { message: "a multipart body with a file is required" } })
    return true
  }
  state.counts.files++
  const id = `file-${state.files.size + 1}`
  const content = await file.text()
  state.files.set(id, { text: content, filename: file.name, purpose: String(form.get("purpose") ?? "") })
  send(res, 200, { id, object: "file", bytes: Buffer.byteLength(content), created_at: 0, filename: file.name, purpose: String(form.get("purpose") ?? "") })
  return true
}

/** `POST /v1/batches`: a new batch over an uploaded file, validating. */
const createBatch = (state: ServerState, text: string, res: ServerResponse): true => {
  const body = safeParse(text)
  const fileId = isObject(body) ? body.input_file_id : undefined
  if (typeof fileId !== "string" || !state.files.has(fileId)) {
    send(res, 400, { error: { message: `no input file ${JSON.stringify(fileId)}` } })
    return true
  }
  if (!isObject(body) || body.endpoint !== "/v1/chat/completions") {
    send(res, 400, { error: { message: "endpoint must be /v1/chat/completions" } })
    return true
  }
  state.counts.batches++
  const n = state.counts.batches
  const items = (state.files.get(fileId)?.text ?? "").split("\n").filter((l) => l.trim() !== "").length
  state.counts.batch_requests += items
  const b: ServedBatch = {
    n,
    id: `batch_${n}`,
    input_file_id: fileId,
    created_at: n,
    metadata: body.metadata ?? null,
    polls: 0,
    status: "validating",
    output_file_id: null,
    error_file_id: null,
    errors: null,
    request_counts: { total: items, completed: 0, failed: 0 }
  }
  state.batches.set(b.id, b)
  send(res, 200, batchJson(b))
  return true
}

/** `GET /v1/batches`: every batch, newest first. */
const listBatches = (state: ServerState, res: ServerResponse): true => {
  const all = [...state.batches.values()].reverse().map(batchJson)
  send(res, 200, { object: "list", data: all, first_id: all[0]?.id ?? null, last_id: all[all.length - 1]?.id ?? null, has_more: false })
  return true
}

/** `GET /v1/batches/{id}`: a status check, which moves the batch on (and ends it once due). */
const pollBatch = (state: ServerState, id: string, res: ServerResponse): true => {
  const b = state.batches.get(decodeURIComponent(id))
  if (b === undefined) {
    send(res, 404, { error: { message: `no batch ${id}` } })
    return true
  }
  state.counts.batch_polls++
  b.polls++
  if (b.output_file_id === null && b.error_file_id === null && b.status !== "failed") {
    if (b.polls > (state.options.batch?.polls ?? 2)) finishBatch(state, b)
    else if (b.polls > 1) b.status = "in_progress"
  }
  send(res, 200, batchJson(b))
  return true
}

/** `GET /v1/files/{id}/content`: a file's text. */
const fileContent = (state: ServerState, id: string, res: ServerResponse): true => {
  const f = state.files.get(decodeURIComponent(id))
  if (f === undefined) send(res, 404, { error: { message: `no file ${id}` } })
  else {
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": Buffer.byteLength(f.text) })
    res.end(f.text)
  }
  return true
}

/** The Batch API routes; undefined when the request is for none of them. */
export const batchRoute = async (state: ServerState, req: IncomingMessage, path: string, text: string, res: ServerResponse): Promise<true | undefined> => {
  if (req.method === "POST" && path.endsWith("/v1/files")) return uploadFile(state, req, text, res)
  if (req.method === "POST" && path.endsWith("/v1/batches")) return createBatch(state, text, res)
  if (req.method === "GET" && path.endsWith("/v1/batches")) return listBatches(state, res)
  const one = /\/v1\/batches\/([^/]+)$/.exec(path)
  if (req.method === "GET" && one !== null) return pollBatch(state, one[1]!, res)
  const content = /\/v1\/files\/([^/]+)\/content$/.exec(path)
  if (req.method === "GET" && content !== null) return fileContent(state, content[1]!, res)
  return undefined
}

/**
 * The OpenAI-compatible Batch API: a JSONL file of `/v1/chat/completions` requests uploaded with
 * `POST /files` (purpose `batch`), the batch created with `POST /batches`, polled at
 * `GET /batches/{id}`, its results in the output and error files of `GET /files/{id}/content`.
 */
import { Blob } from "node:buffer"
import { FormData } from "undici"
import { isRecord as isObject } from "@synthline/core/Row"
import type { ResolvedModel } from "../../Config.js"
import type { FailureKind } from "../../Errors.js"
import { type AttemptFailure, classify, isFailure } from "../../Provider.js"
import type { Answer, Dialect } from "./dialect.js"
import { type BatchHttp, type JsonObject, parseObject } from "./http.js"
import type { Journal, Tracked } from "./journal.js"

/** Why a whole batch failed (validation), from its `errors`. */
export const batchFailure = (o: JsonObject, scrub: (s: string) => string): AttemptFailure => {
  const errors = isObject(o.errors) && Array.isArray(o.errors.data) ? o.errors.data : []
  const first = errors.find(isObject)
  const message = first !== undefined && typeof first.message === "string" ? first.message : "the batch failed"
  return { kind: "server_error", detail: scrub(`batch ${String(o.id)} failed: ${message}`) }
}

/** One line of an output or error file: the answer, or why there is none. */
export const outcomeOf = (j: JsonObject, scrub: (s: string) => string): Answer | AttemptFailure => {
  const response = j.response
  if (isObject(response) && typeof response.status_code === "number") {
    const text = typeof response.body === "string" ? response.body : JSON.stringify(response.body ?? null)
    const c = classify(response.status_code, text, undefined)
    return isFailure(c) ? { ...c, detail: scrub(c.detail) } : c
  }
  const error = j.error
  if (isObject(error)) {
    const code = typeof error.code === "string" ? error.code : ""
    const message = typeof error.message === "string" ? error.message : code
    // Expired and cancelled items were never run: worth another batch.
    const kind: FailureKind = code === "batch_expired" || code === "batch_cancelled" ? "timeout" : "server_error"
    return { kind, detail: scrub(`${code !== "" ? `${code}: ` : ""}${message}`) }
  }
  return { kind: "bad_response", detail: "a result line with neither response nor error" }
}

/** Finds the batch a killed run created from `file` but did not journal (it died in between). */
export const findByFile = async (http: BatchHttp, file: string): Promise<string | undefined> => {
  let after: string | undefined
  for (let page = 0; page < 20; page++) {
    const r = await http.send("GET", `/batches?limit=100${after !== undefined ? `&after=${encodeURIComponent(after)}` : ""}`)
    if (!r.ok) return undefined
    const list = parseObject(r.text)
    const data = Array.isArray(list?.data) ? list.data : []
    for (const d of data) if (isObject(d) && d.input_file_id === file && typeof d.id === "string") return d.id
    if (list?.has_more !== true || data.length === 0) return undefined
    const last = data[data.length - 1]
    after = isObject(last) && typeof last.id === "string" ? last.id : undefined
    if (after === undefined) return undefined
  }
  return undefined
}

/** Uploads the batch file of `b`, journaling its file id: the id, or why there is none. */
const upload = async (http: BatchHttp, journal: Journal, b: Tracked, entries: ReadonlyArray<string>): Promise<string | AttemptFailure> => {
  const form = new FormData()
  form.append("purpose", "batch")
  form.append("file", new Blob([`${entries.join("\n")}\n`], { type: "application/jsonl" }), `synthline-${b.local}.jsonl`)
  const uploaded = await http.send("POST", "/files", form)
  if (!uploaded.ok) return uploaded.failure
  const file = parseObject(uploaded.text)?.id
  if (typeof file !== "string") return { kind: "bad_response", detail: `POST /files: no file id in ${uploaded.text.slice(0, 200)}` }
  b.file = file
  journal.write({ t: "uploaded", local: b.local, file })
  return file
}

/** Creates the batch of an uploaded file: its id, or why there is none. */
const createBatch = async (http: BatchHttp, b: Tracked, file: string, completionWindow: string): Promise<string | AttemptFailure> => {
  const created = await http.send(
    "POST",
    "/batches",
    JSON.stringify({
      input_file_id: file,
      endpoint: "/v1/chat/completions",
      completion_window: completionWindow,
      metadata: { synthline_batch: b.local }
    })
  )
  if (!created.ok) return created.failure
  const batch = parseObject(created.text)?.id
  if (typeof batch !== "string") return { kind: "bad_response", detail: `POST /batches: no batch id in ${created.text.slice(0, 200)}` }
  return batch
}

/** The OpenAI-compatible Batch API of a model, its file ids journaled in `journal`. */
export const dialect = (config: ResolvedModel, http: BatchHttp, journal: Journal): Dialect => ({
  request: (payload) => JSON.stringify(payload),
  entry: (customId, line) => `{"custom_id":${JSON.stringify(customId)},"method":"POST","url":"/v1/chat/completions","body":${line}}`,
  create: async (b, entries) => {
    const file = await upload(http, journal, b, entries)
    return typeof file === "string" ? createBatch(http, b, file, config.batch.completion_window) : file
  },
  statusPath: (batch) => `/batches/${encodeURIComponent(batch)}`,
  status: (o) => (typeof o.status === "string" ? o.status : "in_progress"),
  resultPaths: (_b, o) =>
    [o.output_file_id, o.error_file_id].map((id) => (typeof id === "string" && id !== "" ? `/files/${encodeURIComponent(id)}/content` : undefined)),
  outcome: (line) => outcomeOf(line, http.scrub)
})

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
import { appendFileSync, mkdirSync, readFileSync } from "node:fs"
import { dirname } from "node:path"
import { Blob } from "node:buffer"
import { Duration, Effect, Redacted } from "effect"
import { FormData, request } from "undici"
import type { Completion } from "./Chat.js"
import type { ResolvedModel } from "./Config.js"
import { type FailureKind, isRetryable, LlmRequestError } from "./Errors.js"
import { type AttemptFailure, classify, classifyError, displayUrl, isFailure } from "./Provider.js"
import * as Retry from "./Retry.js"
import * as anthropic from "./internal/anthropic.js"
import { isRecord as isObject } from "@synthline/core/Row"
import { errorText } from "@synthline/core/Errors"

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

const terminal = new Set<string>(["completed", "failed", "expired", "cancelled"])

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

/** One request waiting for, or in, a batch. */
interface Item {
  readonly key: string
  readonly line: string
  readonly payload: object
  attempts: number
  readonly waiters: Array<(r: Answer | LlmRequestError) => void>
}

/** One batch of this run or of a killed one. */
interface Tracked {
  readonly local: string
  /** custom_id → cache key. */
  readonly ids: Map<string, string>
  status: BatchStatus
  file?: string
  batch?: string
  requests: number
}

/** A journal line. */
type Record =
  | { readonly t: "prepared"; readonly local: string; readonly items: { readonly [customId: string]: string } }
  | { readonly t: "uploaded"; readonly local: string; readonly file: string }
  | { readonly t: "submitted"; readonly local: string; readonly batch: string }
  | { readonly t: "done"; readonly local: string }

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)))

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
    const local = r.local
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
  return [...open.values()]
}

/** An HTTP answer, or the failure of the last attempt. */
type Reply = { readonly ok: true; readonly status: number; readonly text: string } | { readonly ok: false; readonly failure: AttemptFailure }

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
): Batcher => {
  const options = config.batch
  const base = (config.endpoints[0] ?? "").replace(/\/+$/, "")
  const secret = config.api_key !== undefined ? Redacted.value(config.api_key) : undefined
  // Anthropic's Message Batches, else the OpenAI-compatible Batch API.
  const messageBatches = config.provider === "anthropic"
  const hasKey = secret !== undefined && secret !== ""
  const auth: { [key: string]: string } = messageBatches
    ? { "anthropic-version": anthropic.apiVersion, ...(hasKey ? { "x-api-key": secret } : {}) }
    : hasKey
      ? { authorization: `Bearer ${secret}` }
      : {}
  const scrub = (s: string): string => (secret !== undefined && secret.length >= 4 ? s.split(secret).join("<redacted>") : s)
  const timeoutMs = Duration.toMillis(config.timeout)
  const pollMs = Duration.toMillis(config.batch.poll_interval)
  const windowMs = Duration.toMillis(config.batch.window)
  let closed = false

  const write = (r: Record): void => {
    if (journal === undefined) return
    // Appended synchronously: on disk (the page cache) before the step it announces is taken.
    appendFileSync(journal, `${JSON.stringify(r)}\n`)
  }
  if (journal !== undefined) mkdirSync(dirname(journal), { recursive: true })

  /** How an exchange is retried: the model's retry schedule (429, 5xx, timeouts, broken connections). */
  const retries = Retry.ofModel<AttemptFailure>(config)

  /** One HTTP exchange, retried on the model's retry schedule; the last failure when it gives up. */
  const http = (method: "GET" | "POST", path: string, body?: string | FormData): Promise<Reply> => {
    const once = Effect.suspend((): Effect.Effect<Reply, AttemptFailure> => {
      if (closed) return Effect.succeed({ ok: false, failure: { kind: "connection", detail: "the run ended" } })
      const headers: { [key: string]: string } = { ...auth, accept: "application/json" }
      if (typeof body === "string") headers["content-type"] = "application/json"
      return Effect.tryPromise({
        try: async () => {
          const r = await request(`${base}${path}`, {
            method,
            headers,
            ...(body !== undefined ? { body } : {}),
            headersTimeout: timeoutMs,
            bodyTimeout: timeoutMs
          })
          const ra = r.headers["retry-after"]
          return { status: r.statusCode, text: await r.body.text(), retryAfter: Array.isArray(ra) ? ra[0] : ra }
        },
        catch: (e): AttemptFailure => ({ kind: "connection", detail: scrub(`${method} ${path}: ${errorText(e)}`) })
      }).pipe(
        Effect.flatMap(({ status, text, retryAfter }): Effect.Effect<Reply, AttemptFailure> => {
          if (status >= 200 && status < 300) return Effect.succeed({ ok: true, status, text })
          const f = classifyError(status, text, retryAfter)
          return Effect.fail({ ...f, detail: scrub(`${method} ${path}: ${f.detail}`) })
        })
      )
    })
    return Effect.runPromise(once.pipe(Effect.retry(retries), Effect.catchAll((failure) => Effect.succeed<Reply>({ ok: false, failure }))))
  }

  const json = (text: string): { readonly [key: string]: unknown } | undefined => {
    try {
      const j: unknown = JSON.parse(text)
      return isObject(j) ? j : undefined
    } catch {
      return undefined
    }
  }

  // Requests by cache key: waiting to be batched, or in a batch of this run or a killed one.
  const items = new Map<string, Item>()
  // Keys a journaled batch of an earlier run holds, with no caller yet.
  const adopted = new Map<string, Tracked>()
  let queue: Array<Item> = []
  let queueBytes = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  const tracked = new Map<string, Tracked>()
  let counter = 0

  const errorOf = (kind: FailureKind, detail: string, attempts: number, status?: number): LlmRequestError =>
    new LlmRequestError({ model: config.name, endpoint: endpointId, kind, status, detail, attempts })

  const settle = (item: Item, r: Answer | LlmRequestError): void => {
    items.delete(item.key)
    for (const w of item.waiters.splice(0)) w(r)
  }

  let lastProgress = ""
  const report = (): void => {
    const s = states()
    const order = ["preparing", "validating", "in_progress", "finalizing", "completed", "failed", "expired", "cancelled"]
    const parts = order.filter((k) => s[k] !== undefined).map((k) => `${s[k]!.batches} ${k} (${s[k]!.requests} requests)`)
    const line = `model ${config.name}: batches: ${parts.length === 0 ? "none" : parts.join(", ")}`
    if (line !== lastProgress) {
      lastProgress = line
      hooks.progress(line)
    }
  }
  const finished = new Map<string, { batches: number; requests: number }>()
  const states = (): { [status: string]: { batches: number; requests: number } } => {
    const out: { [status: string]: { batches: number; requests: number } } = {}
    for (const [k, v] of finished) out[k] = { ...v }
    for (const b of tracked.values()) {
      const e = out[b.status] ?? { batches: 0, requests: 0 }
      e.batches++
      e.requests += b.requests
      out[b.status] = e
    }
    return out
  }
  const finish = (b: Tracked, status: BatchStatus): void => {
    tracked.delete(b.local)
    const e = finished.get(status) ?? { batches: 0, requests: 0 }
    e.batches++
    e.requests += b.requests
    finished.set(status, e)
    write({ t: "done", local: b.local })
    report()
  }

  const enqueue = (item: Item): void => {
    const bytes = Buffer.byteLength(item.line) + 1
    if (queue.length > 0 && (queue.length >= options.max_requests || queueBytes + bytes > options.max_bytes)) flush()
    queue.push(item)
    queueBytes += bytes
    if (queue.length >= options.max_requests) flush()
    else if (timer === undefined) timer = setTimeout(flush, windowMs)
  }

  const flush = (): void => {
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    if (queue.length === 0 || closed) return
    const group = queue
    queue = []
    queueBytes = 0
    void submit(group)
  }

  /** Journals, uploads and creates one batch of `group`, then follows it. */
  const submit = async (group: Array<Item>): Promise<void> => {
    const local = `${Date.now().toString(36)}-${process.pid}-${++counter}`
    const ids = new Map<string, string>()
    const lines: Array<string> = []
    group.forEach((item, i) => {
      const id = `${local}-${i}`
      ids.set(id, item.key)
      lines.push(
        messageBatches
          ? `{"custom_id":${JSON.stringify(id)},"params":${item.line}}`
          : `{"custom_id":${JSON.stringify(id)},"method":"POST","url":"/v1/chat/completions","body":${item.line}}`
      )
      item.attempts++
    })
    const b: Tracked = { local, ids, status: "preparing", requests: group.length }
    tracked.set(local, b)
    write({ t: "prepared", local, items: Object.fromEntries(ids) })
    report()
    const fail = (f: AttemptFailure): void => {
      tracked.delete(local)
      write({ t: "done", local })
      for (const item of group) {
        hooks.gaveUp(f.kind)
        settle(item, errorOf(f.kind, f.detail, item.attempts, f.status))
      }
      report()
    }
    if (messageBatches) {
      // One request creates the batch, its requests inline: nothing to upload first.
      const created = await http("POST", "/messages/batches", `{"requests":[${lines.join(",")}]}`)
      if (!created.ok) return fail(created.failure)
      const batch = json(created.text)?.id
      if (typeof batch !== "string") {
        return fail({ kind: "bad_response", detail: `POST /messages/batches: no batch id in ${created.text.slice(0, 200)}` })
      }
      return submitted(b, batch, group.length)
    }
    const form = new FormData()
    form.append("purpose", "batch")
    form.append("file", new Blob([`${lines.join("\n")}\n`], { type: "application/jsonl" }), `synthline-${local}.jsonl`)
    const uploaded = await http("POST", "/files", form)
    if (!uploaded.ok) return fail(uploaded.failure)
    const file = json(uploaded.text)?.id
    if (typeof file !== "string") return fail({ kind: "bad_response", detail: `POST /files: no file id in ${uploaded.text.slice(0, 200)}` })
    b.file = file
    write({ t: "uploaded", local, file })
    const created = await http(
      "POST",
      "/batches",
      JSON.stringify({
        input_file_id: file,
        endpoint: "/v1/chat/completions",
        completion_window: options.completion_window,
        metadata: { synthline_batch: local }
      })
    )
    if (!created.ok) return fail(created.failure)
    const batch = json(created.text)?.id
    if (typeof batch !== "string") return fail({ kind: "bad_response", detail: `POST /batches: no batch id in ${created.text.slice(0, 200)}` })
    return submitted(b, batch, group.length)
  }

  /** Journals a batch the provider accepted, then follows it. */
  const submitted = async (b: Tracked, batch: string, requests: number): Promise<void> => {
    b.batch = batch
    b.status = "validating"
    write({ t: "submitted", local: b.local, batch })
    hooks.sent(requests)
    report()
    await follow(b)
  }

  /** Finds the batch a killed run created from `file` but did not journal (it died in between). */
  const findByFile = async (file: string): Promise<string | undefined> => {
    let after: string | undefined
    for (let page = 0; page < 20; page++) {
      const r = await http("GET", `/batches?limit=100${after !== undefined ? `&after=${encodeURIComponent(after)}` : ""}`)
      if (!r.ok) return undefined
      const list = json(r.text)
      const data = Array.isArray(list?.data) ? list.data : []
      for (const d of data) if (isObject(d) && d.input_file_id === file && typeof d.id === "string") return d.id
      if (list?.has_more !== true || data.length === 0) return undefined
      const last = data[data.length - 1]
      after = isObject(last) && typeof last.id === "string" ? last.id : undefined
      if (after === undefined) return undefined
    }
    return undefined
  }

  /**
   * Finds the Message Batch a killed run created for `b` but did not journal (it died in
   * between): one created around the time `b` was prepared, with as many requests, that no open
   * batch of the journal names. A Message Batch names no input file, so this is a guess; a wrong
   * one costs a wait, not an answer: its results hold none of `b`'s custom ids, and those items
   * are resubmitted as missing.
   */
  const findMessageBatch = async (b: Tracked): Promise<string | undefined> => {
    const prepared = Number.parseInt(b.local.split("-")[0] ?? "", 36)
    if (!Number.isFinite(prepared)) return undefined
    const from = prepared - 60_000
    const to = prepared + timeoutMs * (config.max_retries + 1) + 60_000
    const known = new Set([...tracked.values()].flatMap((t) => (t.batch !== undefined ? [t.batch] : [])))
    let after: string | undefined
    for (let page = 0; page < 20; page++) {
      const r = await http("GET", `/messages/batches?limit=100${after !== undefined ? `&after_id=${encodeURIComponent(after)}` : ""}`)
      if (!r.ok) return undefined
      const list = json(r.text)
      const data = Array.isArray(list?.data) ? list.data : []
      let older = false
      for (const d of data) {
        if (!isObject(d) || typeof d.id !== "string") continue
        const created = typeof d.created_at === "string" ? Date.parse(d.created_at) : Number.NaN
        if (created < from) older = true
        if (known.has(d.id) || !(created >= from && created <= to)) continue
        const c = isObject(d.request_counts) ? d.request_counts : {}
        const total = ["processing", "succeeded", "errored", "canceled", "expired"].reduce((n, k) => n + (typeof c[k] === "number" ? c[k] : 0), 0)
        if (total === b.ids.size) return d.id
      }
      // The list is newest first: past the prepared time, the rest is older still.
      if (older || list?.has_more !== true || typeof list.last_id !== "string") return undefined
      after = list.last_id
    }
    return undefined
  }

  /** Polls a submitted batch until it ends, then takes in its output and error files. */
  const follow = async (b: Tracked): Promise<void> => {
    for (;;) {
      if (closed) return
      await delay(pollMs)
      if (closed) return
      const r = await http("GET", `${messageBatches ? "/messages/batches" : "/batches"}/${encodeURIComponent(b.batch!)}`)
      if (!r.ok) {
        // The batch stays journaled: a later run polls it again.
        tracked.delete(b.local)
        for (const key of b.ids.values()) {
          const item = items.get(key)
          if (item !== undefined) {
            hooks.gaveUp(r.failure.kind)
            settle(item, errorOf(r.failure.kind, `batch ${b.batch}: ${r.failure.detail}`, item.attempts, r.failure.status))
          }
          adopted.delete(key)
        }
        report()
        return
      }
      const o = json(r.text) ?? {}
      const status = messageBatches ? anthropic.batchStatus(o) : typeof o.status === "string" ? o.status : "in_progress"
      if (status !== b.status) {
        b.status = status as BatchStatus
        report()
      }
      if (terminal.has(status)) return take(b, o)
    }
  }

  /** The lines of a result file (its path under the base URL), or none when there is no file. */
  const download = async (path: string | undefined): Promise<ReadonlyArray<string> | AttemptFailure> => {
    if (path === undefined) return []
    const r = await http("GET", path)
    return r.ok ? r.text.split("\n").filter((l) => l.trim() !== "") : r.failure
  }

  /** Where an ended batch's results are: its output and error files, or a Message Batch's results. */
  const resultPaths = (b: Tracked, o: { readonly [key: string]: unknown }): ReadonlyArray<string | undefined> =>
    messageBatches
      ? [`/messages/batches/${encodeURIComponent(b.batch!)}/results`]
      : [o.output_file_id, o.error_file_id].map((id) => (typeof id === "string" && id !== "" ? `/files/${encodeURIComponent(id)}/content` : undefined))

  const take = async (b: Tracked, o: { readonly [key: string]: unknown }): Promise<void> => {
    const outcomes = new Map<string, Answer | AttemptFailure>()
    let malformed = 0
    for (const path of resultPaths(b, o)) {
      const lines = await download(path)
      if ("kind" in lines) {
        // Not downloadable now: the batch stays journaled and a later run takes it in.
        tracked.delete(b.local)
        for (const key of b.ids.values()) {
          const item = items.get(key)
          if (item !== undefined) settle(item, errorOf(lines.kind, `batch ${b.batch}: ${lines.detail}`, item.attempts, lines.status))
          adopted.delete(key)
        }
        report()
        return
      }
      for (const line of lines) {
        const j = json(line)
        const id = j?.custom_id
        if (j === undefined || typeof id !== "string" || !b.ids.has(id)) {
          malformed++
          continue
        }
        outcomes.set(id, messageBatches ? anthropic.resultOutcome(j, scrub) : outcomeOf(j))
      }
    }
    if (malformed > 0) hooks.progress(`model ${config.name}: batch ${b.batch}: ${malformed} unreadable result line(s); their requests are resubmitted`)
    const batchError = batchFailure(o)
    for (const [id, key] of b.ids) {
      const outcome: Answer | AttemptFailure =
        outcomes.get(id) ??
        (b.status === "failed"
          ? batchError
          : { kind: "timeout", detail: `batch ${b.batch} ended ${b.status} without an answer to ${id}` })
      adopted.delete(key)
      const item = items.get(key)
      if (!isFailure(outcome)) {
        hooks.answered(key, outcome)
        if (item !== undefined) settle(item, outcome)
        continue
      }
      hooks.failed(outcome.kind)
      if (item === undefined) continue
      if (isRetryable(outcome.kind) && item.attempts < options.max_attempts) {
        hooks.retried(1)
        enqueue(item)
      } else {
        hooks.gaveUp(outcome.kind)
        settle(item, errorOf(outcome.kind, outcome.detail, item.attempts, outcome.status))
      }
    }
    finish(b, b.status)
  }

  /** Why a whole batch failed (validation), from its `errors`. */
  const batchFailure = (o: { readonly [key: string]: unknown }): AttemptFailure => {
    const errors = isObject(o.errors) && Array.isArray(o.errors.data) ? o.errors.data : []
    const first = errors.find(isObject)
    const message = first !== undefined && typeof first.message === "string" ? first.message : "the batch failed"
    return { kind: "server_error", detail: scrub(`batch ${String(o.id)} failed: ${message}`) }
  }

  /** One result line: the answer, or why there is none. */
  const outcomeOf = (j: { readonly [key: string]: unknown }): Answer | AttemptFailure => {
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

  /** Picks up the batches a killed run left: polls those it submitted, finds those it created but did not journal. */
  const resume = async (b: Tracked): Promise<void> => {
    if (b.batch === undefined && (b.file !== undefined || messageBatches)) {
      const found = b.file !== undefined ? await findByFile(b.file) : await findMessageBatch(b)
      if (found !== undefined) {
        b.batch = found
        b.status = "validating"
        write({ t: "submitted", local: b.local, batch: found })
      }
    }
    if (b.batch === undefined) {
      // Never submitted: its calls are batched again, those that came while it was looked for too.
      tracked.delete(b.local)
      write({ t: "done", local: b.local })
      for (const key of b.ids.values()) {
        adopted.delete(key)
        const item = items.get(key)
        // A call that came meanwhile waited for this batch instead of being queued.
        if (item !== undefined) {
          item.attempts = 0
          enqueue(item)
        }
      }
      return
    }
    report()
    await follow(b)
  }

  if (journal !== undefined) {
    for (const b of readJournal(journal)) {
      tracked.set(b.local, b)
      for (const key of b.ids.values()) adopted.set(key, b)
      void resume(b)
    }
  }

  return {
    call: (payload, key) =>
      Effect.async<Answer, LlmRequestError>((resume) => {
        const waiter = (r: Answer | LlmRequestError) => resume(r instanceof LlmRequestError ? Effect.fail(r) : Effect.succeed(r))
        const existing = items.get(key)
        if (existing !== undefined) existing.waiters.push(waiter)
        else {
          const line = JSON.stringify(messageBatches ? anthropic.params(payload) : payload)
          const item: Item = { key, line, payload, attempts: 0, waiters: [waiter] }
          items.set(key, item)
          // A batch of a killed run holds it: wait for that batch rather than paying again.
          if (!adopted.has(key)) enqueue(item)
          else item.attempts = 1
        }
        return Effect.sync(() => {
          const item = items.get(key)
          if (item === undefined) return
          const i = item.waiters.indexOf(waiter)
          if (i >= 0) item.waiters.splice(i, 1)
        })
      }),
    states,
    close: () => {
      closed = true
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
    }
  }
}

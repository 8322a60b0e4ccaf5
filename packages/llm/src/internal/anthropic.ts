/**
 * The Anthropic Messages API, as the built-in `anthropic` provider and batch mode speak it: a
 * chat-completions body (`Chat.body`) mapped to Messages params (system messages into `system`,
 * `stop` into `stop_sequences`, `max_tokens` required, the seed left out: the API has none), an
 * answer (`content` text blocks, `stop_reason`, `usage`) mapped back to a completion, the
 * `x-api-key` and `anthropic-version` headers, and the Message Batches shapes
 * (`POST /messages/batches`, `processing_status`, the results lines).
 */
import { Effect, Redacted } from "effect"
import type { Completion } from "../Chat.js"
import { preview } from "../Chat.js"
import type { ResolvedModel } from "../Config.js"
import type { AttemptFailure, ProviderFactory, Transport } from "../Provider.js"
import { classifyError, displayUrl, endpointTargets } from "../Provider.js"
import { begin } from "./http.js"

type Answer = Omit<Completion, "cached">

/** The API version sent in `anthropic-version`. */
export const apiVersion = "2023-06-01"

/** The base URL of a model with `provider: anthropic` that lists no endpoints. */
export const defaultBaseUrl = "https://api.anthropic.com/v1"

/** `max_tokens` of a request that sets none (the Messages API requires one). */
export const defaultMaxTokens = 4096

/** Most requests in one Message Batch. */
export const maxBatchRequests = 100_000

/** Most bytes in one Message Batch. */
export const maxBatchBytes = 256 * 1024 * 1024

const isObject = (u: unknown): u is { readonly [key: string]: unknown } => typeof u === "object" && u !== null && !Array.isArray(u)

const count = (u: unknown): number => (typeof u === "number" && Number.isFinite(u) && u >= 0 ? u : 0)

/** The headers of every request: the key (`x-api-key`, when there is one) and the API version. */
export const headers = (model: Pick<ResolvedModel, "api_key">): { readonly [key: string]: string } => {
  const secret = model.api_key !== undefined ? Redacted.value(model.api_key) : undefined
  return {
    "content-type": "application/json",
    accept: "application/json",
    "anthropic-version": apiVersion,
    ...(secret !== undefined && secret !== "" ? { "x-api-key": secret } : {})
  }
}

/**
 * The Messages params of a chat-completions body: system messages joined into `system`, the other
 * messages in order, `stop` as `stop_sequences`, `max_tokens` (default {@link defaultMaxTokens});
 * `seed`, `n` and `response_format` have no Messages counterpart and are left out; any other field
 * (`temperature`, `top_p`, `top_k`, `metadata`, ...) is passed as it is.
 */
export const params = (payload: object): { readonly [key: string]: unknown } => {
  const out: { [key: string]: unknown } = {}
  const system: Array<string> = []
  for (const [k, v] of Object.entries(payload)) {
    if (k === "seed" || k === "n" || k === "response_format") continue
    if (k === "stop") {
      if (Array.isArray(v) && v.length > 0) out.stop_sequences = v
      else if (typeof v === "string") out.stop_sequences = [v]
      continue
    }
    if (k === "messages" && Array.isArray(v)) {
      const messages: Array<unknown> = []
      for (const m of v) {
        if (isObject(m) && m.role === "system" && typeof m.content === "string") system.push(m.content)
        else messages.push(m)
      }
      out.messages = messages
      continue
    }
    out[k] = v
  }
  if (system.length > 0) out.system = system.join("\n\n")
  if (typeof out.max_tokens !== "number") out.max_tokens = defaultMaxTokens
  return out
}

/** The finish reason of a `stop_reason`, as chat completions spell it (`stop`, `length`), others as they are. */
const finishReason = (u: unknown): string | null =>
  u === "end_turn" || u === "stop_sequence" ? "stop" : u === "max_tokens" ? "length" : typeof u === "string" ? u : null

/** A Messages answer (a parsed `message` object); a string says why it is not one. */
export const fromMessage = (json: unknown): Answer | string => {
  if (!isObject(json)) return `the answer is not a JSON object: ${preview(JSON.stringify(json) ?? "")}`
  if (!Array.isArray(json.content)) return `the answer has no content list: ${preview(JSON.stringify(json))}`
  const texts = json.content.filter((b) => isObject(b) && b.type === "text" && typeof b.text === "string").map((b) => String(b.text))
  if (texts.length === 0 && json.stop_reason === "refusal") return "the model refused"
  const usage = isObject(json.usage) ? json.usage : {}
  const cached = count(usage.cache_read_input_tokens)
  const prompt = count(usage.input_tokens) + cached + count(usage.cache_creation_input_tokens)
  const completion = count(usage.output_tokens)
  return {
    content: texts.join(""),
    finish_reason: finishReason(json.stop_reason),
    usage: cached > 0 ? { prompt_tokens: prompt, completion_tokens: completion, cached_tokens: cached } : { prompt_tokens: prompt, completion_tokens: completion }
  }
}

/** An HTTP answer of `POST /messages`: the completion, or the failed attempt. */
export const classifyMessage = (status: number, text: string, retryAfter: string | undefined): Answer | AttemptFailure => {
  if (status < 200 || status >= 300) return classifyError(status, text, retryAfter)
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return { kind: "bad_response", detail: `the server's answer is not JSON: ${preview(text)}`, status }
  }
  const answer = fromMessage(json)
  return typeof answer === "string" ? { kind: "bad_response", detail: answer, status } : answer
}

/** The HTTP status an Anthropic error type stands for, so an errored batch item is classified like an online answer. */
const statusOfErrorType: { readonly [type: string]: number } = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529
}

/**
 * One line of a batch's results (`{custom_id, result: {type, message | error}}`): the answer, or
 * why there is none. `errored` items are classified by their error type (an
 * `invalid_request_error` is permanent, `api_error` and `overloaded_error` are worth another
 * batch); `expired` and `canceled` items never ran and are worth another batch.
 */
export const resultOutcome = (line: { readonly [key: string]: unknown }, scrub: (s: string) => string): Answer | AttemptFailure => {
  const result = line.result
  if (!isObject(result)) return { kind: "bad_response", detail: "a result line with no result" }
  switch (result.type) {
    case "succeeded": {
      const answer = fromMessage(result.message)
      return typeof answer === "string" ? { kind: "bad_response", detail: scrub(answer) } : answer
    }
    case "errored": {
      const body = isObject(result.error) ? result.error : {}
      const inner = isObject(body.error) ? body.error : body
      const type = typeof inner.type === "string" ? inner.type : "api_error"
      const f = classifyError(statusOfErrorType[type] ?? 500, JSON.stringify({ error: inner }), undefined)
      return { ...f, detail: scrub(`${type}: ${f.detail}`) }
    }
    case "expired":
      return { kind: "timeout", detail: "expired: the batch ended before this request ran" }
    case "canceled":
      return { kind: "timeout", detail: "canceled: the batch was canceled before this request ran" }
    default:
      return { kind: "bad_response", detail: `a result of type ${JSON.stringify(result.type)}` }
  }
}

/**
 * A batch's state in the terms of batch mode's progress: `in_progress`, `cancelling`, or, once
 * `ended`, `expired` when some of its requests expired, else `completed`.
 */
export const batchStatus = (o: { readonly [key: string]: unknown }): "in_progress" | "cancelling" | "expired" | "completed" => {
  if (o.processing_status === "canceling") return "cancelling"
  if (o.processing_status !== "ended") return "in_progress"
  const counts = isObject(o.request_counts) ? o.request_counts : {}
  return count(counts.expired) > 0 ? "expired" : "completed"
}


/** The built-in `anthropic` provider: `POST {endpoint}/messages` for every chat call. */
export const provider: ProviderFactory = (model, context) =>
  Effect.gen(function* () {
    const targets = yield* endpointTargets(model, "/messages")
    const secret = model.api_key !== undefined ? Redacted.value(model.api_key) : undefined
    const scrub = (s: string): string => (secret !== undefined && secret.length >= 4 ? s.split(secret).join("<redacted>") : s)
    const sent = headers(model)
    const start: NonNullable<Transport["start"]> = (index, body, timeoutMs, ended) =>
      begin(targets[index]!, sent, JSON.stringify(params(body)), timeoutMs, (r) => {
        if (!r.ok) return ended({ kind: r.failure.kind, detail: scrub(r.failure.detail) })
        if (r.answer.limits !== undefined) context.rateLimits?.(r.answer.limits)
        const c = classifyMessage(r.answer.status, r.answer.text, r.answer.retryAfter)
        ended("kind" in c ? { ...c, detail: scrub(c.detail) } : c)
      })
    return {
      endpoints: model.endpoints.map((url) => ({ id: displayUrl(url), capacity: model.concurrency })),
      start,
      send: (index, body, timeoutMs) =>
        Effect.async<Answer, AttemptFailure>((resume) => {
          const cancel = start(index, body, timeoutMs, (r) => resume("kind" in r ? Effect.fail(r) : Effect.succeed(r)))
          return Effect.sync(cancel)
        })
    }
  })

/**
 * The OpenAI-compatible chat-completions wire format: the request a stage asks for, the body
 * sent to `POST /v1/chat/completions`, and the parsed answer (`choices[0].message.content`,
 * `finish_reason`, `usage`; every choice when a request asked for `n` > 1).
 */
import { isRecord as isObject } from "@synthline/core/Row"


/** One chat message. */
export interface Message {
  readonly role: string
  readonly content: string
}

/** What a stage asks a model for. */
export interface ChatRequest {
  readonly messages: ReadonlyArray<Message>
  readonly temperature?: number | undefined
  readonly top_p?: number | undefined
  readonly max_tokens?: number | undefined
  readonly stop?: ReadonlyArray<string> | undefined
  /** Per-request seed; derive it with `Seed.forRequest`. */
  readonly seed?: number | undefined
  /** Passed through, e.g. `{ type: "json_schema", json_schema: { name, schema, strict: true } }`. */
  readonly response_format?: unknown
  /** Extra body fields for this request (merged over the model's `extra_body`). */
  readonly extra?: { readonly [key: string]: unknown } | undefined
}

/** Token counts of an answer. */
export interface Usage {
  readonly prompt_tokens: number
  readonly completion_tokens: number
  /** Prompt tokens the provider served from its own prompt cache (`prompt_tokens_details.cached_tokens`), when it says. */
  readonly cached_tokens?: number
}

/** One of the choices of an answer to a request that asked for several (`n`). */
export interface Choice {
  readonly content: string
  readonly finish_reason: string | null
}

/** A model's answer. */
export interface Completion {
  readonly content: string
  /** `stop`, `length` (ran out of tokens), ... as the server said; `null` when it did not. */
  readonly finish_reason: string | null
  readonly usage: Usage
  /** True when it came from the response cache (no request was made). */
  readonly cached: boolean
  /**
   * Every choice in `index` order (the first is `content` and `finish_reason`), when the server
   * gave more than one (a request with `n` > 1: `choices_per_request`); `usage` counts them all.
   */
  readonly choices?: ReadonlyArray<Choice> | undefined
}

/** The JSON body of a chat-completions request. */
export const body = (model: string, request: ChatRequest, extraBody: { readonly [key: string]: unknown }): object => {
  const out: { [key: string]: unknown } = { ...extraBody, ...request.extra, model, messages: request.messages }
  if (request.temperature !== undefined) out.temperature = request.temperature
  if (request.top_p !== undefined) out.top_p = request.top_p
  if (request.max_tokens !== undefined) out.max_tokens = request.max_tokens
  if (request.stop !== undefined) out.stop = request.stop
  if (request.seed !== undefined) out.seed = request.seed
  if (request.response_format !== undefined) out.response_format = request.response_format
  return out
}

const count = (u: unknown): number => (typeof u === "number" && Number.isFinite(u) && u >= 0 ? u : 0)

/** Parses a chat-completions response body; a string says why it is not one. */
export const parseResponse = (text: string): Omit<Completion, "cached"> | string => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return `the server's answer is not JSON: ${preview(text)}`
  }
  if (!isObject(json)) return `the server's answer is not a JSON object: ${preview(text)}`
  const choices = json.choices
  if (!Array.isArray(choices) || choices.length === 0) return `the answer has no choices: ${preview(text)}`
  const first = choiceOf(choices[0], 0, text)
  if (typeof first === "string") return first
  const usage = isObject(json.usage) ? json.usage : {}
  const answer = {
    content: first.content,
    finish_reason: first.finish_reason,
    usage: cachedTokens(usage) > 0
      ? { prompt_tokens: count(usage.prompt_tokens), completion_tokens: count(usage.completion_tokens), cached_tokens: cachedTokens(usage) }
      : { prompt_tokens: count(usage.prompt_tokens), completion_tokens: count(usage.completion_tokens) }
  }
  if (choices.length === 1) return answer
  // Several choices (n > 1): in the order of their `index`, where the server gives one.
  const all: Array<Choice> = []
  const order = choices.map((c: unknown, i) => ({ c, at: isObject(c) && typeof c.index === "number" ? c.index : i })).sort((a, b) => a.at - b.at)
  for (const [i, { c }] of order.entries()) {
    const choice = choiceOf(c, i, text)
    if (typeof choice === "string") return choice
    all.push(choice)
  }
  return { ...answer, content: all[0]!.content, finish_reason: all[0]!.finish_reason, choices: all }
}

/** One choice of a chat-completions answer; a string says why it is not one. */
const choiceOf = (c: unknown, i: number, text: string): Choice | string => {
  if (!isObject(c) || !isObject(c.message)) return `choices[${i}] has no message: ${preview(text)}`
  const content = c.message.content
  if (typeof content !== "string") {
    const refusal = c.message.refusal
    return typeof refusal === "string" ? `the model refused: ${preview(refusal)}` : `choices[${i}].message.content is not a string: ${preview(text)}`
  }
  return { content, finish_reason: typeof c.finish_reason === "string" ? c.finish_reason : null }
}

const cachedTokens = (usage: { readonly [key: string]: unknown }): number =>
  isObject(usage.prompt_tokens_details) ? count(usage.prompt_tokens_details.cached_tokens) : 0

/** The first 200 characters of a text, for error messages. */
export const preview = (text: string): string => {
  const t = text.replace(/\s+/g, " ").trim()
  return t.length > 200 ? `${t.slice(0, 200)}…` : t === "" ? "(empty)" : t
}

/** A rough token count for rate limiting before the answer's `usage` is known (4 characters per token). */
export const estimateTokens = (request: ChatRequest): number => {
  let chars = 0
  for (const m of request.messages) chars += m.content.length + 8
  return Math.ceil(chars / 4) + (request.max_tokens ?? 512)
}

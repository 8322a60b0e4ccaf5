/**
 * The test server's chat answers: reading a chat request out of an OpenAI chat-completions body
 * or Anthropic Messages params, answering it (`TestServerOptions.chat`, else {@link echo}), and
 * writing the answer as a chat completion (`n` choices) or an Anthropic message.
 */
import { createHash } from "node:crypto"
import { isRecord as isObject } from "@synthline/core/Row"
import type { ChatReply, Fault, ReceivedChat, TestServerOptions } from "../../TestServer.js"
import { isFault } from "./respond.js"

/** A JSON answer body. */
export type Body = { readonly [key: string]: unknown }

/** A chat answer with its token counts. */
interface Replied {
  readonly reply: ChatReply
  readonly promptTokens: number
  readonly completionTokens: number
}

/** The default chat answer: deterministic in the messages and seed. */
export const echo = (request: ReceivedChat): string => {
  const last = request.messages[request.messages.length - 1]?.content ?? ""
  const h = createHash("sha256").update(JSON.stringify([request.messages, request.seed ?? null])).digest("hex").slice(0, 8)
  return `answer ${h}: ${last.slice(0, 60)}`
}

/** A rough token count of a text: one per four characters, at least one. */
const tokens = (s: string): number => Math.max(1, Math.ceil(s.length / 4))

/** The chat request in a body, or undefined when it has no `messages` list. */
export const toChat = (body: unknown): ReceivedChat | undefined =>
  isObject(body) && Array.isArray(body.messages)
    ? {
        model: String(body.model),
        messages: body.messages.filter(isObject).map((m) => ({ role: String(m.role), content: String(m.content) })),
        seed: typeof body.seed === "number" ? body.seed : undefined,
        temperature: typeof body.temperature === "number" ? body.temperature : undefined,
        max_tokens: typeof body.max_tokens === "number" ? body.max_tokens : undefined,
        body
      }
    : undefined

/**
 * The chat request in Anthropic Messages params, or undefined when they have no `messages` list:
 * `system` becomes a first system message, as a chat-completions request would carry it.
 */
export const fromMessagesParams = (params: unknown): ReceivedChat | undefined => {
  if (!isObject(params) || !Array.isArray(params.messages)) return undefined
  const system = typeof params.system === "string" ? [{ role: "system", content: params.system }] : []
  return {
    model: String(params.model),
    messages: [...system, ...params.messages.filter(isObject).map((m) => ({ role: String(m.role), content: String(m.content) }))],
    seed: undefined,
    temperature: typeof params.temperature === "number" ? params.temperature : undefined,
    max_tokens: typeof params.max_tokens === "number" ? params.max_tokens : undefined,
    body: params
  }
}

/** The Anthropic error type of an HTTP status. */
export const anthropicErrorType = (status: number): string =>
  status === 401
    ? "authentication_error"
    : status === 403
      ? "permission_error"
      : status === 404
        ? "not_found_error"
        : status === 413
          ? "request_too_large"
          : status === 429
            ? "rate_limit_error"
            : status === 529
              ? "overloaded_error"
              : status >= 500
                ? "api_error"
                : "invalid_request_error"

/** The answer to a request with its token counts, or the fault `chat` asked for. */
const replyTo = (options: TestServerOptions, request: ReceivedChat, n: number): Replied | Fault => {
  const answer = options.chat !== undefined ? options.chat(request, n) : echo(request)
  if (isFault(answer)) return answer
  const reply: ChatReply = typeof answer === "string" ? { content: answer } : answer
  return {
    reply,
    promptTokens: reply.prompt_tokens ?? tokens(request.messages.map((m) => m.content).join(" ")),
    completionTokens: reply.completion_tokens ?? tokens(reply.content)
  }
}

/** An Anthropic Messages answer for a request, or the fault `chat` asked for. */
export const message = (options: TestServerOptions, request: ReceivedChat, n: number): Body | Fault => {
  const r = replyTo(options, request, n)
  if (isFault(r)) return r
  const finish = r.reply.finish_reason ?? "stop"
  const cached = r.reply.cached_tokens ?? 0
  return {
    id: `msg_${n}`,
    type: "message",
    role: "assistant",
    model: request.model,
    content: [{ type: "text", text: r.reply.content }],
    stop_reason: finish === "stop" ? "end_turn" : finish === "length" ? "max_tokens" : finish,
    stop_sequence: null,
    usage: {
      input_tokens: r.promptTokens - cached,
      output_tokens: r.completionTokens,
      ...(cached > 0 ? { cache_read_input_tokens: cached } : {})
    }
  }
}

/**
 * The chat completion body for a request, or the fault `chat` asked for. With `n` > 1 in the
 * body it has `n` choices, each answered as a request of its own with, when seeded, seed + its
 * index (vLLM's semantics); the prompt is counted once, the completion tokens of all choices.
 */
export const completion = (options: TestServerOptions, request: ReceivedChat, n: number): Body | Fault => {
  const k = typeof request.body.n === "number" && Number.isInteger(request.body.n) && request.body.n > 1 ? request.body.n : 1
  const replies: Array<Replied> = []
  for (let i = 0; i < k; i++) {
    const r = replyTo(options, i === 0 || request.seed === undefined ? request : { ...request, seed: request.seed + i }, n)
    if (isFault(r)) return r
    replies.push(r)
  }
  const { reply, promptTokens } = replies[0]!
  const completionTokens = replies.reduce((sum, r) => sum + r.completionTokens, 0)
  return {
    id: `chatcmpl-${n}`,
    object: "chat.completion",
    created: 0,
    model: request.model,
    choices: replies.map((r, index) => ({
      index,
      message: { role: "assistant", content: r.reply.content },
      finish_reason: r.reply.finish_reason ?? "stop"
    })),
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      ...(reply.cached_tokens !== undefined ? { prompt_tokens_details: { cached_tokens: reply.cached_tokens } } : {})
    }
  }
}

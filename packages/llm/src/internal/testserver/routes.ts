/**
 * The test server's single-request routes: OpenAI chat completions, Anthropic Messages, OpenAI
 * moderations and DeepL translate. Each counts its request, applies the fault due (if any) and
 * answers; the chat routes also honour the request limit (`rateLimit`).
 */
import type { ServerResponse } from "node:http"
import { isRecord as isObject } from "@synthline/core/Row"
import type { Fault, ModerationAnswer, ReceivedChat } from "../../TestServer.js"
import { completion, fromMessagesParams, message } from "./chat.js"
import { applyFault, isFault, send } from "./respond.js"
import type { ServerState } from "./state.js"

/** How one chat dialect reads its request, says "rate limited" and "bad request", and answers. */
interface ChatDialect {
  /** The chat request in what the route was given, or undefined when it holds none. */
  readonly parse: (input: unknown) => ReceivedChat | undefined
  readonly limited: unknown
  readonly invalid: unknown
  readonly answer: (state: ServerState, request: ReceivedChat, n: number) => unknown
}

const openAiChat: ChatDialect = {
  // The dispatcher has already read the body's chat request.
  parse: (input) => input as ReceivedChat | undefined,
  limited: { error: { message: "test server: rate limit reached", type: "requests" } },
  invalid: { error: { message: "messages is required" } },
  answer: (state, request, n) => completion(state.options, request, n)
}

const anthropicChat: ChatDialect = {
  parse: fromMessagesParams,
  limited: { type: "error", error: { type: "rate_limit_error", message: "test server: rate limit reached" } },
  invalid: { type: "error", error: { type: "invalid_request_error", message: "messages: field required" } },
  answer: (state, request, n) => message(state.options, request, n)
}

/** One chat request in either dialect: count it, apply the fault due, then the request limit, then read and answer it. */
const chat = (dialect: ChatDialect, state: ServerState, res: ServerResponse, input: unknown, fault: Fault | undefined): void => {
  const { counts } = state
  counts.chat++
  if (fault !== undefined) {
    applyFault(counts, res, fault)
    return
  }
  const limited = state.window.check()
  if (limited?.over) {
    counts.faults++
    send(res, 429, dialect.limited, limited.headers)
    return
  }
  const request = dialect.parse(input)
  if (request === undefined) {
    send(res, 400, dialect.invalid)
    return
  }
  const answer = dialect.answer(state, request, counts.chat)
  if (isFault(answer)) {
    applyFault(counts, res, answer)
    return
  }
  send(res, 200, answer, limited?.headers)
}

/** `POST …/chat/completions`: `chatRequest` is the body's chat request, if it has one. */
export const chatCompletions = (state: ServerState, res: ServerResponse, chatRequest: ReceivedChat | undefined, fault: Fault | undefined): void =>
  chat(openAiChat, state, res, chatRequest, fault)

/** `POST …/v1/messages`: an Anthropic Messages request. */
export const anthropicMessages = (state: ServerState, res: ServerResponse, body: unknown, fault: Fault | undefined): void =>
  chat(anthropicChat, state, res, body, fault)

/** `POST …/moderations`: one result per input (`moderate`, default nothing flagged). */
export const moderations = (state: ServerState, res: ServerResponse, body: unknown, fault: Fault | undefined): void => {
  const { counts, options } = state
  counts.moderation++
  if (fault !== undefined) {
    applyFault(counts, res, fault)
    return
  }
  if (!isObject(body)) {
    send(res, 400, { error: { message: "input is required" } })
    return
  }
  const inputs = Array.isArray(body.input) ? body.input.map(String) : [String(body.input)]
  const results: Array<ModerationAnswer> = []
  for (const input of inputs) {
    const r = options.moderate !== undefined ? options.moderate(input) : { flagged: false, categories: {}, category_scores: {} }
    if (isFault(r)) {
      applyFault(counts, res, r)
      return
    }
    results.push(r)
  }
  send(res, 200, { id: `modr-${counts.moderation}`, model: String(body.model ?? "omni-moderation-latest"), results })
}

/** `POST …/v2/translate`: DeepL's translate (`translate`, default `[<target>] <text>`). */
export const translate = (state: ServerState, res: ServerResponse, body: unknown, fault: Fault | undefined): void => {
  const { counts, options } = state
  counts.translate++
  if (fault !== undefined) {
    applyFault(counts, res, fault)
    return
  }
  if (!isObject(body) || !Array.isArray(body.text)) {
    send(res, 400, { message: "text is required" })
    return
  }
  const target = String(body.target_lang ?? "")
  const source = typeof body.source_lang === "string" ? body.source_lang : undefined
  const translateOne = options.translate ?? ((t: string, lang: string) => `[${lang}] ${t}`)
  send(res, 200, {
    translations: body.text.map((t) => ({ detected_source_language: source ?? "EN", text: translateOne(String(t), target, source) }))
  })
}

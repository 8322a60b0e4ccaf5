/**
 * The test server's request handler: reads the body, answers `GET /_counts`, counts and records
 * the request, waits out the latency, checks the API key, then hands the request to the batch
 * routes or, with the fault due, to its single-request route.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { batchRoute } from "./batches.js"
import { toChat } from "./chat.js"
import { messageBatchRoute } from "./messageBatches.js"
import { readBody, safeParse, send } from "./respond.js"
import { anthropicMessages, chatCompletions, moderations, translate } from "./routes.js"
import type { ServerState } from "./state.js"

/** Whether a request carries the server's API key (always, when it has none). */
const authorized = (state: ServerState, req: IncomingMessage, authorization: string | undefined): boolean => {
  const key = state.options.apiKey
  return key === undefined || authorization === `Bearer ${key}` || authorization === `DeepL-Auth-Key ${key}` || req.headers["x-api-key"] === key
}

/** Answers one request. */
export const handle = async (state: ServerState, req: IncomingMessage, res: ServerResponse): Promise<void> => {
  const { counts, options } = state
  const text = await readBody(req)
  if (req.method === "GET" && req.url === "/_counts") return send(res, 200, counts)
  counts.total++
  const path = (req.url ?? "/").split("?")[0] ?? "/"
  const authorization = req.headers.authorization
  const body = safeParse(text)
  if (options.record === true) state.requests.push({ path, body, authorization })
  const chatRequest = path.endsWith("/chat/completions") && req.method === "POST" ? toChat(body) : undefined
  const wait = options.latency !== undefined && chatRequest !== undefined ? options.latency(chatRequest, ++state.chatArrivals) : state.latency
  if (wait > 0) await new Promise((r) => setTimeout(r, wait))
  if (!authorized(state, req, authorization)) return send(res, 401, { error: { message: "invalid api key", type: "auth" } })
  if (messageBatchRoute(state, req, path, text, res) === true) return
  if ((await batchRoute(state, req, path, text, res)) === true) return
  const fault = state.queue.shift() ?? state.always
  if (req.method !== "POST") return send(res, 405, { error: { message: "POST only" } })
  if (path.endsWith("/chat/completions")) return chatCompletions(state, res, chatRequest, fault)
  if (path.endsWith("/v1/messages")) return anthropicMessages(state, res, body, fault)
  if (path.endsWith("/moderations")) return moderations(state, res, body, fault)
  if (path.endsWith("/v2/translate")) return translate(state, res, body, fault)
  return send(res, 404, { error: { message: `no route ${path}` } })
}

/**
 * The local OpenAI-compatible test server as its own process, for the llm-saturation
 * benchmark: `tsx bench/src/llm-server.ts LATENCY_MS` prints its base URL on stdout and serves
 * until killed, on the other core than the client. Counters: `GET /_counts`.
 */
import { start } from "@synthline/llm/TestServer"

const latencyMs = Number(process.argv[2] ?? "100")
const server = await start({ latencyMs, chat: () => ({ content: "ok", prompt_tokens: 20, completion_tokens: 1 }) })
process.stdout.write(`${server.baseUrl}\n`)
process.on("SIGTERM", () => {
  server.close().then(() => process.exit(0))
})

/**
 * The cached path of `llm/complete` alone, in one process: `tsx bench/src/llm-cached-stage.ts N DIR`
 * fills a response cache with N answers from the in-process test server, then runs the stage
 * again over the same N rows with a fresh client on that cache file and prints
 * `{"rows":N,"requests":R,"ms":T,"cpu_ms":C}` for the second pass (R must be 0); the first
 * pass's figures (with requests) come as `first_ms` / `first_cpu_ms`.
 */
import { runStage } from "@synthline/core/Testing"
import { complete } from "@synthline/llm/Complete"
import { ModelsSection } from "@synthline/llm/Config"
import { layerWith } from "@synthline/llm/Models"
import { start } from "@synthline/llm/TestServer"
import { Effect, Schema } from "effect"

const n = Number(process.argv[2] ?? "100000")
const dir = process.argv[3] ?? "."
const server = await start({ chat: () => ({ content: "ok", prompt_tokens: 20, completion_tokens: 1 }) })
const rows = Array.from({ length: n }, (_, i) => ({
  conversation_id: `c${i}`,
  conversation: [{ role: "user", content: `Question number ${i}: what is ${i} + ${i}?` }]
}))
const pass = () =>
  Effect.runPromise(
    runStage(complete, { model: "m", user: "{{conversation.0.content}}", output: "reply", max_tokens: 16 }, rows, { seed: 1 }).pipe(
      Effect.provide(
        layerWith({
          models: Schema.decodeUnknownSync(ModelsSection)({ m: { model: "bench/model", endpoints: [server.baseUrl], concurrency: 256 } }),
          cache: { path: `${dir}/stage-cache.sqlite`, mode: "read-write" },
          baseDir: dir,
          env: {}
        })
      )
    )
  )
let t = performance.now()
let c = process.cpuUsage()
const first = await pass()
const firstMs = performance.now() - t
const firstCpu = process.cpuUsage(c)
if (first.rows.length !== n) throw new Error(`first pass wrote ${first.rows.length} of ${n} rows`)
const before = server.counts.chat
t = performance.now()
c = process.cpuUsage()
const second = await pass()
const ms = performance.now() - t
const cpu = process.cpuUsage(c)
if (second.rows.length !== n) throw new Error(`cached pass wrote ${second.rows.length} of ${n} rows`)
process.stdout.write(
  `${JSON.stringify({
    rows: n,
    requests: server.counts.chat - before,
    ms,
    cpu_ms: (cpu.user + cpu.system) / 1000,
    first_ms: firstMs,
    first_cpu_ms: (firstCpu.user + firstCpu.system) / 1000
  })}\n`
)
await server.close()

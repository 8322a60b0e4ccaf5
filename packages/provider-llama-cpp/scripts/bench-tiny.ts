/**
 * `pnpm --filter @synthline/provider-llama-cpp bench-tiny [--threads N]`: generation speed
 * (completion tokens/s) of the tiny model through the llama-cpp provider and the model client,
 * one request at a time and 4 at once. Greedy decoding: every answer is exactly 128 tokens.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { CacheSection, ModelsSection } from "@synthline/llm/Config"
import { make } from "@synthline/llm/Models"
import { Effect, Schema } from "effect"
import { llamaCpp } from "../src/LlamaCppPlugin.js"
import * as TinyModel from "../test/support/TinyModel.js"

const args = process.argv.slice(2)
const at = args.indexOf("--threads")
const threads = at >= 0 ? Number(args[at + 1]) : undefined
mkdirSync(join(import.meta.dirname, "../test/.tmp"), { recursive: true })
const dir = mkdtempSync(join(import.meta.dirname, "../test/.tmp/bench-"))
writeFileSync(join(dir, "tiny.gguf"), TinyModel.make())

const program = Effect.gen(function* () {
  for (const concurrency of [1, 4]) {
    const models = yield* make({
      models: Schema.decodeUnknownSync(ModelsSection)({
        tiny: { provider: "llama-cpp", path: "./tiny.gguf", concurrency, options: { context_size: 1024, ...(threads !== undefined ? { threads } : {}) } }
      }),
      cache: Schema.decodeUnknownSync(CacheSection)({ mode: "off" }),
      baseDir: dir,
      env: {},
      providers: [llamaCpp]
    })
    const m = yield* models.get("tiny")
    const ask = (i: number) => m.complete({ messages: [{ role: "user", content: `Question ${i}: tell me a story.` }], temperature: 0, max_tokens: 128 })
    yield* ask(-1) // warm-up
    const n = 16
    const start = performance.now()
    const answers = yield* Effect.forEach(Array.from({ length: n }, (_, i) => i), ask, { concurrency })
    const seconds = (performance.now() - start) / 1000
    const tokens = answers.reduce((t, a) => t + a.usage.completion_tokens, 0)
    process.stdout.write(
      `concurrency ${concurrency}, threads ${threads ?? "default"}: ${n} answers, ${tokens} tokens in ${seconds.toFixed(2)}s = ${(tokens / seconds).toFixed(0)} tokens/s\n`
    )
  }
})

Effect.runPromise(Effect.scoped(program)).catch((e) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.message : String(e)}\n`)
  process.exit(1)
})

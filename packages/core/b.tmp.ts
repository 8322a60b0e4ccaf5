import { Effect } from "effect"
import * as CoreStages from "./src/CoreStages.js"
import { runStage } from "./src/Testing.js"
const N = 200_000
const rows = Array.from({ length: N }, (_, i) => ({
  conversation_id: i.toString(16).padStart(32, "0"), model: "vicuna-13b", language: i % 3 ? "English" : "Japanese", turn: 2, redacted: false,
  conversation: [{ role: "user", content: `Please explain topic number ${i % 50000} in detail, with examples.` }, { role: "assistant", content: "x".repeat(300) }, { role: "user", content: "more" }, { role: "assistant", content: "y" }],
  openai_moderation: [{}, {}, {}, {}]
}))
const time = async (name: string, stage: any, cfg: any, input: any[]) => {
  const t = performance.now()
  const r = await Effect.runPromise(runStage(stage, cfg, input))
  console.log(name, (input.length / ((performance.now() - t) / 1000)).toFixed(0), "rows/s", r.rows.length)
  return r.rows
}
const sel = await time("select", CoreStages.select, { languages: ["English", "Japanese"] }, rows)
const ft = await time("first-turn", CoreStages.firstTurn, {}, sel)
await time("dedup", CoreStages.dedup, {}, ft)
await time("sample", CoreStages.sample, { fraction: 0.5 }, ft)
await time("limit", CoreStages.limit, { rows: 1000 }, ft)
await time("fields", CoreStages.fields, { drop: ["redacted"], rename: { conversation: "messages" } }, ft)
// memory of dedup state for 1M distinct texts
;(globalThis as any).gc?.()
const before = process.memoryUsage().heapUsed
const big = Array.from({ length: 1_000_000 }, (_, i) => ({ conversation_id: i.toString(16).padStart(32, "0") }))
const st = await Effect.runPromise(Effect.scoped(CoreStages.dedup.make({ field: "conversation_id", output: "d", drop: true, normalize: "exact" }, { stageId: "x", seed: 0, baseDir: ".", drop: () => {}, reject: () => {}, journal: { recovered: [], append: () => {} } })))
const { Stream } = await import("effect")
const t = performance.now()
await Effect.runPromise(Stream.runDrain(st(Stream.fromIterable(big))))
;(globalThis as any).gc?.()
console.log("dedup 1M rows ms", (performance.now() - t).toFixed(0), "heap MB (incl. 1M input rows)", ((process.memoryUsage().heapUsed - before) / 1e6).toFixed(0))

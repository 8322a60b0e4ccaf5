import { NodeContext } from "@effect/platform-node"
import { Effect } from "effect"
import * as Sample from "./src/Sample.ts"
const rows = Number(process.argv[2] ?? 100000)
const format = (process.argv[3] ?? "parquet") as "parquet" | "jsonl"
const t0 = performance.now()
let n = 0
for (const r of Sample.rows(1, 20000)) n += r.record.conversation.length
const t1 = performance.now()
console.log("gen only 20k rows/s", (20000 / ((t1 - t0) / 1000)).toFixed(0))
const t2 = performance.now()
const s = await Effect.runPromise(Sample.generate({ rows, out: "/tmp/samp/out", format, shards: 2, seed: 42 }).pipe(Effect.provide(NodeContext.layer)))
const t3 = performance.now()
console.log(format, rows, "rows/s", (rows / ((t3 - t2) / 1000)).toFixed(0), "rss MB", (process.memoryUsage().rss / 1e6).toFixed(0))
console.log(JSON.stringify({ ...s, models: undefined }, null, 1).slice(0, 1500))

import { NodeContext } from "@effect/platform-node"
import { Effect, Schema, Stream } from "effect"
import * as Sources from "./src/Sources.js"
const cfg = Schema.decodeUnknownSync(Sources.parquet.config)({ path: process.argv[2], validate: process.argv[3] ?? "lmsys" })
Effect.runPromise(Effect.gen(function* () {
  const t = Date.now()
  const units = yield* Sources.parquet.plan(cfg, { baseDir: "/tmp/prof" })
  let n = 0
  for (const u of units) yield* Stream.runForEachChunk(Sources.parquet.read(u, cfg, { reject: (r) => console.log(r) }, { baseDir: "/tmp/prof" }), (c) => Effect.sync(() => { n += c.length }))
  console.log(process.argv[2], process.argv[3], n, units.length, Date.now() - t, "ms", (n / ((Date.now() - t) / 1000)).toFixed(0), "rows/s")
}).pipe(Effect.provide(NodeContext.layer)))

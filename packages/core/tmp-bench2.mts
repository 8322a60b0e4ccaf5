import { ByteWriter, ParquetWriter } from "hyparquet-writer"
import * as Sample from "./src/Sample.ts"
import { lmsysSchema } from "./src/internal/sample/parquet.ts"
const recs = [...Sample.records(1, 10000)]
for (const stats of [true, false]) for (const enc of [undefined, "PLAIN"] as const) {
  const bw = new ByteWriter(1 << 20)
  const pw = new ParquetWriter({ writer: bw, schema: [...lmsysSchema], statistics: stats })
  const t0 = performance.now()
  for (let rep = 0; rep < 3; rep++) {
    pw.write({ rowGroupSize: 10000, columnData: [
      { name: "conversation_id", data: recs.map(r => r.conversation_id) },
      { name: "model", data: recs.map(r => r.model) },
      { name: "conversation", data: recs.map(r => r.conversation), ...(enc ? { encoding: enc } : {}) },
      { name: "turn", data: recs.map(r => BigInt(r.turn)) },
      { name: "language", data: recs.map(r => r.language) },
      { name: "openai_moderation", data: recs.map(r => r.openai_moderation), ...(enc ? { encoding: enc } : {}) },
      { name: "redacted", data: recs.map(r => r.redacted) },
    ] })
    bw.index = 0
  }
  console.log("stats", stats, "enc", enc, "rows/s", (30000 / ((performance.now() - t0) / 1000)).toFixed(0))
}

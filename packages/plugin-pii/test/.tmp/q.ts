import * as Sample from "@synthline/core/Sample"
import { detect } from "./src/Detect.js"
const N = 20000
const rows = Array.from(Sample.rows(7, N))
let bytes = 0
const texts: string[] = []
for (const r of rows) for (const m of r.record.conversation) { texts.push(m.content); bytes += m.content.length }
// throughput
for (let k = 0; k < 2; k++) { const t0 = performance.now(); for (const t of texts) detect(t); const dt = performance.now() - t0; console.log("MB/s(chars)", (bytes / 1e6 / (dt / 1000)).toFixed(1), "bytes", bytes) }
const tp: Record<string, number> = {}, fp: Record<string, number> = {}, fn: Record<string, number> = {}
const fps: string[] = [], fns: string[] = []
for (const r of rows) {
  const truth = r.pii.filter((s) => s.valid !== false)
  r.record.conversation.forEach((m, turn) => {
    const got = detect(m.content)
    const t = truth.filter((s) => s.turn === turn)
    for (const g of got) {
      const hit = t.find((s) => s.start === g.start && s.end === g.end && s.type === g.type)
      if (hit) tp[g.type] = (tp[g.type] ?? 0) + 1
      else { fp[g.type] = (fp[g.type] ?? 0) + 1; if (fps.length < 40) fps.push(`${g.type}: ${JSON.stringify(m.content.slice(Math.max(0,g.start-30), g.end+20))} [${m.content.slice(g.start,g.end)}]`) }
    }
    for (const s of t) if (!got.find((g) => s.start === g.start && s.end === g.end && s.type === g.type)) { fn[s.type] = (fn[s.type] ?? 0) + 1; if (fns.length < 40) fns.push(`${s.type}/${s.subtype}: ${s.value}  got=${JSON.stringify(got.map(g=>[g.type, m.content.slice(g.start,g.end)]))}`) }
  })
}
console.log({ tp, fp, fn })
console.log(fps.join("\n")); console.log("---"); console.log(fns.join("\n"))

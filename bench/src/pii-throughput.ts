/**
 * Child process of the `pii-throughput` benchmark: the PII detectors and the `pii/redact`
 * stage over the message text of the sample (`Sample.rows(seed, rows)`), on one core (a plain
 * synchronous loop in one thread). Prints one JSON line: bytes of UTF-8 text and MB/s per run,
 * per CPU-second of this process (what one core does, whatever else the machine runs) and per
 * wall second.
 *
 *   node --import tsx --conditions=@synthline/source bench/src/pii-throughput.ts ROWS SEED RUNS
 */
import * as Sample from "@synthline/sample/Sample"
import * as Testing from "@synthline/core/Testing"
import { detect } from "@synthline/plugin-pii/Detect"
import { redact } from "@synthline/plugin-pii/Redact"
import { Effect } from "effect"

const [rows, seed, runs] = process.argv.slice(2).map(Number)
if (!Number.isSafeInteger(rows) || !Number.isSafeInteger(seed) || !Number.isSafeInteger(runs) || rows! <= 0 || runs! <= 0) {
  process.stderr.write("usage: pii-throughput.ts ROWS SEED RUNS\n")
  process.exit(64)
}

const records = Array.from(Sample.records(seed!, rows!))
const texts = records.flatMap((r) => r.conversation.map((m) => m.content))
const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t, "utf8"), 0)
const mb = bytes / 1e6

// Warm-up: let the JIT compile the scanners before timing.
for (let i = 0; i < Math.min(texts.length, 5000); i++) detect(texts[i]!)

/** CPU seconds (user + system) of this process so far. */
const cpu = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

const detectMbps: Array<number> = []
const detectWallMbps: Array<number> = []
let spans = 0
for (let r = 0; r < runs!; r++) {
  spans = 0
  const c0 = cpu()
  const t0 = performance.now()
  for (const t of texts) spans += detect(t).length
  detectWallMbps.push(mb / ((performance.now() - t0) / 1000))
  detectMbps.push(mb / (cpu() - c0))
}

const redactMbps: Array<number> = []
const redactWallMbps: Array<number> = []
let rowsOut = 0
for (let r = 0; r < runs!; r++) {
  const c0 = cpu()
  const t0 = performance.now()
  const result = Effect.runSync(Testing.runStage(redact, {}, records))
  redactWallMbps.push(mb / ((performance.now() - t0) / 1000))
  redactMbps.push(mb / (cpu() - c0))
  rowsOut = result.rows.length
}

process.stdout.write(
  `${JSON.stringify({ rows, messages: texts.length, bytes, spans, rows_out: rowsOut, detect_mbps: detectMbps, redact_mbps: redactMbps, detect_wall_mbps: detectWallMbps, redact_wall_mbps: redactWallMbps })}\n`
)

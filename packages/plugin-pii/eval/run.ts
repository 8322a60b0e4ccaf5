/**
 * `pnpm --filter @synthline/plugin-pii eval [--rows N] [--seed S]`: precision, recall and F1
 * per type, and throughput (MB/s of UTF-8 text, one core), for this package and the npm
 * libraries `openredaction`, `redact-pii` and `@redactpii/node`, on the same inputs:
 *
 * (a) the sample generator's ground truth (`Sample.rows(seed, N)`, every message of every
 *     conversation; planted values with `valid: false` are decoys that must not be reported);
 * (b) the labelled set built from format specifications (`eval/labelled.ts`).
 *
 * A prediction matches a truth span when their types agree and they overlap (libraries differ
 * in where a span starts: "+1 212…" vs "212…"), so every tool is scored the same way.
 * Predictions of types we do not detect (names, zip codes…) are not counted for any type.
 */
import * as Sample from "@synthline/sample/Sample"
import { type PiiType, piiTypes } from "../src/Detect.js"
import { labelled, spansOf } from "./labelled.js"
import { type Loaded, openredaction, type Predicted, redactPii, redactpiiNode, synthline, type Tool } from "./tools.js"

interface Truth {
  readonly type: PiiType
  readonly start: number
  readonly end: number
}

interface Dataset {
  readonly name: string
  readonly texts: ReadonlyArray<string>
  readonly truth: ReadonlyArray<ReadonlyArray<Truth>>
  readonly bytes: number
}

interface Counts {
  truth: number
  found: number
  predicted: number
  correct: number
}

interface Result {
  readonly perType: Map<PiiType, Counts>
  readonly mbps: number
  readonly seconds: number
  readonly other: number
}

const args = process.argv.slice(2)
const arg = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`)
  const v = i >= 0 ? Number(args[i + 1]) : fallback
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`--${name} must be a non-negative integer`)
  return v
}
const rows = arg("rows", 2000)
const seed = arg("seed", 42)

const sampleSet = (): Dataset => {
  const texts: Array<string> = []
  const truth: Array<Array<Truth>> = []
  for (const r of Sample.rows(seed, rows)) {
    r.record.conversation.forEach((m, turn) => {
      texts.push(m.content)
      truth.push(r.pii.filter((p) => p.turn === turn && p.valid !== false).map((p) => ({ type: p.type, start: p.start, end: p.end })))
    })
  }
  return { name: `sample ground truth (Sample.rows(${seed}, ${rows}): ${texts.length} messages)`, texts, truth, bytes: utf8Bytes(texts) }
}

const labelledSet = (): Dataset => {
  const texts = labelled.map((c) => c.text)
  const truth = labelled.map((c) => spansOf(c).map((s) => ({ type: s.type, start: s.start, end: s.end })))
  return { name: `labelled set from format specifications (${texts.length} cases, eval/labelled.ts)`, texts, truth, bytes: utf8Bytes(texts) }
}

const utf8Bytes = (texts: ReadonlyArray<string>): number => texts.reduce((n, t) => n + Buffer.byteLength(t, "utf8"), 0)

const isPromise = (u: unknown): u is Promise<unknown> => u instanceof Promise

/** Runs a tool over every text (timed), then scores its spans (not timed). */
const evaluate = async (tool: Tool, data: Dataset): Promise<Result> => {
  // Warm-up (JIT), the same for every tool: two passes over the texts, or 3 s for slow tools.
  const warmUntil = performance.now() + 3000
  warm: for (let pass = 0; pass < 2; pass++) {
    for (let i = 0; i < data.texts.length; i++) {
      if (performance.now() > warmUntil) break warm
      const r = tool.call(data.texts[i])
      if (isPromise(r)) await r
    }
  }
  const results: Array<unknown> = new Array(data.texts.length)
  // CPU time of this process (user + system): one core's throughput, whatever else the machine runs.
  const c0 = process.cpuUsage()
  for (let i = 0; i < data.texts.length; i++) {
    const r = tool.call(data.texts[i])
    results[i] = isPromise(r) ? await r : r
  }
  const c1 = process.cpuUsage(c0)
  const seconds = (c1.user + c1.system) / 1e6
  const perType = new Map<PiiType, Counts>(piiTypes.map((t) => [t, { truth: 0, found: 0, predicted: 0, correct: 0 }]))
  let other = 0
  data.texts.forEach((text, i) => {
    const predicted: ReadonlyArray<Predicted> = tool.spans(text, results[i])
    const truth = data.truth[i]
    const overlaps = (a: { start: number; end: number }, b: { start: number; end: number }) => a.start < b.end && b.start < a.end
    for (const t of truth) {
      const c = perType.get(t.type)!
      c.truth++
      if (predicted.some((p) => p.type === t.type && overlaps(p, t))) c.found++
    }
    for (const p of predicted) {
      if (p.type === "OTHER") {
        other++
        continue
      }
      const c = perType.get(p.type)!
      c.predicted++
      if (truth.some((t) => t.type === p.type && overlaps(p, t))) c.correct++
    }
  })
  return { perType, seconds, mbps: data.bytes / 1e6 / seconds, other }
}

const f = (x: number | undefined): string => (x === undefined ? "  -  " : x.toFixed(3))
const prf = (c: Counts): [number | undefined, number | undefined, number | undefined] => {
  const p = c.predicted === 0 ? (c.truth === 0 ? undefined : undefined) : c.correct / c.predicted
  const r = c.truth === 0 ? undefined : c.found / c.truth
  const f1 = p === undefined || r === undefined ? (c.truth > 0 && c.predicted === 0 ? 0 : undefined) : p + r === 0 ? 0 : (2 * p * r) / (p + r)
  return [p, r, f1]
}

const pad = (s: string, n: number): string => (s.length >= n ? s : s + " ".repeat(n - s.length))

const table = (data: Dataset, tools: ReadonlyArray<Loaded>, results: ReadonlyArray<Result | undefined>): string => {
  const names = tools.map((t) => ("tool" in t ? t.tool.name : t.name))
  const lines: Array<string> = []
  lines.push(`\n## ${data.name}, ${(data.bytes / 1e6).toFixed(2)} MB`)
  lines.push(`${pad("type", 13)} ${pad("truth", 6)} ${names.map((n) => pad(n, 24)).join(" ")}`)
  lines.push(`${pad("", 13)} ${pad("", 6)} ${names.map(() => pad("  P     R     F1", 24)).join(" ")}`)
  const f1s: Array<Array<number>> = names.map(() => [])
  for (const type of piiTypes) {
    const truth = results.find((r) => r !== undefined)?.perType.get(type)?.truth ?? 0
    const anyPredicted = results.some((r) => r !== undefined && (r.perType.get(type)?.predicted ?? 0) > 0)
    if (truth === 0 && !anyPredicted) continue
    const cells = results.map((r, k) => {
      if (r === undefined) return pad("unavailable", 24)
      const [p, rc, f1] = prf(r.perType.get(type)!)
      if (f1 !== undefined && truth > 0) f1s[k].push(f1)
      return pad(`${f(p)} ${f(rc)} ${f(f1)}`, 24)
    })
    lines.push(`${pad(type, 13)} ${pad(String(truth), 6)} ${cells.join(" ")}`)
  }
  lines.push(
    `${pad("macro F1", 13)} ${pad("", 6)} ${results
      .map((r, k) => pad(r === undefined ? "unavailable" : `            ${(f1s[k].reduce((a, b) => a + b, 0) / Math.max(1, f1s[k].length)).toFixed(3)}`, 24))
      .join(" ")}`
  )
  if (data.bytes >= 1e6) {
    lines.push(
      `${pad("MB/s", 13)} ${pad("", 6)} ${results.map((r) => pad(r === undefined ? "unavailable" : `            ${r.mbps.toFixed(2)}`, 24)).join(" ")}`
    )
  } else lines.push(`${pad("MB/s", 13)} (input under 1 MB: too small to time; see the sample table)`)
  lines.push(
    `${pad("other-typed", 13)} ${pad("", 6)} ${results.map((r) => pad(r === undefined ? "unavailable" : `            ${r.other}`, 24)).join(" ")}`
  )
  return lines.join("\n")
}

const main = async (): Promise<void> => {
  const tools: ReadonlyArray<Loaded> = [await synthline(), await openredaction(), await redactPii(), await redactpiiNode()]
  const out: Array<string> = [`# PII eval (P = precision, R = recall, per type; "-" = nothing to measure; MB/s = MB of UTF-8 text per CPU-second of the process, i.e. one core)`]
  for (const t of tools) out.push("tool" in t ? `- ${t.tool.name} ${t.tool.version}` : `- ${t.name}: unavailable: ${t.unavailable}`)
  for (const data of [sampleSet(), labelledSet()]) {
    const results: Array<Result | undefined> = []
    for (const t of tools) {
      if (!("tool" in t)) {
        results.push(undefined)
        continue
      }
      process.stderr.write(`eval: ${t.tool.name} on ${data.name}...\n`)
      results.push(await evaluate(t.tool, data))
    }
    out.push(table(data, tools, results))
  }
  const seen = tools.flatMap((t) => ("tool" in t && t.tool.seen.size > 0 ? [`${t.tool.name} reported types: ${[...t.tool.seen].sort().join(", ")}`] : []))
  out.push("", ...seen)
  out.push(
    "",
    "Matching: same type and overlapping offsets. Name detection is switched off in redact-pii and @redactpii/node (this package keeps NAME_n);",
    "their predictions of types this package does not have (addresses, zip codes, digits...) are listed as other-typed and not scored."
  )
  process.stdout.write(`${out.join("\n")}\n`)
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
  process.exit(1)
})

/**
 * `synthline estimate FILE [--sample N] [--rows-total N] [--json]`: runs the pipeline on N rows
 * spread over its input (a fixed stride, see `Projection`) in a temporary folder,
 * never the real sink, and prints what the whole input would take: rows per stage, requests,
 * tokens, DeepL characters, cost and wall time per model, with p50/p95 tokens per answer.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { RunError } from "@synthline/core/Errors"
import type { Projection } from "./Projection.js"
import { Effect, Option } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const Core = Effect.promise(() => import("./Projection.js"))
const Pipeline = Effect.promise(() => import("@synthline/core/Pipeline"))

const int = (n: number): string => Math.round(n).toLocaleString("en-US")

const duration = (ms: number): string => {
  const s = Math.round(ms / 1000)
  if (s < 120) return `${s} s`
  const m = Math.round(s / 60)
  return m < 120 ? `${m} min` : `${(m / 60).toFixed(1)} h`
}

const table = (rows: ReadonlyArray<ReadonlyArray<string>>): Array<string> => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd())
}

/** The projection as text: the sample, rows per stage, then one line per model. */
export const render = (p: Projection): string => {
  const s = p.sample
  const lines = [
    `sample   ${int(s.rows_read)} of ${int(s.rowsTotal)} rows${s.basis === "planned" ? "" : " (total estimated)"}, from ${s.unitsSampled} of ${s.units} units; scale ×${s.scale.toFixed(2)}`
  ]
  if (s.note !== undefined) lines.push(`total    ${s.note}`)
  if (s.rejected > 0) lines.push(`rejects  ${s.rejected} sample rows were rejected (see the rejects of a real run)`)
  lines.push(
    "",
    ...table([
      ["stage", "rows in", "rows out"],
      ...p.stages.map((x) => [x.id, int(x.rows_in), int(x.rows_out)]),
      ["written", "", int(p.rows.written)],
      ...Object.entries(p.rows.branches).map(([name, n]) => [`→ ${name}`, "", int(n)]),
      ...(p.rows.rejected > 0 ? [["rejected", "", int(p.rows.rejected)]] : [])
    ])
  )
  const llm = p.models.filter((m) => m.characters === undefined)
  if (llm.length > 0) {
    lines.push(
      "",
      ...table([
        ["model", "requests", "prompt tok", "completion tok", "cost (USD)", "wall time"],
        ...llm.map((m) => [
          m.name,
          int(m.requests),
          int(m.prompt_tokens),
          int(m.completion_tokens),
          m.usd === undefined ? "no price" : `$${m.usd.toFixed(2)}`,
          m.mode === "batch" ? "batch window" : m.wall_ms === undefined ? "?" : `${duration(m.wall_ms)} (${m.slots} slots)`
        ])
      ])
    )
    lines.push("", "tokens per answer in the sample (p50 / p95):")
    for (const m of llm) {
      const x = m.spread
      lines.push(
        x === undefined
          ? `  ${m.name}: no answer went over the wire (all from the cache)`
          : `  ${m.name}: prompt ${int(x.prompt_p50)} / ${int(x.prompt_p95)}, completion ${int(x.completion_p50)} / ${int(x.completion_p95)}, total ${int(x.total_p50)} / ${int(x.total_p95)} (${x.answers} answers)`
      )
    }
  }
  for (const m of p.models.filter((m) => m.characters !== undefined)) {
    lines.push(`${m.name}: ${int(m.requests)} requests, ${int(m.characters ?? 0)} characters, ${m.usd === undefined ? "no price" : `$${m.usd.toFixed(2)}`}`)
  }
  const unpriced = p.models.filter((m) => m.usd === undefined).map((m) => m.name)
  lines.push(
    "",
    `total    ${p.usd === undefined ? "no model has a price" : `$${p.usd.toFixed(2)}`}${p.wall_ms === undefined ? "" : `, about ${duration(p.wall_ms)} (the slowest model)`}, with an empty response cache`
  )
  // A total that leaves a model out says so: a partial bill read as the whole one is worse than none.
  if (p.usd !== undefined && unpriced.length > 0)
    lines.push(`         not counted: ${unpriced.join(", ")} (no price: set price in its model, or synth/translate's price)`)
  return lines.join("\n")
}

/** The `estimate` command. */
export const command = Command.make(
  "estimate",
  {
    file: Args.file({ name: "FILE", exists: "yes" }).pipe(Args.withDescription("Pipeline file (YAML or JSON).")),
    sample: Options.integer("sample").pipe(Options.withDefault(200), Options.withDescription("Rows in the sample, spread over the input. Default 200.")),
    rowsTotal: Options.integer("rows-total").pipe(
      Options.optional,
      Options.withDescription("The input's row count, for inputs whose planning does not count rows (gzip JSON lines); default: counted in the first such unit and extrapolated by bytes.")
    ),
    json: Options.boolean("json").pipe(Options.withDescription("Print JSON instead of text."))
  },
  ({ file, sample, rowsTotal, json }) =>
    Effect.gen(function* () {
      if (sample < 1) return yield* new RunError({ reason: `--sample must be at least 1, got ${sample}`, exitCode: 2 })
      const total = Option.getOrUndefined(rowsTotal)
      if (total !== undefined && total < 1) return yield* new RunError({ reason: `--rows-total must be at least 1, got ${total}`, exitCode: 2 })
      const P = yield* Pipeline
      const pipeline = yield* P.load(file)
      const checked = P.plan(pipeline)
      if (checked.issues.length > 0) return yield* new RunError({ reason: checked.issues.map((i) => `${file}: stage ${i.stage}: ${i.message}`).join("\n"), exitCode: 2 })
      yield* P.checkInputs(pipeline)
      const E = yield* Core
      const projection = yield* Effect.acquireUseRelease(
        Effect.sync(() => mkdtempSync(join(tmpdir(), "synthline-estimate-"))),
        (scratch) => E.runSample(pipeline, { rows: sample, rowsTotal: total, scratch }).pipe(Effect.map((run) => E.project(run, pipeline.sections.models))),
        (scratch) => Effect.sync(() => rmSync(scratch, { recursive: true, force: true }))
      )
      process.stdout.write(`${json ? JSON.stringify(projection, null, 2) : render(projection)}\n`)
    })
).pipe(
  Command.withDescription(
    "Run the pipeline on a sample of its input in a scratch folder (never the real sink) and project the whole run: rows per stage, requests, tokens, cost, wall time."
  )
)

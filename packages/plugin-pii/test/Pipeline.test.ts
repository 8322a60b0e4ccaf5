import { NodeContext } from "@effect/platform-node"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import type { Row } from "@synthline/core/Row"
import * as Sample from "@synthline/sample/Sample"
import * as Testing from "@synthline/core/Testing"
import { Effect } from "effect"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { redact } from "../src/Redact.js"
import { gzipParts, readParts, synthline } from "../../cli/test/support.js"

mkdirSync(join(import.meta.dirname, ".tmp"), { recursive: true })
const work = mkdtempSync(join(import.meta.dirname, ".tmp", "pipeline-"))
const ROWS = 1200
const SEED = 21

const pipeline = (name: string, stages: string, branches = ""): string => {
  const file = join(work, `${name}.pipeline.yaml`)
  writeFileSync(
    file,
    `name: ${name}
seed: 1
plugins: ["@synthline/plugin-pii"]
source: { type: jsonl, path: "data/data/*.jsonl" }
stages:
${stages}sink: { type: jsonl, path: out-${name}, compression: gzip }
${branches}`
  )
  return file
}

beforeAll(async () => {
  await Effect.runPromise(
    Sample.generate({ rows: ROWS, out: join(work, "data"), format: "jsonl", shards: 2, seed: SEED }).pipe(Effect.provide(NodeContext.layer))
  )
})

afterAll(() => { if (process.env.KEEP_TMP === undefined) rmSync(work, { recursive: true, force: true }) })

describe("pipeline file through the CLI", () => {
  const sample = Array.from(Sample.rows(SEED, ROWS))

  it("pii/redact replaces every planted value with per-conversation placeholders, same rows as in code", async () => {
    const file = pipeline("redact", "  - use: pii/redact\n")
    const r = await synthline(["run", file])
    expect(r.code, r.stderr).toBe(0)
    const rows = readParts<Row>(join(work, "out-redact"), gzipParts)
    expect(rows.length).toBe(ROWS)
    const byId = new Map(rows.map((x) => [x.conversation_id, x]))
    let checked = 0
    for (const s of sample) {
      const valid = s.pii.filter((p) => p.valid !== false)
      if (valid.length === 0) continue
      const out = byId.get(s.record.conversation_id)!
      const list: unknown = out.conversation
      const contents = Array.isArray(list) ? list.map((m: { content?: unknown }) => String(m.content)) : []
      for (const p of valid) expect(contents[p.turn]).not.toContain(p.value)
      expect(contents.join("\n")).toMatch(new RegExp(`${valid[0].type}_1`))
      checked++
    }
    expect(checked).toBeGreaterThan(20)
    // The file run and the library run agree row for row.
    const inCode = await Effect.runPromise(Testing.runStage(redact, {}, sample.map((s) => s.record)))
    expect(rows.map((x) => x.conversation)).toEqual(inCode.rows.map((x) => x.conversation))
  })

  it("pii/scan then pii/redact style drop routes conversations with personal data to a branch (wo-pii split)", async () => {
    const file = pipeline(
      "wo-pii",
      "  - use: pii/scan\n  - use: pii/redact\n    style: drop\n    route: pii\n",
      `branches:\n  pii: { type: jsonl, path: out-wo-pii+pii, compression: gzip }\n`
    )
    const r = await synthline(["run", file])
    expect(r.code, r.stderr).toBe(0)
    const main = readParts<Row>(join(work, "out-wo-pii"), gzipParts)
    const routed = readParts<Row>(join(work, "out-wo-pii+pii"), gzipParts)
    const withPii = sample.filter((s) => s.pii.some((p) => p.valid !== false))
    expect(routed.map((x) => x.conversation_id).sort()).toEqual(withPii.map((s) => s.record.conversation_id).sort())
    expect(main.length).toBe(ROWS - withPii.length)
    for (const x of main) expect(x).toMatchObject({ has_pii: false, pii_spans: [] })
    for (const x of routed) expect(x.has_pii).toBe(true)
    const manifest = JSON.parse(readFileSync(join(work, "out-wo-pii", "manifest.json"), "utf8"))
    const stage = manifest.stages.find((s: { id: string }) => s.id === "pii/redact")
    // With `route:` the runner counts the stage's drops as routed (reasons are counted for plain drops).
    expect(stage.routed).toBe(withPii.length)
    expect(stage.rows_out).toBe(ROWS - withPii.length)
    expect(manifest.outputs.branches.pii.rows).toBe(withPii.length)
  })
})

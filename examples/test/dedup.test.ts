/**
 * The recipe's decontamination file and stages: examples/benchmarks/mt-bench-like.jsonl is the
 * sample's MT-Bench-shaped benchmark (written for this project), and the two dedup stages of
 * the recipe, as configured there, flag what the `--near-duplicates` sample plants.
 */
import { NodeContext } from "@effect/platform-node"
import { Testing } from "@synthline/core"
import { Sample } from "@synthline/sample"
import { decontaminate } from "@synthline/plugin-dedup/Decontaminate"
import { nearDedup } from "@synthline/plugin-dedup/NearDedup"
import { Effect } from "effect"
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { expect, it } from "vitest"

const examples = join(import.meta.dirname, "..")
const recipe = readFileSync(join(examples, "lmsys-chat-1m-synth-ja.pipeline.yaml"), "utf8")

it("the example benchmark file is the sample's MT-Bench-shaped benchmark", () => {
  const lines = readFileSync(join(examples, "benchmarks/mt-bench-like.jsonl"), "utf8").trim().split("\n")
  expect(lines.map((l) => JSON.parse(l))).toEqual(Sample.benchmark)
  expect(recipe).toContain('  - "@synthline/plugin-dedup"')
  expect(recipe).toContain("  - use: dedup/near-dedup\n    field: conversation.0.content\n    output: near_duplicate_user_instruction\n")
  expect(recipe).toContain("  - use: dedup/decontaminate\n    action: drop\n")
})

it("the recipe's dedup stages mark the planted near-duplicates and drop the planted benchmark prompts", async () => {
  const rows = [...Sample.rows(42, 2000, 0, { nearDuplicates: true })]
  const records = rows.map((r) => r.record)
  mkdirSync(join(import.meta.dirname, ".tmp"), { recursive: true })
  const dir = mkdtempSync(join(import.meta.dirname, ".tmp", "dedup-"))
  const file = join(dir, "data.jsonl")
  writeFileSync(file, records.map((r) => JSON.stringify(r)).join("\n"))
  const near = await Effect.runPromise(
    Testing.runStage(nearDedup, { output: "near_duplicate_user_instruction", index_from: { type: "jsonl", path: file } }, records).pipe(
      Effect.provide(NodeContext.layer)
    )
  )
  for (const r of rows) {
    const t = Sample.truthOf(42, r)
    if (t === undefined || !("first" in t)) continue
    const out = near.rows.find((x) => x.conversation_id === t.conversation_id)!
    expect(out.near_duplicate_user_instruction).toBe(t.first === t.conversation_id ? null : t.first)
  }
  const d = await Effect.runPromise(
    Testing.runStage(decontaminate, { action: "drop", benchmarks: [{ path: "benchmarks/mt-bench-like.jsonl", name: "mt-bench-like" }] }, records, {
      baseDir: examples
    }).pipe(Effect.provide(NodeContext.layer))
  )
  const planted = rows.filter((r) => r.planted?.kind === "benchmark").map((r) => r.record.conversation_id)
  expect(planted.length).toBeGreaterThan(0)
  expect(d.dropped.map((x) => x.row.conversation_id)).toEqual(planted)
})

import { describe, expect, it } from "vitest"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { readParts, synthline } from "../../cli/test/support.js"
import { NodeContext } from "@effect/platform-node"
import { Effect, Schema } from "effect"
import * as Source from "@synthline/core/Source"
import { runStage } from "@synthline/core/Testing"
import { CountMin, detectTemplate, skeleton } from "../src/DetectTemplate.js"
import { flagEmpty } from "../src/FlagEmpty.js"
import { tempDir } from "./support.js"

const companies = [
  ["Shanghai Yuanye Biotechnology Co., Ltd.", "China"],
  ["BASF", "Germany"],
  ["Acme Chemicals Inc.", "the United States"],
  ["Nanjing Pharmatechs", "Nanjing, China"]
]
const intro = (i: number) => {
  const [name, place] = companies[i % companies.length]!
  return `Give me an introduction over ${[200, 1500, 2000][i % 3]} words for ${name}, a chemical company in ${place}`
}
const safety = (i: number) => `What is the safety of ${["Acetone", "Sodium Hydroxide", "Toluene"][i % 3]} in the chemical industry?`

describe("skeleton", () => {
  it("replaces names, numbers, quoted strings, URLs and placeholders; keeps the template's words", () => {
    expect(skeleton(intro(0))).toBe("give me an introduction over N words for X, a chemical company in X")
    expect(skeleton(intro(1))).toBe("give me an introduction over N words for X, a chemical company in X")
    expect(skeleton('Translate "Bonjour" for NAME_1 at https://x.org/a, 3 times')).toBe("translate Q for P at U N times")
    expect(skeleton("What is 2+2?")).toBe("what is N+N?")
  })

  it("the count-min sketch never under-counts", () => {
    const s = new CountMin()
    for (let i = 0; i < 50; i++) s.add("a")
    s.add("b")
    expect(s.estimate("a")).toBeGreaterThanOrEqual(50)
    expect(s.estimate("b")).toBeGreaterThanOrEqual(1)
    expect(s.estimate("never")).toBe(0)
  })
})

describe("synth/detect-template", () => {
  const dir = tempDir("templates")
  const rows = [
    ...Array.from({ length: 24 }, (_, i) => ({ conversation_id: `i${i}`, conversation: [{ role: "user", content: intro(i) }] })),
    ...Array.from({ length: 21 }, (_, i) => ({ conversation_id: `s${i}`, conversation: [{ role: "user", content: safety(i) }] })),
    { conversation_id: "u", conversation: [{ role: "user", content: "Write a haiku about the sea" }] },
    { conversation_id: "e", conversation: [{ role: "user", content: "" }] }
  ]
  const file = join(dir, "data.jsonl")
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join("\n"))
  const go = (options: { [k: string]: unknown }, input = rows) =>
    Effect.runPromise(
      runStage(detectTemplate, { counts_from: { type: "jsonl", path: file }, ...options }, input).pipe(Effect.provide(NodeContext.layer))
    )

  it("labels the company-introduction family, names other templates by their skeleton, and leaves the rest null", async () => {
    const r = await go({})
    const label = (id: string) => r.rows.find((x) => x.conversation_id === id)!.is_template_instruction
    // 24 introductions share one skeleton (>= 20): the shipped label.
    for (let i = 0; i < 24; i++) expect(label(`i${i}`)).toBe("company introduction")
    // 21 safety questions: a template without a configured label gets its skeleton.
    expect(label("s0")).toBe("what is the safety of X in the chemical industry?")
    expect(label("u")).toBeNull()
    expect(label("e")).toBeNull()
  })

  it("without counts_from, counts the source the stage is given (the pipeline's): the same labels", async () => {
    const source = { def: Source.jsonl, config: Schema.decodeUnknownSync(Source.jsonl.config)({ path: file, validate: "none" }) }
    const bySource = await Effect.runPromise(runStage(detectTemplate, {}, rows, { source }).pipe(Effect.provide(NodeContext.layer)))
    const byPath = await go({})
    expect(bySource.rows.map((r) => r.is_template_instruction)).toEqual(byPath.rows.map((r) => r.is_template_instruction))
    expect(bySource.rows.filter((r) => r.is_template_instruction === "company introduction")).toHaveLength(24)
  })

  it("min_count and labels are configurable; counts come from the whole dataset, so a shard of the rows gets the same labels", async () => {
    const strict = await go({ min_count: 22 })
    expect(strict.rows.find((x) => x.conversation_id === "s0")!.is_template_instruction).toBeNull()
    expect(strict.rows.find((x) => x.conversation_id === "i0")!.is_template_instruction).toBe("company introduction")
    const custom = await go({ labels: [{ pattern: "safety of X", label: "chemical safety" }] }, rows.slice(20, 26))
    expect(custom.rows.map((x) => x.is_template_instruction)).toEqual([
      "give me an introduction over N words for X, a chemical company in X",
      "give me an introduction over N words for X, a chemical company in X",
      "give me an introduction over N words for X, a chemical company in X",
      "give me an introduction over N words for X, a chemical company in X",
      "chemical safety",
      "chemical safety"
    ])
  })
})

describe("synth/detect-template without counts_from", () => {
  const work = tempDir("templates-cli")
  const pipeline = (name: string, stage: string): string => {
    const file = join(work, `${name}.pipeline.yaml`)
    writeFileSync(
      file,
      `name: ${name}
plugins: ["@synthline/plugin-synth"]
source: { type: parquet, path: "data/data/train-*.parquet", unit_rows: 100 }
stages:
${stage}
sink: { type: jsonl, path: out-${name} }
`
    )
    return file
  }
  const labels = (name: string) =>
    readParts<{ conversation_id: string; is_template_instruction: string | null }>(join(work, `out-${name}`)).map((r) => [
      r.conversation_id,
      r.is_template_instruction
    ])

  it("a bare `- use: synth/detect-template` validates and counts the pipeline's own source: the labels of counts_from over the same files, in every shard", async () => {
    expect((await synthline(["sample", "--rows", "600", "--format", "parquet", "--shards", "2", "--seed", "5", "--out", join(work, "data")])).code).toBe(0)
    const bare = pipeline("bare", "  - use: synth/detect-template\n    min_count: 3")
    const named = pipeline(
      "named",
      '  - use: synth/detect-template\n    min_count: 3\n    counts_from: { type: parquet, path: "data/data/train-*.parquet" }'
    )
    const validated = await synthline(["validate", bare])
    expect(validated.stderr).toBe("")
    expect(validated.code).toBe(0)
    const a = await synthline(["run", bare])
    expect(a.code, a.stderr).toBe(0)
    const b = await synthline(["run", named])
    expect(b.code, b.stderr).toBe(0)
    const byDefault = labels("bare")
    expect(byDefault).toHaveLength(600)
    expect(byDefault).toEqual(labels("named"))
    // The counts are real: the sample's company introductions form a family, and most rows are no template.
    expect(byDefault.filter(([, l]) => l === "company introduction").length).toBeGreaterThanOrEqual(3)
    expect(byDefault.filter(([, l]) => l === null).length).toBeGreaterThan(400)
    // A shard counts the whole source too, so its rows get the labels of the whole run.
    const shard = pipeline("shard", "  - use: synth/detect-template\n    min_count: 3")
    const s = await synthline(["run", shard, "--shard", "1/2"])
    expect(s.code, s.stderr).toBe(0)
    const part = labels("shard")
    expect(part.length).toBeGreaterThan(0)
    expect(part.length).toBeLessThan(600)
    const whole = new Map(byDefault.map(([id, l]) => [id, l]))
    expect(part).toEqual(part.map(([id]) => [id, whole.get(id!)]))
  }, 120_000)

  it("outside a pipeline run (no source), a missing counts_from is a clear error", async () => {
    const r = await Effect.runPromise(runStage(detectTemplate, {}, []).pipe(Effect.provide(NodeContext.layer), Effect.flip))
    expect(r.message).toBe("stage synth/detect-template: counts_from is unset and there is no pipeline source to count here (outside a pipeline run): set counts_from")
  })
})

describe("synth/flag-empty", () => {
  it("flags missing, empty and whitespace-only instructions", async () => {
    const t = (content: string) => ({ translated_conversation: [{ role: "user", content }] })
    const r = await Effect.runPromise(runStage(flagEmpty, {}, [t("質問"), t(""), t(" \n\t "), { translated_conversation: [] }]))
    expect(r.rows.map((x) => x.empty_user_instruction_ja)).toEqual([false, true, true, true])
    const named = await Effect.runPromise(runStage(flagEmpty, { field: "conversation.0.content", output: "empty" }, [{ conversation: [{ role: "user", content: "x" }] }]))
    expect(named.rows[0]!.empty).toBe(false)
  })
})

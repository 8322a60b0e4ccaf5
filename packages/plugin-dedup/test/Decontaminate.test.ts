import { NodeContext } from "@effect/platform-node"
import { runStage } from "@synthline/core/Testing"
import { Effect } from "effect"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { type DecontaminateOptions, decontaminate } from "../src/Decontaminate.js"
import { tempDir, writeJsonl } from "./support.js"

const items = [
  {
    question_id: 901,
    category: "writing",
    turns: [
      "Draft a friendly letter to a neighbour who keeps parking a large delivery van across the shared driveway every Tuesday morning.",
      "Now shorten it."
    ]
  },
  {
    question_id: 902,
    category: "reasoning",
    turns: ["山田さんは毎朝同じ駅から電車に乗りますが、ある日いつもより十五分早く家を出たのに、会社に着いたのはいつもと同じ時刻でした。考えられる理由を三つ挙げてください。"]
  }
]

const row = (id: string, content: string) => ({ conversation_id: id, conversation: [{ role: "user", content }] })

const rows = [
  // The whole first prompt, with text around it and changed case and punctuation.
  row("en", "Hi! Please DRAFT a friendly letter to a neighbour who keeps parking a large delivery van across the shared driveway, thanks."),
  // A 25-character run of the Japanese prompt inside other text.
  row("ja", "質問です。山田さんは毎朝同じ駅から電車に乗りますが、ある日いつもより早く出ました。"),
  // Shares fewer than 13 words in a row.
  row("near", "Draft a friendly letter to a neighbour who keeps parking across the driveway."),
  // The short second turn is too short to tell from a common phrase.
  row("short", "Now shorten it."),
  row("other", "What is the capital of France?"),
  { conversation_id: "none" }
]

const setup = () => {
  const dir = tempDir("decon")
  writeJsonl(join(dir, "mt-bench-like.jsonl"), items)
  return dir
}

const run = (dir: string, options: DecontaminateOptions, input: ReadonlyArray<{ [k: string]: unknown }> = rows) =>
  Effect.runPromise(Effect.either(runStage(decontaminate, options, input, { baseDir: dir }).pipe(Effect.provide(NodeContext.layer))))

describe("dedup/decontaminate", () => {
  it("flags rows sharing a 13-word or 25-character n-gram, with the benchmark, the item and the n-gram", async () => {
    const dir = setup()
    const r = await run(dir, { benchmarks: [{ path: "mt-bench-like.jsonl" }] })
    if (r._tag === "Left") throw r.left
    const by = Object.fromEntries(r.right.rows.map((x) => [x.conversation_id, x.contamination]))
    expect(by.en).toEqual({
      benchmark: "mt-bench-like",
      item: 901,
      ngram: "draft a friendly letter to a neighbour who keeps parking a large delivery"
    })
    expect(by.ja).toEqual({ benchmark: "mt-bench-like", item: 902, ngram: "山田さんは毎朝同じ駅から電車に乗りますが、ある日いつ" })
    expect(by.near).toBeNull()
    expect(by.short).toBeNull()
    expect(by.other).toBeNull()
    expect(by.none).toBeNull()
  })

  it("action: drop drops matching rows (reason contaminated); shorter n-grams and a custom name and field", async () => {
    const dir = setup()
    writeJsonl(join(dir, "evals.jsonl"), [{ id: "q1", prompt: { text: "keeps parking across the driveway" } }])
    const r = await run(dir, {
      benchmarks: [{ path: "evals.jsonl", name: "house", field: "prompt.text", id_field: "id" }],
      ngram: 5,
      action: "drop"
    })
    if (r._tag === "Left") throw r.left
    expect(r.right.droppedByReason).toEqual({ contaminated: 1 })
    expect(r.right.dropped[0]!.row.contamination).toEqual({ benchmark: "house", item: "q1", ngram: "keeps parking across the driveway" })
    expect(r.right.rows.map((x) => x.conversation_id)).toEqual(["en", "ja", "short", "other", "none"])
  })

  it("refuses a missing benchmark file, a bad line and a missing field, naming the file and line", async () => {
    const dir = setup()
    const missing = await run(dir, { benchmarks: [{ path: "nope.jsonl" }] })
    expect(missing._tag === "Left" && missing.left.message).toMatch(/benchmark nope\.jsonl: cannot read .*nope\.jsonl: no such file/)
    writeFileSync(join(dir, "bad.jsonl"), `${JSON.stringify(items[0])}\n{"question_id": 2, "turns": [\n`)
    const bad = await run(dir, { benchmarks: [{ path: "bad.jsonl" }] })
    expect(bad._tag === "Left" && bad.left.message).toMatch(/benchmark bad\.jsonl:2: not valid JSON/)
    writeJsonl(join(dir, "nofield.jsonl"), [items[0], { question_id: 3, prompt: "x" }])
    const noField = await run(dir, { benchmarks: [{ path: "nofield.jsonl" }] })
    expect(noField._tag === "Left" && noField.left.message).toContain(
      "benchmark nofield.jsonl:2: field `turns` is missing; expected a string or a list of strings"
    )
  })

  it("rejects a row whose field is not a string", async () => {
    const dir = setup()
    const r = await run(dir, { benchmarks: [{ path: "mt-bench-like.jsonl" }], field: "conversation" }, [row("x", "hi")])
    if (r._tag === "Left") throw r.left
    expect(r.right.rejected.map((x) => x.error)).toEqual(["field `conversation` is an array; expected a string"])
  })
})

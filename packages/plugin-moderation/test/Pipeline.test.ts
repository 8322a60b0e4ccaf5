import { beforeAll, describe, expect, it } from "vitest"
import * as TestServer from "@synthline/llm/TestServer"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { readParts, synthline } from "../../cli/test/support.js"

// From pipeline files, through the real CLI, on `synthline sample` data.

mkdirSync(join(import.meta.dirname, ".tmp"), { recursive: true })
const work = mkdtempSync(join(import.meta.dirname, ".tmp", "pipeline-"))

type Message = { readonly role: string; readonly content: string }
type Rec = {
  readonly conversation_id: string
  readonly conversation: ReadonlyArray<Message>
  readonly openai_moderation: ReadonlyArray<{ readonly flagged: boolean }>
  readonly [key: string]: unknown
}

/** The sample rows, read independently of synthline's sources (plain JSON lines). */
const sampleRows = (): Array<Rec> =>
  readdirSync(join(work, "jsonl/data"))
    .filter((f) => f.endsWith(".jsonl"))
    .sort()
    .flatMap((f) =>
      readFileSync(join(work, "jsonl/data", f), "utf8")
        .split("\n")
        .filter((l) => l !== "")
        .map((l): Rec => JSON.parse(l))
    )

const write = (name: string, text: string): string => {
  const file = join(work, `${name}.pipeline.yaml`)
  writeFileSync(file, text)
  return file
}

const ids = (rows: ReadonlyArray<Rec>): Array<string> => rows.map((r) => r.conversation_id).sort()

beforeAll(async () => {
  for (const format of ["parquet", "jsonl"]) {
    const r = await synthline(["sample", "--rows", "1500", "--format", format, "--shards", "2", "--seed", "11", "--out", join(work, format)])
    expect(r.code).toBe(0)
  }
}, 120_000)

describe("the +unsafe split through the CLI", () => {
  it("moderation/filter with action: route, route: unsafe writes flagged conversations to the unsafe branch, the rest to the main sink", async () => {
    const file = write(
      "split",
      `name: split
plugins: ["@synthline/plugin-moderation"]
source: { type: parquet, path: "parquet/data/*.parquet" }
stages:
  - use: moderation/filter
    action: route
    route: unsafe
sink: { type: jsonl, path: out-split, compression: gzip }
branches:
  unsafe: { type: jsonl, path: out-split+unsafe, compression: gzip }
`
    )
    const r = await synthline(["run", file])
    expect(r.stderr).not.toMatch(/error/i)
    expect(r.code).toBe(0)
    const all = sampleRows()
    const flagged = all.filter((row) => row.openai_moderation.some((m) => m.flagged))
    expect(flagged.length).toBeGreaterThan(0)
    expect(flagged.length).toBeLessThan(all.length)
    const main = readParts<Rec>(join(work, "out-split"))
    const unsafe = readParts<Rec>(join(work, "out-split+unsafe"))
    expect(main.length).toBe(all.length - flagged.length)
    expect(unsafe.length).toBe(flagged.length)
    expect(ids(unsafe)).toEqual(ids(flagged))
    expect(ids([...main, ...unsafe])).toEqual(ids(all))
    for (const row of unsafe) expect(row.moderation).toMatchObject({ flagged: true, source: "openai_moderation" })
    for (const row of main) expect(row.moderation).toMatchObject({ flagged: false, categories: [] })
    const manifest = JSON.parse(readFileSync(join(work, "out-split/manifest.json"), "utf8"))
    expect(manifest.outputs.branches.unsafe.rows).toBe(flagged.length)
    expect(manifest.outputs.main.rows).toBe(all.length - flagged.length)
  }, 120_000)
})

describe("moderation/classify → moderation/filter through the CLI", () => {
  /** The fake moderation service: a message is violent when its length is a multiple of 7. */
  const violent = (text: string): boolean => text.length % 7 === 0
  const moderate = (input: string): TestServer.ModerationAnswer => ({
    flagged: violent(input),
    categories: { violence: violent(input), illicit: false },
    category_scores: { violence: violent(input) ? 0.8 : 0.02, illicit: 0.01 }
  })

  it("classifies with a models entry, routes what the live model flags, and a --fresh rerun answers from the cache", async () => {
    const server = await TestServer.start({ moderate })
    try {
      server.failNext({ fault: "status", status: 429, retryAfter: "0" }, { fault: "status", status: 500 })
      const file = write(
        "chain",
        `name: chain
seed: 1
plugins: ["@synthline/plugin-moderation"]
source: { type: jsonl, path: "jsonl/data/*.jsonl" }
models:
  omni: { model: omni-moderation-latest, endpoints: ["${server.baseUrl}"], concurrency: 4, retry_base: 10ms }
cache: { path: chain.sqlite }
stages:
  - use: moderation/classify
    model: omni
    output: live_moderation
    batch_size: 8
  - use: moderation/filter
    annotations: live_moderation
    scope: user
    action: route
    route: unsafe
sink: { type: jsonl, path: out-chain }
branches:
  unsafe: { type: jsonl, path: out-chain+unsafe }
`
      )
      const plan = await synthline(["plan", file])
      expect(plan.code).toBe(0)
      expect(plan.stdout).toMatch(/moderation\/classify\s+requires \[conversation\] provides \[live_moderation\]/)
      const r = await synthline(["run", file])
      expect(r.code).toBe(0)
      const all = sampleRows()
      const expected = all.filter((row) => row.conversation.some((m) => m.role === "user" && violent(m.content)))
      const main = readParts<Rec>(join(work, "out-chain"))
      const unsafe = readParts<Rec>(join(work, "out-chain+unsafe"))
      expect(expected.length).toBeGreaterThan(0)
      expect(ids(unsafe)).toEqual(ids(expected))
      expect(main.length).toBe(all.length - expected.length)
      const first = unsafe[0]!
      expect(first.moderation).toMatchObject({ flagged: true, categories: ["violence"], source: "live_moderation" })
      // The dataset's own annotations are untouched; the live ones sit beside them, illicit kept.
      expect(first.openai_moderation).toEqual(all.find((x) => x.conversation_id === first.conversation_id)!.openai_moderation)
      expect((first.live_moderation as Array<{ extra_categories: unknown }>)[0]!.extra_categories).toEqual({ illicit: false })
      const messages = all.reduce((n, row) => n + row.conversation.length, 0)
      const requests = all.reduce((n, row) => n + Math.ceil(row.conversation.length / 8), 0)
      expect(server.counts.moderation).toBe(requests + 2)
      const usage = JSON.parse(readFileSync(join(work, "out-chain/manifest.json"), "utf8")).model_usage.omni
      expect(usage).toMatchObject({ calls: requests, requests: requests + 2, retries: 2, cache_hits: 0 })
      expect(messages).toBeGreaterThan(requests)

      const fresh = await synthline(["run", file, "--fresh"])
      expect(fresh.code).toBe(0)
      expect(server.counts.moderation).toBe(requests + 2)
      expect(ids(readParts<Rec>(join(work, "out-chain+unsafe")))).toEqual(ids(expected))
    } finally {
      await server.close()
    }
  }, 120_000)
})

/**
 * The cost ledger (`Usage.cost`, `price:` of a model): through the CLI, the manifest and the
 * dataset card carry what a run paid and what the cache and batch mode saved; `synthline merge`
 * sums the shards' ledgers.
 */
import { beforeAll, describe, expect, it } from "vitest"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { gzipParts, readParts, synthline } from "../../cli/test/support.js"
import * as TestServer from "../src/TestServer.js"
import * as Usage from "../src/Usage.js"
import { tempDir } from "./support.js"

const work = tempDir("ledger")

// Every answer bills 1000 prompt and 500 completion tokens; 200 of the prompt tokens came from the
// provider's prompt cache. At $2 / $8 / $1 per 1M, one online answer costs
// (800 × 2 + 200 × 1 + 500 × 8) / 1e6 = $0.0058.
const server = () =>
  TestServer.start({
    chat: (r) => ({ content: `ok ${r.messages[0]!.content.length} ${r.seed ?? ""}`, prompt_tokens: 1000, completion_tokens: 500, cached_tokens: 200 })
  })

const pipeline = (name: string, url: string, mode: "online" | "batch", cache: string) => {
  const file = join(work, `${name}.pipeline.yaml`)
  writeFileSync(
    file,
    `name: ${name}
seed: 3
plugins: ["@synthline/llm"]
source: { type: jsonl, path: "data/data/*.jsonl" }
models:
  m:
    model: test/model
    endpoints: ["${url}"]
    mode: ${mode}
    batch: { window: 100ms, poll_interval: 10ms }
    price: { input: 2, output: 8, cached_input: 1, batch_discount: 0.5 }
cache: { path: ${cache} }
stages:
  - use: core/first-turn
  - use: llm/complete
    model: m
    user: "Reply to: {{conversation.0.content}}"
    output: reply
sink: { type: jsonl, path: out-${name}, compression: gzip }
`
  )
  return file
}

beforeAll(async () => {
  const gen = await synthline(["sample", "--rows", "40", "--format", "jsonl", "--shards", "2", "--seed", "8", "--out", join(work, "data")])
  expect(gen.code).toBe(0)
}, 60_000)

const ledger = (out: string, name = "m") => JSON.parse(readFileSync(join(work, out, "manifest.json"), "utf8")).model_usage[name]

describe("the cost ledger", () => {
  it("puts cost, savings by cache and by batch into the manifest and the card; merge sums the shards", async () => {
    const s = await server()
    try {
      // Online: 40 answers at full price, the provider-cached prompt tokens at their own.
      expect((await synthline(["run", pipeline("online", s.baseUrl, "online", "a.sqlite")])).code).toBe(0)
      const online = ledger("out-online")
      expect(online).toMatchObject({ completions: 40, prompt_tokens: 40_000, completion_tokens: 20_000 })
      expect(online.busy_ms).toBeGreaterThan(0)
      expect(online.cost).toEqual({ usd: 0.232, saved_by_cache_usd: 0, saved_by_batch_usd: 0 })
      const card = readFileSync(join(work, "out-online", "README.md"), "utf8")
      expect(card).toContain("| cost (USD) | saved by cache | saved by batch |")
      expect(card).toContain("| m | test/model | 40 | 40 | 0 | 40000 | 20000 | $0.2320 | $0.00 | $0.00 |")

      // The same run again on the same cache: nothing paid; saved what the answers cost at the
      // full input price (the cache keeps no provider-cache split).
      expect((await synthline(["run", pipeline("online", s.baseUrl, "online", "a.sqlite"), "--fresh"])).code).toBe(0)
      expect(ledger("out-online").cost).toEqual({ usd: 0, saved_by_cache_usd: 0.24, saved_by_batch_usd: 0 })

      // Batch mode on a fresh cache: half the token price (batch answers are priced at the full
      // input price: the provider-cache split is not kept for them), the other half saved.
      expect((await synthline(["run", pipeline("batch", s.baseUrl, "batch", "b.sqlite")])).code).toBe(0)
      expect(ledger("out-batch").cost).toEqual({ usd: 0.12, saved_by_batch_usd: 0.12, saved_by_cache_usd: 0 })

      // Two shards, merged: the ledgers add up to the unsharded run's.
      const sharded = pipeline("sharded", s.baseUrl, "online", "c.sqlite")
      for (const i of [0, 1]) expect((await synthline(["run", sharded, "--shard", `${i}/2`])).code).toBe(0)
      expect((await synthline(["merge", join(work, "out-sharded")])).code).toBe(0)
      expect(ledger("out-sharded").cost.usd).toBeCloseTo(0.232, 9)
      expect(readFileSync(join(work, "out-sharded", "README.md"), "utf8")).toContain("$0.2320")
    } finally {
      await s.close()
    }
  }, 120_000)
})

describe("Usage.cost", () => {
  it("charges an hourly price for the time the model had requests in flight", () => {
    const u = { ...Usage.make("m", [], undefined), busy_ms: 1_800_000, prompt_tokens: 1_000_000 }
    expect(Usage.cost(u, { per_hour: 3, batch_discount: 0.5 }, false)).toEqual({ usd: 1.5, saved_by_cache_usd: 0, saved_by_batch_usd: 0 })
    expect(Usage.cost(u, { per_hour: 3, input: 1, batch_discount: 0.5 }, false).usd).toBe(2.5)
  })
})

// ---------------------------------------------------------------------------------------------
// Budgets: the run stops before a request that would take the ledger past the budget (exit 1),
// and resumes with a raised budget without paying again for what it got.

const budgeted = (name: string, url: string, budgets: { model?: number; pipeline?: number }) => {
  const file = join(work, `${name}.pipeline.yaml`)
  writeFileSync(
    file,
    `name: ${name}
seed: 3
plugins: ["@synthline/llm"]
source: { type: jsonl, path: "data/data/*.jsonl" }
models:
  m:
    model: test/model
    endpoints: ["${url}"]
    concurrency: 2
    price: { input: 2, output: 8 }
${budgets.model !== undefined ? `    budget: { usd: ${budgets.model} }\n` : ""}${budgets.pipeline !== undefined ? `budget: { usd: ${budgets.pipeline} }\n` : ""}cache: { path: ${name}.sqlite }
stages:
  - use: core/first-turn
  - use: llm/complete
    model: m
    user: "Reply to: {{conversation.0.content}}"
    output: reply
    max_tokens: 500
sink: { type: jsonl, path: out-${name}, compression: gzip }
`
  )
  return file
}

describe("budgets", () => {
  it("stops before the ledger passes a model's or the pipeline's budget, and resumes with a raised one", async () => {
    // 500 completion tokens an answer ($0.004 at $8 per 1M) and a short prompt: about $0.0041 each.
    const s = await TestServer.start({ chat: (r) => ({ content: `ok ${r.seed ?? ""}`, completion_tokens: 500 }) })
    try {
      const stopped = await synthline(["run", budgeted("capped", s.baseUrl, { model: 0.03 })])
      expect(stopped.code).toBe(1)
      expect(stopped.stderr).toMatch(/budget reached: model m has spent \$0\.0\d+ of its budget of \$0\.0300 \(models\.m\.budget\.usd\)/)
      expect(stopped.stderr).toContain("resumes after models.m.budget.usd is raised")
      // What went out stays within the budget: at most 7 answers of about $0.0041.
      const paid = s.counts.chat
      expect(paid).toBeGreaterThanOrEqual(5)
      expect(paid).toBeLessThanOrEqual(7)

      const resumed = await synthline(["run", budgeted("capped", s.baseUrl, { model: 1 })])
      expect(resumed.code).toBe(0)
      expect(readParts(join(work, "out-capped"), gzipParts)).toHaveLength(40)
      // Answers the stopped run got are cached; at most the one call cut off in flight is asked again.
      expect(s.counts.chat).toBeLessThanOrEqual(41)
      expect(ledger("out-capped").cost.usd).toBeLessThan(0.2)

      const before = s.counts.chat
      const pipelineCap = await synthline(["run", budgeted("pipeline-cap", s.baseUrl, { pipeline: 0.02 })])
      expect(pipelineCap.code).toBe(1)
      expect(pipelineCap.stderr).toMatch(/budget reached: the pipeline has spent \$0\.0\d+ of its budget of \$0\.0200 \(budget\.usd\)/)
      expect(s.counts.chat - before).toBeLessThanOrEqual(4)
    } finally {
      await s.close()
    }
  }, 120_000)
})

// ---------------------------------------------------------------------------------------------
// DeepL is priced per character (`synth/translate`'s `price: { per_1m_characters }`): the ledger
// of `model_usage.deepl` charges the characters the DeepL route received, counts those the cache
// translated as saved, and `synthline estimate` prices the projected characters.

const deeplPipeline = (name: string, url: string, cache: string) => {
  const file = join(work, `${name}.pipeline.yaml`)
  writeFileSync(
    file,
    `name: ${name}
seed: 3
plugins: ["@synthline/plugin-synth"]
source: { type: jsonl, path: "data/data/*.jsonl" }
cache: { path: ${cache} }
stages:
  - use: core/first-turn
  - use: synth/translate
    provider: deepl
    base_url: "${url}"
    auth_key: "\${LEDGER_DEEPL_KEY}"
    batch_size: 7
    price: { per_1m_characters: 25 }
sink: { type: jsonl, path: out-${name} }
`
  )
  return file
}

describe("the cost ledger of DeepL", () => {
  it("charges the characters sent at per_1m_characters, saves those the cache translated, and estimate prices them", async () => {
    const s = await TestServer.start({ record: true })
    const env = { LEDGER_DEEPL_KEY: "ledger-deepl-key:fx" }
    try {
      const file = deeplPipeline("deepl", s.url, "d.sqlite")
      expect((await synthline(["run", file], env)).code).toBe(0)
      // What DeepL bills: the characters of every text it received.
      const sent = s.requests
        .filter((q) => q.path === "/v2/translate")
        .reduce((n, q) => n + (q.body as { text: Array<string> }).text.reduce((m, t) => m + t.length, 0), 0)
      expect(sent).toBeGreaterThan(1000)
      const usd = Math.round(sent * 25) / 1e6
      const first = ledger("out-deepl", "deepl")
      expect(first).toMatchObject({ characters: sent, cache_hit_characters: 0 })
      expect(first.cost).toEqual({ usd, saved_by_cache_usd: 0, saved_by_batch_usd: 0 })
      expect(readFileSync(join(work, "out-deepl", "README.md"), "utf8")).toMatch(
        new RegExp(`\\| deepl \\| deepl \\| \\d+ \\| \\d+ \\| 0 \\| 0 \\| 0 \\| \\$${usd.toFixed(4).replace(".", "\\.")} \\| \\$0\\.00 \\| \\$0\\.00 \\|`)
      )

      // Again on the same cache: nothing sent, nothing paid, the same amount saved.
      const before = s.counts.translate
      expect((await synthline(["run", file, "--fresh"], env)).code).toBe(0)
      expect(s.counts.translate).toBe(before)
      expect(ledger("out-deepl", "deepl").cost).toEqual({ usd: 0, saved_by_cache_usd: usd, saved_by_batch_usd: 0 })

      // estimate over every row (a sample of the whole input): the run's characters and cost, in cents.
      const est = await synthline(["estimate", file, "--sample", "40"], env)
      expect(est.code).toBe(0)
      expect(est.stdout).toContain(`deepl: `)
      expect(est.stdout).toContain(`${sent.toLocaleString("en-US")} characters, $${(Math.round(usd * 100) / 100).toFixed(2)}`)
      expect(est.stdout).toMatch(new RegExp(`total +\\$${(Math.round(usd * 100) / 100).toFixed(2).replace(".", "\\.")}`))
    } finally {
      await s.close()
    }
  }, 120_000)
})

describe("budgets with DeepL", () => {
  it("the pipeline's budget counts DeepL's characters: the run stops before passing it and resumes with a raised one, translating nothing twice but what was in flight", async () => {
    const s = await TestServer.start({ record: true })
    const env = { LEDGER_DEEPL_KEY: "ledger-deepl-key:fx" }
    const sentTexts = () =>
      s.requests.filter((q) => q.path === "/v2/translate").flatMap((q) => (q.body as { text: Array<string> }).text)
    const withBudget = (usd: number) => {
      const file = deeplPipeline("deepl-budget", s.url, "deepl-budget.sqlite")
      writeFileSync(file, readFileSync(file, "utf8").replace("cache: {", `budget: { usd: ${usd} }\ncache: {`))
      return file
    }
    try {
      // About 20 characters a row and more at $25 per 1M: the 40 rows cost well over $0.005.
      const stopped = await synthline(["run", withBudget(0.005)], env)
      expect(stopped.code, stopped.stderr).toBe(1)
      expect(stopped.stderr).toMatch(/budget reached: the pipeline has spent \$0\.00\d+ of its budget of \$0\.0050 \(budget\.usd\)/)
      expect(stopped.stderr).toContain("resumes after budget.usd is raised")
      const first = sentTexts()
      const paid = (first.reduce((n, t) => n + t.length, 0) * 25) / 1e6
      expect(first.length).toBeGreaterThan(0)
      expect(paid).toBeLessThanOrEqual(0.005)

      const resumed = await synthline(["run", withBudget(1)], env)
      expect(resumed.code, resumed.stderr).toBe(0)
      expect(readFileSync(join(work, "out-deepl-budget", "manifest.json"), "utf8")).toContain('"deepl"')
      const all = sentTexts()
      const unique = new Set(all)
      // Every text translated; again only those of requests the stop cut off (at most a few batches of 7).
      expect(all.length - unique.size).toBeLessThanOrEqual(14)
      const total = (all.reduce((n, t) => n + t.length, 0) * 25) / 1e6
      expect(total).toBeGreaterThan(0.005)
      expect(ledger("out-deepl-budget", "deepl").cost.usd).toBeLessThan(1)
    } finally {
      await s.close()
    }
  }, 180_000)
})

import { describe, expect, it } from "vitest"
import Database from "better-sqlite3"
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Schema } from "effect"
import { runStage } from "@synthline/core/Testing"
import { gzipParts, readParts, start as startCli, synthline, tree } from "../../cli/test/support.js"
import { complete } from "../src/Complete.js"
import { ModelsSection } from "../src/Config.js"
import { layerWith } from "../src/Models.js"
import * as TestServer from "../src/TestServer.js"
import { tempDir } from "./support.js"

const rows = Array.from({ length: 30 }, (_, i) => ({
  conversation_id: `c${i}`,
  conversation: [{ role: "user", content: `question ${i}` }],
  topic: i % 3 === 0 ? "math" : "prose"
}))

const withServer = async <A>(options: TestServer.TestServerOptions, f: (s: TestServer.TestServer) => Promise<A>): Promise<A> => {
  const server = await TestServer.start(options)
  try {
    return await f(server)
  } finally {
    await server.close()
  }
}

const stage = (server: TestServer.TestServer, options: { [k: string]: unknown }, model: { [k: string]: unknown } = {}) =>
  Effect.runPromise(
    runStage(complete, { model: "m", user: "Answer: {{conversation.0.content}}", ...options }, rows, { seed: 9 }).pipe(
      Effect.provide(
        layerWith({
          models: Schema.decodeUnknownSync(ModelsSection)({
            m: { model: "test/m", endpoints: [server.baseUrl], retry_base: "5ms", max_retries: 1, ...model }
          }),
          cache: { path: "unused", mode: "off" },
          baseDir: tempDir("complete"),
          env: {}
        })
      )
    )
  )

describe("llm/complete", () => {
  it("fills the templates, keeps row order and derives a per-request seed from (seed, stage, conversation_id, index)", () =>
    withServer({ record: true, latencyMs: 2 }, async (server) => {
      const r = await stage(server, { system: "You are terse about {{topic}}.", output: "answer", temperature: 0.6, max_tokens: 64 })
      expect(r.rows.map((x) => x.conversation_id)).toEqual(rows.map((x) => x.conversation_id))
      expect(r.rejected).toEqual([])
      const first = server.requests.find((q) => JSON.stringify(q.body).includes("question 0\""))!.body as { [k: string]: unknown }
      expect(first.messages).toEqual([
        { role: "system", content: "You are terse about math." },
        { role: "user", content: "Answer: question 0" }
      ])
      expect(first.temperature).toBe(0.6)
      expect(typeof first.seed).toBe("number")
      expect(r.rows[0]!.answer).toBe(TestServer.echo({ model: "test/m", messages: first.messages as [], seed: first.seed as number, temperature: 0.6, max_tokens: 64, body: first }))
      // Same inputs, same seeds: the answers repeat exactly.
      const again = await stage(server, { system: "You are terse about {{topic}}.", output: "answer", temperature: 0.6, max_tokens: 64 })
      expect(again.rows).toEqual(r.rows)
      const seeds = new Set(server.requests.map((q) => (q.body as { seed: number }).seed))
      expect(seeds.size).toBe(30)
    }))

  it("n samples per row go into a list, each with its own seed", () =>
    withServer({ record: true }, async (server) => {
      const r = await stage(server, { n: 3 })
      expect(server.counts.chat).toBe(90)
      for (const row of r.rows) {
        const answers = row.completion as Array<string>
        expect(answers).toHaveLength(3)
        expect(new Set(answers).size).toBe(3)
      }
    }))

  it("parses JSON answers with json_schema and rejects the ones that are not JSON", () =>
    withServer(
      {
        record: true,
        chat: (req) => (req.messages[0]!.content.endsWith("question 4") ? "Sure! {score: 3" : JSON.stringify({ score: req.messages[0]!.content.length }))
      },
      async (server) => {
        const schema = { type: "object", properties: { score: { type: "number" } }, required: ["score"] }
        const r = await stage(server, { json_schema: schema, output: "rating" })
        expect((server.requests[0]!.body as { response_format: unknown }).response_format).toEqual({
          type: "json_schema",
          json_schema: { name: "output", schema, strict: true }
        })
        expect(r.rows).toHaveLength(29)
        expect(r.rows[0]!.rating).toEqual({ score: "Answer: question 0".length })
        expect(r.rejected.map((x) => x.error)).toEqual(["llm/complete: the answer is not JSON: Sure! {score: 3"])
      }
    ))

  it("rejects rows whose answer was cut off, whose template field is missing, or whose call failed, with the reason", () =>
    withServer(
      {
        chat: (req) => {
          const q = req.messages[0]!.content
          if (q.endsWith("question 1")) return { content: "and then", finish_reason: "length" }
          if (q.endsWith("question 2")) return { fault: "status", status: 400, body: JSON.stringify({ error: { message: "prompt is too long: 9000 tokens > 8192 maximum context length" } }) }
          return "fine"
        }
      },
      async (server) => {
        const input = rows.map((x, i) => (i === 3 ? { ...x, conversation: [] } : x))
        const r = await Effect.runPromise(
          runStage(complete, { model: "m", user: "{{conversation.0.content}}" }, input).pipe(
            Effect.provide(
              layerWith({
                models: Schema.decodeUnknownSync(ModelsSection)({ m: { model: "x", endpoints: [server.baseUrl] } }),
                cache: { path: "unused", mode: "off" },
                baseDir: tempDir("complete"),
                env: {}
              })
            )
          )
        )
        expect(r.rows).toHaveLength(27)
        expect(r.rejected.map((x) => [x.row.conversation_id, x.error])).toEqual([
          ["c1", "llm/complete: the answer was cut off at max_tokens (finish_reason length): and then"],
          ["c2", `llm/complete: model m at ${server.baseUrl}: context_overflow 400: prompt is too long: 9000 tokens > 8192 maximum context length`],
          ["c3", "llm/complete: user template field conversation.0.content is missing"]
        ])
        const kept = await stage(server, { user: "{{conversation.0.content}}", on_length: "keep" })
        expect(kept.rows.find((x) => x.conversation_id === "c1")!.completion).toBe("and then")
      }
    ))

  it("fails at start, naming the declared models, when the model is not declared", () =>
    withServer({}, async (server) => {
      const e = await stage(server, { model: "judge" }).then(
        () => "no error",
        (err: unknown) => String(err)
      )
      expect(e).toContain('stage llm/complete: no model named "judge" in the models section (declared: m)')
    }))
})

// ---------------------------------------------------------------------------------------------
// From a pipeline file, through the CLI: usage in the manifest, no secret anywhere, the cache
// after kill -9.

const work = tempDir("pipeline")
const pipeline = (name: string, url: string, cache = `${name}.sqlite`) => {
  const file = join(work, `${name}.pipeline.yaml`)
  writeFileSync(
    file,
    `name: ${name}
seed: 1
plugins: ["@synthline/llm"]
source: { type: jsonl, path: "data/data/*.jsonl" }
models:
  m:
    model: test/model
    endpoints: ["${url}"]
    api_key: \${TEST_LLM_KEY}
    concurrency: 4
    retry_base: 10ms
cache: { path: ${cache} }
stages:
  - use: core/first-turn
  - use: llm/complete
    model: m
    user: "Reply to: {{conversation.0.content}}"
    output: reply
    max_tokens: 128
sink: { type: jsonl, path: out-${name}, compression: gzip }
`
  )
  return file
}

describe("llm/complete from a pipeline file", () => {
  const key = "sk-pipeline-SECRET-42"

  it("runs through the CLI, writes usage into the manifest and never the key", async () => {
    const gen = await synthline(["sample", "--rows", "400", "--format", "jsonl", "--shards", "4", "--seed", "2", "--out", join(work, "data")])
    expect(gen.code).toBe(0)
    await withServer({ apiKey: key }, async (server) => {
      server.failNext({ fault: "status", status: 429, retryAfter: "0" }, { fault: "status", status: 503 })
      const r = await synthline(["run", pipeline("plain", server.baseUrl)], { TEST_LLM_KEY: key })
      expect(r.stderr).not.toContain("SECRET")
      expect(r.code).toBe(0)
      const out = join(work, "out-plain")
      const rows = readParts(out, gzipParts)
      expect(rows).toHaveLength(400)
      for (const row of rows) expect(row.reply).toMatch(/^answer [0-9a-f]{8}: Reply to: /)
      const manifestText = readFileSync(join(out, "manifest.json"), "utf8")
      expect(manifestText).not.toContain("SECRET")
      // The dataset card lists the model and its calls, and shows the pipeline file uninterpolated.
      const card = readFileSync(join(out, "README.md"), "utf8")
      expect(card).not.toContain("SECRET")
      expect(card).toContain("| m | test/model | 400 | 402 | 0 |")
      const usage = JSON.parse(manifestText).model_usage.m
      expect(usage).toMatchObject({ model: "test/model", calls: 400, cache_hits: 0, requests: 402, retries: 2, completions: 400, errors: { rate_limited: 1, server_error: 1 }, failures: {} })
      expect(usage.endpoints[server.baseUrl].requests).toBe(402)
      expect(usage.prompt_tokens).toBeGreaterThan(0)
      for (const f of readdirSync(join(out, "_state/run/units"))) expect(readFileSync(join(out, "_state/run/units", f), "utf8")).not.toContain("SECRET")

      // A wrong key: the server's 401 is a reject per row, and the message does not carry the key.
      const wrong = await synthline(["run", pipeline("wrong", server.baseUrl), "--max-errors", "1000"], { TEST_LLM_KEY: "sk-wrong-SECRET-1" })
      expect(wrong.code).toBe(0)
      const rejects = readFileSync(join(work, "out-wrong/rejects", readdirSync(join(work, "out-wrong/rejects"))[0]!), "utf8")
      expect(rejects).toContain("unauthorized 401: invalid api key")
      expect(rejects + wrong.stderr + readFileSync(join(work, "out-wrong/manifest.json"), "utf8")).not.toContain("SECRET")
    })
  }, 120_000)

  it("after kill -9 the rerun sends only the requests whose answers were not cached, and the output equals an uninterrupted run", async () => {
    await withServer({ apiKey: key, latencyMs: 15 }, async (server) => {
      const file = pipeline("killed", server.baseUrl)
      process.env.TEST_LLM_KEY = key
      const child = startCli(["run", file])
      const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()))
      child.stdout?.resume()
      child.stderr?.resume()
      await new Promise<void>((resolve) => {
        const poll = setInterval(() => {
          if (server.counts.chat >= 150 || child.exitCode !== null) {
            clearInterval(poll)
            child.kill("SIGKILL")
            resolve()
          }
        }, 2)
      })
      await exited
      // Requests the killed process had already written may still be buffered or waiting out the
      // server's latency: count only once the server has handled every one of them.
      await server.settled()
      const cacheFile = join(work, "killed.sqlite")
      const db = new Database(cacheFile, { readonly: true })
      const cached = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM responses").get()!.n
      db.close()
      expect(cached).toBeGreaterThan(100)
      expect(cached).toBeLessThan(400)
      const before = server.counts.chat

      const r = await synthline(["run", file], { TEST_LLM_KEY: key })
      expect(r.code).toBe(0)
      expect(server.counts.chat - before).toBe(400 - cached)
      const out = join(work, "out-killed")
      // The dataset card differs by design (pipeline name, cache hits in its model table).
      const { "README.md": _card, ...killedFiles } = tree(out)
      const { "README.md": _plainCard, ...plainFiles } = tree(join(work, "out-plain"))
      expect(killedFiles).toEqual(plainFiles)
      const usage = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")).model_usage.m
      expect(usage.cache_hits).toBeGreaterThan(0)

      // The same command again: already complete. With --fresh, every answer comes from the cache.
      const fresh = await synthline(["run", file, "--fresh"], { TEST_LLM_KEY: key })
      expect(fresh.code).toBe(0)
      expect(server.counts.chat - before).toBe(400 - cached)
      const again = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")).model_usage.m
      expect(again).toMatchObject({ calls: 400, cache_hits: 400, requests: 0 })
      expect(existsSync(cacheFile)).toBe(true)
    })
  }, 120_000)
})

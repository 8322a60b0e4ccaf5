/**
 * `choices_per_request`: several answers to one prompt from one chat request (`n`), stored in the
 * response cache under the key of the one-answer request that gives each, counted once in the
 * ledger's prompt tokens.
 */
import { describe, expect, it } from "vitest"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Either, Schema } from "effect"
import { ModelsSection } from "../src/Config.js"
import * as TestServer from "../src/TestServer.js"
import * as Usage from "../src/Usage.js"
import { synthline } from "../../cli/test/support.js"
import { ask, client, run, tempDir } from "./support.js"

const seedOf = (i: number) => 1000 + i * 17

/** The answers of a `prepareChoices` call, as contents (failing on an error). */
const contents = (r: ReadonlyArray<Either.Either<{ readonly content: string }, unknown>>) =>
  r.map((a) => {
    if (Either.isLeft(a)) throw new Error(String(a.left))
    return a.right.content
  })

const settle = <A>(r: A | Effect.Effect<A>): Effect.Effect<A> => (Effect.isEffect(r) ? r : Effect.succeed(r))

describe("choices_per_request", () => {
  it("asks n answers in ceil(n / k) requests with n in the body; choice j has seed + j and its first one is the per-request answer", () =>
    run(
      Effect.gen(function* () {
        const server = yield* TestServer.scoped({ record: true })
        const models = yield* client({ m: { model: "test/m", endpoints: [server.baseUrl], choices_per_request: 4 } })
        const m = yield* models.get("m")
        expect(m.choicesPerRequest).toBe(4)
        const r = yield* settle(m.prepareChoices(ask("hello", { max_tokens: 50 }), Array.from({ length: 10 }, (_, i) => i), seedOf))
        expect(server.counts.chat).toBe(3)
        expect(server.requests.map((q) => [(q.body as { n: number }).n, (q.body as { seed: number }).seed])).toEqual([
          [4, seedOf(0)],
          [4, seedOf(4)],
          [2, seedOf(8)]
        ])
        const expected = Array.from({ length: 10 }, (_, i) => {
          const g = i - (i % 4)
          return TestServer.echo({ model: "test/m", messages: [{ role: "user", content: "hello" }], seed: seedOf(g) + (i - g), temperature: undefined, max_tokens: 50, body: {} })
        })
        expect(contents(r)).toEqual(expected)
        // The first answer of a request is what one request with that seed gives.
        const one = yield* m.complete(ask("hello", { max_tokens: 50, seed: seedOf(4) }), { sampleIndex: 4 })
        expect(one.content).toBe(expected[4])
        // Prompt tokens billed once per request, completion tokens of every answer; 10 answers from 4 requests.
        const u = m.usage()
        const prompt = Math.ceil("hello".length / 4)
        expect([u.calls, u.requests, u.completions, u.prompt_tokens]).toEqual([11, 4, 11, 4 * prompt])
      })
    ))

  it("stores each answer under its per-choice key: a rerun makes no request, unseeded answers switch to per-request mode for free", () =>
    run(
      Effect.gen(function* () {
        const server = yield* TestServer.scoped({ chat: (q) => ({ content: `a${q.seed ?? "-"}`, prompt_tokens: 1000, completion_tokens: 10 }) })
        const dir = tempDir("choices")
        const cache = { path: join(dir, "cache.sqlite") }
        const section = (k: number) => ({ m: { model: "test/m", endpoints: [server.baseUrl], choices_per_request: k } })
        const indices = Array.from({ length: 6 }, (_, i) => i)
        const first = yield* client(section(3), { cache, dir })
        const a = yield* first.get("m")
        const asked = contents(yield* settle(a.prepareChoices(ask("q"), indices)))
        expect(server.counts.chat).toBe(2)
        // Shares of each request's tokens: the prompt evenly, adding up to what was billed.
        expect(a.usage().prompt_tokens).toBe(2000)
        // Again with the same option: all from the cache, synchronously, no request.
        const again = a.prepareChoices(ask("q"), indices)
        expect(Effect.isEffect(again)).toBe(false)
        expect(contents(again as ReadonlyArray<Either.Either<{ content: string }, unknown>>)).toEqual(asked)
        expect(a.usage().cache_hit_prompt_tokens).toBe(2000)
        // Per-request mode reads the same keys: no request either.
        const second = yield* client(section(1), { cache, dir })
        const b = yield* second.get("m")
        for (const i of indices) expect((yield* b.complete(ask("q"), { sampleIndex: i })).cached).toBe(true)
        expect(server.counts.chat).toBe(2)
        // Seeded: choice j of a request is keyed by seed + j, so only each request's first answer is per-request mode's.
        const seeded = yield* settle(a.prepareChoices(ask("s"), indices, seedOf))
        expect(contents(seeded)).toEqual([0, 1, 2, 3, 4, 5].map((i) => `a${seedOf(i - (i % 3)) + (i % 3)}`))
        expect(server.counts.chat).toBe(4)
        for (const i of indices) {
          const c = yield* b.complete(ask("s", { seed: seedOf(i) }), { sampleIndex: i })
          expect(c.cached).toBe(i % 3 === 0)
        }
        expect(server.counts.chat).toBe(8)
      })
    ))

  it("a server that ignores n is a bad_response naming it; Anthropic and batch mode refuse the option", async () => {
    // An OpenAI-compatible server that answers one choice whatever n says.
    let hits = 0
    const plain = createServer((_req, res) => {
      hits++
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify({ choices: [{ index: 0, message: { role: "assistant", content: "one" }, finish_reason: "stop" }], usage: { prompt_tokens: 3, completion_tokens: 1 } }))
    })
    await new Promise<void>((resolve) => plain.listen(0, "127.0.0.1", resolve))
    try {
      const port = (plain.address() as AddressInfo).port
      const r = await run(
        Effect.gen(function* () {
          const models = yield* client({ m: { model: "test/m", endpoints: [`http://127.0.0.1:${port}/v1`], choices_per_request: 2, max_retries: 1, retry_base: "1ms" } })
          const m = yield* models.get("m")
          return yield* settle(m.prepareChoices(ask("q"), [0, 1]))
        })
      )
      expect(hits).toBe(2)
      for (const a of r) {
        expect(Either.isLeft(a) && a.left.kind).toBe("bad_response")
        expect(Either.isLeft(a) && a.left.message).toContain("asked for 2 choices (n: 2, choices_per_request) and got 1: does the server honour n?")
      }
    } finally {
      await new Promise<void>((resolve) => plain.close(() => resolve()))
    }
    const decode = Schema.decodeUnknownEither(ModelsSection)
    const anthropic = decode({ a: { provider: "anthropic", choices_per_request: 4 } })
    expect(Either.isLeft(anthropic) && String(anthropic.left)).toContain(
      "choices_per_request needs an OpenAI-compatible server (provider openai): the Anthropic Messages API has no n"
    )
    const batch = decode({ b: { mode: "batch", choices_per_request: 4 } })
    expect(Either.isLeft(batch) && String(batch.left)).toContain("choices_per_request works with mode online only")
    expect(Either.isRight(decode({ c: { provider: "anthropic", choices_per_request: 1 } }))).toBe(true)
  })

  it("the wire log counts the other answers of a request as completions without tokens, so a resumed run's counters match", () => {
    const file = join(tempDir("choices-wire"), "llm-usage-m.log")
    const usage = Usage.make("test/m", ["e"], undefined)
    const log = Usage.openWireLog(file, usage, ["e"])
    log.request(0)
    log.answer(0, 500, 60)
    log.choice()
    log.choice()
    log.close()
    const resumed = Usage.make("test/m", ["e"], undefined)
    Usage.openWireLog(file, resumed, ["e"]).close()
    expect([resumed.requests, resumed.completions, resumed.prompt_tokens, resumed.completion_tokens]).toEqual([1, 3, 500, 60])
  })

  it("the wire log writes a request at once, and what came back with the next request or by the end of the turn", async () => {
    const file = join(tempDir("wire-turn"), "llm-usage-m.log")
    const log = Usage.openWireLog(file, Usage.make("test/m", ["e"], undefined), ["e"])
    const events = () => readFileSync(file, "utf8").split("\n").slice(2).filter((l) => l !== "")
    log.request(0)
    expect(events()).toEqual(["r 0"])
    log.answer(0, 500, 60)
    log.error(0, "timeout")
    // Not yet on disk: the answer waits for the next request or the end of the turn.
    expect(events()).toEqual(["r 0"])
    log.request(0)
    expect(events()).toEqual(["r 0", "a 0 500 60", "e 0 timeout", "r 0"])
    log.answer(0, 7, 8)
    await new Promise((resolve) => setImmediate(resolve))
    // On disk without a close: a kill from here on loses nothing.
    expect(events()).toEqual(["r 0", "a 0 500 60", "e 0 timeout", "r 0", "a 0 7 8"])
    log.close()
  })

  it("shares a request's tokens out over its answers, adding up to the totals", () => {
    const parts = Usage.splitChoices({
      content: "aa",
      finish_reason: "stop",
      usage: { prompt_tokens: 10, completion_tokens: 7, cached_tokens: 3 },
      choices: [
        { content: "aa", finish_reason: "stop" },
        { content: "aaaa", finish_reason: "length" },
        { content: "a", finish_reason: "stop" }
      ]
    })
    expect(parts.map((p) => [p.content, p.finish_reason, p.usage.prompt_tokens, p.usage.completion_tokens])).toEqual([
      ["aa", "stop", 4, 2],
      ["aaaa", "length", 3, 4],
      ["a", "stop", 3, 1]
    ])
    expect(parts.reduce((s, p) => s + (p.usage.cached_tokens ?? 0), 0)).toBe(3)
  })

  it("synthline validate refuses it on an Anthropic model at its line", async () => {
    const file = join(tempDir("choices-validate"), "claude.pipeline.yaml")
    writeFileSync(
      file,
      `name: claude
plugins: ["@synthline/llm"]
source: { type: jsonl, path: "in.jsonl" }
models:
  claude:
    provider: anthropic
    model: claude-x
    choices_per_request: 4
stages:
  - use: llm/complete
    model: claude
    user: "{{text}}"
    output: reply
sink: { type: jsonl, path: out }
`
    )
    const r = await synthline(["validate", file])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(
      /claude\.pipeline\.yaml:8:\d+: invalid section models: claude\.choices_per_request: choices_per_request needs an OpenAI-compatible server \(provider openai\): the Anthropic Messages API has no n/
    )
  }, 60_000)
})

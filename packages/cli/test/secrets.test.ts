/**
 * No secret in anything a run writes or prints. A model endpoint carries a planted key in its
 * path and its query string, and the same key is its `api_key`, all through `${MY_API_KEY}`;
 * the local test server fails some requests (and echoes the key in its error body), so rows go
 * to rejects. A first run stops at `--max-errors 0` (completion markers, rejects, a manifest of
 * a stopped run, an error message), a second one resumes and completes (manifest, dataset card).
 * Every file under the sink folder, stdout and stderr are searched for the key.
 */
import { describe, expect, it } from "@effect/vitest"
import * as TestServer from "@synthline/llm/TestServer"
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { join, relative } from "node:path"
import { gunzipSync } from "node:zlib"
import { synthline, tempDir } from "./support.js"

const work = tempDir("secrets")
const secret = "sk-planted-7f3a9c1e5b"

/** Every file under `dir`, gunzipped where it is gzip, as text. */
const files = (dir: string): Array<{ readonly rel: string; readonly text: string }> => {
  const out: Array<{ rel: string; text: string }> = []
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name)
      if (statSync(p).isDirectory()) walk(p)
      else {
        const bytes = readFileSync(p)
        const text = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes).toString("utf8") : bytes.toString("latin1")
        out.push({ rel: relative(dir, p), text })
      }
    }
  }
  walk(dir)
  return out
}

describe("secrets", () => {
  it("a key interpolated into an endpoint's path, query and api_key appears in no file a failing run writes, nor in its output", async () => {
    expect((await synthline(["sample", "--rows", "200", "--format", "jsonl", "--seed", "3", "--out", join(work, "data")])).code).toBe(0)
    const server = await TestServer.start({
      chat: (request, n) =>
        n % 3 === 0
          ? { fault: "status", status: 400, body: `{"error":{"message":"bad key ${secret} for ${request.model}"}}` }
          : { content: `answer ${n}`, completion_tokens: 2 }
    })
    try {
      const file = join(work, "secret.pipeline.yaml")
      writeFileSync(
        file,
        `name: secrets
seed: 1
plugins: ["@synthline/plugin-synth"]
source: { type: jsonl, path: "data/data/*.jsonl" }
models:
  m:
    model: test/m
    endpoints: ["${server.url}/\${MY_API_KEY}/v1?key=\${MY_API_KEY}"]
    api_key: "\${MY_API_KEY}"
    max_retries: 0
    concurrency: 2
cache: { path: cache.sqlite }
stages:
  - use: core/select
    languages: [English]
  - use: core/first-turn
  - use: core/limit
    rows: 24
  - use: synth/generate
    model: m
    instruction: conversation.0.content
    n: 1
sink: { type: jsonl, path: out, shard_rows: 10 }
`
      )
      const env = { MY_API_KEY: secret }
      const first = await synthline(["run", file, "--max-errors", "0"], env)
      expect(first.code, first.stderr).toBe(1)
      expect(first.stderr).toMatch(/more than --max-errors 0/)
      const second = await synthline(["run", file, "--max-errors", "100", "--json"], env)
      expect([0, 1], second.stderr).toContain(second.code)

      const written = files(join(work, "out"))
      const names = written.map((f) => f.rel)
      // What this must search really was written: rejects, markers, a manifest, the card.
      expect(names).toEqual(expect.arrayContaining(["manifest.json", "README.md"]))
      expect(names.some((n) => n.startsWith("rejects/"))).toBe(true)
      expect(names.some((n) => n.startsWith("_state/run/units/"))).toBe(true)
      const manifest = JSON.parse(readFileSync(join(work, "out/manifest.json"), "utf8"))
      expect(manifest.rejects.count).toBeGreaterThan(0)
      expect(Object.keys(manifest.model_usage.m.endpoints)).toEqual([`${server.url}/<redacted>/v1`])
      // Counters continue across the resume under the masked endpoint name.
      expect(manifest.model_usage.m.requests).toBeGreaterThanOrEqual(24)
      expect(manifest.model_usage.m.endpoints[`${server.url}/<redacted>/v1`].requests).toBe(manifest.model_usage.m.requests)
      const rejects = written.filter((f) => f.rel.startsWith("rejects/")).map((f) => f.text).join("")
      expect(rejects).toMatch(/400/)
      // The card keeps the references as written.
      expect(readFileSync(join(work, "out/README.md"), "utf8")).toContain(`api_key: "\${MY_API_KEY}"`)

      const leaks = [
        ...written.filter((f) => f.text.includes(secret)).map((f) => f.rel),
        ...(first.stdout.includes(secret) || first.stderr.includes(secret) ? ["first run's output"] : []),
        ...(second.stdout.includes(secret) || second.stderr.includes(secret) ? ["second run's output"] : [])
      ]
      expect(leaks).toEqual([])
    } finally {
      await server.close()
    }
  }, 120_000)
})

/**
 * Usage after a crash, through the CLI: kill -9 in the middle of a stream of answers, rerun. The
 * server sees no request twice except those the killed process had in flight, and the manifest
 * counts every request the server received, also those whose answers the kill lost.
 */
import { describe, expect, it } from "vitest"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { start as startCli, synthline } from "../../cli/test/support.js"
import * as TestServer from "../src/TestServer.js"
import { tempDir } from "./support.js"

const work = tempDir("usage")
const concurrency = 8

const pipeline = (url: string) => {
  const file = join(work, "killed.pipeline.yaml")
  writeFileSync(
    file,
    `name: usage
seed: 6
plugins: ["@synthline/llm"]
source: { type: jsonl, path: "data/data/*.jsonl" }
models:
  m: { model: test/model, endpoints: ["${url}"], concurrency: ${concurrency}, timeout: 60s }
cache: { path: killed.sqlite }
stages:
  - use: core/first-turn
  - use: llm/complete
    model: m
    user: "Reply to: {{conversation.0.content}}"
    output: reply
    n: 2
sink: { type: jsonl, path: out-killed }
`
  )
  return file
}

/** What makes a request unique: its messages and seed (the cache key's inputs that vary here). */
const keyOf = (r: TestServer.ReceivedChat): string => JSON.stringify([r.messages, r.seed ?? null])

describe("usage across kill -9", () => {
  it("the rerun repeats no request but those in flight at the kill, and the manifest counts every request the server received", async () => {
    const gen = await synthline(["sample", "--rows", "600", "--format", "jsonl", "--shards", "4", "--seed", "2", "--out", join(work, "data")])
    expect(gen.code, gen.stderr).toBe(0)

    const received = new Map<string, number>()
    let arrivals = 0
    let answered = 0
    let inFlightAtKill: number | undefined
    let child: ReturnType<typeof startCli> | undefined
    const server = await TestServer.start({
      latency: (r) => {
        arrivals++
        received.set(keyOf(r), (received.get(keyOf(r)) ?? 0) + 1)
        // Kill in the middle of a steady stream of answers, at a request's arrival: the server
        // knows exactly which requests it had answered by then.
        if (arrivals === 500 && child !== undefined) {
          child.kill("SIGKILL")
          inFlightAtKill = arrivals - answered
        }
        return 2
      },
      chat: (r) => {
        answered++
        return TestServer.echo(r)
      }
    })
    try {
      const file = pipeline(server.baseUrl)
      child = startCli(["run", file])
      const exited = new Promise<void>((resolve) => child!.on("exit", () => resolve()))
      child.stdout?.resume()
      child.stderr?.resume()
      await exited
      expect(inFlightAtKill).toBeDefined()
      // Requests the killed process had written reach the server after its death.
      await server.settled()
      const firstRun = arrivals

      const r = await synthline(["run", file])
      expect(r.code, r.stderr).toBe(0)
      const repeated = [...received.values()].filter((n) => n > 1).length
      expect([...received.values()].every((n) => n <= 2)).toBe(true)
      // In flight at the kill: requests the server had not answered, and at most one answer per
      // connection that had reached the client but not yet its call (the client reads an answer
      // before it sends the next request on that connection).
      expect(repeated).toBeLessThanOrEqual(inFlightAtKill! + concurrency)
      expect(arrivals).toBeGreaterThan(firstRun)

      const manifest = JSON.parse(readFileSync(join(work, "out-killed/manifest.json"), "utf8"))
      const usage = manifest.model_usage.m
      // Every request the server received is counted. A request is logged as sent just before
      // its bytes go out, so the kill can fall between the two: at most one per connection is
      // counted that never arrived (it was 100 fewer counted than received before the log).
      for (const counted of [usage.requests, usage.endpoints[server.baseUrl].requests]) {
        expect(counted).toBeGreaterThanOrEqual(arrivals)
        expect(counted - arrivals).toBeLessThanOrEqual(concurrency)
      }
      expect(manifest.outputs.main.rows).toBe(600)
    } finally {
      await server.close()
    }
  }, 120_000)
})

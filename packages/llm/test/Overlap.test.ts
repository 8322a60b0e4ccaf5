/**
 * Overlapping work units through the CLI: unit k+1's calls start while unit k waits for a slow
 * answer, and kill -9 in that overlap loses nothing and repeats no answered call.
 */
import { describe, expect, it } from "vitest"
import Database from "better-sqlite3"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { readParts, gzipParts, start as startCli, synthline, tree } from "../../cli/test/support.js"
import * as TestServer from "../src/TestServer.js"
import { firstTurns, tempDir } from "./support.js"

const work = tempDir("overlap")

const pipeline = (name: string, url: string) => {
  const file = join(work, `${name}.pipeline.yaml`)
  writeFileSync(
    file,
    `name: overlap
seed: 3
plugins: ["@synthline/llm"]
source: { type: jsonl, path: "data/data/*.jsonl" }
models:
  m: { model: test/model, endpoints: ["${url}"], concurrency: 8, timeout: 60s }
cache: { path: ${name}.sqlite }
stages:
  - use: core/first-turn
  - use: llm/complete
    model: m
    user: "Reply to: {{conversation.0.content}}"
    output: reply
    max_tokens: 64
sink: { type: jsonl, path: out-${name}, compression: gzip }
`
  )
  return file
}

const lastMessage = (r: TestServer.ReceivedChat): string => r.messages[r.messages.length - 1]?.content ?? ""

describe("overlapping work units", () => {
  it("starts the next unit's calls while a unit waits for a straggler; kill -9 in the overlap, rerun: the same bytes, no answered call sent again", async () => {
    const gen = await synthline(["sample", "--rows", "400", "--format", "jsonl", "--shards", "4", "--seed", "5", "--out", join(work, "data")])
    expect(gen.code).toBe(0)
    const files = firstTurns(join(work, "data/data"))
    expect(files).toHaveLength(4)
    // The first unit's last row answers after 2.5 s, every other call after 5 ms.
    const straggler = [...files[0]!].pop()!
    const unitOfText = (text: string) => files.findIndex((f) => f.has(text))
    const latency = (r: TestServer.ReceivedChat) => (lastMessage(r) === straggler ? 2500 : 5)

    // The reference: an uninterrupted run.
    const reference = await TestServer.start({ latency })
    try {
      const r = await synthline(["run", pipeline("whole", reference.baseUrl)])
      expect(r.code, r.stderr).toBe(0)
      expect(reference.counts.chat).toBe(400)
    } finally {
      await reference.close()
    }
    const whole = join(work, "out-whole")
    expect(readParts(whole, gzipParts)).toHaveLength(400)

    const seen: Array<number> = []
    const server = await TestServer.start({
      latency: (r) => {
        seen.push(unitOfText(lastMessage(r)))
        return latency(r)
      }
    })
    try {
      const file = pipeline("killed", server.baseUrl)
      const out = join(work, "out-killed")
      const child = startCli(["run", file])
      const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()))
      child.stdout?.resume()
      child.stderr?.resume()
      // Kill once calls for unit 1 and 2 rows have gone out while unit 0 is not committed yet.
      let overlapped = false
      await new Promise<void>((resolve) => {
        const poll = setInterval(() => {
          const laterUnits = seen.filter((u) => u >= 1).length
          if ((laterUnits >= 120 && seen.includes(0)) || child.exitCode !== null) {
            overlapped = !existsSync(join(out, "_state/run/units/000000.json"))
            clearInterval(poll)
            child.kill("SIGKILL")
            resolve()
          }
        }, 2)
      })
      await exited
      expect(overlapped).toBe(true)
      await server.settled()
      const db = new Database(join(work, "killed.sqlite"), { readonly: true })
      const cached = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM responses").get()!.n
      db.close()
      // Unit 0 is not done (its straggler never answered), yet more than a unit's worth of calls were answered.
      expect(cached).toBeGreaterThan(150)
      expect(cached).toBeLessThan(400)
      const before = server.counts.chat

      const r = await synthline(["run", file])
      expect(r.code, r.stderr).toBe(0)
      expect(server.counts.chat - before).toBe(400 - cached)
      // Same output files, rejects and dataset features as the uninterrupted run.
      const { "README.md": _k, ...killedFiles } = tree(out)
      const { "README.md": _w, ...wholeFiles } = tree(whole)
      expect(killedFiles).toEqual(wholeFiles)
      const m = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"))
      const w = JSON.parse(readFileSync(join(whole, "manifest.json"), "utf8"))
      expect(m.stages).toEqual(w.stages)
      expect(m.outputs.main.rows).toBe(400)
    } finally {
      await server.close()
    }
  }, 120_000)
})

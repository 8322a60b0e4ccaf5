/**
 * The response cache on disk: a damaged SQLite file stops a run with a clear error (how to
 * recover, no stack), committed work units stay, and the run resumes once the cache is off.
 */
import { describe, expect, it } from "vitest"
import Database from "better-sqlite3"
import { existsSync, openSync, readdirSync, readFileSync, statSync, writeFileSync, writeSync, closeSync } from "node:fs"
import { join } from "node:path"
import { start as startCli, synthline, tree } from "../../cli/test/support.js"
import * as TestServer from "../src/TestServer.js"
import { firstTurns, tempDir } from "./support.js"

const work = tempDir("cache")

const pipeline = (name: string, url: string, cache: string, mode = "read-write") => {
  const file = join(work, `${name}.pipeline.yaml`)
  writeFileSync(
    file,
    `name: cache
seed: 4
plugins: ["@synthline/llm"]
source: { type: jsonl, path: "data/data/*.jsonl" }
models:
  m: { model: test/model, endpoints: ["${url}"], concurrency: 4, timeout: 60s }
cache: { path: ${cache}, mode: ${mode} }
stages:
  - use: core/first-turn
  - use: llm/complete
    model: m
    user: "Reply to: {{conversation.0.content}}"
    output: reply
sink: { type: jsonl, path: out-${name} }
`
  )
  return file
}

/** Rows in sample file `i`. */
const rowsOf = (i: number): number => {
  const dir = join(work, "data/data")
  const f = readdirSync(dir).filter((n) => n.endsWith(".jsonl")).sort()[i]!
  return readFileSync(join(dir, f), "utf8").split("\n").filter((l) => l.trim() !== "").length
}

const lastMessage = (r: TestServer.ReceivedChat): string => r.messages[r.messages.length - 1]?.content ?? ""

/** Long answers, so the cache spans many pages. */
const longAnswer = (r: TestServer.ReceivedChat): string => `${TestServer.echo(r)} ${"lorem ipsum ".repeat(60)}`

/** Overwrites every page of a SQLite file after the first two (schema and the table's root) with garbage. */
const corruptMiddle = (file: string): number => {
  const db = new Database(file)
  db.pragma("wal_checkpoint(TRUNCATE)")
  const pageSize = Number(db.pragma("page_size", { simple: true }))
  db.close()
  const pages = Math.floor(statSync(file).size / pageSize)
  const fd = openSync(file, "r+")
  const garbage = Buffer.alloc(pageSize)
  for (let i = 0; i < pageSize; i++) garbage[i] = (i * 131 + 17) % 251
  for (let p = 2; p < pages; p++) writeSync(fd, garbage, 0, pageSize, p * pageSize)
  closeSync(fd)
  return pages
}

/** What a user must never see: an Effect fiber dump or a JavaScript stack. */
const expectNoDump = (stderr: string) => {
  expect(stderr).not.toMatch(/FiberFailure|SqliteError|\n\s+at .+:\d+:\d+/)
}

describe("a damaged response cache", () => {
  it("garbage in the middle of the file: a clear error naming the file and how to recover, committed units kept, the run resumes with the cache off", async () => {
    const gen = await synthline(["sample", "--rows", "160", "--format", "jsonl", "--shards", "4", "--seed", "8", "--out", join(work, "data")])
    expect(gen.code, gen.stderr).toBe(0)
    const files = firstTurns(join(work, "data/data"))
    expect(files).toHaveLength(4)
    // Texts only the later units hold (a sample repeats some first turns across files).
    const laterUnits = new Set([...files[2]!, ...files[3]!].filter((t) => !files[0]!.has(t) && !files[1]!.has(t)))

    // The reference: an uninterrupted run with a cache of its own.
    const reference = await TestServer.start({ chat: longAnswer })
    try {
      const r = await synthline(["run", pipeline("whole", reference.baseUrl, "whole.sqlite")])
      expect(r.code, r.stderr).toBe(0)
    } finally {
      await reference.close()
    }

    // Units 0 and 1 answer at once; the later units' calls hang until the process is killed.
    const server = await TestServer.start({
      chat: longAnswer,
      latency: (r) => (laterUnits.has(lastMessage(r)) ? 30_000 : 1)
    })
    try {
      const cacheFile = join(work, "damaged.sqlite")
      const file = pipeline("damaged", server.baseUrl, "damaged.sqlite")
      const out = join(work, "out-damaged")
      const child = startCli(["run", file])
      const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()))
      child.stdout?.resume()
      child.stderr?.resume()
      await new Promise<void>((resolve) => {
        const poll = setInterval(() => {
          if (existsSync(join(out, "_state/run/units/000001.json")) || child.exitCode !== null) {
            clearInterval(poll)
            child.kill("SIGKILL")
            resolve()
          }
        }, 5)
      })
      await exited
      expect(existsSync(join(out, "_state/run/units/000001.json"))).toBe(true)
      await server.close()

      // The cache now holds units 0 and 1's answers; damage every page after the table's root.
      expect(corruptMiddle(cacheFile)).toBeGreaterThan(10)

      const again = await TestServer.start({ chat: longAnswer })
      try {
        const failed = await synthline(["run", pipeline("damaged", again.baseUrl, "damaged.sqlite")])
        expect(failed.code, failed.stderr).toBe(1)
        expect(failed.stderr).toContain(`response cache ${cacheFile}`)
        expect(failed.stderr).toMatch(/malformed|corrupt/)
        expect(failed.stderr).toContain("mode: off")
        expect(failed.stderr).toContain("delete")
        expectNoDump(failed.stderr)
        // The units committed before the damage was found are still there.
        expect(existsSync(join(out, "_state/run/units/000000.json"))).toBe(true)
        expect(existsSync(join(out, "_state/run/units/000001.json"))).toBe(true)

        // The recovery the message names: the same pipeline with the cache off resumes and finishes.
        const before = again.counts.chat
        const resumed = await synthline(["run", pipeline("damaged", again.baseUrl, "damaged.sqlite", "off")])
        expect(resumed.code, resumed.stderr).toBe(0)
        // Only the units not committed were asked again.
        expect(again.counts.chat - before).toBe(rowsOf(2) + rowsOf(3))
        const { "README.md": _d, ...damagedFiles } = tree(out)
        const { "README.md": _w, ...wholeFiles } = tree(join(work, "out-whole"))
        expect(damagedFiles).toEqual(wholeFiles)
      } finally {
        await again.close()
      }
    } finally {
      await server.close()
    }
    // Five CLI runs: generous for a busy machine.
  }, 240_000)

  it("a garbage header or a cut-off file: the same clear error before any work", async () => {
    const server = await TestServer.start()
    try {
      const cacheFile = join(work, "header.sqlite")
      writeFileSync(cacheFile, Buffer.concat([Buffer.from("this is not a database"), Buffer.alloc(8192, 7)]))
      const r = await synthline(["run", pipeline("header", server.baseUrl, "header.sqlite")])
      expect(r.code, r.stderr).toBe(1)
      expect(r.stderr).toContain(`response cache ${cacheFile}`)
      expect(r.stderr).toContain("mode: off")
      expectNoDump(r.stderr)
      expect(server.counts.chat).toBe(0)
    } finally {
      await server.close()
    }
  }, 60_000)
})

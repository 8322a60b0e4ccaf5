/**
 * `synthline status DIR`: what a sharded sink folder shows, whatever ran the shards — here plain
 * `synthline run --shard i/n` processes, one complete, one killed after a unit, one holding its
 * lock, one never started — and `merged` once `synthline merge` has joined them.
 */
import { describe, expect, it } from "@effect/vitest"
import { rmSync, writeFileSync } from "node:fs"
import { hostname } from "node:os"
import { join } from "node:path"
import type { SinkStatus } from "../src/Status.js"
import { killAfterUnits, synthline, tempDir } from "./support.js"

const work = tempDir("status")
const file = join(work, "status.pipeline.yaml")
const sink = join(work, "out/status")

describe("synthline status", () => {
  it("tells complete, failed, running and pending shards, rows done, and merged or not", async () => {
    const made = await synthline(["sample", "--rows", "1600", "--shards", "1", "--seed", "2", "--out", join(work, "data")])
    expect(made.code, made.stderr).toBe(0)
    writeFileSync(
      file,
      `name: status
seed: 3
source: { type: parquet, path: "data/data/train-*.parquet", unit_rows: 50 }
stages:
  - use: core/first-turn
sink: { type: jsonl, path: out/status, compression: gzip }
`
    )
    const first = await synthline(["run", file, "--shard", "0/4"])
    expect(first.code, first.stderr).toBe(0)
    // Shard 1 is killed once it has committed a unit; shard 2's lock is held by a live process (this one).
    await killAfterUnits(["run", file, "--shard", "1/4"], join(sink, "_state/part-00001-of-00004/units"), 1)
    writeFileSync(
      join(sink, "_state/part-00002-of-00004.lock"),
      `${JSON.stringify({ pid: process.pid, host: hostname(), started_at: new Date().toISOString(), purpose: "synthline run", token: "t" })}\n`
    )

    const table = await synthline(["status", sink])
    expect(table.code, table.stderr).toBe(0)
    expect(table.stdout).toMatch(/^0\/4\s+complete\s+8\/8\s+400\s+400\s+\d+s ago\s+manifest complete$/m)
    expect(table.stdout).toMatch(/^1\/4\s+failed\s+[1-7]\/8\s+\d*[05]0\s+\d*[05]0\s+\d+s ago\s+stopped before completing \(no lock, no manifest\)$/m)
    expect(table.stdout).toMatch(new RegExp(`^2/4\\s+running\\s+0/\\?\\s+0\\s+0\\s+-\\s+holds its lock \\(${process.pid}@${hostname()}\\)$`, "m"))
    expect(table.stdout).toMatch(/^3\/4\s+pending\s+0\/\?\s+0\s+0\s+-\s+not started$/m)
    expect(table.stdout).toContain("1/4 complete, 1 running, 1 failed, 1 pending")
    expect(table.stdout).toContain("not merged")

    for (const i of [1, 3]) {
      const r = await synthline(["run", file, "--shard", `${i}/4`])
      expect(r.code, r.stderr).toBe(0)
    }
    rmSync(join(sink, "_state/part-00002-of-00004.lock"))
    const refused = await synthline(["merge", sink])
    expect(refused.code).not.toBe(0)
    const last = await synthline(["run", file, "--shard", "2/4"])
    expect(last.code, last.stderr).toBe(0)
    const merged = await synthline(["merge", sink])
    expect(merged.code, merged.stderr).toBe(0)

    const json = await synthline(["status", sink, "--json"])
    expect(json.code, json.stderr).toBe(0)
    const status: SinkStatus = JSON.parse(json.stdout)
    expect(status).toMatchObject({ count: 4, complete: 4, running: 0, failed: 0, pending: 0, merged: true, rows_read: 1600, rows_written: 1600 })
    expect(status.shards.map((s) => [s.state, s.units_done, s.units])).toEqual([
      ["complete", 8, 8],
      ["complete", 8, 8],
      ["complete", 8, 8],
      ["complete", 8, 8]
    ])
    // submit reads the same folder: nothing left for 4 shards, and another count is refused before any work.
    const done = await synthline(["submit", file, "--slurm", "--shards", "4"])
    expect(done.code, done.stderr).toBe(0)
    expect(done.stdout).toContain(`all 4 shards of ${sink} are complete and merged; nothing to submit`)
    const other = await synthline(["submit", file, "--slurm", "--shards", "3"])
    expect(other.code).toBe(2)
    expect(other.stderr).toContain(`${sink} holds shard manifests of a run with 4 shards; submit with --shards 4`)
    // Thirteen CLI processes from sources: about 30 s on an idle 2-core machine, over 60 s on a busy one.
  }, 240_000)

  it("says so for a folder no run has written, and names a damaged state file", async () => {
    const empty = tempDir("status-empty")
    const none = await synthline(["status", empty])
    expect(none.code, none.stderr).toBe(0)
    expect(none.stdout).toContain("no run has written here yet")
    const broken = tempDir("status-broken")
    writeFileSync(join(broken, "manifest-00000-of-00002.json"), "{ not json")
    const bad = await synthline(["status", broken])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain(`${join(broken, "manifest-00000-of-00002.json")} is not a synthline manifest (not valid JSON)`)
  })
})

/**
 * Two processes into one sink folder: the second refuses (exit 2, naming the lock file and its
 * holder) before any work, the first's output is complete; the lock goes away on every exit,
 * a stale one (dead pid on this host) is taken over, one from another host is not.
 */
import { beforeAll, describe, expect, it } from "@effect/vitest"
import type { ChildProcess } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { hostname } from "node:os"
import { join } from "node:path"
import { gzipParts, readParts, start, synthline, tempDir, tree } from "./support.js"

const work = tempDir("lock")
const rows = 50_000

const pipelineFile = (name: string, out: string): string => {
  const file = join(work, `${name}.pipeline.yaml`)
  writeFileSync(
    file,
    `name: lock
seed: 1
source: { type: parquet, path: "data/data/train-*.parquet" }
stages:
  - use: core/select
    languages: [English, Japanese]
  - use: core/first-turn
sink: { type: jsonl, path: ${out}, compression: gzip, shard_rows: 5000 }
`
  )
  return file
}

/** What a started process printed and returned once it exits. */
const finished = (child: ChildProcess): Promise<{ code: number | null; stderr: string }> => {
  let stderr = ""
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d))
  child.stdout?.resume()
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stderr })))
}

/** Resolves once the child has written `text` to stderr. */
const printed = (child: ChildProcess, text: string): Promise<void> =>
  new Promise((resolve, reject) => {
    let seen = ""
    child.stderr?.on("data", (d: Buffer | string) => {
      seen += String(d)
      if (seen.includes(text)) resolve()
    })
    child.on("exit", () => reject(new Error(`exited before printing ${text}: ${seen}`)))
  })

/** The output is the reference run's, file for file, and matches its manifest. */
const expectComplete = (out: string, reference: Record<string, string>): void => {
  const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"))
  expect(manifest.status).toBe("complete")
  expect(manifest.source.rows_read).toBe(rows)
  expect(readParts(out, gzipParts).length).toBe(manifest.outputs.main.rows)
  const files = tree(out)
  for (const f of manifest.outputs.main.files) expect(files[f.path]).toBe(f.sha256)
  const { "README.md": _card, ...got } = files
  const { "README.md": _refCard, ...want } = reference
  expect(got).toEqual(want)
}

let reference: Record<string, string> = {}

beforeAll(async () => {
  const r = await synthline(["sample", "--rows", String(rows), "--seed", "1", "--row-group-rows", "5000", "--out", join(work, "data")])
  expect(r.code).toBe(0)
  const ref = await synthline(["run", pipelineFile("reference", "out-reference")])
  expect(ref.code).toBe(0)
  reference = tree(join(work, "out-reference"))
}, 180_000)

describe("one run at a time per sink folder", () => {
  it("a second run while the first holds the lock refuses with exit 2, naming the lock and its holder; the first completes", async () => {
    const file = pipelineFile("held", "out-held")
    const out = join(work, "out-held")
    const lock = join(out, "_state/run.lock")
    const first = start(["run", file])
    const firstDone = finished(first)
    // The lock is taken before the run reports its start; pause the first run there, so the
    // second certainly finds it running.
    await printed(first, "run lock (unsharded)")
    first.kill("SIGSTOP")
    try {
      const second = await synthline(["run", file])
      expect(second.code).toBe(2)
      expect(second.stderr).toContain(
        `error: ${out} is being written by another process: lock ${lock}, held by synthline run (pid ${first.pid} on host ${hostname()}, started `
      )
      expect(second.stderr).toContain(`wait for it to finish or stop it (if it is not running, delete ${lock})`)
      expect(second.stderr).not.toContain("work units")
      // merge writes into the folder too: refused as well.
      const merge = await synthline(["merge", out])
      expect(merge.code).toBe(2)
      expect(merge.stderr).toContain(`lock ${lock}, held by synthline run (pid ${first.pid}`)
    } finally {
      first.kill("SIGCONT")
    }
    const r = await firstDone
    expect(r.code).toBe(0)
    expectComplete(out, reference)
    expect(existsSync(lock)).toBe(false)
  }, 180_000)

  it("two runs started at once: one does the work, the other refuses (or finds it complete); never a broken output", async () => {
    const file = pipelineFile("together", "out-together")
    const out = join(work, "out-together")
    const [a, b] = await Promise.all([synthline(["run", file]), synthline(["run", file])])
    const results = [a, b].sort((x, y) => (x.code ?? -1) - (y.code ?? -1))
    expect(results.map((r) => r.code === 0 && r.stderr.includes("done:"))).toEqual([true, false])
    const other = results[1]!
    if (other.code === 0) expect(other.stderr).toContain("already complete")
    else {
      expect(other.code).toBe(2)
      expect(other.stderr).toContain(`is being written by another process: lock ${join(out, "_state/run.lock")}, held by synthline run`)
    }
    expectComplete(out, reference)
    expect(existsSync(join(out, "_state/run.lock"))).toBe(false)
  }, 180_000)

  it("the lock is released when a run is interrupted and when it fails", async () => {
    const file = pipelineFile("interrupted", "out-interrupted")
    const out = join(work, "out-interrupted")
    const child = start(["run", file])
    const done = finished(child)
    await printed(child, "run lock (unsharded)")
    expect(existsSync(join(out, "_state/run.lock"))).toBe(true)
    child.kill("SIGINT")
    await done
    expect(existsSync(join(out, "_state/run.lock"))).toBe(false)

    const bad = join(work, "bad")
    mkdirSync(bad, { recursive: true })
    writeFileSync(join(bad, "in.jsonl"), "{not json\n")
    const failing = join(work, "failing.pipeline.yaml")
    writeFileSync(failing, "name: failing\nsource: { type: jsonl, path: bad/in.jsonl }\nstages: []\nsink: { type: jsonl, path: out-failing }\n")
    const r = await synthline(["run", failing])
    expect(r.code).toBe(1)
    expect(existsSync(join(work, "out-failing/_state/run.lock"))).toBe(false)
  }, 180_000)

  it("a stale lock of a dead process on this host is taken over with a message; one from another host is refused", async () => {
    const file = pipelineFile("stale", "out-stale")
    const out = join(work, "out-stale")
    const lock = join(out, "_state/run.lock")
    const dead = start(["--version"])
    await finished(dead)
    mkdirSync(join(out, "_state"), { recursive: true })
    const holder = { pid: dead.pid, host: hostname(), started_at: "2025-01-01T00:00:00.000Z", purpose: "synthline run", token: "t" }
    writeFileSync(lock, JSON.stringify(holder))
    const r = await synthline(["run", file])
    expect(r.code).toBe(0)
    expect(r.stderr).toContain(
      `warning: took over the stale lock ${lock}: pid ${dead.pid} (synthline run, started 2025-01-01T00:00:00.000Z) is no longer running`
    )
    expectComplete(out, reference)
    expect(existsSync(lock)).toBe(false)

    writeFileSync(lock, JSON.stringify({ ...holder, pid: 1, host: "gpu-node-17" }))
    const refused = await synthline(["run", file, "--fresh"])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain(
      `lock ${lock}, held by synthline run (pid 1 on host gpu-node-17, started 2025-01-01T00:00:00.000Z); it was taken on another host, so it is not checked from here: if no process is writing there any more, delete ${lock}`
    )
    // Refused before any work: --fresh removed nothing.
    expectComplete(out, reference)
    expect(existsSync(lock)).toBe(true)
  }, 180_000)
})

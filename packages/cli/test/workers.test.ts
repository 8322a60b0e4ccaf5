/**
 * Worker threads (`synthline run --workers N`): the output is the same bytes for every N, every
 * shard split and every resume, also after kill -9 with workers running and after a worker ran
 * out of memory; a pipeline that must run in one thread says so when workers were asked for.
 */
import { describe, expect, it } from "@effect/vitest"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { gzipParts, readParts, killAfterUnits, synthline, tempDir, tree } from "./support.js"

const work = tempDir("workers")

// Routed rows (the limit routes the tail to a branch), a plugin stage from a .ts file, pii/redact
// from a package, both stateful core stages, and parts that end inside units.
writeFileSync(
  join(work, "tag.ts"),
  `import { definePlugin } from "@synthline/core"
import { Stage } from "@synthline/core"
import { Effect, Stream } from "effect"
const tag = Stage.make({
  id: "team/tag",
  description: "Adds the length of the first turn.",
  config: Stage.NoConfig,
  requires: ["conversation"],
  provides: ["first_turn_chars"],
  make: () => Effect.succeed(Stage.mapChunks((row) => ({ ...row, first_turn_chars: String((row.conversation as Array<{ content: string }>)[0]?.content ?? "").length })))
})
let seen = 0
const counter = Stage.make({
  id: "team/counter",
  description: "Numbers rows in one thread's order (state without a central decider).",
  config: Stage.NoConfig,
  requires: [],
  provides: ["n"],
  stateful: true,
  make: () => Effect.succeed(Stage.mapChunks((row) => ({ ...row, n: seen++ })))
})
// About 0.3 MB of heap held per row of the chunk in hand: a unit of 400 rows needs more than a 128 MB heap.
let held: Array<Array<number>> = []
const hog = Stage.make({
  id: "team/hog",
  description: "Holds heap in proportion to the rows of the chunk it passes on.",
  config: Stage.NoConfig,
  requires: [],
  provides: [],
  make: () =>
    Effect.succeed((rows: Stream.Stream<Record<string, unknown>, never>) =>
      rows.pipe(
        Stream.mapChunks((c) => {
          held = []
          for (let k = 0; k < c.length; k++) held.push(new Array(40_000).fill(k + 0.5))
          return c
        })
      )
    )
})
export default definePlugin({ name: "team", version: "0.0.1", stages: [tag, counter, hog] })
`
)

const pipeline = (name: string, out: string, extraStages = "") => {
  const file = join(work, `${name}.pipeline.yaml`)
  writeFileSync(
    file,
    `name: workers
seed: 7
plugins: ["./tag.ts", "@synthline/plugin-pii"]
source: { type: parquet, path: "data/data/train-*.parquet" }
stages:
  - use: core/select
    languages: [English, Japanese]
  - use: core/first-turn
  - use: core/dedup
    output: duplicate_user_instruction
  - use: team/tag
  - use: pii/redact
  - use: core/limit
    rows: 3000
    route: tail
${extraStages}sink: { type: jsonl, path: ${out}, compression: gzip, shard_rows: 1200 }
branches:
  tail: { type: jsonl, path: ${out}-tail, compression: none }
`
  )
  return file
}

/**
 * Every file a run wrote into its sink folder and branch folder, by relative path and sha256
 * (markers and manifests aside); dataset cards by their text, with the pipeline file's and
 * sink folders' names (which differ from run to run here) made alike.
 */
const alike = (text: string) => text.replace(/\bout-[a-z0-9]+/g, "out-X").replace(/\b[a-z0-9]+\.pipeline\.yaml/g, "X.pipeline.yaml")

const outputs = (out: string) => {
  const files = (dir: string) => {
    const card = join(work, dir, "README.md")
    return { ...tree(join(work, dir)), ...(existsSync(card) ? { "README.md": alike(readFileSync(card, "utf8")) } : {}) }
  }
  return { main: files(out), tail: files(`${out}-tail`) }
}

describe("synthline run --workers", () => {
  it("generates the input: 6,000 conversations in 12 row groups", async () => {
    const r = await synthline(["sample", "--rows", "6000", "--shards", "2", "--seed", "11", "--row-group-rows", "500", "--out", join(work, "data")])
    expect(r.code).toBe(0)
  }, 120_000)

  it("writes the same bytes with 1, 2 and 3 workers: parts, branch, rejects and dataset card", async () => {
    for (const n of [1, 2, 3]) {
      const r = await synthline(["run", pipeline(`n${n}`, `out-n${n}`), "--workers", String(n)])
      expect(r.stderr).not.toContain("running in one thread")
      expect(r.code).toBe(0)
    }
    const one = outputs("out-n1")
    expect(Object.keys(one.main).filter((f) => f.startsWith("part-"))).toHaveLength(3)
    expect(Object.keys(one.main)).toContain("README.md")
    expect(Object.keys(one.tail).some((f) => f.startsWith("part-"))).toBe(true)
    expect(outputs("out-n2")).toEqual(one)
    expect(outputs("out-n3")).toEqual(one)
    const manifest = (out: string) => JSON.parse(readFileSync(join(work, out, "manifest.json"), "utf8"))
    for (const out of ["out-n2", "out-n3"]) {
      expect(manifest(out).stages).toEqual(manifest("out-n1").stages)
      expect(alike(JSON.stringify(manifest(out).outputs))).toEqual(alike(JSON.stringify(manifest("out-n1").outputs)))
    }
  }, 240_000)

  it("shards run with workers give the bytes of shards run in one thread", async () => {
    for (const [name, n] of [
      ["s1", "1"],
      ["s2", "2"]
    ] as const) {
      for (const i of [0, 1]) {
        const r = await synthline(["run", pipeline(name, `out-${name}`), "--shard", `${i}/2`, "--workers", n])
        expect(r.code).toBe(0)
      }
    }
    expect(outputs("out-s2")).toEqual(outputs("out-s1"))
  }, 240_000)

  it("resumes after kill -9 with workers running, with the bytes of an uninterrupted run", async () => {
    const file = pipeline("killed", "out-killed")
    const markers = join(work, "out-killed", "_state/run/units")
    for (const after of [2, 6]) {
      await killAfterUnits(["run", file, "--workers", "2"], markers, after)
      expect(existsSync(join(work, "out-killed", "manifest.json"))).toBe(false)
    }
    // The rest with another number of workers: units, not threads, decide the bytes.
    const r = await synthline(["run", file, "--workers", "3"])
    expect(r.code).toBe(0)
    expect(r.stderr).toContain("resuming")
    expect(outputs("out-killed")).toEqual(outputs("out-n1"))
  }, 240_000)

  it("a plain JSON-lines file is split into units of unit_rows lines: the same bytes with 1 and 2 workers, and after kill -9", async () => {
    const r = await synthline(["sample", "--rows", "3000", "--format", "jsonl", "--seed", "11", "--out", join(work, "jsonl")])
    expect(r.code).toBe(0)
    const lines = (name: string, out: string) => {
      const file = join(work, `${name}.pipeline.yaml`)
      writeFileSync(
        file,
        `name: lines
source: { type: jsonl, path: "jsonl/data/train-*.jsonl", unit_rows: 400 }
stages:
  - use: core/first-turn
  - use: core/dedup
    output: duplicate_user_instruction
sink: { type: jsonl, path: ${out}, compression: gzip, shard_rows: 1000 }
`
      )
      return file
    }
    for (const n of [1, 2]) expect((await synthline(["run", lines(`l${n}`, `out-l${n}`), "--workers", String(n)])).code).toBe(0)
    const manifest = JSON.parse(readFileSync(join(work, "out-l1", "manifest.json"), "utf8"))
    expect(manifest.source.units).toBe(8)
    expect(manifest.source.rows_read).toBe(3000)
    // The parts' bytes (the dataset cards differ only by the pipeline file's name).
    const parts = (out: string) => Object.fromEntries(Object.entries(tree(join(work, out))).filter(([f]) => f.startsWith("part-")))
    expect(Object.keys(parts("out-l1")).filter((f) => f.startsWith("part-"))).toHaveLength(3)
    expect(parts("out-l2")).toEqual(parts("out-l1"))
    const file = lines("lk", "out-lk")
    await killAfterUnits(["run", file, "--workers", "2"], join(work, "out-lk", "_state/run/units"), 3)
    expect((await synthline(["run", file])).code).toBe(0)
    expect(parts("out-lk")).toEqual(parts("out-l1"))
  }, 240_000)

  it("a worker out of memory (heap cap 128 MB) is replaced by one with twice the cap that redoes its units: the bytes of one thread", async () => {
    // The hog runs after core/dedup and core/limit have had their unit's answers: the redone unit gets the same ones.
    const file = pipeline("oom", "out-oom", "  - use: team/hog\n")
    const r = await synthline(["run", file, "--workers", "2"], { SYNTHLINE_WORKER_HEAP_MB: "128" })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/warning: a worker thread ran out of memory \(heap cap 128 MB\) at unit data\/data\/train-\S+; redoing its units in a new worker with 256 MB/)
    const parts = (t: Record<string, string>) => Object.fromEntries(Object.entries(t).filter(([f]) => f.startsWith("part-")))
    expect(parts(outputs("out-oom").main)).toEqual(parts(outputs("out-n1").main))
    expect(parts(outputs("out-oom").tail)).toEqual(parts(outputs("out-n1").tail))
    const manifest = (out: string) => JSON.parse(readFileSync(join(work, out, "manifest.json"), "utf8"))
    expect(manifest("out-oom").stages.slice(0, 6)).toEqual(manifest("out-n1").stages)
  }, 240_000)

  it("a stage with state but no central decider runs the pipeline in one thread, and says so", async () => {
    const r = await synthline(["run", pipeline("counted", "out-counted", "  - use: team/counter\n"), "--workers", "2"])
    expect(r.code).toBe(0)
    expect(r.stderr).toContain("--workers 2: running in one thread, because team/counter keeps state across rows without a central decider")
    // In one thread the counter numbers the rows it sees 0, 1, 2, ... in input order.
    const numbers = readParts<{ n: number }>(join(work, "out-counted"), gzipParts).map((r) => r.n)
    expect(numbers).toHaveLength(3000)
    expect(numbers).toEqual(numbers.map((_, k) => k))
  }, 120_000)

  it("refuses --workers 0 before any work", async () => {
    const r = await synthline(["run", pipeline("zero", "out-zero"), "--workers", "0"])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("--workers must be at least 1, got 0")
    expect(existsSync(join(work, "out-zero"))).toBe(false)
  })
})

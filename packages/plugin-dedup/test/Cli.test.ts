/**
 * Both stages through the real CLI, as child processes, on a `--near-duplicates` sample: the
 * planted families are found; a sharded run (then `synthline merge`), a run killed and rerun,
 * and runs with worker threads (killed and rerun too) write the same rows as one uninterrupted run; a missing benchmark file is refused
 * before any row is written.
 */
import { NodeContext } from "@effect/platform-node"
import * as Sample from "@synthline/sample/Sample"
import { Effect } from "effect"
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { killAfterUnits, synthline } from "../../cli/test/support.js"
import { tempDir } from "./support.js"

type Out = { conversation_id: string; near_duplicate_of: string | null; contamination: { item: number } | null }

const parts = (dir: string): Array<Out> =>
  readdirSync(dir)
    .filter((f) => /^part-.*\.jsonl$/.test(f))
    .sort()
    .flatMap((f) =>
      readFileSync(join(dir, f), "utf8")
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as Out)
    )

/** The part files of a sink folder, in order. */
const bytes = (dir: string) =>
  readdirSync(dir)
    .filter((f) => /^part-/.test(f))
    .sort()
    .map((f) => readFileSync(join(dir, f), "utf8"))

const ROWS = 3000

describe("dedup stages through the CLI", () => {
  const work = tempDir("cli")
  const data = join(work, "data")
  const pipeline = (name: string, nearDedup = "") => {
    const file = join(work, `${name}.pipeline.yaml`)
    writeFileSync(
      file,
      `name: ${name}
seed: 42
plugins: ["@synthline/plugin-dedup"]
source:
  type: parquet
  path: data/data/train-*.parquet
  unit_rows: 250
stages:
  - use: dedup/near-dedup${nearDedup}
  - use: dedup/decontaminate
    benchmarks:
      - path: data/benchmark.jsonl
        name: mt-bench-like
  - use: core/fields
    keep: [conversation_id, near_duplicate_of, contamination]
sink:
  type: jsonl
  path: out-${name}
  compression: none
`
    )
    return file
  }

  beforeAll(async () => {
    await Effect.runPromise(
      Sample.generate({ rows: ROWS, out: data, format: "parquet", shards: 2, seed: 42, nearDuplicates: true }).pipe(Effect.provide(NodeContext.layer))
    )
    const r = await synthline(["run", pipeline("whole")])
    expect(r.code, r.stderr).toBe(0)
    wholeLog = r.stderr
  }, 120_000)

  let wholeLog = ""

  it("says how the first pass goes and what it found, and counts rows/s from when the units start", () => {
    expect(wholeLog).toMatch(
      new RegExp(`^dedup/near-dedup: indexed ${ROWS.toLocaleString("en-US")} rows in \\d+\\.\\ds \\([\\d,]+ rows/s, in this thread\\): [\\d,]+ near-duplicates in [\\d,]+ clusters$`, "m")
    )
    const indexedAt = wholeLog.indexOf("dedup/near-dedup: indexed")
    expect(indexedAt).toBeLessThan(wholeLog.indexOf("unit data/data/"))
  })

  it("marks every planted near-duplicate with its family's first row and flags the planted benchmark prompts", () => {
    const out = parts(join(work, "out-whole"))
    expect(out).toHaveLength(ROWS)
    const by = new Map(out.map((r) => [r.conversation_id, r]))
    const truth = readFileSync(join(data, Sample.nearDuplicatesTruthFile), "utf8").trim().split("\n").map((l) => JSON.parse(l))
    const duplicates = truth.filter((t) => t.first !== t.conversation_id)
    expect(duplicates.length).toBeGreaterThan(10)
    for (const t of truth) expect(by.get(t.conversation_id)!.near_duplicate_of).toBe(t.first === t.conversation_id ? null : t.first)
    const bench = readFileSync(join(data, Sample.benchmarkTruthFile), "utf8").trim().split("\n").map((l) => JSON.parse(l))
    expect(bench.length).toBeGreaterThan(0)
    for (const t of bench) expect(by.get(t.conversation_id)!.contamination).toMatchObject({ benchmark: "mt-bench-like", item: t.item })
  })

  it("--shard 0/2 and 1/2, then merge, write exactly the rows of the unsharded run", async () => {
    const file = pipeline("sharded")
    for (const i of [0, 1]) {
      const r = await synthline(["run", file, "--shard", `${i}/2`])
      expect(r.code, r.stderr).toBe(0)
    }
    expect((await synthline(["merge", join(work, "out-sharded")])).code).toBe(0)
    const key = (r: Out) => JSON.stringify(r)
    expect(parts(join(work, "out-sharded")).map(key).sort()).toEqual(parts(join(work, "out-whole")).map(key).sort())
  }, 180_000)

  it("a run killed after some units and rerun writes the same bytes as one uninterrupted run", async () => {
    const file = pipeline("killed")
    const out = join(work, "out-killed")
    const markers = join(out, "_state/run/units")
    await killAfterUnits(["run", file], markers, 3)
    expect(existsSync(join(out, "manifest.json"))).toBe(false)
    const r = await synthline(["run", file])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain("resuming")
    expect(bytes(out)).toEqual(bytes(join(work, "out-whole")))
  }, 180_000)

  it("--workers 2 writes the bytes of one thread, also after kill -9 with workers running", async () => {
    const r = await synthline(["run", pipeline("workers"), "--workers", "2"])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).not.toContain("running in one thread")
    expect(bytes(join(work, "out-workers"))).toEqual(bytes(join(work, "out-whole")))
    const file = pipeline("workers-killed")
    const out = join(work, "out-workers-killed")
    await killAfterUnits(["run", file, "--workers", "2"], join(out, "_state/run/units"), 4)
    expect(existsSync(join(out, "manifest.json"))).toBe(false)
    const again = await synthline(["run", file, "--workers", "2"])
    expect(again.code, again.stderr).toBe(0)
    expect(again.stderr).toContain("resuming")
    expect(bytes(out)).toEqual(bytes(join(work, "out-whole")))
  }, 180_000)

  it("signatures computed in 2 or 3 signing workers (threads:), also with --workers 3, give the bytes of one thread", async () => {
    for (const [threads, workers] of [[2, 1], [3, 3]] as const) {
      const name = `threads-${threads}-workers-${workers}`
      const r = await synthline(["run", pipeline(name, `\n    threads: ${threads}`), "--workers", String(workers)])
      expect(r.code, r.stderr).toBe(0)
      expect(bytes(join(work, `out-${name}`))).toEqual(bytes(join(work, "out-whole")))
    }
  }, 600_000)

  it("validate: none reads only the columns its stages name (plan says which) and writes the bytes of the checked run, in worker threads too", async () => {
    const file = pipeline("narrowed")
    writeFileSync(file, readFileSync(file, "utf8").replace("  unit_rows: 250\n", "  unit_rows: 250\n  validate: none\n"))
    const plan = await synthline(["plan", file])
    expect(plan.code, plan.stderr).toBe(0)
    // near-dedup labels by conversation_id (the texts come from its first pass); decontaminate reads the conversation.
    expect(plan.stdout).toContain("source   parquet (columns read, where the source is columnar: contamination, conversation, conversation_id, near_duplicate_of)")
    for (const workers of ["1", "2"]) {
      const r = await synthline(["run", file, "--fresh", "--workers", workers])
      expect(r.code, r.stderr).toBe(0)
      expect(bytes(join(work, "out-narrowed"))).toEqual(bytes(join(work, "out-whole")))
    }
  }, 180_000)

  it("a field no row has is refused before any row is written, naming it", async () => {
    const file = pipeline("no-field", "\n    field: conversation.0.contnet")
    const r = await synthline(["run", file])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain(`none of its ${ROWS.toLocaleString("en-US")} rows has a conversation_id and a string at \`conversation.0.contnet\` (the \`field\` option) to compare`)
    const out = join(work, "out-no-field")
    expect(existsSync(out) ? readdirSync(out).filter((f) => /^part-/.test(f)) : []).toEqual([])
  }, 60_000)

  it("refuses a benchmark file that does not exist before writing any row, naming it", async () => {
    const file = pipeline("missing")
    writeFileSync(file, readFileSync(file, "utf8").replace("data/benchmark.jsonl", "data/no-such-benchmark.jsonl"))
    const r = await synthline(["run", file])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain("benchmark data/no-such-benchmark.jsonl: cannot read")
    expect(r.stderr).toContain("no such file")
    expect(r.stderr).not.toMatch(/fiber|at .*\.ts:\d+/)
    const out = join(work, "out-missing")
    expect(existsSync(out) ? readdirSync(out).filter((f) => /^part-/.test(f)) : []).toEqual([])
  }, 60_000)
})

import { DuckDBInstance } from "@duckdb/node-api"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Dirs, ensureSample, measurePipeline, offlineCorePipeline, parquetGlob, runBench } from "../src/harness.js"
import { defaultOptions, median, parseArgs, renderTable, row, validateManifest } from "../src/lib.js"

describe("lib", () => {
  it("median", () => {
    expect(median([3, 1, 2])).toBe(2)
    expect(median([4, 1, 3, 2])).toBe(2.5)
    expect(() => median([])).toThrow()
  })

  it("parseArgs", () => {
    expect(parseArgs([])).toMatchObject({ rows: 1_000_000, runs: 3, only: [] })
    expect(parseArgs(["--rows", "20000", "--only", "offline-core", "--runs=1"])).toMatchObject({
      rows: 20000,
      runs: 1,
      only: ["offline-core"]
    })
    expect(() => parseArgs(["--rows", "0"])).toThrow(/positive/)
    expect(() => parseArgs(["--bogus"])).toThrow(/unknown/)
  })

  it("validateManifest rejects runs that read or write nothing", () => {
    const good = { status: "complete", source: { rows_read: 10 }, outputs: { main: { rows: 7 } } }
    expect(validateManifest(good, 10)).toEqual({ rowsRead: 10, rowsWritten: 7 })
    expect(() => validateManifest({ ...good, source: { rows_read: 0 } })).toThrow(/read no rows/)
    expect(() => validateManifest({ ...good, source: {} })).toThrow(/read no rows/)
    expect(() => validateManifest(good, 11)).toThrow(/expected 11/)
    expect(() => validateManifest({ ...good, outputs: { main: { rows: 0 } } })).toThrow(/wrote no rows/)
    expect(() => validateManifest({ ...good, status: "stopped" })).toThrow(/not complete/)
  })

  it("renderTable has the columns and marks budget misses", () => {
    const t = renderTable([
      row({ name: "a", unit: "conv/s", figure: 25_000, budget: { op: ">=", value: 20_000 }, baseline: 50_000, ratio: 2 }),
      row({ name: "b", unit: "ms", figure: 500, budget: { op: "<=", value: 400 }, baseline: null, ratio: null })
    ])
    const lines = t.split("\n")
    expect(lines[0]).toMatch(/name\s*\|\s*figure\s*\|\s*budget\s*\|\s*baseline\s*\|\s*ratio\s*\|\s*ok/)
    expect(lines[2]).toMatch(/25,000 conv\/s .*>= 20,000 conv\/s .*50,000 conv\/s .*2x .*ok/)
    expect(lines[3]).toMatch(/500 ms .*<= 400 ms .*- .*- .*FAIL/)
  })
})

describe("harness (real CLI, tiny data)", () => {
  let root: string
  let dirs: Dirs
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "synthline-bench-test-"))
    dirs = { data: join(root, "data"), out: join(root, "out"), results: join(root, "results") }
  })
  afterAll(() => rmSync(root, { recursive: true, force: true }))

  it("offline-core reports the rows the manifest read, a throughput and a peak RSS", async () => {
    const report = await runBench({ ...defaultOptions, rows: 2000, runs: 1, only: ["offline-core"] }, dirs, () => {})
    expect(report.errors).toEqual([])
    const tput = report.results.find((r) => r.name === "offline-core throughput")!
    const rss = report.results.find((r) => r.name === "offline-core peak RSS")!
    const detail = tput.detail as { rows_read: number; rows_written: number; manifest: string }
    const manifest = JSON.parse(readFileSync(detail.manifest, "utf8")) as { source: { rows_read: number } }
    expect(detail.rows_read).toBeGreaterThan(0)
    expect(detail.rows_read).toBe(manifest.source.rows_read)
    expect(detail.rows_read).toBe(2000)
    expect(detail.rows_written).toBeGreaterThan(0)
    expect(tput.figure).toBeGreaterThan(0)
    expect(tput.baseline).toBeGreaterThan(0)
    expect(tput.ratio).toBeGreaterThan(0)
    expect(rss.figure).toBeGreaterThan(0)
    const latest = JSON.parse(readFileSync(join(dirs.results, "latest.json"), "utf8")) as { results: Array<{ name: string }> }
    expect(latest.results.map((r) => r.name)).toEqual(["offline-core throughput", "offline-core peak RSS"])
    // the sample is reused, not regenerated
    expect(existsSync(join(dirs.data, "rows-2000-seed-42", "sample.json"))).toBe(true)
  })

  it("pii-throughput reports MB/s per CPU-second of the detectors and of pii/redact against the 50 MB/s budget", async () => {
    const report = await runBench({ ...defaultOptions, rows: 2000, runs: 1, only: ["pii-throughput"], write: false }, dirs, () => {})
    expect(report.errors).toEqual([])
    expect(report.results.map((r) => r.name)).toEqual(["pii detect throughput (1 core)", "pii/redact throughput (1 core)"])
    for (const r of report.results) {
      expect(r.unit).toBe("MB/s")
      expect(r.figure).toBeGreaterThan(0)
      expect(r.budget).toEqual({ op: ">=", value: 50 })
      expect((r.detail as { spans: number }).spans).toBeGreaterThan(0)
    }
  })

  it("a pipeline that reads zero rows fails the benchmark", async () => {
    // A parquet file with the sample's schema and no rows.
    const sample = await ensureSample(2000, 42, dirs.data)
    const emptyDir = join(root, "empty")
    mkdirSync(emptyDir, { recursive: true })
    const db = await DuckDBInstance.create(":memory:")
    const c = await db.connect()
    await c.run(
      `COPY (SELECT * FROM read_parquet('${parquetGlob(sample)}') LIMIT 0) TO '${join(emptyDir, "train-00000-of-00001.parquet")}' (FORMAT parquet)`
    )
    const file = join(root, "zero.pipeline.yaml")
    writeFileSync(file, offlineCorePipeline(join(emptyDir, "train-*.parquet"), join(root, "zero-sink")))
    await expect(measurePipeline(file, join(root, "zero-sink"), 1)).rejects.toThrow(/read no rows/)
  })

  it("a pipeline whose glob matches nothing fails the benchmark", async () => {
    const file = join(root, "nothing.pipeline.yaml")
    writeFileSync(file, offlineCorePipeline(join(root, "no-such-dir", "*.parquet"), join(root, "nothing-sink")))
    await expect(measurePipeline(file, join(root, "nothing-sink"), 1)).rejects.toThrow()
  })
})

/**
 * Resume state is decoded, not trusted: a completion marker or `run.json` that is not valid
 * JSON, or not shaped like one, stops the rerun with exit code 2 and a message naming the file
 * (and `--fresh` as the way out), before anything is written; `--fresh` then starts over.
 */
import { beforeAll, describe, expect, it } from "@effect/vitest"
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { synthline, tempDir, tree } from "./support.js"

const work = tempDir("resume-state")

const pipelineFile = (out: string): string => {
  const file = join(work, `${out}.pipeline.yaml`)
  writeFileSync(
    file,
    `name: resume-state
seed: 1
source: { type: parquet, path: "data/data/train-*.parquet", unit_rows: 100 }
stages:
  - use: core/select
    languages: [English, Japanese]
sink: { type: jsonl, path: ${out} }
`
  )
  return file
}

/** Runs to completion into `out`, then removes the manifest: a rerun resumes from the last marker. */
const interrupted = async (out: string): Promise<{ file: string; dir: string; last: string }> => {
  const file = pipelineFile(out)
  expect((await synthline(["run", file])).code).toBe(0)
  const dir = join(work, out)
  rmSync(join(dir, "manifest.json"))
  const units = join(dir, "_state/run/units")
  const last = readdirSync(units).filter((n) => n.endsWith(".json")).sort().pop()!
  return { file, dir, last: join(units, last) }
}

beforeAll(async () => {
  const r = await synthline(["sample", "--rows", "400", "--seed", "1", "--out", join(work, "data")])
  expect(r.code).toBe(0)
}, 120_000)

describe("resume state that cannot be decoded", () => {
  it("a completion marker that is not JSON: exit 2 naming the file; --fresh starts over", async () => {
    const { file, dir, last } = await interrupted("out-garbage")
    const before = tree(dir)
    writeFileSync(last, "\u0000garbage{")
    const r = await synthline(["run", file])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`${last} is not a completion marker of a synthline run (not valid JSON); use --fresh`)
    expect(tree(dir)).toEqual(before)
    const fresh = await synthline(["run", file, "--fresh"])
    expect(fresh.code).toBe(0)
    expect(tree(dir)).toEqual(before)
  }, 120_000)

  it("a completion marker of the wrong shape: exit 2 naming the file and the field", async () => {
    const { file, last } = await interrupted("out-shape")
    const marker = JSON.parse(readFileSync(last, "utf8"))
    writeFileSync(last, JSON.stringify({ ...marker, seq: "three", stats: { ...marker.stats, stages: null } }))
    const r = await synthline(["run", file])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`${last} is not a completion marker of a synthline run (`)
    expect(r.stderr).toContain("seq")
    expect(r.stderr).not.toContain("TypeError")
  }, 120_000)

  it("a run.json of the wrong shape: exit 2 naming the file", async () => {
    const { file, dir } = await interrupted("out-state")
    const state = join(dir, "_state/run/run.json")
    writeFileSync(state, JSON.stringify({ fingerprint: 42 }))
    const r = await synthline(["run", file])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`${state} is not the run state of a synthline run (`)
    expect(r.stderr).toContain("fingerprint")
  }, 120_000)
})

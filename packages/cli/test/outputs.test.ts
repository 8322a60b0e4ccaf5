/**
 * Outputs at the end of the pipeline (`outputs:` with `where:`): one run writes each selection
 * in its own format; kill -9 and a rerun give the same bytes in every output folder, with one
 * thread or worker threads; shards and merge cover them; the main sink takes a `where:` too;
 * a pipeline whose outputs cannot work is refused before any work.
 */
import { describe, expect, it } from "@effect/vitest"
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import * as YAML from "yaml"
import { gzipParts, killAfterUnits, readParts, synthline, tempDir, tree } from "./support.js"

const work = tempDir("outputs")
const data = join(work, "data")

const outputs = (out: string) => `outputs:
  ja:
    type: jsonl
    path: ${out}-ja
    compression: gzip
    shard_rows: 500
    where: { language: Japanese }
  en-first:
    type: jsonl
    path: ${out}-en
    compression: none
    where: 'language == "English" and not duplicate_user_instruction'
`

const pipelineFile = (name: string, out: string, extra = outputs(out)) => {
  const file = join(work, `${name}.pipeline.yaml`)
  writeFileSync(
    file,
    `name: ${name}
seed: 3
source: { type: parquet, path: "data/data/train-*.parquet" }
stages:
  - use: core/select
    languages: [English, Japanese]
  - use: core/first-turn
  - use: core/dedup
    output: duplicate_user_instruction
sink: { type: jsonl, path: ${out}, compression: gzip, shard_rows: 3000 }
${extra}`
  )
  return file
}

const plainParts = /^part-.*\.jsonl$/

describe("outputs at the end of the pipeline", () => {
  it("one run writes every output's selection of the rows that reach the end", async () => {
    const s = await synthline(["sample", "--rows", "6000", "--shards", "2", "--seed", "5", "--row-group-rows", "500", "--out", data])
    expect(s.code).toBe(0)
    const r = await synthline(["run", pipelineFile("whole", "out-whole")])
    expect(r.stderr).not.toContain("error")
    expect(r.code).toBe(0)
    const main = readParts(join(work, "out-whole"), gzipParts)
    const ja = readParts(join(work, "out-whole-ja"), gzipParts)
    const en = readParts(join(work, "out-whole-en"), plainParts)
    const isJa = main.filter((row) => row.language === "Japanese")
    const isEnFirst = main.filter((row) => row.language === "English" && (row.duplicate_user_instruction ?? null) === null)
    expect(isJa.length).toBeGreaterThan(0)
    expect(isEnFirst.length).toBeGreaterThan(0)
    expect(isEnFirst.length).toBeLessThan(main.filter((row) => row.language === "English").length)
    expect(ja).toEqual(isJa)
    expect(en).toEqual(isEnFirst)
    // ja rotates every 500 rows, as its own options say.
    expect(readdirSync(join(work, "out-whole-ja")).filter((f) => gzipParts.test(f)).length).toBe(Math.ceil(isJa.length / 500))
    const m = JSON.parse(readFileSync(join(work, "out-whole", "manifest.json"), "utf8"))
    expect(m.outputs.branches.ja).toMatchObject({ type: "jsonl", rows: isJa.length, where: "language == \"Japanese\"" })
    expect(m.outputs.branches["en-first"]).toMatchObject({ rows: isEnFirst.length, where: 'language == "English" and not duplicate_user_instruction' })
    expect(m.outputs.branches.ja.files.map((f: { rows: number }) => f.rows).reduce((a: number, b: number) => a + b, 0)).toBe(isJa.length)
    // Each output folder gets its dataset card, saying what it selects.
    const card = readFileSync(join(work, "out-whole-ja", "README.md"), "utf8")
    expect(card).toContain('the output `ja`, the rows that reach the end of the pipeline where `language == "Japanese"`')
    expect(YAML.parse(card.split("---\n")[1]!).dataset_info.splits).toEqual([{ name: "train", num_examples: isJa.length }])
  }, 120_000)

  it("kill -9 twice, then the same command: every output byte-for-byte equal to an uninterrupted run", async () => {
    const file = pipelineFile("killed", "out-killed")
    const markers = join(work, "out-killed", "_state/run/units")
    for (const after of [2, 7]) {
      await killAfterUnits(["run", file], markers, after)
      expect(existsSync(join(work, "out-killed", "manifest.json"))).toBe(false)
    }
    const r = await synthline(["run", file])
    expect(r.code).toBe(0)
    expect(r.stderr).toContain("resuming")
    const noCard = (t: Record<string, string>) => Object.fromEntries(Object.entries(t).filter(([k]) => k !== "README.md"))
    for (const suffix of ["", "-ja", "-en"]) {
      const resumed = noCard(tree(join(work, `out-killed${suffix}`)))
      expect(Object.keys(resumed).length).toBeGreaterThan(0)
      expect(resumed).toEqual(noCard(tree(join(work, `out-whole${suffix}`))))
    }
    const m = JSON.parse(readFileSync(join(work, "out-killed", "manifest.json"), "utf8"))
    const ref = JSON.parse(readFileSync(join(work, "out-whole", "manifest.json"), "utf8"))
    expect(m.resumed).toBe(true)
    expect(m.outputs.branches.ja.rows).toBe(ref.outputs.branches.ja.rows)
    expect(m.outputs.branches.ja.files).toEqual(ref.outputs.branches.ja.files)
  }, 180_000)

  it("--workers 2 writes the bytes of one thread in every output (jsonl.gz and parquet), also after kill -9; --fresh starts every output over", async () => {
    // ja+unsafe-style selections: the Japanese rows not flagged (gzip), and all Japanese rows (parquet).
    const selections = (out: string) => `outputs:
  ja:
    type: jsonl
    path: ${out}-ja
    compression: gzip
    shard_rows: 25
    where: 'language == "Japanese" and not openai_moderation.0.flagged'
  ja-unsafe:
    type: parquet
    path: ${out}-unsafe
    shard_rows: 30
    row_group_rows: 10
    where: { language: Japanese }
`
    const folders = (out: string) => [out, `${out}-ja`, `${out}-unsafe`]
    const noCard = (t: Record<string, string>) => Object.fromEntries(Object.entries(t).filter(([k]) => k !== "README.md"))
    const bytes = (out: string) => folders(out).map((dir) => noCard(tree(join(work, dir))))
    const one = pipelineFile("w1", "out-w1", selections("out-w1"))
    const two = pipelineFile("w2", "out-w2", selections("out-w2"))
    const r1 = await synthline(["run", one, "--workers", "1"])
    expect(r1.code, r1.stderr).toBe(0)
    const r2 = await synthline(["run", two, "--workers", "2"])
    expect(r2.code, r2.stderr).toBe(0)
    expect(r2.stderr).not.toContain("running in one thread")
    const reference = bytes("out-w1")
    expect(Object.keys(reference[2]!).filter((f) => f.endsWith(".parquet")).length).toBeGreaterThan(1)
    expect(bytes("out-w2")).toEqual(reference)
    // What the selections hold: the not-flagged Japanese rows are fewer than all Japanese rows.
    const main = readParts(join(work, "out-w1"), gzipParts)
    const ja = readParts(join(work, "out-w2-ja"), gzipParts)
    type Mod = { openai_moderation: Array<{ flagged: boolean }> }
    const isJa = main.filter((row) => row.language === "Japanese")
    expect(ja).toEqual(isJa.filter((row) => !(row as unknown as Mod).openai_moderation[0]!.flagged))
    expect(ja.length).toBeGreaterThan(0)
    expect(ja.length).toBeLessThan(isJa.length)
    const m1 = JSON.parse(readFileSync(join(work, "out-w1", "manifest.json"), "utf8"))
    const m2 = JSON.parse(readFileSync(join(work, "out-w2", "manifest.json"), "utf8"))
    expect(m2.outputs.branches["ja-unsafe"]).toMatchObject({ rows: isJa.length, files: m1.outputs.branches["ja-unsafe"].files })
    expect(m2.outputs.branches.ja.profile).toEqual(m1.outputs.branches.ja.profile)
    // kill -9 twice with workers running, then the same command: the same bytes in every folder.
    const killed = pipelineFile("wk", "out-wk", selections("out-wk"))
    const markers = join(work, "out-wk", "_state/run/units")
    for (const after of [2, 7]) {
      await killAfterUnits(["run", killed, "--workers", "2"], markers, after)
      expect(existsSync(join(work, "out-wk", "manifest.json"))).toBe(false)
    }
    const rk = await synthline(["run", killed, "--workers", "2"])
    expect(rk.code).toBe(0)
    expect(rk.stderr).toContain("resuming")
    expect(bytes("out-wk")).toEqual(reference)
    // A rerun with fewer rows per ja part and --fresh: no part of the first run is left behind.
    writeFileSync(two, readFileSync(two, "utf8").replace("shard_rows: 25", "shard_rows: 20"))
    expect((await synthline(["run", two, "--fresh", "--workers", "2"])).code).toBe(0)
    const again = readParts(join(work, "out-w2-ja"), gzipParts)
    expect(again).toEqual(ja)
    expect(readdirSync(join(work, "out-w2-ja")).filter((f) => gzipParts.test(f)).length).toBe(Math.ceil(ja.length / 20))
  }, 240_000)

  it("where: on the main sink writes its selection, counts the rest as dropped (where), the same with workers", async () => {
    const file = (name: string) => {
      const f = pipelineFile(name, `out-${name}`, "")
      writeFileSync(f, readFileSync(f, "utf8").replace("shard_rows: 3000 }", "shard_rows: 3000, where: 'not openai_moderation.0.flagged' }"))
      return f
    }
    const r = await synthline(["run", file("mw1")])
    expect(r.code).toBe(0)
    const all = readParts(join(work, "out-whole"), gzipParts)
    type Mod = { openai_moderation: Array<{ flagged: boolean }> }
    const flagged = all.filter((row) => (row as unknown as Mod).openai_moderation[0]!.flagged).length
    expect(flagged).toBeGreaterThan(0)
    const main = readParts(join(work, "out-mw1"), gzipParts)
    expect(main).toEqual(all.filter((row) => !(row as unknown as Mod).openai_moderation[0]!.flagged))
    const m = JSON.parse(readFileSync(join(work, "out-mw1", "manifest.json"), "utf8"))
    expect(m.outputs.main).toMatchObject({ rows: main.length, where: "not openai_moderation.0.flagged", dropped: { where: flagged } })
    // The summary shows the selection as a last step with its drops.
    expect(r.stderr).toMatch(new RegExp(`sink where +in +${all.length.toLocaleString("en-US")} +out +${main.length.toLocaleString("en-US")} +dropped ${flagged.toLocaleString("en-US")} \\(where ${flagged.toLocaleString("en-US")}\\)`))
    const r2 = await synthline(["run", file("mw2"), "--workers", "2"])
    expect(r2.code).toBe(0)
    const noCard = (t: Record<string, string>) => Object.fromEntries(Object.entries(t).filter(([k]) => k !== "README.md"))
    expect(noCard(tree(join(work, "out-mw2")))).toEqual(noCard(tree(join(work, "out-mw1"))))
    expect(JSON.parse(readFileSync(join(work, "out-mw2", "manifest.json"), "utf8")).outputs.main.dropped).toEqual({ where: flagged })
    // A field no stage provides is refused before any work, with file:line.
    const bad = pipelineFile("mw-bad", "out-mw-bad", "")
    writeFileSync(bad, readFileSync(bad, "utf8").replace("shard_rows: 3000 }", "shard_rows: 3000, where: { langauge: Japanese } }"))
    const rb = await synthline(["run", bad])
    expect(rb.code).toBe(2)
    expect(rb.stderr).toMatch(/mw-bad\.pipeline\.yaml:\d+:\d+: .*sink: where reads field langauge, which no stage provides and the source does not have — did you mean language\?/)
    expect(existsSync(join(work, "out-mw-bad"))).toBe(false)
  }, 180_000)

  it("shards write every output; merge joins their counts and writes their cards", async () => {
    // dedup is stateful (each shard keeps its own); without it shards are comparable row by row.
    const extra = outputs("out-sh").replace(" and not duplicate_user_instruction", "")
    const file = pipelineFile("sharded", "out-sh", extra)
    writeFileSync(file, readFileSync(file, "utf8").replace(/ {2}- use: core\/dedup\n {4}output: duplicate_user_instruction\n/, ""))
    for (const i of [0, 1]) expect((await synthline(["run", file, "--shard", `${i}/2`])).code).toBe(0)
    expect((await synthline(["merge", join(work, "out-sh")])).code).toBe(0)
    const reference = readParts(join(work, "out-whole", ""), gzipParts).filter((row) => row.language === "Japanese").length
    const union = readParts(join(work, "out-sh-ja"), gzipParts)
    expect(union.length).toBe(reference)
    const merged = JSON.parse(readFileSync(join(work, "out-sh", "manifest.json"), "utf8"))
    expect(merged.outputs.branches.ja.rows).toBe(reference)
    expect(merged.outputs.branches.ja.files.length).toBe(readdirSync(join(work, "out-sh-ja")).filter((f) => gzipParts.test(f)).length)
    expect(existsSync(join(work, "out-sh-ja", "README.md"))).toBe(true)
  }, 180_000)

  it("outputs that cannot work are refused before any work, with file:line", async () => {
    const cases: Array<[string, string, RegExp]> = [
      [
        "unknown-field",
        outputs("out-bad1").replace("{ language: Japanese }", "{ langauge: Japanese }"),
        /unknown-field\.pipeline\.yaml:\d+:\d+: .*outputs\.ja: where reads field langauge, which no stage provides and the source does not have — did you mean language\?/
      ],
      [
        "same-folder",
        outputs("out-bad2").replace("path: out-bad2-en", "path: out-bad2-ja"),
        /same-folder\.pipeline\.yaml:\d+:\d+: output en-first writes to the same folder as output ja/
      ],
      [
        "into-main",
        outputs("out-bad3").replace("path: out-bad3-ja", "path: out-into-main/ja"),
        /into-main\.pipeline\.yaml:\d+:\d+: output ja writes inside the folder of the main sink/
      ],
      [
        "bad-expression",
        outputs("out-bad4").replace('language == "English" and not', 'language == and'),
        /bad-expression\.pipeline\.yaml:\d+:\d+: output en-first: where: expected a value \(number, "text", true, false or null\) after ==, found and at character 13/
      ]
    ]
    for (const [name, extra, message] of cases) {
      const r = await synthline(["run", pipelineFile(name, `out-${name}`, extra)])
      expect(r.code, name).toBe(2)
      expect(r.stderr, name).toMatch(message)
      expect(existsSync(join(work, `out-${name}`)), name).toBe(false)
    }
  }, 120_000)
})

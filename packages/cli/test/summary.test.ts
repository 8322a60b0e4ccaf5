/**
 * What a run tells at its end and on Ctrl-C (issue 22): rows routed and where with their reasons,
 * drop reasons per stage, values redacted by type, in the summary and the manifest; an interrupt
 * prints the units committed and that a rerun resumes; `--fresh` leaves no stale dataset card; a
 * resumed run's rate counts only its own rows.
 */
import { describe, expect, it } from "@effect/vitest"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { readParts, start, synthline, tempDir } from "./support.js"

const work = tempDir("summary")
const data = join(work, "data")

const pipeline = (name: string, stages: string, extra = "") => {
  const file = join(work, `${name}.pipeline.yaml`)
  writeFileSync(
    file,
    `name: ${name}
plugins: ["@synthline/plugin-moderation", "@synthline/plugin-pii"]
source: { type: parquet, path: data/data/train-*.parquet }
stages:
${stages}sink: { type: jsonl, path: out-${name} }
${extra}`
  )
  return file
}

/** Starts a run, sends SIGINT once it has reported `units` units done, and returns what it printed. */
const interruptAfter = async (args: ReadonlyArray<string>, units: number) => {
  const child = start(args)
  let stderr = ""
  let sent = false
  const code = new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)))
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    stderr += d
    if (!sent && (stderr.match(/^unit .* done/gm)?.length ?? 0) >= units) {
      sent = true
      child.kill("SIGINT")
    }
  })
  return { code: await code, stderr }
}

describe("run summaries and manifests", () => {
  it("makes sample data", async () => {
    const r = await synthline(["sample", "--rows", "6000", "--seed", "3", "--row-group-rows", "200", "--out", data])
    expect(r.code, r.stderr).toBe(0)
  })

  it("the summary and the manifest say what was dropped, routed where and why, and redacted by type", async () => {
    const file = pipeline(
      "routed",
      "  - use: core/select\n    languages: [English]\n  - use: pii/redact\n  - use: moderation/filter\n    action: route\n    route: unsafe\n",
      "branches:\n  unsafe: { type: jsonl, path: out-routed-unsafe }\n"
    )
    const r = await synthline(["run", file])
    expect(r.code, r.stderr).toBe(0)
    const manifest = JSON.parse(readFileSync(join(work, "out-routed", "manifest.json"), "utf8"))
    const [select, redact, moderation] = manifest.stages
    // Routed rows carry their moderation:<category> reasons, summing to the routed count and the branch's rows.
    expect(moderation.routed).toBeGreaterThan(0)
    expect(Object.keys(moderation.routed_reasons).every((k) => k.startsWith("moderation:"))).toBe(true)
    expect(Object.values<number>(moderation.routed_reasons).reduce((a, b) => a + b, 0)).toBe(moderation.routed)
    expect(readParts(join(work, "out-routed-unsafe")).length).toBe(moderation.routed)
    // Values redacted by type.
    const redacted = Object.entries<number>(redact.counts)
    expect(redacted.length).toBeGreaterThan(2)
    expect(redacted.every(([k, n]) => k.startsWith("redacted:") && n > 0)).toBe(true)
    const redactedTotal = redacted.reduce((a, [, n]) => a + n, 0)
    // The summary shows the same.
    const fmt = (n: number) => n.toLocaleString("en-US")
    expect(r.stderr).toMatch(new RegExp(`core/select +in +6,000 +out +${fmt(select.rows_out)} {2}dropped ${fmt(select.dropped.language)} \\(language ${fmt(select.dropped.language)}\\)`))
    expect(r.stderr).toMatch(new RegExp(`pii/redact +in .* {2}redacted ${fmt(redactedTotal)} \\(`))
    expect(r.stderr).toMatch(new RegExp(`moderation/filter +in .* {2}routed ${fmt(moderation.routed)} → unsafe \\(moderation:`))
    expect(r.stderr).toMatch(/^done: units 30\/30 · .* rows\/s in [\d.]+s$/m)
    expect(r.stderr).toMatch(new RegExp(`^branch unsafe: .*out-routed-unsafe \\(${fmt(moderation.routed)} rows\\)$`, "m"))
  }, 120_000)

  it("Ctrl-C prints the units committed and that a rerun resumes; the rerun's rate counts only its own rows", async () => {
    const file = pipeline("interrupted", "  - use: core/first-turn\n")
    const stopped = await interruptAfter(["run", "--workers", "1", file], 3)
    expect(stopped.stderr).toMatch(/^interrupted: \d+ work units? of 30 committed \([\d,]+ rows written\); run the same command again to resume after them$/m)
    const committed = Number(/interrupted: (\d+) work unit/.exec(stopped.stderr)?.[1])
    expect(committed).toBeGreaterThanOrEqual(3)
    expect(committed).toBeLessThan(30)
    const resumed = await synthline(["run", "--json", file])
    expect(resumed.code, resumed.stderr).toBe(0)
    const events = resumed.stdout.trim().split("\n").map((l) => JSON.parse(l))
    expect(events[0]).toMatchObject({ type: "start", resumed: true, unitsDone: committed })
    const finish = events.find((e) => e.type === "finish")
    expect(finish.snapshot.rowsRead).toBe(6000)
    expect(finish.snapshot.rowsReadBefore).toBe(committed * 200)
    expect(finish.snapshot.unitsDoneBefore).toBe(committed)
  }, 120_000)

  it("after --fresh and an interrupt, the old run's dataset card is gone from beside the new partial files", async () => {
    const file = pipeline("fresh", "  - use: core/first-turn\n")
    const out = join(work, "out-fresh")
    expect((await synthline(["run", file])).code).toBe(0)
    expect(readFileSync(join(out, "README.md"), "utf8")).toContain("Written by synthline")
    await interruptAfter(["run", "--fresh", "--workers", "1", file], 2)
    expect(existsSync(join(out, "README.md"))).toBe(false)
    expect(existsSync(join(out, "manifest.json"))).toBe(false)
    // A README.md that synthline did not write stays.
    writeFileSync(join(out, "README.md"), "# my notes\n")
    await interruptAfter(["run", "--fresh", "--workers", "1", file], 2)
    expect(readFileSync(join(out, "README.md"), "utf8")).toBe("# my notes\n")
  }, 120_000)
})

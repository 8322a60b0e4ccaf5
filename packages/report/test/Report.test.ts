import { describe, expect, it } from "vitest"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { NodeContext } from "@effect/platform-node"
import { Effect, Either } from "effect"
import * as Report from "../src/Report.js"
import { runFolder, tempDir } from "./support.js"

const write = (dir: string, options?: Report.WriteOptions) => Effect.runPromise(Report.write(dir, options).pipe(Effect.provide(NodeContext.layer)))
const writeEither = (dir: string, options?: Report.WriteOptions) =>
  Effect.runPromise(Report.write(dir, options).pipe(Effect.either, Effect.provide(NodeContext.layer)))

const fixture = JSON.parse(readFileSync(join(import.meta.dirname, "fixtures/manifest.json"), "utf8"))

describe("Report.write", () => {
  it("writes the page and one SVG per chart with data, each with the marks of its data", async () => {
    const dir = runFolder("write")
    writeFileSync(join(dir, "README.md"), "# quality\n\nThe card.\n")
    const done = await write(dir)
    expect(done.charts.map((f) => f.slice(dir.length + 1))).toEqual([
      "charts/preference-scores.svg",
      "charts/token-lengths.svg",
      "charts/flags.svg",
      "charts/judge-agreement.svg",
      "charts/drops.svg"
    ])
    const svg = (name: string) => readFileSync(join(dir, "charts", `${name}.svg`), "utf8")
    const answers = fixture.outputs.main.profile.answers
    // One bar per (model, score bucket), one rect per judge score pair, one bar per flag kind.
    const marks = (text: string, kind: string) => (text.match(new RegExp(`<g class="mark-${kind} role-mark[^"]*"[^>]*>(.*?)</g>`, "s"))?.[1].match(/<path /g) ?? []).length
    expect(marks(svg("preference-scores"), "rect")).toBe(Object.values(answers.scores_by_model).reduce((n: number, c) => n + Object.keys(c as object).length, 0))
    expect(marks(svg("judge-agreement"), "rect")).toBe(Object.keys(answers.judge_pairs["judge-a\tjudge-b"]).length)
    expect(marks(svg("flags"), "rect")).toBe(Object.keys(answers.flags).length)
    expect(marks(svg("token-lengths"), "rect")).toBe(Object.keys(answers.token_lengths).length)
    expect(svg("drops")).toContain("core/select")
    const page = readFileSync(done.html, "utf8")
    expect(page.match(/<svg /g)?.length).toBe(5)
    expect(page).toContain("judge-a / judge-b: Spearman 0.")
    expect(page).not.toMatch(/<script/)
    expect(readFileSync(join(dir, "README.md"), "utf8")).toContain("![Judge agreement](charts/judge-agreement.svg)")
  })

  it("says which charts a run has no data for, and writes no file for them", async () => {
    const dir = tempDir("empty")
    const plain = { ...fixture, stages: fixture.stages.map((s: object) => ({ ...s, dropped: {} })) }
    plain.outputs = { main: { ...fixture.outputs.main, profile: { rows: 3, fields: [], shapes: {}, languages: {} } }, branches: {} }
    writeFileSync(join(dir, "manifest.json"), JSON.stringify(plain))
    const done = await write(dir)
    expect(done.charts).toEqual([])
    expect(done.card).toBeUndefined()
    const page = readFileSync(done.html, "utf8")
    expect(page.match(/No data in this run\./g)?.length).toBe(5)
    expect(existsSync(join(dir, "charts", "flags.svg"))).toBe(false)
  })

  it("draws the score histogram of a manifest without scores per model, and the rows routed by each reason", async () => {
    const dir = tempDir("routes")
    const { scores_by_model: _, ...answers } = fixture.outputs.main.profile.answers
    const m = {
      ...fixture,
      stages: [{ id: "moderation/filter", rows_in: 10, rows_out: 6, dropped: {}, routed: 4, routed_reasons: { "moderation:harassment": 3, "moderation:violence": 1 }, rejected: 0 }],
      outputs: { main: { ...fixture.outputs.main, profile: { ...fixture.outputs.main.profile, answers: { ...answers, scores_by_model: {} } } }, branches: {} }
    }
    writeFileSync(join(dir, "manifest.json"), JSON.stringify(m))
    await write(dir)
    const svg = (name: string) => readFileSync(join(dir, "charts", `${name}.svg`), "utf8")
    expect(svg("drops")).toContain("routed to a branch (moderation:harassment)")
    expect(svg("drops")).toContain("routed to a branch (moderation:violence)")
    const bars = svg("preference-scores").match(/<g class="mark-rect role-mark[^"]*"[^>]*>(.*?)<\/g>/s)?.[1]?.match(/<path /g) ?? []
    expect(bars.length).toBe(Object.keys(answers.preference_scores).length)
  })

  it("names the file and the reason for a folder without a manifest, a broken one, and an unknown output", async () => {
    const none = await writeEither(tempDir("none"))
    expect(Either.isLeft(none) && none.left.message).toMatch(/manifest\.json: no manifest\.json/)
    const broken = tempDir("broken")
    writeFileSync(join(broken, "manifest.json"), "{ not json")
    const b = await writeEither(broken)
    expect(Either.isLeft(b) && b.left.message).toMatch(/manifest\.json: not JSON/)
    const wrong = tempDir("wrong")
    writeFileSync(join(wrong, "manifest.json"), JSON.stringify({ name: "x" }))
    const w = await writeEither(wrong)
    expect(Either.isLeft(w) && w.left.message).toMatch(/manifest\.json: not a synthline manifest/)
    const u = await writeEither(runFolder("unknown"), { output: "ja" })
    expect(Either.isLeft(u) && u.left.message).toMatch(/no output named ja \(the run has: main\)/)
  })

  it("withCharts replaces its own section and keeps the rest of the card", () => {
    const charts: ReadonlyArray<Report.Chart> = [{ name: "flags", title: "Flags by kind", caption: "c", svg: "<svg/>" }]
    const once = Report.withCharts("# card\n\ntext\n", charts)
    expect(Report.withCharts(once, charts)).toBe(once)
    expect(Report.withCharts(`${once}\n## Later\n`, [])).toContain("## Later")
  })
})

/** What the progress reporters print: counts in words, drop and route reasons, rates of this run only. */
import { describe, expect, it } from "@effect/vitest"
import * as Progress from "../src/Progress.js"

const collect = (make: (write: (t: string) => void) => Progress.Reporter) => {
  let text = ""
  const write = (t: string): void => {
    text += t
  }
  return { reporter: make(write), text: () => text }
}

const snapshot = (over: Partial<Progress.Snapshot> = {}): Progress.Snapshot => ({
  unitsDone: 4,
  units: 4,
  rowsRead: 16_481,
  rowsTotal: 16_481,
  rowsWritten: 15_815,
  rejected: 0,
  elapsedMs: 2000,
  stages: [
    { id: "core/select", rowsIn: 16_481, rowsOut: 16_481, dropped: {}, routed: {}, rejected: 0, counts: {} },
    {
      id: "moderation/filter",
      rowsIn: 16_481,
      rowsOut: 15_815,
      dropped: {},
      routed: { "moderation:harassment": 400, "moderation:sexual": 266 },
      route: "unsafe",
      rejected: 0
    },
    { id: "pii/redact", rowsIn: 15_815, rowsOut: 15_000, dropped: { "pii:EMAIL": 815 }, counts: { "redacted:EMAIL": 70, "redacted:PHONE": 50 } }
  ],
  ...over
})

describe("Progress", () => {
  it("the done line has no ETA; stage lines say what was dropped, routed where and why, and redacted", () => {
    const c = collect(Progress.plain)
    c.reporter.report({
      type: "finish",
      status: "complete",
      snapshot: snapshot(),
      manifest: "out/manifest.json",
      output: "out",
      branches: [{ name: "unsafe", path: "out+unsafe", rows: 666 }]
    })
    const text = c.text()
    expect(text).toMatch(/^done: units 4\/4 · read 16,481\/16,481 · written 15,815 · 8,241 rows\/s in 2\.0s\n/)
    expect(text).not.toContain("ETA")
    expect(text).toMatch(/^ {2}core\/select +in +16,481 +out +16,481$/m)
    expect(text).toMatch(
      /^ {2}moderation\/filter +in +16,481 +out +15,815 {2}routed 666 → unsafe \(moderation:harassment 400, moderation:sexual 266\)$/m
    )
    expect(text).toMatch(/^ {2}pii\/redact +in +15,815 +out +15,000 {2}dropped 815 \(pii:EMAIL 815\) · redacted 120 \(EMAIL 70, PHONE 50\)$/m)
    expect(text).toMatch(/\noutput: {3}out\nbranch unsafe: out\+unsafe \(666 rows\)\nmanifest: out\/manifest\.json\n$/)
  })

  it("one work unit is singular; many are plural", () => {
    const one = collect(Progress.plain)
    one.reporter.report({ type: "start", name: "p", units: 1, unitsDone: 0, resumed: false, shard: "unsharded", fingerprint: "abcdef0123456789" })
    expect(one.text()).toBe("run p (unsharded): 1 work unit, fingerprint abcdef012345\n")
    const many = collect(Progress.tty)
    many.reporter.report({ type: "start", name: "p", units: 12, unitsDone: 5, resumed: true, shard: "unsharded", fingerprint: "f" })
    expect(many.text()).toBe("run p (unsharded): 12 work units, resuming after 5 done\n")
  })

  it("a resumed run's rows/s and ETA count only the rows this run read", () => {
    const c = collect((w) => Progress.plain(w, 0))
    // 9,000 rows were read before the resume; this run read 1,000 in 2 s: 500 rows/s, 20,000 left → 40 s.
    c.reporter.report({
      type: "progress",
      snapshot: snapshot({ rowsRead: 10_000, rowsTotal: 30_000, rowsReadBefore: 9000, unitsDone: 5, unitsDoneBefore: 4, units: 15 })
    })
    expect(c.text()).toContain("· 500 rows/s · ETA 40s")
  })

  it("an interrupt says how many units are committed and that a rerun resumes", () => {
    const c = collect(Progress.plain)
    c.reporter.report({ type: "interrupted", snapshot: snapshot({ unitsDone: 1, units: 6, rowsWritten: 383 }) })
    expect(c.text()).toBe("interrupted: 1 work unit of 6 committed (383 rows written); run the same command again to resume after them\n")
  })

  it("a terminal gets one status block, redrawn in place, and cleared for the final lines", () => {
    const c = collect((w) => Progress.tty(w, 0))
    c.reporter.report({ type: "progress", snapshot: snapshot({ unitsDone: 1 }) })
    c.reporter.report({ type: "progress", snapshot: snapshot({ unitsDone: 2 }) })
    // The escape character shown as ⎋.
    const shown = () => c.text().replaceAll("\u001b", "⎋")
    const [first, second] = shown().split(/(?=⎋\[4F)/)
    // A status line and one line per stage, each cleared before it is written.
    expect(first!.split("\n").filter((l) => l !== "")).toHaveLength(4)
    expect(first).toMatch(/^⎋\[2Kunits 1\/4 · /)
    // The second draw moves up over the 4 lines of the first and writes over them.
    expect(second).toMatch(/^⎋\[4F⎋\[2Kunits 2\/4 · /)
    c.reporter.report({ type: "finish", status: "complete", snapshot: snapshot(), manifest: "out/manifest.json", output: "out" })
    expect(shown()).toMatch(/⎋\[4F⎋\[Jdone: units 4\/4 · [^\n]*\n(?: {2}.*\n){3}output: {3}out\nmanifest: out\/manifest\.json\n$/)
  })

  it("--json writes one event per line with its time, and progress at most once per interval", () => {
    const c = collect((w) => Progress.json(w, 60_000))
    c.reporter.report({ type: "start", name: "p", units: 4, unitsDone: 0, resumed: false, shard: "unsharded", fingerprint: "f" })
    for (let i = 0; i < 5; i++) c.reporter.report({ type: "progress", snapshot: snapshot({ unitsDone: i }) })
    c.reporter.report({ type: "warning", message: "careful" })
    const events = c
      .text()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
    expect(events.map((e) => e.type)).toEqual(["start", "progress", "warning"])
    expect(events[1].snapshot.unitsDone).toBe(0)
    expect(events.every((e) => !Number.isNaN(Date.parse(e.time)))).toBe(true)
  })

  it("a stage's own long step (a first pass) shows as a line, its last line always; rows/s and ETA count from when the units start", () => {
    const c = collect((w) => Progress.plain(w, 60_000))
    for (let k = 1; k <= 3; k++) c.reporter.report({ type: "stage", stage: "dedup/near-dedup", message: `indexing: units ${k}/3`, done: false })
    c.reporter.report({ type: "stage", stage: "dedup/near-dedup", message: "indexed 30 rows in 9.0s", done: true })
    // 16,481 rows in the 1 s since the units started, 9 s after the run did.
    c.reporter.report({ type: "unit", unit: "u3", snapshot: snapshot({ unitsDone: 3, rowsRead: 16_481, rowsTotal: 32_962, elapsedMs: 10_000, unitsElapsedMs: 1000 }) })
    expect(c.text()).toBe(
      "dedup/near-dedup: indexing: units 1/3\n" +
        "dedup/near-dedup: indexed 30 rows in 9.0s\n" +
        "unit u3 done · units 3/4 · read 16,481/32,962 · written 15,815 · 16,481 rows/s · ETA 1s\n"
    )
    const t = collect((w) => Progress.tty(w, 0))
    t.reporter.report({ type: "stage", stage: "s", message: "units 1/2", done: false })
    t.reporter.report({ type: "stage", stage: "s", message: "units 2/2", done: false })
    t.reporter.report({ type: "stage", stage: "s", message: "done", done: true })
    t.reporter.report({ type: "progress", snapshot: snapshot({ unitsDone: 1 }) })
    // Each step line replaces the one before; the last stays, and the status block goes below it.
    expect(t.text().replaceAll("\u001b", "⎋")).toMatch(/^s: units 1\/2\n⎋\[1F⎋\[Js: units 2\/2\n⎋\[1F⎋\[Js: done\n⎋\[2Kunits 1\/4 · /)
  })
})

import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Redacted, Schema } from "effect"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { StageError } from "../../src/Errors.js"
import * as Pipeline from "../../src/Pipeline.js"
import type * as Progress from "../../src/Progress.js"
import * as Registry from "../../src/Registry.js"
import * as Runner from "../../src/Runner.js"
import * as Lmsys from "../support/lmsys.js"
import * as Secrets from "../../src/internal/secrets.js"
import * as Sinks from "../../src/io/sinks.js"
import * as Sources from "../../src/io/sources.js"
import type { Row } from "../../src/Row.js"
import * as Stage from "../../src/Stage.js"

const tmpRoot = join(import.meta.dirname, ".tmp")
mkdirSync(tmpRoot, { recursive: true })
const dir = mkdtempSync(join(tmpRoot, "secrets-"))
mkdirSync(join(dir, "in"))
writeFileSync(join(dir, "in/a.jsonl"), `${Lmsys.records(5, 40).map((r) => JSON.stringify(r)).join("\n")}\n`)

const planted = "salt-planted-0c4e2a"

/** A stage with a Redacted option that leaks it everywhere it can: rejects, row text and its failure. */
const leaky = Stage.make({
  id: "test/leaky",
  description: "rejects every third row with an error quoting its secret; fails when told to",
  requires: [],
  provides: [],
  config: Schema.Struct({ salt: Schema.Redacted(Schema.String), fail: Schema.optionalWith(Schema.Boolean, { default: () => false }) }),
  make: (config, ctx) =>
    config.fail
      ? Effect.fail(new StageError({ stage: ctx.stageId, reason: `the salt ${Redacted.value(config.salt)} is refused` }))
      : Effect.succeed(
          Stage.mapChunks<Row, Row>((row) => {
            const secret = Redacted.value(config.salt)
            if (Number.parseInt(String(row.conversation_id).slice(0, 4), 16) % 3 === 0) {
              return void ctx.reject({ ...row, note: `salted with ${secret}` }, `cannot use salt ${secret}`)
            }
            return row
          })
        )
})

const allText = (d: string): Array<{ readonly file: string; readonly text: string }> =>
  readdirSync(d).flatMap((name) => {
    const p = join(d, name)
    return statSync(p).isDirectory() ? allText(p) : [{ file: p, text: readFileSync(p, "utf8") }]
  })

describe("Secrets", () => {
  it.effect("a Redacted option's value appears in no reject, marker, manifest, progress event or error of a run", () =>
    Effect.gen(function* () {
      const registry = yield* Registry.fromPlugins([])
      const pipeline = Pipeline.from(Sources.jsonl, { path: "in/*.jsonl" }).pipe(
        Pipeline.through(leaky, { salt: planted }),
        Pipeline.to(Sinks.jsonl, { path: "out", compression: "none" }, { name: "leaky", baseDir: dir, registry })
      )
      const events: Array<Progress.RunEvent> = []
      const reporter: Progress.Reporter = { report: (e) => void events.push(e) }
      const stopped = yield* Runner.run(pipeline, { maxErrors: 0, reporter }).pipe(Effect.flip)
      expect(stopped.message).toMatch(/more than --max-errors 0/)
      const done = yield* Runner.run(pipeline, { maxErrors: 1000, reporter })
      expect(done.manifest.rejects.count).toBeGreaterThan(0)

      const files = allText(join(dir, "out"))
      const rejects = files.filter((f) => f.file.includes("/rejects/")).map((f) => f.text).join("")
      expect(rejects).toContain("cannot use salt <redacted>")
      expect(rejects).toContain("salted with <redacted>")
      expect(files.filter((f) => f.text.includes(planted)).map((f) => f.file)).toEqual([])
      expect(JSON.stringify(events)).not.toContain(planted)
      expect(JSON.stringify(done.manifest)).not.toContain(planted)

      // A stage that fails as a whole with the secret in its reason.
      const failing = Pipeline.from(Sources.jsonl, { path: "in/*.jsonl" }).pipe(
        Pipeline.through(leaky, { salt: planted, fail: true }),
        Pipeline.to(Sinks.jsonl, { path: "out-failing", compression: "none" }, { name: "failing", baseDir: dir, registry })
      )
      const error = yield* Runner.run(failing).pipe(Effect.flip)
      expect(error.message).toBe("stage test/leaky: the salt <redacted> is refused")
    }).pipe(Effect.provide(NodeContext.layer)))

  it("scrubs text, JSON-escaped and URL-encoded forms; keys that become equal merge their counters", () => {
    const s = Secrets.make(['k"ey/1234', "abc"])
    expect(s.text('x k"ey/1234 y')).toBe("x <redacted> y")
    expect(s.text(JSON.stringify({ v: 'k"ey/1234' }))).toBe('{"v":"<redacted>"}')
    expect(s.text(`?k=${encodeURIComponent('k"ey/1234')}`)).toBe("?k=<redacted>")
    // Three characters are too short to be a key: left alone.
    expect(s.text("abc")).toBe("abc")
    expect(
      s.record({
        m: { requests: 3, endpoints: { 'http://h/<redacted>/v1': { requests: 2 }, 'http://h/k"ey/1234/v1': { requests: 1 } } }
      })
    ).toEqual({ m: { requests: 3, endpoints: { "http://h/<redacted>/v1": { requests: 3 } } } })
    expect(Secrets.isSecretName("MY_API_KEY")).toBe(true)
    expect(Secrets.isSecretName("VLLM_URL")).toBe(false)
  })
})

/**
 * What a new user meets first (issue 22): help pages that read like git's or cargo's, unknown
 * commands and options named with the nearest valid one, `stages`' hint, `sample`'s summary and
 * `head`.
 */
import { describe, expect, it } from "@effect/vitest"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { command, helpOptions } from "../src/Cli.js"
import * as Help from "../src/Help.js"
import { synthline, tempDir } from "./support.js"

const work = tempDir("ux")
const data = join(work, "data")
const plain = helpOptions(false)
const helpOf = (argv: ReadonlyArray<string>): string => {
  const c = Help.check(command, argv, plain)
  if (c._tag !== "Help") throw new Error(`expected help for ${argv.join(" ")}, got ${c._tag}`)
  return c.text
}
const refusal = (argv: ReadonlyArray<string>): string => {
  const c = Help.check(command, argv, plain)
  if (c._tag !== "Refused") throw new Error(`expected a refusal for ${argv.join(" ")}, got ${c._tag}`)
  return c.message
}

describe("help pages", () => {
  it("root help: commands with one line each, examples, completion; no generic text, no ANSI", () => {
    const text = helpOf(["--help"])
    expect(text).not.toContain("\x1b[")
    expect(text).toMatch(/^Usage: synthline <COMMAND>/m)
    expect(text).toMatch(/^ {2}run +Run a pipeline file; resumes where an interrupted run stopped\.$/m)
    expect(text).toMatch(/^ {2}head +Print the first rows/m)
    expect(text).toContain("--completions bash")
    expect(text).toMatch(/Examples:\n {2}synthline sample --rows/)
    expect(helpOf([])).toBe(text)
  })

  it("every command's help: one line per option with its own description, nothing generic", () => {
    const commands = [...helpOf(["--help"]).matchAll(/^ {2}([a-z][a-z-]*) {2,}/gm)].map((m) => m[1]!)
    expect(commands).toEqual(expect.arrayContaining(["run", "validate", "plan", "stages", "schema", "merge", "sample", "head", "decrypt"]))
    for (const c of commands) {
      const text = helpOf([c, "--help"])
      expect(text, c).toMatch(new RegExp(`^Usage: synthline ${c}`, "m"))
      for (const generic of ["A true or false value", "This setting is optional", "A user-defined piece of text", "An integer.", "may be repeated zero"])
        expect(text, `${c}: ${generic}`).not.toContain(generic)
      expect(text).not.toContain("\x1b[")
    }
  })

  it("optional and repeatable parts are bracketed; defaults and examples are shown", () => {
    const stages = helpOf(["stages", "--help"])
    expect(stages).toContain("Usage: synthline stages [--json] [--plugin <PLUGIN>]... [<FILE>]")
    expect(stages).toMatch(/^ {2}--plugin <PLUGIN> +Also load this plugin \(npm name or path\); repeatable\.$/m)
    const run = helpOf(["run", "-h"])
    expect(run).toMatch(/--max-errors <N> +Rejected rows tolerated.*\n\s+Default 0\./)
    expect(run).toContain("--shard <I/N>")
    expect(run).toMatch(/Examples:\n {2}synthline run pipeline\.yaml/)
    expect(helpOf(["sample", "--help"])).toContain("Usage: synthline sample --rows <N> --out <DIR> [--format <parquet|jsonl>]")
  })

  it("colour only on a terminal without NO_COLOR", () => {
    expect(Help.useColor(true, {})).toBe(true)
    expect(Help.useColor(true, { NO_COLOR: "1" })).toBe(false)
    expect(Help.useColor(false, {})).toBe(false)
    expect(Help.useColor(undefined, {})).toBe(false)
    expect(Help.useColor(true, { TERM: "dumb" })).toBe(false)
    const c = Help.check(command, ["run", "--help"], helpOptions(true))
    expect(c._tag === "Help" && c.text.includes("\x1b[1mUsage:\x1b[0m")).toBe(true)
  })
})

describe("unknown commands and options", () => {
  it("an unknown option before the file is named as an option, with the nearest one", () => {
    expect(refusal(["run", "--frsh", "p.yaml"])).toMatch(/^unknown option --frsh for synthline run; did you mean --fresh\?/)
    expect(refusal(["run", "--dry-run", "p.yaml"])).toMatch(/^unknown option --dry-run for synthline run; .*synthline plan FILE/)
    expect(refusal(["run", "--dry-run", "p.yaml"])).toContain("synthline run takes: --shard, --fresh, --max-errors")
    expect(refusal(["--verison"])).toContain("did you mean --version?")
    // A command with no options of its own says so instead of an empty list.
    expect(refusal(["validate", "--jsn", "p.yaml"])).toContain("synthline validate takes no options but the global ones (see synthline validate --help)")
  })

  it("an unknown command gets the nearest command", () => {
    expect(refusal(["stage"])).toMatch(/^unknown command 'stage'; did you mean 'stages'\?/)
    expect(refusal(["inspect"])).toMatch(/^unknown command 'inspect'; did you mean 'head'\?/)
    expect(refusal(["valdate", "x"])).toContain("did you mean 'validate'?")
  })

  it("known options, values and -- pass through to the parser", () => {
    for (const argv of [
      ["run", "--max-errors", "3", "--fresh", "p.yaml"],
      ["run", "--shard=0/2", "p.yaml"],
      ["head", "-n", "2", "out"],
      ["run", "--log-level", "debug", "p.yaml"],
      ["--completions", "bash"],
      ["run", "--", "--weird-file-name"]
    ])
      expect(Help.check(command, argv, plain)._tag, argv.join(" ")).toBe("Run")
  })

  it("the binary prints the refusal on stderr with exit code 2", async () => {
    const r = await synthline(["run", "--dry-run", "examples/quickstart.pipeline.yaml"])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("error: unknown option --dry-run for synthline run")
    expect(r.stderr).not.toContain("must exist")
  })
})

describe("sample, stages and head", () => {
  it("sample prints a short summary, progress on stderr, and keeps the details in sample.json", async () => {
    const r = await synthline(["sample", "--rows", "1200", "--row-group-rows", "400", "--out", data])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^wrote 1,200 conversations to .* \(1 file, parquet, seed 0\)\n/)
    expect(r.stdout).toContain("details: sample.json")
    expect(r.stdout.split("\n").length).toBeLessThan(8)
    expect(r.stderr).toContain("sample: 400/1,200 conversations (33%)")
    expect(r.stderr).toContain("sample: 1,200/1,200 conversations (100%)")
    expect(JSON.parse(readFileSync(join(data, "sample.json"), "utf8")).rows).toBe(1200)
  })

  it("stages without a file hints at --plugin and pipeline files; with --plugin it does not", async () => {
    const bare = await synthline(["stages"])
    expect(bare.code).toBe(0)
    expect(bare.stdout).toContain("core/select")
    expect(bare.stderr).toMatch(/hint: .*--plugin/)
    const more = await synthline(["stages", "--plugin", "@synthline/plugin-pii"])
    expect(more.stdout).toContain("pii/redact")
    expect(more.stderr).not.toContain("hint")
    // Each option with its type, what the Schema allows, its default and its description.
    expect(bare.stdout).toContain("  rows: integer (≥ 1) (required) — Number of rows to keep")
    expect(more.stdout).toContain("  hash_length: integer (8 to 64) = 16 — Hex digits of the HMAC kept by style hash.")
  })

  it("head shows the first rows of a dataset folder, a sink folder, plain and gzip jsonl, cut short, with --fields", async () => {
    const r = await synthline(["head", data, "-n", "2", "--width", "20"])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^── row 1 · .*train-00000-of-00001\.parquet #1\n\{\n {2}"conversation_id": "/)
    expect(r.stdout).toContain("── row 2 ·")
    expect(r.stdout).not.toContain("── row 3")
    expect(r.stdout).toMatch(/"content": ".{20}… \(\d[\d,]* more chars\)"/)
    // a pipeline run writes a gzip jsonl sink folder
    const file = join(work, "head.pipeline.yaml")
    writeFileSync(
      file,
      `name: head\nsource: { type: parquet, path: data/data/train-*.parquet }\nstages:\n  - use: core/first-turn\nsink: { type: jsonl, path: out-head, compression: gzip, shard_rows: 500 }\n`
    )
    expect((await synthline(["run", file])).code).toBe(0)
    const sink = await synthline(["head", join(work, "out-head"), "-n", "3", "--fields", "conversation_id,conversation.0.role"])
    expect(sink.code).toBe(0)
    expect(sink.stdout).toMatch(/── row 1 · .*part-00000\.jsonl\.gz #1\n\{\n {2}"conversation_id": "[0-9a-f]+",\n {2}"conversation\.0\.role": "user"\n\}/)
    const lines = await synthline(["head", join(work, "out-head", "part-00001.jsonl.gz"), "-n", "1", "--json", "--fields", "turn"])
    expect(lines.stdout).toBe('{"turn":1}\n')
    const none = await synthline(["head", join(work, "head.pipeline.yaml")])
    expect(none.code).toBe(2)
    expect(none.stderr).toContain("not a .jsonl, .jsonl.gz, .parquet or .gpg file")
    // five CLI processes from source through tsx: over a minute on a loaded 2-core machine
  }, 180_000)

  it("validate, plan and run refuse a source path matching no file: file:line, the near folder, no output", async () => {
    const file = join(work, "typo.pipeline.yaml")
    writeFileSync(
      file,
      `name: typo\nsource: { type: parquet, path: dat/data/train-*.parquet }\nstages:\n  - use: core/first-turn\nsink: { type: jsonl, path: out-typo }\n`
    )
    for (const c of ["validate", "plan", "run"]) {
      const r = await synthline([c, file])
      expect(r.code, c).toBe(2)
      expect(r.stderr, c).toMatch(
        /^error: .*typo\.pipeline\.yaml:2:32: source path dat\/data\/train-\*\.parquet: no file matches this pattern \(under .*\); did you mean data\/data\/train-\*\.parquet\?$/m
      )
    }
    expect(existsSync(join(work, "out-typo"))).toBe(false)
  })

  it("head opens .gpg parts with the key of --source, and says what to pass without it", async () => {
    const file = join(work, "enc.pipeline.yaml")
    writeFileSync(
      file,
      `name: enc\nsource: { type: parquet, path: data/data/train-*.parquet }\nstages:\n  - use: core/first-turn\nsink: { type: jsonl, path: out-enc, compression: gzip, encrypt: source-key }\n`
    )
    expect((await synthline(["run", file])).code).toBe(0)
    const part = join(work, "out-enc", "part-00000.jsonl.gz.gpg")
    const r = await synthline(["head", part, "-n", "1", "--fields", "conversation_id", "--source", data])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/── row 1 · .*part-00000\.jsonl\.gz\.gpg #1\n\{\n {2}"conversation_id": "[0-9a-f]{32}"\n\}/)
    const folder = await synthline(["head", join(work, "out-enc"), "-n", "1", "--fields", "turn", "--source", data, "--json"])
    expect(folder.stdout).toBe('{"turn":1}\n')
    const missing = await synthline(["head", part])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain("is encrypted: pass --source DIR")
  })
})

import { describe, expect, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import * as YAML from "yaml"
import { gunzipSync, gzipSync } from "node:zlib"
import { gzipParts, readParts, repoRoot, killAfterUnits, synthline, tempDir, tree } from "./support.js"

const work = tempDir("cli")
const data = join(work, "data")

/**
 * Runs `make` once, on first use, and hands every caller its result: a test that needs sample
 * data or the reference run makes it when it runs alone (`vitest -t merge`), and a run of the
 * whole file makes each once.
 */
const once = <A>(make: () => Promise<A>): (() => Promise<A>) => {
  let made: Promise<A> | undefined
  return () => {
    made ??= make()
    return made
  }
}

/** The sample data in `data` (12,000 rows in 2 files of 1,000-row row groups), made once. */
const sampleData = once(() => synthline(["sample", "--rows", "12000", "--shards", "2", "--seed", "5", "--row-group-rows", "1000", "--out", data]))
const needData = async (): Promise<void> => {
  const r = await sampleData()
  expect(r.code, r.stderr).toBe(0)
}

const pipelineFile = (name: string, out: string, extra = "") => {
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
${extra}sink: { type: jsonl, path: ${out}, compression: gzip, shard_rows: 3000 }
`
  )
  return file
}

/** The reference run into `out-run` (pipeline `run`), made once; the other runs compare with it. */
const referenceRun = once(async () => {
  await needData()
  return synthline(["run", pipelineFile("run", "out-run")])
})
const needReference = async (): Promise<void> => {
  const r = await referenceRun()
  expect(r.code, r.stderr).toBe(0)
}

describe("synthline CLI", () => {
  it("prints help with every command and exits 0", async () => {
    const r = await synthline(["--help"])
    expect(r.code).toBe(0)
    for (const c of ["run", "validate", "plan", "stages", "schema", "merge", "sample", "release-key", "decrypt"]) expect(r.stdout).toContain(c)
  })

  it("generates sample data in the LMSYS layout", async () => {
    const r = await sampleData()
    // Progress on stderr (a line per 10% off a terminal), nothing else.
    expect(r.stderr).toMatch(/^(sample: [\d,]+\/12,000 conversations \(\d+%\)\n)+$/)
    expect(r.code).toBe(0)
    expect(readdirSync(join(data, "data")).sort()).toEqual(["train-00000-of-00002.parquet", "train-00001-of-00002.parquet"])
    expect(existsSync(join(data, "pii_truth.jsonl"))).toBe(true)
  })

  it("validate: exit 2 with file:line:column and a suggestion for a typo", async () => {
    await needData()
    const file = pipelineFile("typo", "out-typo")
    writeFileSync(file, readFileSync(file, "utf8").replace("core/first-turn", "core/frist-turn"))
    const r = await synthline(["validate", file])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/typo\.pipeline\.yaml:7:10: stage core\/frist-turn: unknown stage core\/frist-turn — did you mean core\/first-turn\?/)
    const ok = await synthline(["validate", pipelineFile("ok", "out-ok")])
    expect(ok.code).toBe(0)
    expect(ok.stdout).toContain("valid")
  })

  it("plan shows the chain and fails on unmet requires", async () => {
    await needData()
    const ok = await synthline(["plan", pipelineFile("plan", "out-plan")])
    expect(ok.code).toBe(0)
    expect(ok.stdout).toMatch(/core\/dedup\s+requires \[conversation_id, conversation\.0\.content\] provides \[duplicate_user_instruction\]/)
    const bad = pipelineFile("plan-bad", "out-plan-bad", "  - use: core/dedup\n    field: translated_conversation.0.content\n")
    const r = await synthline(["plan", bad])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("requires field translated_conversation.0.content")
  })

  it("stages --json lists every core stage with options, and schema is a JSON Schema", async () => {
    const r = await synthline(["stages", "--json"])
    expect(r.code).toBe(0)
    const stages: Array<{ id: string; options: Array<{ name: string }> }> = JSON.parse(r.stdout)
    expect(stages.map((s) => s.id)).toEqual(
      expect.arrayContaining(["core/select", "core/first-turn", "core/dedup", "core/limit", "core/sample", "core/fields"])
    )
    expect(stages.find((s) => s.id === "core/dedup")!.options.map((o) => o.name)).toEqual(expect.arrayContaining(["field", "output", "drop"]))
    const schema = JSON.parse((await synthline(["schema"])).stdout)
    expect(schema.required).toEqual(["name", "source", "stages", "sink"])
    expect(JSON.stringify(schema)).toContain("core/select")
  })

  it("run writes output, manifest with checksums, and a rerun is a no-op", async () => {
    const file = pipelineFile("run", "out-run")
    const r = await referenceRun()
    expect(r.code, r.stderr).toBe(0)
    const out = join(work, "out-run")
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"))
    expect(manifest.status).toBe("complete")
    expect(manifest.source.rows_read).toBe(12000)
    const rows = readParts(out, gzipParts)
    expect(rows.length).toBe(manifest.outputs.main.rows)
    expect(rows.every((row) => (row.conversation as Array<unknown>).length === 1)).toBe(true)
    expect(rows.every((row) => row.language === "English" || row.language === "Japanese")).toBe(true)
    const select = manifest.stages.find((s: { id: string }) => s.id === "core/select")
    expect(select.rows_in).toBe(12000)
    expect(select.dropped.language).toBe(12000 - select.rows_out)
    const files = tree(out)
    for (const f of manifest.outputs.main.files) expect(files[f.path]).toBe(f.sha256)
    const card = readFileSync(join(out, "README.md"), "utf8")
    const info = YAML.parse(card.split("---\n")[1]!).dataset_info
    expect(info.splits).toEqual([{ name: "train", num_examples: rows.length }])
    expect(card).toContain("## Recipe")
    const again = await synthline(["run", file])
    expect(again.code).toBe(0)
    expect(again.stderr).toContain("already complete")
  })

  it("release: encrypted parts open with gpg and the key from release-key; decrypt round-trips; the key is logged nowhere", async () => {
    await needReference()
    const file = pipelineFile("enc", "out-enc, encrypt: source-key")
    const r = await synthline(["run", file])
    expect(r.code).toBe(0)
    const out = join(work, "out-enc")
    const parts = readdirSync(out).filter((f) => f.startsWith("part-")).sort()
    expect(parts).toEqual(readdirSync(join(work, "out-run")).filter((f) => f.startsWith("part-")).sort().map((f) => `${f}.gpg`))

    const keyRun = await synthline(["release-key", "--source", data])
    expect(keyRun.code).toBe(0)
    const key = keyRun.stdout.trim()
    expect(key).toMatch(/^[0-9a-f]{64}$/)
    // (Renamed, shuffled and reformatted copies giving the same key: test/Release.test.ts in core.)

    // The real gpg opens every part; together they are the rows of the plain run.
    const home = join(work, "gnupg")
    mkdirSync(home, { recursive: true, mode: 0o700 })
    const plain = parts.map((f) => {
      const g = spawnSync("gpg", ["--homedir", home, "--batch", "--quiet", "--passphrase", key, "-d", join(out, f)], { maxBuffer: 256 * 1024 * 1024 })
      expect(g.status).toBe(0)
      return g.stdout
    })
    const rows = plain.flatMap((b) => gunzipSync(b).toString("utf8").split("\n").filter((l) => l !== ""))
    expect(rows).toEqual(readParts(join(work, "out-run"), gzipParts).map((row) => JSON.stringify(row)))

    // synthline decrypt gives the same bytes; a wrong source fails without output.
    const target = join(work, "decrypted.jsonl.gz")
    const d = await synthline(["decrypt", join(out, parts[0]!), "--source", data, "--out", target])
    expect(d.code).toBe(0)
    expect(readFileSync(target).equals(plain[0]!)).toBe(true)
    const wrongSource = join(work, "wrong-source")
    mkdirSync(wrongSource, { recursive: true })
    writeFileSync(join(wrongSource, "a.jsonl"), `${JSON.stringify({ conversation_id: "x", conversation: [{ role: "user", content: "hi" }] })}\n`)
    const wrong = await synthline(["decrypt", join(out, parts[0]!), "--source", wrongSource, "--out", join(work, "wrong.jsonl.gz")])
    expect(wrong.code).toBe(1)
    expect(existsSync(join(work, "wrong.jsonl.gz"))).toBe(false)

    // The key appears in no log, manifest, card, state file or error.
    const card = readFileSync(join(out, "README.md"), "utf8")
    expect(YAML.parse(card.split("---\n")[1]!).configs[0].data_files).toEqual([{ split: "train", path: "part-*.jsonl.gz.gpg" }])
    for (const text of [r.stdout, r.stderr, d.stdout, d.stderr, wrong.stdout, wrong.stderr, keyRun.stderr]) expect(text).not.toContain(key)
    const walk = (dir: string): Array<string> =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]))
    for (const f of walk(out).filter((f) => !f.endsWith(".gpg"))) expect(readFileSync(f, "utf8")).not.toContain(key)
    rmSync(home, { recursive: true, force: true })
  }, 180_000)

  it("the union of --shard 0/3..2/3 equals the unsharded output, and merge joins the manifests", async () => {
    await needReference()
    const whole = readParts(join(work, "out-run"), gzipParts).map((r) => JSON.stringify(r))
    const file = pipelineFile("sharded", "out-sharded")
    // dedup is stateful; drop it so shards are comparable row by row.
    writeFileSync(file, readFileSync(file, "utf8").replace(/ {2}- use: core\/dedup\n {4}output: duplicate_user_instruction\n/, ""))
    const unsharded = pipelineFile("unsharded", "out-unsharded")
    writeFileSync(unsharded, readFileSync(file, "utf8").replace("out-sharded", "out-unsharded"))
    expect((await synthline(["run", unsharded])).code).toBe(0)
    for (const i of [0, 1, 2]) expect((await synthline(["run", file, "--shard", `${i}/3`])).code).toBe(0)
    expect(existsSync(join(work, "out-sharded", "README.md"))).toBe(false)
    const union = readParts(join(work, "out-sharded"), gzipParts).map((r) => JSON.stringify(r)).sort()
    const reference = readParts(join(work, "out-unsharded"), gzipParts).map((r) => JSON.stringify(r)).sort()
    expect(union.length).toBe(reference.length)
    expect(union).toEqual(reference)
    expect(whole.length).toBe(reference.length)
    const m = await synthline(["merge", join(work, "out-sharded")])
    expect(m.code).toBe(0)
    const merged = JSON.parse(readFileSync(join(work, "out-sharded", "manifest.json"), "utf8"))
    expect(merged.source.rows_read).toBe(12000)
    expect(merged.outputs.main.rows).toBe(reference.length)
    expect(merged.merged_from).toHaveLength(3)
    // merge writes the dataset card of the joined output: every shard's parts, all rows.
    const card = YAML.parse(readFileSync(join(work, "out-sharded", "README.md"), "utf8").split("---\n")[1]!)
    expect(card.dataset_info.splits).toEqual([{ name: "train", num_examples: reference.length }])
    expect(card.configs[0].data_files).toEqual([{ split: "train", path: "part-*.jsonl.gz" }])
    expect(merged.outputs.main.files.map((f: { path: string }) => f.path)).toEqual(
      readdirSync(join(work, "out-sharded")).filter((f) => /^part-.*\.jsonl\.gz$/.test(f)).sort()
    )
  })

  it("--json prints one machine-readable event per line, from start to finish", async () => {
    await needData()
    const r = await synthline(["run", pipelineFile("json", "out-json"), "--json"])
    expect(r.code).toBe(0)
    const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l))
    expect(events[0]).toMatchObject({ type: "start", name: "json", units: 12, resumed: false })
    expect(events.filter((e) => e.type === "unit")).toHaveLength(12)
    expect(events.at(-1)).toMatchObject({ type: "finish", status: "complete", snapshot: { rowsRead: 12000 } })
  })

  it("SLURM_ARRAY_TASK_ID selects the shard like --shard", async () => {
    await needData()
    const file = pipelineFile("slurm", "out-slurm")
    const r = await synthline(["run", file], { SLURM_ARRAY_TASK_ID: "1", SLURM_ARRAY_TASK_COUNT: "3" })
    expect(r.code).toBe(0)
    expect(existsSync(join(work, "out-slurm", "manifest-00001-of-00003.json"))).toBe(true)
  })

  it("resumes after kill -9 with output byte-for-byte equal to an uninterrupted run", async () => {
    await needReference()
    const reference = tree(join(work, "out-run"))
    const file = pipelineFile("killed", "out-killed")
    const out = join(work, "out-killed")
    const markers = join(out, "_state/run/units")
    for (const after of [2, 7]) {
      await killAfterUnits(["run", file], markers, after)
      expect(existsSync(join(out, "manifest.json"))).toBe(false)
    }
    const r = await synthline(["run", file])
    expect(r.code).toBe(0)
    expect(r.stderr).toContain("resuming")
    const { "README.md": _card, ...resumedFiles } = tree(out)
    const { "README.md": _refCard, ...referenceFiles } = reference
    expect(resumedFiles).toEqual(referenceFiles)
    // The dataset card (features, sizes, statistics) equals the uninterrupted run's, up to the pipeline's name.
    const card = (dir: string) => readFileSync(join(dir, "README.md"), "utf8").replace(/\b[0-9a-f]{64}\b/g, "<hash>")
    expect(card(out).replaceAll("killed", "run")).toBe(card(join(work, "out-run")))
    const m = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"))
    const ref = JSON.parse(readFileSync(join(work, "out-run", "manifest.json"), "utf8"))
    expect(m.stages).toEqual(ref.stages)
    expect(m.resumed).toBe(true)
  }, 120_000)

  it("a different pipeline into the same sink folder is refused; --fresh starts over", async () => {
    await needData()
    // Its own folder, so the reference run stays as the other tests expect it.
    const file = pipelineFile("fresh", "out-fresh")
    expect((await synthline(["run", file])).code).toBe(0)
    writeFileSync(file, readFileSync(file, "utf8").replace("seed: 3", "seed: 4"))
    const r = await synthline(["run", file])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("holds a run of a different pipeline")
    expect((await synthline(["run", file, "--fresh"])).code).toBe(0)
  })

  it("bad input: rejects with file and line, exit 1 past --max-errors, 0 within", async () => {
    await needReference()
    const dir = join(work, "bad")
    const lines = readParts(join(work, "out-run"), gzipParts).slice(0, 5).map((r) => JSON.stringify(r))
    const input = [lines[0], "{not json", lines[1], JSON.stringify({ ...JSON.parse(lines[2]!), turn: "two" }), lines[3]].join("\n")
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, "in.jsonl"), `${input}\n`)
    const file = join(work, "bad.pipeline.yaml")
    writeFileSync(file, `name: bad\nsource: { type: jsonl, path: bad/in.jsonl }\nstages: []\nsink: { type: jsonl, path: out-bad, compression: none }\n`)
    const strict = await synthline(["run", file])
    expect(strict.code).toBe(1)
    expect(strict.stderr).toContain("more than --max-errors 0")
    const lenient = await synthline(["run", file, "--fresh", "--max-errors", "5"])
    expect(lenient.code).toBe(0)
    const rejects = readdirSync(join(work, "out-bad/rejects"))
      .flatMap((f) => readFileSync(join(work, "out-bad/rejects", f), "utf8").split("\n"))
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l))
    expect(rejects.map((r) => [r.stage, r.source.file, r.source.line])).toEqual([
      ["source", "bad/in.jsonl", 2],
      ["source", "bad/in.jsonl", 4]
    ])
    expect(rejects[1].error).toMatch(/turn/)
  })

  it("the quickstart example validates from the repo", async () => {
    await needData()
    // The source path must match files: point it at the sample data made above.
    const r = await synthline(["validate", join(repoRoot, "examples/quickstart.pipeline.yaml")], { SYNTHLINE_DATA: data })
    expect(r.code, r.stderr).toBe(0)
  })
})

describe("synthline CLI: pipeline-file checks before any work (issue 16)", () => {
  const dir16 = tempDir("issue16")
  const file16 = (name: string, text: string): string => {
    const f = join(dir16, `${name}.pipeline.yaml`)
    writeFileSync(f, text)
    return f
  }
  const chain = (name: string, out: string, stages: string, extra = "") =>
    file16(
      name,
      `name: ${name}
seed: 3
${extra}source: { type: parquet, path: "data/data/train-*.parquet" }
stages:
  - use: core/select
    languages: [English, Japanese]
  - use: core/first-turn
${stages}sink: { type: jsonl, path: ${out}, compression: gzip, shard_rows: 700 }
`
    )
  /** The sample data in `dir16/data`, made once (see `once`). */
  const sample16 = once(() => synthline(["sample", "--rows", "3000", "--seed", "9", "--row-group-rows", "250", "--out", join(dir16, "data")]))
  const needData16 = async (): Promise<void> => {
    const r = await sample16()
    expect(r.code, r.stderr).toBe(0)
  }
  const noTrace = (text: string) => {
    expect(text).not.toMatch(/FiberFailure|^\s+at /m)
    expect(text.trim().split("\n").length).toBeLessThan(4)
  }

  it("makes sample data", async () => {
    await needData16()
    expect(readdirSync(join(dir16, "data", "data")).filter((f) => f.endsWith(".parquet"))).toHaveLength(1)
  })

  it("validate and run refuse a stage whose required field nothing provides: exit 2, file:line:column and the stage, no output", async () => {
    await needData16()
    const f = chain("unmet", "out-unmet", "  - use: core/dedup\n    field: translated_conversation.0.content\n")
    for (const command of ["validate", "run"]) {
      const r = await synthline([command, f])
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr).toMatch(
        /^error: .*unmet\.pipeline\.yaml:8:5: stage core\/dedup: requires field translated_conversation\.0\.content, which no earlier stage provides/
      )
      expect(r.stdout).not.toContain("valid")
      noTrace(r.stderr)
    }
    expect(existsSync(join(dir16, "out-unmet"))).toBe(false)
    // The field provided by an earlier stage under its options: valid.
    const ok = chain("met", "out-met", "  - use: core/dedup\n    output: dup\n  - use: core/dedup\n    field: dup\n")
    expect((await synthline(["validate", ok])).code).toBe(0)
    const dropped = chain("dropped", "out-dropped", "  - use: core/dedup\n    output: dup\n    drop: true\n  - use: core/dedup\n    field: dup\n")
    expect((await synthline(["validate", dropped])).stderr).toContain("stage core/dedup#2: requires field dup")
  }, 120_000)

  it("every example pipeline in examples/ validates", async () => {
    await needData16()
    // Source paths must match files: the sample data made above, and a stand-in for the output
    // of the recipe that the SFT export reads.
    const recipeOut = join(dir16, "recipe-out")
    mkdirSync(recipeOut, { recursive: true })
    writeFileSync(join(recipeOut, "part-00000.jsonl.gz"), gzipSync(""))
    const env = {
      VLLM_URL: "http://127.0.0.1:1",
      JUDGE_URL: "http://127.0.0.1:1",
      SYNTHLINE_MODEL: join(dir16, "model.gguf"),
      DEEPL_AUTH_KEY: "k:fx",
      SYNTHLINE_DATA: join(dir16, "data"),
      SYNTHLINE_OUT: recipeOut
    }
    const files = readdirSync(join(repoRoot, "examples")).filter((f) => f.endsWith(".pipeline.yaml"))
    expect(files.length).toBeGreaterThanOrEqual(4)
    for (const f of files) {
      const r = await synthline(["validate", join(repoRoot, "examples", f)], env)
      expect(r.code, `${f}: ${r.stderr}`).toBe(0)
    }
  }, 120_000)

  it("a YAML alias bomb is a pipeline-file error: exit 2, file:line, no stack trace", async () => {
    const levels = ["a", "b", "c", "d", "e", "f", "g", "h"]
    const bomb = levels
      .map((l, i) => `${l}: &${l} [${i === 0 ? Array(9).fill('"lol"').join(", ") : Array(9).fill(`*${levels[i - 1]}`).join(", ")}]`)
      .join("\n")
    const f = file16("bomb", `name: bomb\n${bomb}\nsource: { type: jsonl, path: x.jsonl }\nstages: []\nsink: { type: jsonl, path: out-bomb }\n`)
    for (const command of ["validate", "plan", "run"]) {
      const r = await synthline([command, f])
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(/^error: .*bomb\.pipeline\.yaml:3:\d+: refused: its YAML aliases expand more than 100 times \(an alias bomb/)
      noTrace(r.stderr)
    }
  }, 120_000)

  it("a pipeline file over 2 MiB is refused at once with its size", async () => {
    const f = file16("huge", `name: huge\nsource: { type: jsonl, path: x.jsonl }\nstages:\n  - use: core/select\n    languages:\n${"      - English\n".repeat(400_000)}sink: { type: jsonl, path: out }\n`)
    const started = Date.now()
    const r = await synthline(["validate", f])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^error: .*huge\.pipeline\.yaml: the pipeline file is 6\.1 MiB \(\d+ bytes\), more than the 2\.0 MiB a pipeline file may have/)
    expect(Date.now() - started).toBeLessThan(20_000)
  })

  it("a mistyped secret is not printed in the validation error", async () => {
    const f = file16(
      "key",
      `name: key
plugins: ["@synthline/llm"]
source: { type: jsonl, path: x.jsonl }
models:
  m: { model: x, endpoints: ["http://127.0.0.1:1/v1"], api_key: [sk-live-0123456789abcdef] }
stages: []
sink: { type: jsonl, path: out }
`
    )
    const r = await synthline(["validate", f])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/key\.pipeline\.yaml:5:\d+: invalid section models: m\.api_key must be a string, actual a list \(not shown: the value is a secret\)/)
    expect(r.stderr + r.stdout).not.toContain("sk-live")
  })

  it("a sink folder moved elsewhere resumes with the new path and ends byte-identical to an uninterrupted run", async () => {
    await needData16()
    const route = "  - use: core/select\n    languages: [English]\n    route: others\n"
    const branches = (out: string) => `branches:\n  others: { type: jsonl, path: ${out}-others, compression: none }\n`
    const make = (name: string, out: string) => {
      const f = chain(name, out, route)
      writeFileSync(f, `${readFileSync(f, "utf8").replace(`name: ${name}`, "name: moved")}${branches(out)}`)
      return f
    }
    const reference = make("reference", "out-reference")
    expect((await synthline(["run", reference])).code).toBe(0)

    const first = make("first", "out-first")
    const markers = join(dir16, "out-first/_state/run/units")
    await killAfterUnits(["run", first], markers, 3)
    expect(existsSync(join(dir16, "out-first/manifest.json"))).toBe(false)
    // Copied to a "bigger disk", with its branch folder; the pipeline now names the new place.
    mkdirSync(join(dir16, "moved"), { recursive: true })
    for (const suffix of ["", "-others"]) spawnSync("cp", ["-a", join(dir16, `out-first${suffix}`), join(dir16, `moved/out${suffix}`)])
    const moved = make("moved", "moved/out")
    const r = await synthline(["run", moved])
    expect(r.stderr).not.toContain("different pipeline")
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain("resuming")
    const strip = ({ "README.md": _card, ...files }: Record<string, string>) => files
    expect(strip(tree(join(dir16, "moved/out")))).toEqual(strip(tree(join(dir16, "out-reference"))))
    // (The dataset cards quote the pipeline file, which names the paths.)
    expect(strip(tree(join(dir16, "moved/out-others")))).toEqual(strip(tree(join(dir16, "out-reference-others"))))
    expect(readParts(join(dir16, "moved/out-others")).length).toBeGreaterThan(0)
    // Complete: a rerun from the new place is a no-op, and a changed output option is another pipeline.
    expect((await synthline(["run", moved])).stderr).toContain("already complete")
    writeFileSync(moved, readFileSync(moved, "utf8").replace("shard_rows: 700", "shard_rows: 800"))
    const changed = await synthline(["run", moved])
    expect(changed.code).toBe(2)
    expect(changed.stderr).toContain("holds a run of a different pipeline")
  }, 120_000)

  it("warns (stderr, and --json) when a route sends rows around a pii stage; the run still works", async () => {
    await needData16()
    const f = chain(
      "routed",
      "out-routed",
      "  - use: moderation/filter\n    action: route\n    route: unsafe\n  - use: pii/redact\n",
      'plugins: ["@synthline/plugin-moderation", "@synthline/plugin-pii"]\n'
    )
    writeFileSync(f, `${readFileSync(f, "utf8")}branches:\n  unsafe: { type: jsonl, path: out-routed-unsafe }\n`)
    const warning =
      /warning: .*routed\.pipeline\.yaml:9:5: stage moderation\/filter: routes rows to branch unsafe before pii\/redact \(line 12\), which the main path passes: the branch receives personal data unredacted/
    for (const command of ["validate", "plan"]) {
      const r = await synthline([command, f])
      expect(r.code, r.stderr).toBe(0)
      expect(r.stderr).toMatch(warning)
    }
    const plan = await synthline(["plan", "--json", f])
    expect(JSON.parse(plan.stdout).warnings).toEqual([
      { stage: "moderation/filter", line: 9, column: 5, message: expect.stringContaining("the branch receives personal data unredacted") }
    ])
    const run = await synthline(["run", "--json", f])
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).toMatch(warning)
    const events = run.stdout.trim().split("\n").map((l) => JSON.parse(l))
    expect(events.filter((e) => e.type === "warning").map((e) => e.message)).toEqual([expect.stringContaining("before pii/redact (line 12)")])
    // Redacting before the route: no warning.
    const safe = chain(
      "redacted-first",
      "out-safe",
      "  - use: pii/redact\n  - use: moderation/filter\n    action: route\n    route: unsafe\n",
      'plugins: ["@synthline/plugin-moderation", "@synthline/plugin-pii"]\n'
    )
    writeFileSync(safe, `${readFileSync(safe, "utf8")}branches:\n  unsafe: { type: jsonl, path: out-safe-unsafe }\n`)
    expect((await synthline(["plan", safe])).stderr).not.toContain("warning")
  }, 120_000)
})

import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Schema, Stream } from "effect"
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet"
import { gzipSync } from "node:zlib"
import { type LmsysRecord, LmsysRecord as LmsysRecordSchema, moderationCategories, piiTypes } from "@synthline/core/Record"
import * as Sample from "../src/Sample.js"

// ---------------------------------------------------------------------------------------------
// Helpers

const tempDir = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "synthline-sample-" }))

const decodeRecord = Schema.decodeUnknownSync(LmsysRecordSchema)

/** Reads every row of a parquet file as LMSYS records (INT64 `turn` arrives as a bigint). */
const readParquet = (file: string): Effect.Effect<ReadonlyArray<LmsysRecord>> =>
  Effect.promise(async () => {
    const rows = await parquetReadObjects({ file: await asyncBufferFromFile(file) })
    return rows.map((r) => decodeRecord({ ...r, turn: typeof r.turn === "bigint" ? Number(r.turn) : r.turn }))
  })

const readLines = (file: string): Effect.Effect<ReadonlyArray<unknown>, unknown, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFileString(file)).pipe(
    Effect.map((text) =>
      text
        .split("\n")
        .filter((l) => l.length > 0)
        .map((l): unknown => JSON.parse(l))
    )
  )

/** Reads all data files of a sample, in shard order. */
const readSample = (dir: string, summary: Sample.SampleSummary) =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const out: Array<LmsysRecord> = []
    for (const f of summary.files) {
      const file = path.join(dir, f.path)
      const rows = summary.format === "parquet" ? yield* readParquet(file) : (yield* readLines(file)).map((r) => decodeRecord(r))
      out.push(...rows)
    }
    return out
  })

const luhn = (value: string): boolean => {
  const d = value.replace(/\D/g, "")
  let sum = 0
  for (let i = 0; i < d.length; i++) {
    let x = Number(d[d.length - 1 - i])
    if (i % 2 === 1) {
      x *= 2
      if (x > 9) x -= 9
    }
    sum += x
  }
  return sum % 10 === 0
}

const ibanValid = (value: string): boolean => {
  const s = value.replace(/\s/g, "")
  const moved = s.slice(4) + s.slice(0, 4)
  const digits = moved.replace(/[A-Z]/g, (c) => String(c.charCodeAt(0) - 55))
  return BigInt(digits) % 97n === 1n
}

const PiiLine = Schema.Struct({
  conversation_id: Schema.String,
  turn: Schema.Number,
  type: Schema.String,
  subtype: Schema.String,
  start: Schema.Number,
  end: Schema.Number,
  value: Schema.String,
  valid: Schema.optional(Schema.Boolean)
})

// ---------------------------------------------------------------------------------------------

describe("Sample.generate", () => {
  it.scoped("writes LMSYS-Chat-1M's layout: sharded train files, pii_truth.jsonl and sample.json", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* tempDir
      const summary = yield* Sample.generate({ rows: 1000, out: dir, format: "parquet", shards: 6, seed: 1 })

      expect(yield* fs.readDirectory(`${dir}/data`).pipe(Effect.map((names) => [...names].sort()))).toEqual([
        "train-00000-of-00006.parquet",
        "train-00001-of-00006.parquet",
        "train-00002-of-00006.parquet",
        "train-00003-of-00006.parquet",
        "train-00004-of-00006.parquet",
        "train-00005-of-00006.parquet"
      ])
      expect(summary.files.map((f) => f.rows)).toEqual([166, 167, 167, 166, 167, 167])
      expect(yield* fs.exists(`${dir}/pii_truth.jsonl`)).toBe(true)
      for (const f of summary.files) {
        const info = yield* fs.stat(`${dir}/${f.path}`)
        expect(Number(info.size)).toBe(f.bytes)
      }

      const recorded = JSON.parse(yield* fs.readFileString(`${dir}/sample.json`))
      expect(recorded).toMatchObject({ rows: 1000, seed: 1, format: "parquet", piiSpans: summary.piiSpans, files: summary.files })
      expect(Object.values(summary.languages).reduce((a, b) => a + b, 0)).toBe(1000)

      // Rows are split contiguously: the shards, read in order, are rows 0..999 of the generator.
      const rows = yield* readSample(dir, summary)
      expect(rows.map((r) => r.conversation_id)).toEqual([...Sample.records(1, 1000)].map((r) => r.conversation_id))
    }).pipe(Effect.provide(NodeContext.layer))
  )

  it.scoped("is deterministic: same seed, same bytes; another seed, other bytes", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const [a, b, c] = [yield* tempDir, yield* tempDir, yield* tempDir]
      const options = { rows: 1500, format: "parquet" as const, shards: 2, rowGroupRows: 400 }
      const sa = yield* Sample.generate({ ...options, out: a, seed: 42 })
      yield* Sample.generate({ ...options, out: b, seed: 42 })
      yield* Sample.generate({ ...options, out: c, seed: 43 })
      for (const file of [...sa.files.map((f) => f.path), "pii_truth.jsonl", "sample.json"]) {
        const bytesA = yield* fs.readFile(`${a}/${file}`)
        expect(Buffer.from(yield* fs.readFile(`${b}/${file}`)).equals(bytesA), file).toBe(true)
        if (file.endsWith(".parquet")) expect(Buffer.from(yield* fs.readFile(`${c}/${file}`)).equals(bytesA), file).toBe(false)
      }
    }).pipe(Effect.provide(NodeContext.layer))
  )

  it.scoped("writes parquet with LMSYS-Chat-1M's schema, row groups and snappy pages, readable by hyparquet", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const summary = yield* Sample.generate({ rows: 2500, out: dir, format: "parquet", shards: 1, seed: 5, rowGroupRows: 1000 })
      const file = `${dir}/${summary.files[0].path}`
      const metadata = yield* Effect.promise(async () => parquetMetadataAsync(await asyncBufferFromFile(file)))

      expect(metadata.num_rows).toBe(2500n)
      expect(metadata.row_groups.map((g) => g.num_rows)).toEqual([1000n, 1000n, 500n])
      const leaves = metadata.row_groups[0].columns.map((c) => c.meta_data?.path_in_schema.join("."))
      expect(leaves).toEqual([
        "conversation_id",
        "model",
        "conversation.list.element.content",
        "conversation.list.element.role",
        "turn",
        "language",
        ...moderationCategories.map((c) => `openai_moderation.list.element.categories.${c}`),
        ...moderationCategories.map((c) => `openai_moderation.list.element.category_scores.${c}`),
        "openai_moderation.list.element.flagged",
        "redacted"
      ])
      const types = Object.fromEntries(metadata.schema.filter((e) => e.type !== undefined).map((e) => [e.name, e.type]))
      expect(types).toMatchObject({ conversation_id: "BYTE_ARRAY", content: "BYTE_ARRAY", turn: "INT64", harassment: "DOUBLE", flagged: "BOOLEAN", redacted: "BOOLEAN" })
      expect(metadata.row_groups[0].columns[2].meta_data?.codec).toBe("SNAPPY")
      expect(metadata.key_value_metadata?.map((kv) => kv.key)).toContain("huggingface")

      // Every row decodes as an LMSYS record (nested conversation and openai_moderation objects)
      // and equals what the generator yields for the same seed.
      const rows = yield* readSample(dir, summary)
      expect(rows).toHaveLength(2500)
      expect(rows).toEqual([...Sample.records(5, 2500)])
      expect(Object.keys(rows[0].openai_moderation[0].categories)).toEqual([...moderationCategories])
    }).pipe(Effect.provide(NodeContext.layer))
  )

  it.scoped("writes JSON lines equal to the parquet rows for the same seed", () =>
    Effect.gen(function* () {
      const [p, j] = [yield* tempDir, yield* tempDir]
      const sp = yield* Sample.generate({ rows: 1200, out: p, format: "parquet", shards: 2, seed: 9, rowGroupRows: 500 })
      const sj = yield* Sample.generate({ rows: 1200, out: j, format: "jsonl", shards: 2, seed: 9, rowGroupRows: 500 })
      expect(sj.files.map((f) => f.path)).toEqual(["data/train-00000-of-00002.jsonl", "data/train-00001-of-00002.jsonl"])
      expect(yield* readSample(j, sj)).toEqual(yield* readSample(p, sp))
      expect(sj.piiSpans).toBe(sp.piiSpans)
    }).pipe(Effect.provide(NodeContext.layer))
  )

  it.scoped("records every planted personal-data span exactly, with checksum validity", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const summary = yield* Sample.generate({ rows: 6000, out: dir, format: "jsonl", shards: 1, seed: 11 })
      const rows = yield* readSample(dir, summary)
      const byId = new Map(rows.map((r) => [r.conversation_id, r]))
      const spans = (yield* readLines(`${dir}/pii_truth.jsonl`)).map((l) => Schema.decodeUnknownSync(PiiLine)(l))

      expect(spans).toHaveLength(summary.piiSpans)
      for (const s of spans) {
        const content = byId.get(s.conversation_id)?.conversation[s.turn].content
        expect(content?.slice(s.start, s.end)).toBe(s.value)
      }
      const types = new Set(spans.map((s) => s.type))
      expect([...types].sort()).toEqual(["API_KEY", "CREDIT_CARD", "CRYPTO", "EMAIL", "IBAN", "IP_ADDRESS", "PHONE", "URL", "US_SSN"])

      const cards = spans.filter((s) => s.type === "CREDIT_CARD")
      expect(cards.some((s) => s.valid === false)).toBe(true)
      for (const c of cards) expect(luhn(c.value), c.value).toBe(c.valid)
      const ibans = spans.filter((s) => s.type === "IBAN")
      expect(ibans.some((s) => s.valid === false)).toBe(true)
      for (const i of ibans) expect(ibanValid(i.value), i.value).toBe(i.valid)

      // About 2-5% of conversations carry personal data.
      const share = new Set(spans.map((s) => s.conversation_id)).size / rows.length
      expect(share).toBeGreaterThan(0.02)
      expect(share).toBeLessThan(0.05)
    }).pipe(Effect.provide(NodeContext.layer))
  )

  it.scoped("writes text about as compressible as real chat (gzip ≈ 3:1), records the ratio in sample.json, and keeps the PII truth exact", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* tempDir
      const summary = yield* Sample.generate({ rows: 5000, out: dir, format: "jsonl", shards: 1, seed: 0 })
      const recorded = JSON.parse(yield* fs.readFileString(`${dir}/sample.json`))
      expect(recorded.gzipRatio).toEqual(summary.gzipRatio)

      // The recorded ratios are those of the written rows: JSON lines as in the data file, and the message text.
      const data = yield* fs.readFile(`${dir}/${summary.files[0].path}`)
      const rows = yield* readSample(dir, summary)
      const text = Buffer.from(rows.flatMap((r) => r.conversation.map((m) => `${m.content}\n`)).join(""))
      const ratio = (b: Uint8Array) => Math.round((100 * b.length) / gzipSync(b, { level: 6 }).length) / 100
      expect(summary.gzipRatio).toEqual({ rows: 5000, level: 6, jsonLines: ratio(data), text: ratio(text) })
      // Real chat text gzips about 3:1 (the phrase-bank text of earlier samples: 9.3:1).
      expect(summary.gzipRatio!.jsonLines).toBeGreaterThanOrEqual(2.7)
      expect(summary.gzipRatio!.jsonLines).toBeLessThanOrEqual(3.5)
      expect(summary.gzipRatio!.text).toBeGreaterThanOrEqual(2.5)
      expect(summary.gzipRatio!.text).toBeLessThanOrEqual(3.5)

      // A large vocabulary with a Zipf-like head: many distinct words, the commonest far more frequent than the median.
      const words = new Map<string, number>()
      for (const r of rows) {
        if (r.language !== "English") continue
        for (const m of r.conversation) for (const w of m.content.toLowerCase().split(/[^a-z]+/)) if (w.length > 0) words.set(w, (words.get(w) ?? 0) + 1)
      }
      const freq = [...words.values()].sort((a, b) => b - a)
      expect(words.size).toBeGreaterThan(20_000)
      expect(freq[0]).toBeGreaterThan(100 * freq[Math.floor(freq.length / 2)])

      // The planted personal data still sits exactly at the recorded offsets.
      const byId = new Map(rows.map((r) => [r.conversation_id, r]))
      const spans = (yield* readLines(`${dir}/pii_truth.jsonl`)).map((l) => Schema.decodeUnknownSync(PiiLine)(l))
      expect(spans.length).toBe(summary.piiSpans)
      expect(spans.length).toBeGreaterThan(100)
      for (const s of spans) expect(byId.get(s.conversation_id)?.conversation[s.turn].content.slice(s.start, s.end)).toBe(s.value)
    }).pipe(Effect.provide(NodeContext.layer)),
    { timeout: 60_000 }
  )

  it.effect("records no gzip ratio for an empty sample", () =>
    Effect.gen(function* () {
      const dir = yield* Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectory({ prefix: "synthline-sample-" }))
      const summary = yield* Sample.generate({ rows: 0, out: dir, format: "jsonl", shards: 1, seed: 0 })
      expect(summary.gzipRatio).toBeUndefined()
      yield* Effect.flatMap(FileSystem.FileSystem, (fs) => fs.remove(dir, { recursive: true }))
    }).pipe(Effect.provide(NodeContext.layer))
  )

  it.effect("rejects bad options with a SampleError", () =>
    Effect.gen(function* () {
      const bad = [
        { rows: -1, shards: 1, seed: 0 },
        { rows: 10, shards: 0, seed: 0 },
        { rows: 10, shards: 1, seed: 0.5 }
      ]
      for (const o of bad) {
        const result = yield* Effect.either(Sample.generate({ ...o, out: "/nonexistent/never", format: "parquet" }))
        expect(Either.isLeft(result) && result.left._tag).toBe("SampleError")
      }
    }).pipe(Effect.provide(NodeContext.layer))
  )

  it.scoped("generates in bounded memory: 100k rows cost about the same RSS as 20k", () =>
    Effect.gen(function* () {
      const peakDuring = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        Effect.gen(function* () {
          let peak = process.memoryUsage().rss
          const timer = setInterval(() => {
            peak = Math.max(peak, process.memoryUsage().rss)
          }, 20)
          yield* Effect.ensuring(effect, Effect.sync(() => clearInterval(timer)))
          return Math.max(peak, process.memoryUsage().rss)
        })
      const small = yield* peakDuring(Sample.generate({ rows: 20_000, out: yield* tempDir, format: "parquet", shards: 1, seed: 3 }))
      const large = yield* peakDuring(Sample.generate({ rows: 100_000, out: yield* tempDir, format: "parquet", shards: 2, seed: 3 }))
      // Holding 100k conversations would take over 600 MB (20k of them hold 126 MB of heap).
      expect((large - small) / 2 ** 20).toBeLessThan(150)
    }).pipe(Effect.provide(NodeContext.layer)),
    { timeout: 120_000 }
  )
})

describe("Sample.records", () => {
  it("plants personal data of exactly the types it lists, all from core's table of type names", () => {
    expect(Sample.plantedPiiTypes.length).toBe(9)
    expect(Sample.plantedPiiTypes.filter((t) => !piiTypes.includes(t))).toEqual([])
    const seen = new Set([...Sample.rows(5, 10_000)].flatMap((r) => r.pii.map((p) => p.type)))
    expect([...seen].sort()).toEqual([...Sample.plantedPiiTypes].sort())
  })

  it("makes row i depend only on (seed, i)", () => {
    const all = [...Sample.records(7, 40)]
    expect([...Sample.records(7, 15, 25)]).toEqual(all.slice(25))
    expect(Sample.row(7, 33).record).toEqual(all[33])
    expect(Sample.row(8, 33).record.conversation_id).not.toBe(all[33].conversation_id)
  })

  it.effect("streams the same records", () =>
    Effect.gen(function* () {
      const streamed = yield* Stream.runCollect(Sample.stream(2, 3000))
      expect(Chunk.toReadonlyArray(streamed)).toEqual([...Sample.records(2, 3000)])
    })
  )

  it("models LMSYS-Chat-1M's statistics on 20k rows", () => {
    const n = 20_000
    const rows = [...Sample.rows(2024, n)]
    const count = <A>(xs: ReadonlyArray<A>, p: (x: A) => boolean) => xs.reduce((c, x) => c + (p(x) ? 1 : 0), 0)
    const records = rows.map((r) => r.record)

    // Shape: alternating roles, two messages per turn, one moderation result per message;
    // flagged exactly when a category is, with a high score on flagged categories.
    const malformed = records.filter(
      (r) =>
        !/^[0-9a-f]{32}$/.test(r.conversation_id) ||
        r.conversation.length !== 2 * r.turn ||
        r.openai_moderation.length !== r.conversation.length ||
        r.conversation.some((m, i) => m.role !== (i % 2 === 0 ? "user" : "assistant")) ||
        r.openai_moderation.some(
          (m) =>
            m.flagged !== moderationCategories.some((c) => m.categories[c]) ||
            moderationCategories.some((c) => {
              const x = m.category_scores[c]
              return !(x >= 0 && x <= 1) || (m.categories[c] && x < 0.5)
            })
        )
    )
    expect(malformed).toEqual([])

    // Languages: mostly English, real text in the other scripts.
    const english = count(records, (r) => r.language === "English") / n
    expect(english).toBeGreaterThan(0.7)
    expect(english).toBeLessThan(0.85)
    const text = (language: string) => records.filter((r) => r.language === language).map((r) => r.conversation[1].content).join("")
    expect(text("Japanese")).toMatch(/[\u3040-\u30ff]/)
    expect(text("Japanese")).toMatch(/[\u4e00-\u9fff]/)
    expect(text("Chinese")).toMatch(/[\u4e00-\u9fff]/)
    expect(text("Russian")).toMatch(/[\u0400-\u04ff]/)
    expect(text("Korean")).toMatch(/[\uac00-\ud7af]/)
    // Free text, not only the banks' phrases, is written in the language's script.
    const scriptShare = (language: string, script: RegExp) => {
      const letters = [...text(language).replace(/NAME_\d+/g, "")].filter((c) => /\p{L}/u.test(c))
      return letters.filter((c) => script.test(c)).length / letters.length
    }
    const scripts: ReadonlyArray<readonly [string, RegExp]> = [
      ["Japanese", /[\u3040-\u30ff\u4e00-\u9fff]/],
      ["Chinese", /[\u4e00-\u9fff]/],
      ["Russian", /[\u0400-\u04ff]/],
      ["Korean", /[\uac00-\ud7af]/],
      ["Arabic", /[\u0600-\u06ff]/],
      ["Hindi", /[\u0900-\u097f]/],
      ["Thai", /[\u0e00-\u0e7f]/]
    ]
    for (const [language, script] of scripts) expect(scriptShare(language, script), language).toBeGreaterThan(0.9)
    for (const l of ["Portuguese", "Spanish", "German", "French", "Italian", "Arabic", "Polish", "Dutch", "Vietnamese", "Indonesian", "Turkish"]) {
      expect(count(records, (r) => r.language === l), l).toBeGreaterThan(0)
    }

    // Models: the 25 arena models, vicuna-13b first.
    const models = new Map<string, number>()
    for (const r of records) models.set(r.model, (models.get(r.model) ?? 0) + 1)
    expect(models.size).toBe(25)
    expect([...models].sort((a, b) => b[1] - a[1])[0][0]).toBe("vicuna-13b")

    // Turns: mean about 2, a long tail.
    const meanTurns = records.reduce((s, r) => s + r.turn, 0) / n
    expect(meanTurns).toBeGreaterThan(1.6)
    expect(meanTurns).toBeLessThan(2.6)
    expect(Math.max(...records.map((r) => r.turn))).toBeGreaterThanOrEqual(8)

    // Lengths: ~70-token prompts, ~215-token answers (English, ~4 characters a token), a long tail, some empty prompts.
    const users = records.filter((r) => r.language === "English").flatMap((r) => r.conversation.filter((m) => m.role === "user"))
    const answers = records.filter((r) => r.language === "English").flatMap((r) => r.conversation.filter((m) => m.role === "assistant"))
    const meanChars = (ms: ReadonlyArray<{ readonly content: string }>) => ms.reduce((s, m) => s + m.content.length, 0) / ms.length
    expect(meanChars(users) / 4).toBeGreaterThan(45)
    expect(meanChars(users) / 4).toBeLessThan(110)
    expect(meanChars(answers) / 4).toBeGreaterThan(150)
    expect(meanChars(answers) / 4).toBeLessThan(300)
    expect(records.some((r) => r.conversation.some((m) => m.content.length > 20_000))).toBe(true)
    expect(count(records, (r) => r.conversation[0].content.trim() === "")).toBeGreaterThan(20)

    // Moderation: a few percent flagged, every category somewhere.
    const flagged = count(records, (r) => r.openai_moderation.some((m) => m.flagged)) / n
    expect(flagged).toBeGreaterThan(0.01)
    expect(flagged).toBeLessThan(0.1)
    for (const c of moderationCategories) {
      expect(records.some((r) => r.openai_moderation.some((m) => m.categories[c])), c).toBe(true)
    }

    // Redaction leaves NAME_n placeholders.
    const redacted = records.filter((r) => r.redacted)
    expect(redacted.length / n).toBeGreaterThan(0.02)
    expect(count(redacted, (r) => r.conversation.some((m) => /NAME_\d/.test(m.content))) / redacted.length).toBeGreaterThan(0.9)
    expect(count(records, (r) => !r.redacted && r.conversation.some((m) => /NAME_\d/.test(m.content)))).toBe(0)

    // Templates, above all the chemical company introduction.
    const intro = /^Give me an introduction over 200 words for .+, a chemical company in .+$/
    expect(count(records, (r) => intro.test(r.conversation[0].content))).toBeGreaterThanOrEqual(20)
    expect(count(records, (r) => /^Write an article about the .+ of .+ in chemical industry$/.test(r.conversation[0].content))).toBeGreaterThanOrEqual(20)
    expect(count(rows, (r) => r.template === "company introduction")).toBeGreaterThanOrEqual(count(records, (r) => intro.test(r.conversation[0].content)))

    // Duplicates: exact and near (case/whitespace) repeats of first instructions.
    const seen = new Set<string>()
    const seenNorm = new Set<string>()
    let exact = 0
    let near = 0
    for (const r of records) {
      const first = r.conversation[0].content
      if (first.trim() === "") continue
      const norm = first.toLowerCase().replace(/\s+/g, " ").trim()
      if (seen.has(first)) exact++
      else if (seenNorm.has(norm)) near++
      seen.add(first)
      seenNorm.add(norm)
    }
    expect(exact / n).toBeGreaterThan(0.01)
    expect(exact / n).toBeLessThan(0.12)
    expect(near).toBeGreaterThan(50)
  })
})

describe("near-duplicate families and benchmark prompts (nearDuplicates)", () => {
  it("leaves every other row as it is without the option, and plants families whose later rows edit the first", () => {
    const plain = [...Sample.rows(7, 3000)]
    const planted = [...Sample.rows(7, 3000, 0, { nearDuplicates: true })]
    const families = new Map<number, Array<Sample.SampleRow>>()
    let benchmarkRows = 0
    for (let i = 0; i < plain.length; i++) {
      const p = planted[i]!.planted
      if (p === undefined) expect(planted[i]).toEqual(plain[i])
      else if (p.kind === "benchmark") {
        benchmarkRows++
        const item = Sample.benchmark.find((b) => b.question_id === p.item)!
        expect(planted[i]!.record.conversation[0]!.content).toContain(item.turns[0])
      } else {
        expect(planted[i]!.record.conversation_id).toBe(plain[i]!.record.conversation_id)
        families.set(p.family, [...(families.get(p.family) ?? []), planted[i]!])
      }
    }
    expect(families.size).toBeGreaterThan(5)
    expect(benchmarkRows).toBeGreaterThanOrEqual(0)
    for (const members of families.values()) {
      const [first, ...rest] = members
      expect(first!.planted).toMatchObject({ edit: "base" })
      for (const m of rest) {
        expect(m.planted).toMatchObject({ kind: "near-duplicate", first: plain.indexOf(plain.find((r) => r.record.conversation_id === first!.record.conversation_id)!) })
        expect(Sample.truthOf(7, m)).toMatchObject({ first: first!.record.conversation_id })
        expect(m.record.conversation[0]!.content).not.toBe("")
        expect(m.record.redacted).toBe(false)
        expect(m.pii).toEqual([])
      }
    }
    // Row i depends on (seed, i) only.
    expect(Sample.row(7, 2999, { nearDuplicates: true })).toEqual(planted[2999])
  })

  it.scoped("writes the truth files and the benchmark beside the data, and nothing extra without the option", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* tempDir
      const on = yield* Sample.generate({ rows: 2000, out: `${dir}/on`, format: "jsonl", shards: 1, seed: 3, nearDuplicates: true })
      const truth = (yield* readLines(`${dir}/on/${Sample.nearDuplicatesTruthFile}`)) as Array<Sample.NearDuplicateTruth>
      expect(truth.length).toBe(on.nearDuplicates!.rows)
      expect(truth.filter((t) => t.first !== t.conversation_id).length).toBe(on.nearDuplicates!.duplicates)
      expect((yield* readLines(`${dir}/on/${Sample.benchmarkFile}`)).length).toBe(Sample.benchmark.length)
      expect(yield* fs.exists(`${dir}/on/${Sample.benchmarkTruthFile}`)).toBe(true)
      const off = yield* Sample.generate({ rows: 200, out: `${dir}/off`, format: "jsonl", shards: 1, seed: 3 })
      expect(off.nearDuplicates).toBeUndefined()
      expect(yield* fs.exists(`${dir}/off/${Sample.nearDuplicatesTruthFile}`)).toBe(false)
    }).pipe(Effect.provide(NodeContext.layer))
  )
})

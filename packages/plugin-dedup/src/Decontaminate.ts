/**
 * `dedup/decontaminate`: finds rows whose instruction shares an n-gram with a prompt of an
 * evaluation benchmark (13 words, or 25 characters for text written without spaces — the
 * datatrove/GPT-3 style of n-gram decontamination) and flags them with the benchmark and item
 * that matched, or drops them (`contaminated`; add `route:` to send them to a branch).
 *
 * The benchmark files are the user's (JSON lines or parquet, with a field path to the prompt: a
 * string or a list of strings such as MT-Bench's `turns`). They are read when the stage is made
 * — a missing file or a bad line stops the run before any row is processed — and their n-grams
 * go into one hash set (64-bit keys made of two 32-bit MurmurHash3 values). Matching a row costs
 * one set lookup per n-gram of its text: linear in the input, independent of the benchmark size.
 */
import type { FileSystem as FS, Path } from "@effect/platform"
import * as FileSystem from "@effect/platform/FileSystem"
import { errorText, StageError } from "@synthline/core/Errors"
import { describeValue, getPath, parsePath, type Row } from "@synthline/core/Row"
import * as Source from "@synthline/core/Source"
import { core, doc, make, mapChunks, type Stage } from "@synthline/core/Stage"
import { Chunk, Effect, Schema, Stream } from "effect"
import { basename, extname, isAbsolute, join } from "node:path"
import { FieldName, FieldPath, top } from "./internal/shared.js"
import { hashSeq, murmur3, unitOf } from "./MinHash.js"

const BenchmarkSchema = Schema.Struct({
  path: Schema.NonEmptyString.pipe(
    doc("The benchmark file (`.jsonl`/`.json` JSON lines or `.parquet`), relative to the pipeline file's folder.")
  ),
  name: Schema.optionalWith(
    Schema.NonEmptyString.pipe(doc("Name reported in the output field (default: the file name without extension).")),
    { exact: true }
  ),
  field: Schema.optionalWith(
    FieldPath.pipe(doc("Dotted path of the prompt in each benchmark item: a string or a list of strings (all are used).")),
    { exact: true, default: () => "turns" }
  ),
  id_field: Schema.optionalWith(
    FieldPath.pipe(
      doc("Dotted path of the item's id, reported with a match (default `question_id`; the line or row number when missing).")
    ),
    { exact: true, default: () => "question_id" }
  )
})

const DecontaminateConfigSchema = Schema.Struct({
  benchmarks: Schema.Array(BenchmarkSchema).pipe(Schema.minItems(1), doc("The evaluation benchmarks to decontaminate against.")),
  field: Schema.optionalWith(
    FieldPath.pipe(doc("Dotted path of the row text checked.")),
    { exact: true, default: () => "conversation.0.content" }
  ),
  output: Schema.optionalWith(
    FieldName.pipe(doc("Field that receives `{benchmark, item, ngram}` of the first match, or null.")),
    { exact: true, default: () => "contamination" }
  ),
  action: Schema.optionalWith(
    Schema.Literal("flag", "drop").pipe(
      doc("`flag` writes the output field and keeps every row; `drop` also drops matching rows (reason `contaminated`; with `route:` they go to that branch, output field included).")
    ),
    { exact: true, default: () => "flag" as const }
  ),
  tokens: Schema.optionalWith(
    Schema.Literal("auto", "word", "char").pipe(
      doc("n-gram unit: `auto` uses characters for text written without spaces and words otherwise.")
    ),
    { exact: true, default: () => "auto" as const }
  ),
  ngram: Schema.optionalWith(
    Schema.Int.pipe(Schema.between(1, 64), doc("Words per n-gram.")),
    { exact: true, default: () => 13 }
  ),
  char_ngram: Schema.optionalWith(
    Schema.Int.pipe(Schema.between(1, 256), doc("Characters per n-gram, for text written without spaces.")),
    { exact: true, default: () => 25 }
  ),
  normalize: Schema.optionalWith(
    Schema.Literal("whitespace-case", "exact").pipe(
      doc("`whitespace-case`: NFKC and lowercase before cutting n-grams; `exact`: as written. Punctuation never counts.")
    ),
    { exact: true, default: () => "whitespace-case" as const }
  )
})

/** Options of `dedup/decontaminate`, decoded. */
export type DecontaminateConfig = typeof DecontaminateConfigSchema.Type
/** Options of `dedup/decontaminate`, as written in a pipeline file. */
export type DecontaminateOptions = typeof DecontaminateConfigSchema.Encoded

/** What the output field holds for a contaminated row. */
export const Contamination = Schema.Struct({
  benchmark: Schema.String,
  item: Schema.Union(Schema.String, Schema.Number),
  ngram: Schema.String
})
/** What the output field holds for a contaminated row. */
export type Contamination = typeof Contamination.Type

/** One benchmark prompt: where it came from and its text. */
export interface BenchmarkPrompt {
  readonly benchmark: string
  readonly item: string | number
  readonly text: string
}

const TOKEN = /[\p{L}\p{N}\p{M}]+/gu
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u

/** 52 bits of two 32-bit hashes, exact in a double: the key of an n-gram in the set. */
const key = (h1: number, h2: number): number => (h1 >>> 0) * 0x100000 + (h2 >>> 12)

interface Gram {
  readonly key: number
  /** UTF-16 range of the n-gram in the text it was cut from. */
  readonly start: number
  readonly end: number
}

/** The tokens of a text with their offsets. */
const tokensOf = (text: string): { readonly words: Array<string>; readonly starts: Array<number> } => {
  const words: Array<string> = []
  const starts: Array<number> = []
  for (const m of text.matchAll(TOKEN)) {
    words.push(m[0])
    starts.push(m.index)
  }
  return { words, starts }
}

/** Calls `f` with every word n-gram of length `n` (or the whole text when shorter and `whole`). */
const wordGrams = (text: string, lengths: ReadonlyArray<number>, f: (g: Gram) => boolean): void => {
  const { words, starts } = tokensOf(text)
  if (words.length === 0) return
  const hs = new Int32Array(words.length)
  for (let i = 0; i < words.length; i++) hs[i] = murmur3(words[i]!, 2)
  for (const n of lengths) {
    for (let i = 0; i + n <= words.length; i++) {
      const g = { key: key(hashSeq(hs, i, n, 11), hashSeq(hs, i, n, 12)), start: starts[i]!, end: starts[i + n - 1]! + words[i + n - 1]!.length }
      if (f(g)) return
    }
  }
}

/** Calls `f` with every character n-gram of the text's letters, for each length. */
const charGrams = (text: string, lengths: ReadonlyArray<number>, f: (g: Gram) => boolean): void => {
  // Letters with their offsets in the original text.
  let s = ""
  const pos: Array<number> = []
  for (const m of text.matchAll(TOKEN)) {
    s += m[0]
    for (let k = 0; k < m[0].length; k++) pos.push(m.index + k)
  }
  for (const n of lengths) {
    for (let i = 0; i + n <= s.length; i++) {
      const g = { key: key(murmur3(s, 21, i, i + n), murmur3(s, 22, i, i + n)), start: pos[i]!, end: pos[i + n - 1]! + 1 }
      if (f(g)) return
    }
  }
}

/** The n-gram sets of a list of benchmark prompts. */
export class BenchmarkIndex {
  private readonly word = new Map<number, number>()
  private readonly char = new Map<number, number>()
  private readonly wordLengths: Array<number>
  private readonly charLengths: Array<number>
  /** Prompts too short to index (fewer than half an n-gram of tokens). */
  readonly skipped: Array<BenchmarkPrompt> = []

  constructor(
    readonly prompts: ReadonlyArray<BenchmarkPrompt>,
    private readonly config: Pick<DecontaminateConfig, "ngram" | "char_ngram" | "tokens" | "normalize">
  ) {
    const norm = this.normalize
    const wl = new Set([config.ngram])
    const cl = new Set([config.char_ngram])
    for (let i = 0; i < prompts.length; i++) {
      const p = prompts[i]!
      const t = norm(p.text)
      const unit = unitOf(t, config.tokens)
      if (unit === "word") {
        const count = t.match(TOKEN)?.length ?? 0
        if (count < Math.ceil(config.ngram / 2)) {
          this.skipped.push(p)
          continue
        }
        const n = Math.min(count, config.ngram)
        wl.add(n)
        wordGrams(t, [n], (g) => {
          if (!this.word.has(g.key)) this.word.set(g.key, i)
          return false
        })
      } else {
        const count = (t.match(TOKEN) ?? []).join("").length
        if (count < Math.ceil(config.char_ngram / 2)) {
          this.skipped.push(p)
          continue
        }
        const n = Math.min(count, config.char_ngram)
        cl.add(n)
        charGrams(t, [n], (g) => {
          if (!this.char.has(g.key)) this.char.set(g.key, i)
          return false
        })
      }
    }
    this.wordLengths = [...wl].sort((a, b) => b - a)
    this.charLengths = [...cl].sort((a, b) => b - a)
  }

  private get normalize(): (s: string) => string {
    return this.config.normalize === "exact" ? (s) => s : core.normalizeText
  }

  /** Distinct n-grams held. */
  get size(): number {
    return this.word.size + this.char.size
  }

  /** The first benchmark n-gram found in `text`, or `undefined`. */
  match(text: string): Contamination | undefined {
    const t = this.normalize(text)
    let found: { prompt: number; start: number; end: number } | undefined
    const take = (map: Map<number, number>) => (g: Gram) => {
      const p = map.get(g.key)
      if (p === undefined) return false
      found = { prompt: p, start: g.start, end: g.end }
      return true
    }
    if (this.word.size > 0 && this.config.tokens !== "char") wordGrams(t, this.wordLengths, take(this.word))
    if (found === undefined && this.char.size > 0 && this.config.tokens !== "word" && (this.config.tokens === "char" || CJK.test(t))) {
      charGrams(t, this.charLengths, take(this.char))
    }
    if (found === undefined) return undefined
    const p = this.prompts[found.prompt]!
    return { benchmark: p.benchmark, item: p.item, ngram: t.slice(found.start, found.end) }
  }
}

const errorOf = (stage: string) => (reason: string) => new StageError({ stage, reason })

/** Reads the prompts of one benchmark file; a bad line or a missing field fails with file and line. */
const readBenchmark = (
  stage: string,
  baseDir: string,
  b: DecontaminateConfig["benchmarks"][number]
): Effect.Effect<Array<BenchmarkPrompt>, StageError, FS.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fail = errorOf(stage)
    const file = isAbsolute(b.path) ? b.path : join(baseDir, b.path)
    const name = b.name ?? basename(b.path, extname(b.path))
    const fieldKeys = parsePath(b.field)
    const idKeys = parsePath(b.id_field)
    const out: Array<BenchmarkPrompt> = []
    const take = (item: unknown, where: string, fallbackId: number): StageError | undefined => {
      const v = getPath(item, fieldKeys)
      const texts = typeof v === "string" ? [v] : Array.isArray(v) && v.every((x) => typeof x === "string") ? (v as Array<string>) : undefined
      if (texts === undefined) {
        return fail(`benchmark ${where}: field \`${b.field}\` is ${describeValue(v)}; expected a string or a list of strings`)
      }
      const idv = getPath(item, idKeys)
      const id = typeof idv === "string" || typeof idv === "number" ? idv : fallbackId
      for (const text of texts) out.push({ benchmark: name, item: id, text })
      return undefined
    }
    if (extname(file).toLowerCase() === ".parquet") {
      const sc = Schema.decodeUnknownSync(Source.parquet.config)({ path: file, validate: "none" })
      const env = { baseDir, columns: [top(b.field), top(b.id_field)] }
      const units = yield* Source.parquet.plan(sc, env).pipe(Effect.mapError((e) => fail(`benchmark ${b.path}: ${e.message}`)))
      let rowNo = 0
      for (const unit of units) {
        yield* Source.parquet.read(unit, sc, { reject: () => undefined }, env).pipe(
          Stream.runForEachChunk((c) =>
            Effect.suspend(() => {
              for (const row of Chunk.toReadonlyArray(c)) {
                const e = take(row, `${b.path}#${rowNo}`, rowNo)
                rowNo++
                if (e !== undefined) return Effect.fail(e)
              }
              return Effect.void
            })
          ),
          Effect.mapError((e) => (e instanceof StageError ? e : fail(`benchmark ${b.path}: ${e.message}`)))
        )
      }
      return out
    }
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(file).pipe(
      Effect.mapError((e) => fail(`benchmark ${b.path}: cannot read ${file}: ${e._tag === "SystemError" && e.reason === "NotFound" ? "no such file" : e.message}`))
    )
    const lines = text.split("\n")
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim()
      if (line === "") continue
      let item: unknown
      try {
        item = JSON.parse(line)
      } catch (e) {
        return yield* fail(`benchmark ${b.path}:${i + 1}: not valid JSON (${errorText(e)})`)
      }
      const e = take(item, `${b.path}:${i + 1}`, i + 1)
      if (e !== undefined) return yield* e
    }
    if (out.length === 0) return yield* fail(`benchmark ${b.path}: no prompts in ${file}`)
    return out
  })

/** `dedup/decontaminate` */
export const decontaminate: Stage<DecontaminateConfig, Row, Row, FS.FileSystem | Path.Path, DecontaminateOptions> = make({
  id: "dedup/decontaminate",
  description:
    "Flag (or drop) rows whose instruction shares a 13-word (or 25-character) n-gram with a prompt of an evaluation benchmark, naming the benchmark and item.",
  config: DecontaminateConfigSchema,
  requires: (c) => [top(c.field)],
  reads: [],
  provides: (c) => [c.output],
  fields: (c): { readonly [name: string]: Schema.Schema.Any } => ({ [c.output]: Schema.NullOr(Contamination) }),
  make: (config, ctx) =>
    Effect.gen(function* () {
      const prompts: Array<BenchmarkPrompt> = []
      for (const b of config.benchmarks) prompts.push(...(yield* readBenchmark(ctx.stageId, ctx.baseDir, b)))
      const index = new BenchmarkIndex(prompts, config)
      if (index.size === 0) {
        return yield* new StageError({
          stage: ctx.stageId,
          reason: `every benchmark prompt is shorter than half an n-gram (${Math.ceil(config.ngram / 2)} words or ${Math.ceil(config.char_ngram / 2)} characters): nothing to match`
        })
      }
      const keys = parsePath(config.field)
      const output = config.output
      const dropping = config.action === "drop"
      return mapChunks<Row, Row>((row) => {
        const v = getPath(row, keys)
        if (v === undefined || v === null) return { ...row, [output]: null }
        if (typeof v !== "string") {
          ctx.reject(row, `field \`${config.field}\` is ${describeValue(v)}; expected a string`)
          return undefined
        }
        const m = index.match(v)
        if (m === undefined) return { ...row, [output]: null }
        const marked = { ...row, [output]: m }
        if (dropping) return void ctx.drop(marked, "contaminated")
        return marked
      })
    })
})

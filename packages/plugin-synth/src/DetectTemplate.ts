/**
 * `synth/detect-template`: `is_template_instruction` — a label, or null. Each instruction is
 * reduced to a skeleton ({@link skeleton}: numbers, quoted strings, URLs, e-mail addresses,
 * placeholders and capitalized words inside a sentence replaced). A skeleton that matches a
 * pattern of `labels` belongs to that label's family (shipped: LMSYS's "introduction over 200
 * words for <company>, a chemical company in <place>" family → `company introduction`, and the
 * other large LMSYS families); an instruction whose family — or, without a matching pattern,
 * whose skeleton — occurs at least `min_count` times in the dataset is a template, labelled with
 * the family's name or else with the skeleton text itself.
 *
 * Two passes, bounded memory: when the stage is made, it reads the pipeline's own source (all of
 * it, whatever the shard: the stage context's `source`) — or, when set, the dataset named by
 * `counts_from` (a core source type, `jsonl` or `parquet`; for a run that must count a larger
 * dataset than it reads) — once and counts skeleton hashes in a count-min sketch of fixed size (4 × 2^20 counters, 16 MB; counts
 * are never under-estimated, and over-estimated by about rows × 2.7 / 2^20 at most with high
 * probability). Then the row stream is labelled. Because the first pass always covers the whole
 * dataset, every shard of a sharded run and every resumed run sees the same counts and gives
 * the same labels; no state is journaled (the pass is simply repeated on resume).
 */
import { errorText, StageError } from "@synthline/core/Errors"
import type { Row } from "@synthline/core/Row"
import type { SourceDefinition, SourceEnv } from "@synthline/core/Source"
import * as Source from "@synthline/core/Source"
import { doc, make, mapChunks, type Stage } from "@synthline/core/Stage"
import type { FileSystem, Path } from "@effect/platform"
import { Effect, Schema, Stream } from "effect"
import { createHash } from "node:crypto"
import { stringAt, top } from "./internal/shared.js"

/** The shipped labels: skeleton patterns and their names. */
export const defaultLabels: ReadonlyArray<{ readonly pattern: string; readonly label: string }> = [
  { pattern: "introduction (?:of |with )?(?:over |about |at least )?N words for .*company", label: "company introduction" },
  { pattern: "^write an article about .* N(?:-N)? words in (?:the )?chemical industry", label: "chemical article" },
  { pattern: "^say something \\w+: Q when", label: "say something" },
  { pattern: "^you are the text completion model", label: "text completion" }
]

const QUOTED = /"[^"\n]{1,200}"|“[^”\n]{1,200}”|「[^」\n]{1,200}」|'[^'\n]{2,200}'/g
const URL = /https?:\/\/\S+/g
const EMAIL = /\b[\w.+-]+@[\w-]+\.[\w.-]+\b/g
const PLACEHOLDER = /\b[A-Z][A-Z0-9]*_\d+\b/g
const NUMBER = /\d+(?:[.,]\d+)*/g
const PROPER = /\b[A-Z][\w&'’-]*(?:[ ,.]*[A-Z][\w&'’-]*)*\.?/g

/**
 * The skeleton of an instruction: quoted strings → Q, URLs → U, e-mails → E, placeholders → P,
 * runs of capitalized words not starting a sentence (with a leading `the`) → X, numbers → N; lowercased, whitespace collapsed.
 */
export const skeleton = (text: string): string =>
  text
    .replace(QUOTED, " \uE001 ")
    .replace(URL, " \uE002 ")
    .replace(EMAIL, " \uE003 ")
    .replace(PLACEHOLDER, " \uE004 ")
    .replace(PROPER, (m, offset: number, all: string) => {
      const before = all.slice(0, offset).trimEnd()
      const sentenceStart = before === "" || /[.!?:\n]$/.test(before)
      if (!sentenceStart) return " \uE005 "
      const sp = m.indexOf(" ")
      return sp < 0 ? m : `${m.slice(0, sp)} \uE005 `
    })
    .replace(NUMBER, "\uE006")
    .toLowerCase()
    .replace(/\uE005(?:[\s,.]*\uE005)+/g, "\uE005")
    .replace(/\bthe\s+\uE005/g, "\uE005")
    .replace(/[\uE001-\uE006]/g, (c) => "QUEPXN"[c.charCodeAt(0) - 0xe001]!)
    .replace(/\s+/g, " ")
    .replace(/ ([,.;:!?])/g, "$1")
    .trim()

const DEPTH = 4
const WIDTH_BITS = 20

/** A count-min sketch over skeleton hashes: fixed memory, counts never under-estimated. */
export class CountMin {
  private readonly rows = Array.from({ length: DEPTH }, () => new Uint32Array(1 << WIDTH_BITS))
  private static slots(s: string): ReadonlyArray<number> {
    const h = createHash("md5").update(s).digest()
    return Array.from({ length: DEPTH }, (_, i) => h.readUInt32LE(i * 4) >>> (32 - WIDTH_BITS))
  }
  /** Counts one occurrence. */
  add(s: string): void {
    const slots = CountMin.slots(s)
    for (let i = 0; i < DEPTH; i++) this.rows[i]![slots[i]!]!++
  }
  /** The (over-)estimated count. */
  estimate(s: string): number {
    const slots = CountMin.slots(s)
    let min = Number.MAX_SAFE_INTEGER
    for (let i = 0; i < DEPTH; i++) min = Math.min(min, this.rows[i]![slots[i]!]!)
    return min
  }
}

const DetectTemplateConfigSchema = Schema.Struct({
  field: Schema.optionalWith(Schema.String.pipe(doc("Dotted path of the instruction (in the rows and in counts_from).")), {
    default: () => "conversation.0.content"
  }),
  output: Schema.optionalWith(Schema.String.pipe(doc("Field that receives the label or null.")), {
    default: () => "is_template_instruction"
  }),
  min_count: Schema.optionalWith(
    Schema.Int.pipe(Schema.positive(), doc("A skeleton occurring at least this often in the dataset is a template.")),
    { default: () => 20 }
  ),
  labels: Schema.optionalWith(
    Schema.Array(Schema.Struct({ pattern: Schema.String, label: Schema.String })).pipe(
      doc("Skeleton patterns (regular expressions, case-insensitive) and their labels, tried in order.")
    ),
    { default: () => defaultLabels }
  ),
  counts_from: Schema.optional(
    Schema.Struct({
      type: Schema.Literal("jsonl", "parquet").pipe(doc("Source type of the dataset counted in the first pass.")),
      path: Source.InputPaths.pipe(doc("Files or globs of the dataset."))
    }).pipe(
      doc("The dataset whose skeletons are counted in the first pass (read once when the stage starts). Default: the pipeline's own source, all of it whatever the shard; set it when the counts must cover a larger dataset than the pipeline reads.")
    )
  )
})

/** Options of `synth/detect-template`. */
export type DetectTemplateConfig = typeof DetectTemplateConfigSchema.Type

/** `synth/detect-template` */
export const detectTemplate: Stage<
  DetectTemplateConfig,
  Row,
  Row,
  FileSystem.FileSystem | Path.Path,
  typeof DetectTemplateConfigSchema.Encoded
> = make({
  id: "synth/detect-template",
  description: "Labels template instructions (is_template_instruction) by skeletons recurring min_count times in the dataset (two passes, bounded memory).",
  config: DetectTemplateConfigSchema,
  requires: (c) => [top(c.field)],
  provides: (c) => [c.output],
  fields: (c) => ({ [c.output]: Schema.NullOr(Schema.String) }),
  make: (config, ctx) =>
    Effect.gen(function* () {
      const labels = yield* Effect.try({
        try: () => config.labels.map((l) => ({ re: new RegExp(l.pattern, "i"), label: l.label })),
        catch: (e) => new StageError({ stage: ctx.stageId, reason: `labels: ${errorText(e)}` })
      })
      const sketch = new CountMin()
      const familyOf = (s: string): string => {
        const named = labels.find((l) => l.re.test(s))
        return named !== undefined ? `\u0000${named.label}` : s
      }
      const count = (row: Row): void => {
        const t = stringAt(row, config.field)
        if (t !== undefined && t.trim() !== "") sketch.add(familyOf(skeleton(t)))
      }
      const io = { reject: () => undefined }
      /** The first pass: every unit of `source`, in order, each row counted. */
      const countAll = <C>(source: SourceDefinition<C>, sc: C, env: SourceEnv, what: string) => {
        const fail = (e: { readonly message: string }) => new StageError({ stage: ctx.stageId, reason: `${what}: ${e.message}` })
        return Effect.gen(function* () {
          const units = yield* source.plan(sc, env).pipe(Effect.mapError(fail))
          const started = Date.now()
          let rows = 0
          for (const [k, unit] of units.entries()) {
            yield* source.read(unit, sc, io, env).pipe(
              Stream.runForEach((row) =>
                Effect.sync(() => {
                  rows++
                  count(row)
                })
              ),
              Effect.mapError(fail)
            )
            ctx.progress?.(`counting ${what}: units ${k + 1}/${units.length} · ${rows.toLocaleString("en-US")} rows`)
          }
          const secs = ((Date.now() - started) / 1000).toFixed(1)
          ctx.progress?.(`counted the texts of ${rows.toLocaleString("en-US")} rows of ${what} in ${secs}s`, true)
        })
      }
      const env = { baseDir: ctx.baseDir }
      if (config.counts_from?.type === "jsonl") {
        const sc = Schema.decodeUnknownSync(Source.jsonl.config)({ path: config.counts_from.path, validate: "none" })
        yield* countAll(Source.jsonl, sc, env, "counts_from")
      } else if (config.counts_from?.type === "parquet") {
        const sc = Schema.decodeUnknownSync(Source.parquet.config)({ path: config.counts_from.path, validate: "none" })
        yield* countAll(Source.parquet, sc, { ...env, columns: [top(config.field)] }, "counts_from")
      } else if (ctx.source !== undefined) {
        // The pipeline's own source, planned whole (a shard of a sharded run counts every unit too).
        yield* countAll(ctx.source.def, ctx.source.config, { ...env, columns: [top(config.field)] }, `source ${ctx.source.def.type}`)
      } else {
        return yield* new StageError({
          stage: ctx.stageId,
          reason: "counts_from is unset and there is no pipeline source to count here (outside a pipeline run): set counts_from"
        })
      }
      return mapChunks<Row, Row>((row) => {
        const t = stringAt(row, config.field)
        if (t === undefined || t.trim() === "") return { ...row, [config.output]: null }
        const s = skeleton(t)
        const family = familyOf(s)
        if (sketch.estimate(family) < config.min_count) return { ...row, [config.output]: null }
        const label = family.startsWith("\u0000") ? family.slice(1) : s.length > 120 ? `${s.slice(0, 120)}…` : s
        return { ...row, [config.output]: label }
      })
    })
})

/**
 * Profiles: what the rows written to one sink look like, gathered while they are written —
 * the top-level fields in first-seen order with their shapes (declared by a Schema, or
 * inferred from the values), the `language` distribution and the distribution of
 * `synthesized_response_scoring_annotations[].preference_score`, and, for rows with answers, the
 * {@link AnswerProfile} (scores per model, token lengths, flags, judge score pairs from which
 * {@link judgeAgreement} reads the judges' agreement). A profile is plain JSON, kept
 * in completion markers (so a resumed run ends with the same profile) and in manifests (so
 * `synthline merge` can join the shards'); dataset cards are rendered from it.
 */
import { Option, type Schema, SchemaAST } from "effect"
import type { ResolvedPipeline } from "./Pipeline.js"
import { LmsysRecord } from "./Record.js"
import type { Row } from "./Row.js"
import { fieldSchemas } from "./Stage.js"

/** The shape of a value, as far as a dataset card's `features` need it. */
export type Shape =
  | { readonly t: "null" }
  | { readonly t: "bool" }
  | { readonly t: "int" }
  | { readonly t: "float" }
  | { readonly t: "string" }
  /** Values of more than one kind (rendered as `string`). */
  | { readonly t: "mixed" }
  | { readonly t: "list"; readonly of: Shape }
  | { readonly t: "struct"; readonly fields: { readonly [name: string]: Shape } }

/** What the rows of one sink look like. Mutable: the runner updates it in place. */
export interface Profile {
  rows: number
  /** Top-level field names in first-seen order. */
  fields: Array<string>
  /** Shapes by field: inferred for undeclared fields while writing; every field once finalized. */
  shapes: { [field: string]: Shape }
  /** Rows by `language` value (at most {@link maxLanguages} values; the rest under `(other)`). */
  languages: { [language: string]: number }
  /** Answers by preference score bucket: `-1` (unscored), `0`..`10` (floor of the score). */
  preference_scores: { [bucket: string]: number }
  /** Sum of the preference scores ≥ 0, for the mean. */
  preference_score_sum: number
  /** What the answers look like; absent when no row has scoring annotations or answer checks. */
  answers?: AnswerProfile
}

/**
 * What the answers of the rows look like, from `synthesized_response_scoring_annotations` and
 * `synthesized_response_checks`: plain counts, so shards and work units add up.
 */
export interface AnswerProfile {
  /** Answers by `synthesis_model` (`(unknown)` without one) and preference score bucket (as {@link Profile.preference_scores}). */
  scores_by_model: { [model: string]: { [bucket: string]: number } }
  /** Answers by `response_token_length`, in 256-token bins named by their lower bound (`0`, `256`, ...). */
  token_lengths: { [bin: string]: number }
  /** Answers by flag: each `synthesized_response_checks[].flags` kind, `repetition_flag` as `repetition_tokens`, `judge_disagreement`. */
  flags: { [kind: string]: number }
  /**
   * Answers scored validly by two judges (`judge_scores` of a multi-judge `synth/judge`), by judge
   * pair (`a\tb`, in the judges' order) and score pair (`x|y`, scores rounded to 0.1).
   */
  judge_pairs: { [pair: string]: { [scores: string]: number } }
  /** Derived in manifests (kept up to date by {@link finalize} and {@link merge}): {@link judgeAgreement} of `judge_pairs`, when there are any. */
  agreement?: ReadonlyArray<JudgeAgreement>
}

/** The agreement of two judges over a dataset's answers. */
export interface JudgeAgreement {
  readonly judges: readonly [string, string]
  /** Answers both scored validly. */
  readonly answers: number
  /** Spearman's rank correlation of their scores (ties get mean ranks); null when either's scores are all equal. */
  readonly spearman: number | null
  /** Share of those answers where the two scores are at most 1 apart. */
  readonly within_1: number
}

/** Distinct `language` values counted before the rest go to `(other)`. */
export const maxLanguages: number = 1000

/** An empty profile. */
export const empty = (): Profile => ({
  rows: 0,
  fields: [],
  shapes: {},
  languages: {},
  preference_scores: {},
  preference_score_sum: 0
})

const NULL: Shape = { t: "null" }
const BOOL: Shape = { t: "bool" }
const INT: Shape = { t: "int" }
const FLOAT: Shape = { t: "float" }
const STRING: Shape = { t: "string" }
const MIXED: Shape = { t: "mixed" }

/** The least shape covering both (null is absorbed, int widens to float, structs union their fields). */
export const mergeShape = (a: Shape | undefined, b: Shape): Shape => {
  if (a === undefined || a.t === "null") return b
  if (b.t === "null") return a
  if (a.t === "list" && b.t === "list") {
    const of = mergeShape(a.of, b.of)
    return of === a.of ? a : { t: "list", of }
  }
  if (a.t === "struct" && b.t === "struct") {
    let fields: { [name: string]: Shape } | undefined
    for (const [k, v] of Object.entries(b.fields)) {
      const cur = a.fields[k]
      const m = mergeShape(cur, v)
      if (m !== cur) {
        fields ??= { ...a.fields }
        fields[k] = m
      }
    }
    return fields === undefined ? a : { t: "struct", fields }
  }
  if (a.t === b.t) return a
  if ((a.t === "int" && b.t === "float") || (a.t === "float" && b.t === "int")) return FLOAT
  return MIXED
}

/** The shape of one JSON value. */
export const shapeOf = (v: unknown): Shape => {
  if (v === null || v === undefined) return NULL
  switch (typeof v) {
    case "boolean":
      return BOOL
    case "number":
      return Number.isInteger(v) ? INT : FLOAT
    case "string":
      return STRING
    case "object": {
      if (Array.isArray(v)) {
        let of: Shape = NULL
        for (const x of v) of = mergeShape(of, shapeOf(x))
        return { t: "list", of }
      }
      const fields: { [name: string]: Shape } = {}
      for (const [k, x] of Object.entries(v)) fields[k] = shapeOf(x)
      return { t: "struct", fields }
    }
    default:
      return MIXED
  }
}

const isInteger = (ast: SchemaAST.AST): boolean =>
  Option.match(SchemaAST.getJSONSchemaAnnotation(ast), {
    onNone: () => false,
    onSome: (j) => "type" in j && j.type === "integer"
  })

/** The shape a Schema describes (its encoded, JSON side); `undefined` when it has no card form (records, classes). */
export const schemaShape = (schema: Schema.Schema.Any): Shape | undefined => astShape(schema.ast, 0)

const astShape = (ast: SchemaAST.AST, depth: number): Shape | undefined => {
  if (depth > 32) return undefined
  switch (ast._tag) {
    case "StringKeyword":
    case "TemplateLiteral":
      return STRING
    case "NumberKeyword":
      return isInteger(ast) ? INT : FLOAT
    case "BooleanKeyword":
      return BOOL
    case "UndefinedKeyword":
    case "VoidKeyword":
      return NULL
    case "Literal":
      return ast.literal === null
        ? NULL
        : typeof ast.literal === "string"
          ? STRING
          : typeof ast.literal === "boolean"
            ? BOOL
            : typeof ast.literal === "number"
              ? Number.isInteger(ast.literal)
                ? INT
                : FLOAT
              : undefined
    case "Enums":
      return ast.enums.reduce<Shape | undefined>(
        (acc, [, v]) => (acc === undefined ? undefined : mergeShape(acc, typeof v === "string" ? STRING : shapeOf(v))),
        NULL
      )
    case "Refinement":
      return isInteger(ast) ? INT : astShape(ast.from, depth + 1)
    case "Transformation":
      return astShape(ast.from, depth + 1)
    case "Suspend":
      return astShape(ast.f(), depth + 1)
    case "Union": {
      let acc: Shape = NULL
      for (const m of ast.types) {
        const s = astShape(m, depth + 1)
        if (s === undefined) return undefined
        acc = mergeShape(acc, s)
      }
      return acc
    }
    case "TupleType": {
      let of: Shape = NULL
      for (const e of [...ast.elements.map((e) => e.type), ...ast.rest.map((r) => r.type)]) {
        const s = astShape(e, depth + 1)
        if (s === undefined) return undefined
        of = mergeShape(of, s)
      }
      return { t: "list", of }
    }
    case "TypeLiteral": {
      if (ast.indexSignatures.length > 0) return undefined
      const fields: { [name: string]: Shape } = {}
      for (const p of ast.propertySignatures) {
        const s = astShape(p.type, depth + 1)
        if (s === undefined) return undefined
        fields[String(p.name)] = s
      }
      return { t: "struct", fields }
    }
    default:
      return undefined
  }
}

/**
 * The declared shape of every field a pipeline's rows can carry: the LMSYS-Chat-1M record's
 * fields, then each stage's `fields` Schemas in order (a later stage overrides an earlier one).
 */
export const declaredShapes = (pipeline: Pick<ResolvedPipeline, "stages">): ReadonlyMap<string, Shape> => {
  const out = new Map<string, Shape>()
  for (const [name, schema] of Object.entries(LmsysRecord.fields)) {
    const s = schemaShape(schema)
    if (s !== undefined) out.set(name, s)
  }
  for (const use of pipeline.stages) {
    for (const [name, schema] of Object.entries(fieldSchemas(use.stage, use.config))) {
      const s = schemaShape(schema)
      if (s === undefined) out.delete(name)
      else out.set(name, s)
    }
  }
  return out
}

/** Something that records rows into a profile. */
export type Observer = (rows: Iterable<Row>) => void

const scoreField = "synthesized_response_scoring_annotations"

/** Records rows into `profile` (in place); shapes are inferred only for fields not in `declared`. */
export const observer = (profile: Profile, declared: ReadonlyMap<string, Shape>): Observer => {
  const seen = new Set(profile.fields)
  return (rows) => {
    for (const row of rows) {
      profile.rows++
      for (const k in row) {
        if (!seen.has(k)) {
          seen.add(k)
          profile.fields.push(k)
        }
        if (!declared.has(k)) {
          const cur = profile.shapes[k]
          const next = mergeShape(cur, shapeOf(row[k]))
          if (next !== cur) profile.shapes[k] = next
        }
      }
      const lang = row.language
      if (typeof lang === "string") {
        const key = lang in profile.languages || Object.keys(profile.languages).length < maxLanguages ? lang : "(other)"
        profile.languages[key] = (profile.languages[key] ?? 0) + 1
      }
      const anns = row[scoreField]
      if (Array.isArray(anns)) {
        for (const a of anns) {
          if (typeof a !== "object" || a === null || !("preference_score" in a)) continue
          const score = a.preference_score
          if (typeof score !== "number" || !Number.isFinite(score)) continue
          const bucket = score < 0 ? "-1" : String(Math.min(10, Math.floor(score)))
          profile.preference_scores[bucket] = (profile.preference_scores[bucket] ?? 0) + 1
          if (score >= 0) profile.preference_score_sum += score
        }
      }
      if (Array.isArray(anns) || Array.isArray(row[checksField])) observeAnswers(answersOf(profile), row)
    }
  }
}

const checksField = "synthesized_response_checks"

const emptyAnswers = (): AnswerProfile => ({ scores_by_model: {}, token_lengths: {}, flags: {}, judge_pairs: {} })

const bump = (counts: { [k: string]: number }, key: string, n = 1): void => {
  counts[key] = (counts[key] ?? 0) + n
}

/** `counts[key]`, made empty when missing. */
const sub = (counts: { [k: string]: { [k: string]: number } }, key: string): { [k: string]: number } => {
  let t = counts[key]
  if (t === undefined) {
    t = {}
    counts[key] = t
  }
  return t
}

const answersOf = (profile: Profile): AnswerProfile => {
  if (profile.answers === undefined) profile.answers = emptyAnswers()
  return profile.answers
}

const isObject = (v: unknown): v is { readonly [k: string]: unknown } => typeof v === "object" && v !== null

const observeAnswers = (into: AnswerProfile, row: Row): void => {
  const anns = row[scoreField]
  const model = typeof row.synthesis_model === "string" ? row.synthesis_model : "(unknown)"
  if (Array.isArray(anns)) {
    for (const a of anns) {
      if (!isObject(a)) continue
      const score = a.preference_score
      if (typeof score === "number" && Number.isFinite(score)) {
        bump(sub(into.scores_by_model, model), score < 0 ? "-1" : String(Math.min(10, Math.floor(score))))
      }
      const tokens = a.response_token_length
      if (typeof tokens === "number" && Number.isFinite(tokens) && tokens >= 0) bump(into.token_lengths, String(Math.floor(tokens / 256) * 256))
      if (a.repetition_flag === true) bump(into.flags, "repetition_tokens")
      if (a.judge_disagreement === true) bump(into.flags, "judge_disagreement")
      const judges = a.judge_scores
      if (!Array.isArray(judges)) continue
      const valid = judges.filter(
        (j): j is { readonly model: string; readonly score: number } =>
          isObject(j) && typeof j.model === "string" && typeof j.score === "number" && Number.isFinite(j.score) && j.score >= 0
      )
      for (let i = 0; i < valid.length; i++) {
        for (let k = i + 1; k < valid.length; k++) {
          const x = valid[i]!
          const y = valid[k]!
          bump(sub(into.judge_pairs, `${x.model}\t${y.model}`), `${Math.round(x.score * 10) / 10}|${Math.round(y.score * 10) / 10}`)
        }
      }
    }
  }
  const checks = row[checksField]
  if (Array.isArray(checks)) {
    for (const c of checks) {
      if (!isObject(c) || !Array.isArray(c.flags)) continue
      for (const f of c.flags) if (typeof f === "string") bump(into.flags, f)
    }
  }
}

/** Mean ranks (1-based) of the values of a weighted sample: value → rank. */
const midRanks = (weights: ReadonlyMap<number, number>): Map<number, number> => {
  const out = new Map<number, number>()
  let below = 0
  for (const v of [...weights.keys()].sort((a, b) => a - b)) {
    const n = weights.get(v)!
    out.set(v, below + (n + 1) / 2)
    below += n
  }
  return out
}

/** The agreement of each judge pair in `answers` (Spearman correlation of the ranks, share within ±1), in pair order. */
export const judgeAgreement = (answers: AnswerProfile | undefined): ReadonlyArray<JudgeAgreement> =>
  Object.entries(answers?.judge_pairs ?? {})
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([pair, counts]) => {
      const [a = "", b = ""] = pair.split("\t")
      const cells = Object.entries(counts).map(([k, n]) => {
        const [x = "", y = ""] = k.split("|")
        return { x: Number(x), y: Number(y), n }
      })
      const total = cells.reduce((s, c) => s + c.n, 0)
      const xs = new Map<number, number>()
      const ys = new Map<number, number>()
      for (const c of cells) {
        xs.set(c.x, (xs.get(c.x) ?? 0) + c.n)
        ys.set(c.y, (ys.get(c.y) ?? 0) + c.n)
      }
      const rx = midRanks(xs)
      const ry = midRanks(ys)
      const mean = (total + 1) / 2
      let sxy = 0
      let sxx = 0
      let syy = 0
      let within = 0
      for (const c of cells) {
        const dx = rx.get(c.x)! - mean
        const dy = ry.get(c.y)! - mean
        sxy += c.n * dx * dy
        sxx += c.n * dx * dx
        syy += c.n * dy * dy
        if (Math.abs(c.x - c.y) <= 1 + 1e-9) within += c.n
      }
      const spearman = sxx === 0 || syy === 0 ? null : Math.round((sxy / Math.sqrt(sxx * syy)) * 10000) / 10000
      return { judges: [a, b] as const, answers: total, spearman, within_1: total === 0 ? 0 : Math.round((within / total) * 10000) / 10000 }
    })

const copyAnswers = (a: AnswerProfile): AnswerProfile => ({
  scores_by_model: Object.fromEntries(Object.entries(a.scores_by_model).map(([m, c]) => [m, { ...c }])),
  token_lengths: { ...a.token_lengths },
  flags: { ...a.flags },
  judge_pairs: Object.fromEntries(Object.entries(a.judge_pairs).map(([p, c]) => [p, { ...c }]))
})

const absorbAnswers = (into: AnswerProfile, unit: AnswerProfile): void => {
  for (const [m, c] of Object.entries(unit.scores_by_model)) for (const [k, n] of Object.entries(c)) bump(sub(into.scores_by_model, m), k, n)
  for (const [k, n] of Object.entries(unit.token_lengths)) bump(into.token_lengths, k, n)
  for (const [k, n] of Object.entries(unit.flags)) bump(into.flags, k, n)
  for (const [p, c] of Object.entries(unit.judge_pairs)) for (const [k, n] of Object.entries(c)) bump(sub(into.judge_pairs, p), k, n)
}

/** A copy of `profile` with a shape for every field: the declared one, else the inferred one. */
export const finalize = (profile: Profile, declared: ReadonlyMap<string, Shape>): Profile => ({
  ...profile,
  fields: [...profile.fields],
  shapes: Object.fromEntries(profile.fields.map((f) => [f, declared.get(f) ?? profile.shapes[f] ?? NULL])),
  languages: { ...profile.languages },
  preference_scores: { ...profile.preference_scores },
  ...(profile.answers === undefined ? {} : { answers: withAgreement(copyAnswers(profile.answers)) })
})

const withAgreement = (a: AnswerProfile): AnswerProfile => {
  const agreement = judgeAgreement(a)
  return agreement.length === 0 ? a : { ...a, agreement }
}

const addCounts = (a: { readonly [k: string]: number }, b: { readonly [k: string]: number }): { [k: string]: number } => {
  const out: { [k: string]: number } = { ...a }
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v
  return out
}

/** Joins the profiles of two shards of one sink. */
export const merge = (a: Profile, b: Profile): Profile => {
  const fields = [...a.fields, ...b.fields.filter((f) => !a.fields.includes(f))]
  const shapes: { [field: string]: Shape } = {}
  for (const f of fields) {
    const x = a.shapes[f]
    const y = b.shapes[f]
    shapes[f] = x === undefined ? (y ?? NULL) : y === undefined ? x : mergeShape(x, y)
  }
  return {
    rows: a.rows + b.rows,
    fields,
    shapes,
    languages: addCounts(a.languages, b.languages),
    preference_scores: addCounts(a.preference_scores, b.preference_scores),
    preference_score_sum: a.preference_score_sum + b.preference_score_sum,
    ...mergedAnswers(a.answers, b.answers)
  }
}

const mergedAnswers = (a: AnswerProfile | undefined, b: AnswerProfile | undefined): { answers?: AnswerProfile } => {
  if (a === undefined && b === undefined) return {}
  const out = a === undefined ? emptyAnswers() : copyAnswers(a)
  if (b !== undefined) absorbAnswers(out, b)
  return { answers: withAgreement(out) }
}

/**
 * Adds the profile of one work unit's rows to `into` (in place), as if its rows had been
 * observed one by one after the earlier units' (the `language` cap applies the same way).
 */
export const absorb = (into: Profile, unit: Profile): void => {
  into.rows += unit.rows
  const seen = new Set(into.fields)
  for (const f of unit.fields) {
    if (!seen.has(f)) {
      seen.add(f)
      into.fields.push(f)
    }
  }
  for (const [f, shape] of Object.entries(unit.shapes)) {
    const cur = into.shapes[f]
    const next = mergeShape(cur, shape)
    if (next !== cur) into.shapes[f] = next
  }
  for (const [lang, n] of Object.entries(unit.languages)) {
    const key = lang in into.languages || Object.keys(into.languages).length < maxLanguages ? lang : "(other)"
    into.languages[key] = (into.languages[key] ?? 0) + n
  }
  for (const [bucket, n] of Object.entries(unit.preference_scores)) {
    into.preference_scores[bucket] = (into.preference_scores[bucket] ?? 0) + n
  }
  into.preference_score_sum += unit.preference_score_sum
  if (unit.answers !== undefined) absorbAnswers(answersOf(into), unit.answers)
}

/**
 * Profiles: what the rows written to one sink look like, gathered while they are written —
 * the top-level fields in first-seen order with their shapes (declared by a Schema, or
 * inferred from the values) and the `language` distribution, plus what each plugin's
 * {@link Profiler} gathers, under the profiler's key (plugin-synth's `answers`: preference
 * scores, token lengths, flags, judge agreement). A profile is plain JSON, kept in completion
 * markers (so a resumed run ends with the same profile) and in manifests (so `synthline merge`
 * can join the shards'); dataset cards are rendered from it, each profiler adding its sections.
 */
import { Option, type Schema, SchemaAST } from "effect"
import type { ResolvedPipeline } from "../Pipeline.js"
import type { Registry } from "../Registry.js"
import type { OutputFile } from "../Sink.js"
import { LmsysRecord } from "../Record.js"
import { fieldSchemas } from "../Stage.js"
import { isRecord as isObject, type Row } from "../Row.js"

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

/**
 * What the rows of one sink look like. Mutable: the runner updates it in place. Besides the
 * fields below, each {@link Profiler} keeps its state under its own key (absent until a row
 * gives it something to count).
 */
export interface Profile {
  rows: number
  /** Top-level field names in first-seen order. */
  fields: Array<string>
  /** Shapes by field: inferred for undeclared fields while writing; every field once finalized. */
  shapes: { [field: string]: Shape }
  /** Rows by `language` value (at most {@link maxLanguages} values; the rest under `(other)`). */
  languages: { [language: string]: number }
  /** The profilers' states, by profiler key. */
  [key: string]: unknown
}

/** The keys of a profile that core keeps; no profiler may use them. */
export const coreKeys: ReadonlySet<string> = new Set(["rows", "fields", "shapes", "languages"])

/** A section of a dataset card: a `###` heading under *Statistics* and its Markdown. */
export interface CardSection {
  readonly title: string
  readonly body: string
}

/**
 * What a plugin adds to every sink's profile (`definePlugin({ profilers })`): bounded state
 * (counters, histograms, sketches — never rows) updated as each row is committed, added up
 * across work units and shards, kept in the manifest's `profile` under `key`, and rendered as
 * sections of the dataset card. The state must be plain JSON: it is copied between threads
 * and kept in completion markers, so a resumed run ends with the same state.
 */
export interface Profiler<S = unknown> {
  /** The key of its state in the profile (`answers`); unique among the loaded plugins. */
  readonly key: string
  /** A state that has seen no row. */
  readonly empty: () => S
  /** Records one row into `state` (in place); false when the row has nothing for this profiler. */
  readonly observe: (state: S, row: Row) => boolean
  /**
   * The state of the rows of both (neither is changed). Default: {@link sumCounts} — numbers
   * add up key by key through nested objects, anything else is kept from `a`.
   */
  readonly merge?: (a: S, b: S) => S
  /** The state as the manifest holds it: a copy, with derived values (default: a copy). */
  readonly finalize?: (state: S) => S
  /** Its sections of the dataset card, from the finalized state. */
  readonly card?: (state: S) => ReadonlyArray<CardSection>
  /**
   * A paragraph of the dataset card about the output's files, shown above their list, or
   * `undefined`: how to read parts a sink option of the plugin rewrote (`@synthline/release` says
   * how to decrypt `.gpg` parts). Needs no state: a profiler may contribute only this.
   */
  readonly files?: (files: ReadonlyArray<OutputFile>) => string | undefined
}

/** Any profiler (what a plugin lists). */
// biome-ignore lint/suspicious/noExplicitAny: each profiler has its own state type
export type AnyProfiler = Profiler<any>

/** Defines a profiler; the identity function, there for inference of its state type. */
export const profiler = <S>(p: Profiler<S>): Profiler<S> => p

/** Distinct `language` values counted before the rest go to `(other)`. */
export const maxLanguages: number = 1000

/** An empty profile. */
export const empty = (): Profile => ({
  rows: 0,
  fields: [],
  shapes: {},
  languages: {}
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

/**
 * What profiling a pipeline's rows needs: the declared shapes ({@link declaredShapes}) and the
 * profilers of its plugins.
 */
export interface Profiling {
  readonly declared: ReadonlyMap<string, Shape>
  readonly profilers: ReadonlyArray<AnyProfiler>
}

/** The {@link Profiling} of a pipeline. */
export const profiling = (pipeline: Pick<ResolvedPipeline, "stages"> & { readonly registry?: Pick<Registry, "profilers"> }): Profiling => ({
  declared: declaredShapes(pipeline),
  profilers: pipeline.registry?.profilers ?? []
})

/** Something that records rows into a profile. */
export type Observer = (rows: Iterable<Row>) => void

/** Records rows into `profile` (in place); shapes are inferred only for fields not in `declared`. */
export const observer = (profile: Profile, { declared, profilers }: Profiling): Observer => {
  const seen = new Set(profile.fields)
  // A profiler's state before its first row counts; it goes into the profile then. The profile's
  // own state is looked up per row: `absorb` may have replaced it since.
  const pending: Array<unknown> = profilers.map(() => undefined)
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
      for (let i = 0; i < profilers.length; i++) {
        const p = profilers[i]!
        const state = profile[p.key]
        if (state !== undefined) p.observe(state, row)
        else {
          pending[i] ??= p.empty()
          if (p.observe(pending[i], row)) {
            profile[p.key] = pending[i]
            pending[i] = undefined
          }
        }
      }
    }
  }
}

/**
 * Counters of both: numbers add up key by key, nested objects the same way; any other value
 * (a list, a text) is kept from `a` (from `b` where `a` has none). Neither input is changed.
 */
export const sumCounts = <S>(a: S, b: S): S => {
  if (typeof a === "number" && typeof b === "number") return (a + b) as S
  if (!isObject(a) || !isObject(b)) return structuredClone(a === undefined ? b : a)
  const out: { [k: string]: unknown } = {}
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    out[k] = !(k in a) ? structuredClone(b[k]) : !(k in b) ? structuredClone(a[k]) : sumCounts(a[k], b[k])
  }
  return out as S
}

const mergeState = (p: AnyProfiler | undefined, a: unknown, b: unknown): unknown =>
  a === undefined ? structuredClone(b) : b === undefined ? structuredClone(a) : (p?.merge ?? sumCounts)(a, b)

/** The keys of profiler states in a profile, in order. */
const stateKeys = (profile: Profile): ReadonlyArray<string> => Object.keys(profile).filter((k) => !coreKeys.has(k))

const byKey = (profilers: ReadonlyArray<AnyProfiler>): ReadonlyMap<string, AnyProfiler> => new Map(profilers.map((p) => [p.key, p]))

/**
 * A copy of `profile` with a shape for every field (the declared one, else the inferred one)
 * and each profiler's state finalized (a state without a loaded profiler is copied as it is).
 */
export const finalize = (profile: Profile, { declared, profilers }: Profiling): Profile => {
  const known = byKey(profilers)
  const out: Profile = {
    rows: profile.rows,
    fields: [...profile.fields],
    shapes: Object.fromEntries(profile.fields.map((f) => [f, declared.get(f) ?? profile.shapes[f] ?? NULL])),
    languages: { ...profile.languages }
  }
  for (const k of stateKeys(profile)) {
    const f = known.get(k)?.finalize
    out[k] = f === undefined ? structuredClone(profile[k]) : f(profile[k])
  }
  return out
}

const addCounts = (a: { readonly [k: string]: number }, b: { readonly [k: string]: number }): { [k: string]: number } => {
  const out: { [k: string]: number } = { ...a }
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v
  return out
}

/**
 * Joins the finalized profiles of two shards of one sink (`synthline merge`): each profiler's
 * states merged and finalized again; states of profilers not loaded add up by {@link sumCounts}.
 */
export const merge = (a: Profile, b: Profile, profilers: ReadonlyArray<AnyProfiler> = []): Profile => {
  const fields = [...a.fields, ...b.fields.filter((f) => !a.fields.includes(f))]
  const shapes: { [field: string]: Shape } = {}
  for (const f of fields) {
    const x = a.shapes[f]
    const y = b.shapes[f]
    shapes[f] = x === undefined ? (y ?? NULL) : y === undefined ? x : mergeShape(x, y)
  }
  const out: Profile = { rows: a.rows + b.rows, fields, shapes, languages: addCounts(a.languages, b.languages) }
  const known = byKey(profilers)
  for (const k of new Set([...stateKeys(a), ...stateKeys(b)])) {
    const p = known.get(k)
    const merged = mergeState(p, a[k], b[k])
    out[k] = p?.finalize === undefined ? merged : p.finalize(merged)
  }
  return out
}

/**
 * Adds the profile of one work unit's rows to `into` (in place), as if its rows had been
 * observed one by one after the earlier units' (the `language` cap applies the same way).
 */
export const absorb = (into: Profile, unit: Profile, profilers: ReadonlyArray<AnyProfiler> = []): void => {
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
  const known = byKey(profilers)
  for (const k of stateKeys(unit)) into[k] = mergeState(known.get(k), into[k], unit[k])
}

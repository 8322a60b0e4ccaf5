/**
 * Reference data generated from the code: every stage of every loaded plugin with its
 * options (type, constraints, default, description) and the JSON Schema of the pipeline file,
 * both from the same Schemas the pipeline decoder uses, so they cannot drift. Types, enum
 * members, bounds, patterns, element types and defaults are read from the Schemas; an option's
 * documentation (`Stage.doc`) only adds what a Schema cannot say.
 */
import { JSONSchema, Option, Schema, SchemaAST } from "effect"
import type { Registry } from "../Registry.js"
import type { AnyStage } from "../Stage.js"
import { isRecord as isObj } from "../Row.js"

/** A JSON Schema object. */
export type JsonSchema = { readonly [key: string]: unknown }

/** One option of a stage, source or sink. */
export interface OptionInfo {
  readonly name: string
  readonly type: string
  readonly required: boolean
  /**
   * What the Schema allows beyond the type, in words: bounds (`1 to 9`, `> 0`), lengths
   * (`non-empty`), patterns (`matches ^[a-z]+$`), those of list elements (`each non-empty`).
   */
  readonly constraints?: string
  readonly default?: unknown
  readonly description?: string
}

/** One stage as listed by `synthline stages`. */
export interface StageInfo {
  readonly id: string
  readonly plugin: string
  readonly description: string
  readonly requires: ReadonlyArray<string> | "depends on options"
  readonly provides: ReadonlyArray<string> | "depends on options"
  readonly stateful: boolean
  readonly options: ReadonlyArray<OptionInfo>
}

/** A JSON value survives `JSON.stringify` unchanged (no functions, class instances, NaN, ...). */
const isJson = (u: unknown): boolean => {
  try {
    return u !== undefined && JSON.stringify(JSON.parse(JSON.stringify(u))) === JSON.stringify(u) && !(u instanceof Date)
  } catch {
    return false
  }
}

/**
 * The defaults a config Schema fills in for options left out (`Schema.optionalWith(s, {
 * default })`), in their encoded form, i.e. as a pipeline file would write them. Read from the
 * Schema's AST, through filters: the decoder itself supplies them, so they cannot drift.
 */
// biome-ignore lint/suspicious/noExplicitAny: any config Schema
export const defaultsOf = (schema: Schema.Schema<any, any>): ReadonlyMap<string, unknown> => defaultsAt(schema.ast)

/** A Schema's node under its filters. */
const unfiltered = (node: SchemaAST.AST): SchemaAST.AST => {
  let ast = node
  for (;;) {
    if (SchemaAST.isRefinement(ast)) ast = ast.from
    else if (SchemaAST.isSuspend(ast)) ast = ast.f()
    else return ast
  }
}

const defaultsAt = (node: SchemaAST.AST): ReadonlyMap<string, unknown> => {
  const out = new Map<string, unknown>()
  const ast = unfiltered(node)
  if (!SchemaAST.isTransformation(ast) || !SchemaAST.isTypeLiteralTransformation(ast.transformation)) return out
  const from = ast.from
  for (const t of ast.transformation.propertySignatureTransformations) {
    const value = t.decode(Option.none())
    if (Option.isNone(value) || typeof t.from !== "string") continue
    const property = SchemaAST.isTypeLiteral(from) ? from.propertySignatures.find((p) => p.name === t.from) : undefined
    const encoded = property === undefined ? Option.some(value.value) : Schema.encodeUnknownOption(Schema.make(property.type))(value.value)
    if (Option.isSome(encoded) && isJson(encoded.value)) out.set(t.from, encoded.value)
  }
  return out
}

/**
 * The Schema of every value of a map-shaped Schema (`Schema.Record({ key: Schema.String, value
 * })`, e.g. the `models` section), or undefined for any other Schema.
 */
// biome-ignore lint/suspicious/noExplicitAny: any section Schema
export const mapValueOf = (schema: Schema.Schema<any, any>): Schema.Schema<unknown, unknown> | undefined => {
  let ast: SchemaAST.AST = schema.ast
  while (SchemaAST.isRefinement(ast)) ast = ast.from
  return SchemaAST.isTypeLiteral(ast) && ast.propertySignatures.length === 0 && ast.indexSignatures.length === 1
    ? Schema.make(ast.indexSignatures[0]!.type)
    : undefined
}

/**
 * A JSON value without `$id` keys. Effect marks some schemas with one (`/schemas/unknown` for
 * `Schema.Unknown`), and the same `$id` twice in one document is an error to a validator such as
 * Ajv ("resolves to more than one schema"); nothing refers to them.
 */
const withoutIds = (v: unknown): unknown =>
  Array.isArray(v) ? v.map(withoutIds) : isObj(v) ? Object.fromEntries(Object.entries(v).filter(([k]) => k !== "$id").map(([k, x]) => [k, withoutIds(x)])) : v

const refName = (ref: string): string => ref.replace("#/$defs/", "")

/** Every `$ref` name anywhere in a JSON value. */
const refsIn = (v: unknown): Array<string> =>
  Array.isArray(v)
    ? v.flatMap(refsIn)
    : isObj(v)
      ? Object.entries(v).flatMap(([k, x]) => (k === "$ref" && typeof x === "string" ? [refName(x)] : refsIn(x)))
      : []

/** Keys that document a schema rather than constrain it. */
const annotationKeys: ReadonlySet<string> = new Set(["description", "title", "default", "examples"])

/**
 * One schema from a `$ref`'d definition and the keywords beside the `$ref`: merged where they do
 * not disagree (an `integer` beside a `number` is the narrower `integer`), else both under `allOf`.
 */
const mergeRef = (target: JsonSchema, siblings: JsonSchema): JsonSchema => {
  const out: { [key: string]: unknown } = { ...target }
  const conflicting: { [key: string]: unknown } = {}
  const notes: { [key: string]: unknown } = {}
  for (const [k, v] of Object.entries(siblings)) {
    if (annotationKeys.has(k)) notes[k] = v
    else if (!(k in out) || JSON.stringify(out[k]) === JSON.stringify(v)) out[k] = v
    else if (k === "type" && ((v === "integer" && out[k] === "number") || (v === "number" && out[k] === "integer"))) out[k] = "integer"
    else conflicting[k] = v
  }
  return Object.keys(conflicting).length === 0 ? { ...out, ...notes } : { allOf: [out, conflicting], ...notes }
}

/**
 * A JSON Schema as an editor reads it best: the definitions of primitive refinements Effect
 * names (`Int`, `NonEmptyString`, `NonNegative`) written in place, since draft-07 ignores the
 * keywords beside a `$ref` (an option's description and its own bound); `allOf` of one schema
 * beside annotations only, flattened; and the filter names Effect puts in `title` dropped where
 * a description says more. Other definitions stay under `$defs`.
 */
const readable = (js: JsonSchema): JsonSchema => {
  const defs = isObj(js.$defs) ? js.$defs : {}
  const leaf = (name: string): JsonSchema | undefined => {
    const d = defs[name]
    if (!isObj(d) || typeof d.type !== "string" || d.type === "object" || d.type === "array" || refsIn(d).length > 0) return undefined
    const { description: _, title: __, ...rest } = d
    return rest
  }
  const go = (v: unknown): unknown => (Array.isArray(v) ? v.map(go) : isObj(v) ? node(v) : v)
  const node = (o: JsonSchema): JsonSchema => {
    let out: JsonSchema = Object.fromEntries(Object.entries(o).map(([k, x]) => [k, k === "$defs" ? x : go(x)]))
    if (typeof out.$ref === "string") {
      const target = leaf(refName(out.$ref))
      if (target !== undefined) {
        const { $ref: _, ...siblings } = out
        out = mergeRef(target, siblings)
      }
    }
    const only: unknown = Array.isArray(out.allOf) && out.allOf.length === 1 ? out.allOf[0] : undefined
    if (isObj(only) && !("$ref" in only)) {
      const { allOf: _, ...rest } = out
      if (Object.keys(rest).every((k) => annotationKeys.has(k))) out = { ...only, ...rest }
    }
    if ("title" in out && typeof out.description === "string") {
      const { title: _, ...rest } = out
      out = rest
    }
    return out
  }
  const root = go(js)
  if (!isObj(root) || !isObj(root.$defs)) return isObj(root) ? root : {}
  // Keep the definitions still referred to (and those they refer to).
  const { $defs, ...body } = root
  const written = Object.fromEntries(Object.entries($defs).map(([k, v]) => [k, go(v)]))
  const kept = new Set<string>()
  const visit = (name: string): void => {
    if (kept.has(name) || !(name in written)) return
    kept.add(name)
    for (const r of refsIn(written[name])) visit(r)
  }
  for (const r of refsIn(body)) visit(r)
  const used = Object.fromEntries(Object.entries(written).filter(([k]) => kept.has(k)))
  return Object.keys(used).length > 0 ? { ...body, $defs: used } : body
}

// biome-ignore lint/suspicious/noExplicitAny: any config Schema
const jsonSchemaOf = (schema: Schema.Schema<any, any>): JsonSchema => {
  const js: unknown = withoutIds(JSONSchema.make(schema, { target: "jsonSchema7" }))
  if (!isObj(js)) return {}
  // Inline the root $ref if there is one.
  const defs = isObj(js.$defs) ? js.$defs : {}
  let root: JsonSchema = js
  if (typeof js.$ref === "string") {
    const target = defs[refName(js.$ref)]
    if (isObj(target)) root = { ...target, ...(Object.keys(defs).length > 1 ? { $defs: defs } : {}) }
  }
  return withDefaults(schema.ast, readable(root))
}

/**
 * A JSON Schema with the defaults the decoder fills in (what a left-out option gets), at every
 * level: the options of a list's entries (`benchmarks: [{ path, field }]`) and of a map's values
 * too. Walks the Schema's AST beside the JSON Schema Effect made of it; a definition under
 * `$defs` is filled once.
 */
const withDefaults = (schema: SchemaAST.AST, js: JsonSchema): JsonSchema => {
  const defs: { [name: string]: unknown } = isObj(js.$defs) ? { ...js.$defs } : {}
  const filled = new Set<string>()
  const go = (node: SchemaAST.AST, j: unknown): unknown => {
    if (!isObj(j)) return j
    if (typeof j.$ref === "string") {
      const name = refName(j.$ref)
      if (!filled.has(name) && isObj(defs[name])) {
        filled.add(name)
        defs[name] = go(node, defs[name])
      }
      return j
    }
    const ast = unfiltered(node)
    if (SchemaAST.isTransformation(ast)) {
      const inner = go(ast.from, j)
      const defaults = defaultsAt(ast)
      if (defaults.size === 0 || !isObj(inner) || !isObj(inner.properties)) return inner
      const properties: { [key: string]: unknown } = { ...inner.properties }
      for (const [name, value] of defaults) {
        const p = properties[name]
        if (isObj(p)) properties[name] = { ...p, default: value }
      }
      return { ...inner, properties }
    }
    if (SchemaAST.isTypeLiteral(ast)) {
      const properties: { [key: string]: unknown } = isObj(j.properties) ? { ...j.properties } : {}
      for (const p of ast.propertySignatures) if (typeof p.name === "string" && p.name in properties) properties[p.name] = go(p.type, properties[p.name])
      const index = ast.indexSignatures[0]
      const values = index !== undefined && isObj(j.additionalProperties) ? { additionalProperties: go(index.type, j.additionalProperties) } : {}
      return { ...j, ...(isObj(j.properties) ? { properties } : {}), ...values }
    }
    if (SchemaAST.isTupleType(ast) && ast.rest.length === 1 && isObj(j.items)) return { ...j, items: go(ast.rest[0]!.type, j.items) }
    if (SchemaAST.isUnion(ast)) {
      // Members in the same order (an optional key adds an `undefined` member the JSON Schema leaves out).
      const members = ast.types.filter((t) => !SchemaAST.isUndefinedKeyword(t))
      if (members.length === 1) return go(members[0]!, j)
      const anyOf = j.anyOf
      return Array.isArray(anyOf) && members.length === anyOf.length ? { ...j, anyOf: anyOf.map((m, i) => go(members[i]!, m)) } : j
    }
    return j
  }
  const out = go(schema, js)
  return isObj(out) && Object.keys(defs).length > 0 ? { ...out, $defs: defs } : isObj(out) ? out : js
}

/** A schema with its `$ref` resolved and an `allOf` folded in, for reading its keywords. */
const resolved = (p: JsonSchema, defs: { readonly [name: string]: unknown }): JsonSchema => {
  let out = p
  if (typeof out.$ref === "string") {
    const target = defs[refName(out.$ref)]
    const { $ref: _, ...siblings } = out
    if (isObj(target)) out = { ...target, ...siblings }
  }
  if (Array.isArray(out.allOf)) {
    const { allOf, ...rest } = out
    out = Object.assign({}, ...allOf.filter(isObj).map((x) => resolved(x, defs)), rest)
  }
  return out
}

const range = (min: unknown, max: unknown, unit: string): Array<string> => {
  const u = unit === "" ? "" : ` ${unit}`
  if (typeof min === "number" && typeof max === "number") return [min === max ? `exactly ${min}${u}` : `${min} to ${max}${u}`]
  return [...(typeof min === "number" ? [`≥ ${min}${u}`] : []), ...(typeof max === "number" ? [`≤ ${max}${u}`] : [])]
}

/**
 * The constraints of a JSON Schema in words (see {@link OptionInfo.constraints}); empty when
 * it has none beyond its type.
 */
const constraintText = (schema: unknown, defs: { readonly [name: string]: unknown }): string => {
  if (!isObj(schema)) return ""
  const p = resolved(schema, defs)
  if (Array.isArray(p.anyOf)) {
    const parts = p.anyOf.flatMap((m) => {
      const text = constraintText(m, defs)
      return text === "" ? [] : [`${typeText(m, defs)}: ${text}`]
    })
    return parts.join("; ")
  }
  const words: Array<string> = []
  // An integer above 0 is one of at least 1.
  const whole = (n: unknown): n is number => p.type === "integer" && typeof n === "number" && Number.isInteger(n)
  const min = whole(p.exclusiveMinimum) ? Math.max(p.exclusiveMinimum + 1, typeof p.minimum === "number" ? p.minimum : -Infinity) : p.minimum
  const max = whole(p.exclusiveMaximum) ? Math.min(p.exclusiveMaximum - 1, typeof p.maximum === "number" ? p.maximum : Infinity) : p.maximum
  const above = whole(p.exclusiveMinimum) ? undefined : p.exclusiveMinimum
  const below = whole(p.exclusiveMaximum) ? undefined : p.exclusiveMaximum
  if (typeof above === "number" || typeof below === "number") {
    words.push(...(typeof above === "number" ? [`> ${above}`] : []), ...range(min, undefined, ""))
    words.push(...(typeof below === "number" ? [`< ${below}`] : []), ...range(undefined, max, ""))
  } else words.push(...range(min, max, ""))
  if (typeof p.multipleOf === "number") words.push(`multiple of ${p.multipleOf}`)
  if (p.minLength === 1 && p.maxLength === undefined) words.push("non-empty")
  else words.push(...range(p.minLength, p.maxLength, "characters"))
  if (typeof p.pattern === "string") words.push(`matches ${p.pattern}`)
  if (p.minItems === 1 && p.maxItems === undefined) words.push("non-empty")
  else words.push(...range(p.minItems, p.maxItems, "items"))
  if (p.uniqueItems === true) words.push("no repeats")
  if (p.minProperties === 1 && p.maxProperties === undefined) words.push("non-empty")
  else words.push(...range(p.minProperties, p.maxProperties, "entries"))
  const items = p.type === "array" ? constraintText(p.items, defs) : ""
  if (items !== "") words.push(`each ${items}`)
  const values = p.type === "object" && isObj(p.additionalProperties) ? constraintText(p.additionalProperties, defs) : ""
  if (values !== "") words.push(`each value ${values}`)
  return words.join(", ")
}

const typeText = (p: unknown, defs: { readonly [name: string]: unknown } = {}): string => {
  if (!isObj(p)) return "any"
  const t = (q: unknown) => typeText(q, defs)
  if (Array.isArray(p.enum)) return p.enum.map((v) => JSON.stringify(v)).join(" | ")
  if ("const" in p) return JSON.stringify(p.const)
  if (Array.isArray(p.anyOf)) return p.anyOf.map(t).join(" | ")
  if (Array.isArray(p.allOf) && p.allOf.length === 1 && p.type === undefined) return t(p.allOf[0])
  if (p.type === "array") return `${t(p.items)}[]`
  if (typeof p.type === "string") return p.type === "object" && isObj(p.additionalProperties) ? `map of ${t(p.additionalProperties)}` : p.type
  if (typeof p.$ref === "string") {
    const name = p.$ref.replace("#/$defs/", "")
    const target = defs[name]
    // A named refinement of a primitive (NonEmptyString, Int) reads as the primitive.
    return isObj(target) && typeof target.type === "string" ? t({ ...target, $ref: undefined }) : name
  }
  return "any"
}

/** The options of a config Schema. */
// biome-ignore lint/suspicious/noExplicitAny: any config Schema
export const optionsOf = (schema: any): ReadonlyArray<OptionInfo> => {
  const js = jsonSchemaOf(schema)
  const props = isObj(js.properties) ? js.properties : {}
  const defs = isObj(js.$defs) ? js.$defs : {}
  const required = new Set(Array.isArray(js.required) ? js.required.map(String) : [])
  return Object.entries(props).map(([name, p]) => {
    const constraints = constraintText(p, defs)
    return {
      name,
      type: typeText(p, defs),
      required: required.has(name),
      ...(constraints === "" ? {} : { constraints }),
      ...(isObj(p) && "default" in p ? { default: p.default } : {}),
      ...(isObj(p) && typeof p.description === "string" ? { description: p.description } : {})
    }
  })
}

const pluginOf = (stage: AnyStage): string => stage.id.split("/")[0]!

/** Every stage of a registry with its options. */
export const stages = (registry: Registry): ReadonlyArray<StageInfo> =>
  [...registry.stages.values()].map((s) => ({
    id: s.id,
    plugin: pluginOf(s),
    description: s.description,
    requires: typeof s.requires === "function" ? "depends on options" : s.requires,
    provides: typeof s.provides === "function" ? "depends on options" : s.provides,
    stateful: s.stateful === true,
    options: optionsOf(s.config)
  }))

/**
 * Moves the `$defs` of a sub-schema into `defs` (refs are `#/$defs/...`, so they must live at
 * the root of the pipeline schema) and drops its own `$schema`.
 */
const hoist = (schema: JsonSchema, defs: { [name: string]: unknown }): JsonSchema => {
  const { $defs, $schema: _, ...rest } = schema
  if (isObj($defs)) for (const [k, v] of Object.entries($defs)) if (!(k in defs)) defs[k] = v
  return rest
}

const withProps = (base: JsonSchema, extra: { readonly [key: string]: unknown }, required: ReadonlyArray<string>): JsonSchema => ({
  ...base,
  type: "object",
  properties: { ...(isObj(base.properties) ? base.properties : {}), ...extra },
  required: [...(Array.isArray(base.required) ? base.required : []), ...required],
  additionalProperties: false
})

/** An output's `where:` selection (see the Where module). */
const whereSchema: JsonSchema = {
  anyOf: [
    { type: "string", description: "An expression: field tests (== != < <= > >=) joined by and, or, not, parentheses." },
    { type: "object", additionalProperties: { type: ["string", "number", "boolean", "null"] }, description: "Field: value tests that must all hold." }
  ],
  description: "Which rows reaching the end of the pipeline this output writes (all when absent)."
}

/** A string holding a `${VAR}` or `${VAR:-default}` placeholder (see Pipeline's interpolation). */
const placeholder: JsonSchema = {
  type: "string",
  pattern: "\\$\\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\\}",
  description: "An environment variable, replaced before the file is decoded."
}

/**
 * A schema where every string that must be one of some values (an enum) may also be a `${VAR}`
 * placeholder: an editor checks the file as written (`mode: ${CACHE_MODE:-read-write}`), while
 * synthline decodes it after interpolation. Description, title and default stay outside, for
 * hover and completion.
 */
const withPlaceholders = (schema: JsonSchema): JsonSchema => {
  const out: { [key: string]: unknown } = {}
  for (const [k, v] of Object.entries(schema)) out[k] = placeholdersIn(v)
  if (!(Array.isArray(schema.enum) && schema.enum.length > 0 && schema.enum.every((e) => typeof e === "string"))) return out
  const outside: { [key: string]: unknown } = {}
  const inside: { [key: string]: unknown } = {}
  for (const [k, v] of Object.entries(out)) (k === "description" || k === "title" || k === "default" ? outside : inside)[k] = v
  return { ...outside, anyOf: [inside, placeholder] }
}

const placeholdersIn = (v: unknown): unknown => (Array.isArray(v) ? v.map(placeholdersIn) : isObj(v) ? withPlaceholders(v) : v)

/**
 * The JSON Schema of the pipeline file with every loaded stage, source, sink and section, for
 * editors: a `${VAR}` placeholder is accepted where a string must be one of some values.
 */
export const pipelineJsonSchema = (registry: Registry): JsonSchema => withPlaceholders(pipelineSchema(registry))

const pipelineSchema = (registry: Registry): JsonSchema => {
  const sharedDefs: { [name: string]: unknown } = {}
  const stageVariants = [...registry.stages.values()].map((s) =>
    withProps(
      hoist(jsonSchemaOf(s.config), sharedDefs),
      {
        use: { const: s.id, description: s.description },
        route: { type: "string", description: "Branch (under branches:) that receives the rows this stage drops." },
        id: { type: "string", description: "Instance id for stats when a stage is used more than once." }
      },
      ["use"]
    )
  )
  // biome-ignore lint/suspicious/noExplicitAny: any source or sink config Schema
  const typed = (defs: Iterable<{ readonly type: string; readonly description: string; readonly config: Schema.Schema<any, any> }>) =>
    [...defs].map((d) => withProps(hoist(jsonSchemaOf(d.config), sharedDefs), { type: { const: d.type, description: d.description } }, ["type"]))
  const sink = { anyOf: typed(registry.sinks.values()) }
  const sections: { [key: string]: unknown } = {}
  for (const [name, { schema }] of registry.sections) sections[name] = hoist(jsonSchemaOf(schema), sharedDefs)
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    title: "synthline pipeline file",
    type: "object",
    additionalProperties: false,
    required: ["name", "source", "stages", "sink"],
    properties: {
      name: { type: "string", description: "Name of the pipeline." },
      description: { type: "string", description: "Free text about the pipeline, for people reading the file (the dataset card shows the file as written)." },
      seed: { type: "integer", default: 0, description: "Seed every random choice derives from." },
      plugins: { type: "array", items: { type: "string" }, description: "npm package names or relative paths of plugins." },
      source: { anyOf: typed(registry.sources.values()) },
      stages: { type: "array", items: { anyOf: stageVariants } },
      sink,
      branches: { type: "object", additionalProperties: sink, description: "Named extra sinks, targets of a stage's route option." },
      outputs: {
        type: "object",
        additionalProperties: { anyOf: typed(registry.sinks.values()).map((v) => withProps(v, { where: whereSchema }, [])) },
        description: "Named sinks at the end of the pipeline, each writing the rows that reach it and pass its where: selection."
      },
      ...sections
    },
    ...(Object.keys(sharedDefs).length > 0 ? { $defs: sharedDefs } : {})
  }
}

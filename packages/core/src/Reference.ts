/**
 * Reference data generated from the code: every stage of every loaded plugin with its
 * options (type, default, description) and the JSON Schema of the pipeline file, both from
 * the same Schemas the pipeline decoder uses, so they cannot drift.
 */
import { JSONSchema, Option, Schema, SchemaAST } from "effect"
import type { Registry } from "./Registry.js"
import type { AnyStage } from "./Stage.js"

/** A JSON Schema object. */
export type JsonSchema = { readonly [key: string]: unknown }

/** One option of a stage, source or sink. */
export interface OptionInfo {
  readonly name: string
  readonly type: string
  readonly required: boolean
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

const isObj = (u: unknown): u is { readonly [key: string]: unknown } => typeof u === "object" && u !== null && !Array.isArray(u)

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
export const defaultsOf = (schema: Schema.Schema<any, any>): ReadonlyMap<string, unknown> => {
  const out = new Map<string, unknown>()
  let ast: SchemaAST.AST = schema.ast
  for (;;) {
    if (SchemaAST.isRefinement(ast)) ast = ast.from
    else if (SchemaAST.isSuspend(ast)) ast = ast.f()
    else break
  }
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

// biome-ignore lint/suspicious/noExplicitAny: any config Schema
const jsonSchemaOf = (schema: Schema.Schema<any, any>): JsonSchema => {
  const js: unknown = withoutIds(JSONSchema.make(schema, { target: "jsonSchema7" }))
  if (!isObj(js)) return {}
  // Inline the root $ref if there is one.
  const defs = isObj(js.$defs) ? js.$defs : {}
  let root: JsonSchema = js
  if (typeof js.$ref === "string") {
    const name = js.$ref.replace("#/$defs/", "")
    const target = defs[name]
    if (isObj(target)) root = { ...target, ...(Object.keys(defs).length > 1 ? { $defs: defs } : {}) }
  }
  // Defaults the decoder fills in, where no annotation states them already.
  const defaults = defaultsOf(schema)
  if (defaults.size === 0 || !isObj(root.properties)) return root
  const properties: { [key: string]: unknown } = { ...root.properties }
  for (const [name, value] of defaults) {
    const p = properties[name]
    if (isObj(p) && !("default" in p)) properties[name] = { ...p, default: value }
  }
  return { ...root, properties }
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
  return Object.entries(props).map(([name, p]) => ({
    name,
    type: typeText(p, defs),
    required: required.has(name),
    ...(isObj(p) && "default" in p ? { default: p.default } : {}),
    ...(isObj(p) && typeof p.description === "string" ? { description: p.description } : {})
  }))
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

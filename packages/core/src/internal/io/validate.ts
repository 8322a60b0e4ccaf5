/**
 * Row validation for sources: checks a decoded row against the LMSYS-Chat-1M record schema
 * (extra fields allowed). The check is a compiled `Schema.is`; the readable message naming the
 * field path (`conversation[0].content: expected string, got number`) is built only on failure.
 */
import { Either, Option, ParseResult, Schema, SchemaAST } from "effect"
import { LmsysRecord } from "../../Record.js"
import { isRecord as isObject } from "../../Row.js"

/** Returns `undefined` when the row is fine, else why it is not. */
export type RowCheck = (row: object) => string | undefined

/** The source option saying how rows are checked. */
export type ValidateMode = "lmsys" | "none"

const identifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/

/** Formats a path such as `["conversation", 0, "content"]` as `conversation[0].content`. */
export const formatPath = (path: ReadonlyArray<PropertyKey>): string => {
  let out = ""
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`
    else if (typeof key === "string" && identifier.test(key)) out += out === "" ? key : `.${key}`
    else out += `[${JSON.stringify(String(key))}]`
  }
  return out
}

/** A short name for the JSON type of a value: `string`, `number`, `array`, `null`, ... */
export const kindOf = (value: unknown): string =>
  value === null ? "null" : Array.isArray(value) ? "array" : typeof value === "object" ? "object" : typeof value

const expected = (ast: SchemaAST.AST): string => {
  switch (ast._tag) {
    case "TupleType":
      return "array"
    case "TypeLiteral":
      return "object"
    case "Refinement":
    case "Transformation":
      return expected(ast._tag === "Refinement" ? ast.from : ast.to)
    default:
      return String(ast)
  }
}

const isList = (x: unknown): x is ReadonlyArray<unknown> => Array.isArray(x)

const first = (issues: ParseResult.SingleOrNonEmpty<ParseResult.ParseIssue>): ParseResult.ParseIssue =>
  isList(issues) ? issues[0] : issues

/** Renders the first leaf of a parse issue as `path: expected X, got Y`. */
export const describeIssue = (issue: ParseResult.ParseIssue): string => {
  const path: Array<PropertyKey> = []
  let cur: ParseResult.ParseIssue = issue
  for (;;) {
    switch (cur._tag) {
      case "Pointer": {
        const p = cur.path
        if (isList(p)) path.push(...p)
        else path.push(p)
        cur = cur.issue
        continue
      }
      case "Composite":
        cur = first(cur.issues)
        continue
      case "Refinement":
      case "Transformation":
        cur = cur.issue
        continue
      case "Type": {
        const where = path.length > 0 ? `${formatPath(path)}: ` : ""
        if (typeof cur.actual === "number" && !Number.isFinite(cur.actual)) {
          return `${where}expected a finite number, got ${cur.actual}${Number.isNaN(cur.actual) ? "" : " (a number out of range, e.g. 1e400)"}`
        }
        return `${where}expected ${expected(cur.ast)}, got ${kindOf(cur.actual)}`
      }
      case "Missing":
        return `${path.length > 0 ? formatPath(path) : "field"}: is missing`
      case "Unexpected":
      case "Forbidden":
        return `${path.length > 0 ? `${formatPath(path)}: ` : ""}${cur.message ?? cur._tag.toLowerCase()}`
    }
  }
}

type Guard = (u: unknown) => boolean

/**
 * A plain-closure guard for the schema subset records use (structs of required fields, arrays,
 * string/number/boolean, refinements such as finite numbers), exact for that subset and several times faster than `Schema.is`;
 * `undefined` for anything else.
 */
const fastGuard = (ast: SchemaAST.AST): Guard | undefined => {
  switch (ast._tag) {
    case "StringKeyword":
      return (u) => typeof u === "string"
    case "NumberKeyword":
      return (u) => typeof u === "number"
    case "BooleanKeyword":
      return (u) => typeof u === "boolean"
    case "Refinement": {
      if (ast.from._tag === "NumberKeyword" && ast.annotations[SchemaAST.SchemaIdAnnotationId] === Schema.FiniteSchemaId) {
        return (u) => typeof u === "number" && Number.isFinite(u)
      }
      const from = fastGuard(ast.from)
      if (from === undefined) return undefined
      return (u) => from(u) && Option.isNone(ast.filter(u, {}, ast))
    }
    case "TupleType": {
      if (ast.elements.length > 0 || ast.rest.length !== 1) return undefined
      const item = fastGuard(ast.rest[0]!.type)
      if (item === undefined) return undefined
      return (u) => {
        if (!Array.isArray(u)) return false
        for (let i = 0; i < u.length; i++) if (!item(u[i])) return false
        return true
      }
    }
    case "TypeLiteral": {
      if (ast.indexSignatures.length > 0) return undefined
      const keys: Array<string> = []
      const guards: Array<Guard> = []
      for (const p of ast.propertySignatures) {
        if (p.isOptional || typeof p.name !== "string") return undefined
        const g = fastGuard(p.type)
        if (g === undefined) return undefined
        keys.push(p.name)
        guards.push(g)
      }
      return (u) => {
        if (!isObject(u)) return false
        for (let i = 0; i < keys.length; i++) if (!guards[i]!(u[keys[i]!])) return false
        return true
      }
    }
    default:
      return undefined
  }
}

/** A compiled check of rows against a schema. */
const compile = <A, I>(schema: Schema.Schema<A, I, never>): RowCheck => {
  const is: Guard = fastGuard(schema.ast) ?? Schema.is(schema)
  const validate = ParseResult.validateEither(schema)
  return (row) => {
    if (is(row)) return undefined
    // Slow path, only for rows that fail: the detailed message.
    const result = validate(row, { errors: "first", onExcessProperty: "ignore" })
    return Either.isLeft(result) ? describeIssue(result.left) : undefined
  }
}

type LmsysFields = typeof LmsysRecord.fields

const pick = (keep: ReadonlyArray<string>): { [key: string]: LmsysFields[keyof LmsysFields] } => {
  const out: { [key: string]: LmsysFields[keyof LmsysFields] } = {}
  const fields: { readonly [key: string]: LmsysFields[keyof LmsysFields] } = LmsysRecord.fields
  for (const k of keep) {
    const f = fields[k]
    if (f !== undefined) out[k] = f
  }
  return out
}

const fullLmsys: RowCheck = compile(LmsysRecord)

/** The row check for a `validate` option; `fields` (top-level names) limits an `lmsys` check to a projection. */
export const rowCheck = (mode: ValidateMode, fields?: ReadonlyArray<string>): RowCheck | undefined =>
  mode === "none" ? undefined : fields === undefined ? fullLmsys : compile(Schema.Struct(pick(fields)))

/** The reject message for a row failing the LMSYS check. */
export const lmsysMismatch = (detail: string): string => `does not match the LMSYS-Chat-1M record: ${detail}`

/**
 * Row validation for sources: checks a decoded row against the LMSYS-Chat-1M record schema
 * (extra fields allowed). The check is a compiled `Schema.is`; the readable message naming the
 * field path (`conversation[0].content: expected string, got number`) is built only on failure.
 */
import { Either, ParseResult, Schema, type SchemaAST } from "effect"
import { LmsysRecord } from "../../Record.js"

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

/** A compiled check of rows against a schema. */
const compile = <A, I>(schema: Schema.Schema<A, I, never>): RowCheck => {
  const is = Schema.is(schema)
  const validate = ParseResult.validateEither(schema)
  return (row) => {
    if (is(row)) return undefined
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

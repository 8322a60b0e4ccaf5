/**
 * Schema decoding issues of pipeline files in plain words: an option with a fixed set of values
 * lists them all and suggests the nearest (`style must be one of placeholder, mask; did you mean
 * "placeholder"?`), and a type is said the way a person says it ("a list of strings, for example
 * [English]") instead of `Expected ReadonlyArray<string>`.
 */
import { Option, SchemaAST } from "effect"
import { nearest } from "../Errors.js"

/**
 * The (encoded-side) ASTs that check the value at `seg` inside a value checked by `ast`:
 * decoding checks the input against the encoded side, so `from` of transformations is walked.
 */
export const childAsts = (ast: SchemaAST.AST, seg: string | number): ReadonlyArray<SchemaAST.AST> => {
  switch (ast._tag) {
    case "Transformation":
    case "Refinement":
      return childAsts(ast.from, seg)
    case "Suspend":
      return childAsts(ast.f(), seg)
    case "Union":
      return ast.types.flatMap((t) => childAsts(t, seg))
    case "TypeLiteral": {
      const ps = ast.propertySignatures.find((p) => p.name === seg)
      return ps !== undefined ? [ps.type] : ast.indexSignatures.map((s) => s.type)
    }
    case "TupleType": {
      const element = typeof seg === "number" ? ast.elements[seg] : undefined
      return element !== undefined ? [element.type] : ast.rest.map((r) => r.type)
    }
    default:
      return []
  }
}

/** The members of `asts` with unions, transformations and suspensions opened. */
const members = (asts: ReadonlyArray<SchemaAST.AST>): Array<SchemaAST.AST> =>
  asts.flatMap((a): Array<SchemaAST.AST> => {
    switch (a._tag) {
      case "Union":
        return members(a.types)
      case "Transformation":
        return members([a.from])
      case "Suspend":
        return members([a.f()])
      default:
        return [a]
    }
  })

/** The allowed values when every member is a literal (`undefined` of an optional key aside). */
const literals = (asts: ReadonlyArray<SchemaAST.AST>): Array<string> | undefined => {
  const ms = members(asts).filter((m) => m._tag !== "UndefinedKeyword")
  if (ms.length === 0 || !ms.every((m) => m._tag === "Literal")) return undefined
  return ms.flatMap((m) => (m._tag === "Literal" ? [String(m.literal)] : []))
}

const plural = (words: string): string => {
  if (words === "true or false") return "true/false values"
  const bare = words.replace(/^an? /, "")
  return bare.endsWith("s") ? bare : `${bare}s`
}

/** A type in words: "a string", "a list of strings", "a positive integer", "one of a, b". */
export const describe = (ast: SchemaAST.AST): string => {
  const said = SchemaAST.getDescriptionAnnotation(ast)
  switch (ast._tag) {
    case "StringKeyword":
      return "a string"
    case "NumberKeyword":
      return "a number"
    case "BooleanKeyword":
      return "true or false"
    case "Literal":
      return JSON.stringify(ast.literal)
    case "TypeLiteral":
      return ast.propertySignatures.length > 0 ? `a mapping with ${ast.propertySignatures.map((p) => String(p.name)).join(", ")}` : "a mapping"
    case "TupleType": {
      const rest = ast.rest[0]
      if (rest === undefined) return `a list of ${ast.elements.length} values`
      return `${ast.elements.length > 0 ? "a non-empty list" : "a list"} of ${plural(describe(rest.type))}`
    }
    case "Refinement": {
      // A list with a length check says the length in words after the element type.
      if (members([ast.from]).some((m) => m._tag === "TupleType")) {
        const min = Option.isSome(said) ? /at least (\d+) item/.exec(said.value)?.[1] : undefined
        return `${describe(ast.from)}${min !== undefined ? ` (at least ${min})` : ""}`
      }
      return Option.isSome(said) && !/[<{]/.test(said.value) ? said.value : describe(ast.from)
    }
    case "Transformation":
      return describe(ast.from)
    case "Suspend":
      return describe(ast.f())
    case "Union": {
      const lits = literals([ast])
      if (lits !== undefined) return `one of ${lits.join(", ")}`
      const parts = [...new Set(ast.types.filter((t) => t._tag !== "UndefinedKeyword").map(describe))]
      return parts.join(" or ")
    }
    default:
      return Option.isSome(said) ? said.value : String(ast)
  }
}

// The value as written (the caller hides it when it is a secret), cut short.
const shown = (u: unknown): string => {
  const text = JSON.stringify(u) ?? String(u)
  return text.length > 80 ? `${text.slice(0, 80)}…` : text
}

/**
 * The words for a decoding issue at `path` (of an input decoded with `ast`; `actual` is the value there), or `undefined` when
 * Effect's own message (a refinement's, say) is plain already. Starts with the path when there is one.
 */
export const plainIssue = (
  ast: SchemaAST.AST,
  path: ReadonlyArray<string | number>,
  actual: unknown,
  message: string
): string | undefined => {
  const asts = path.reduce<ReadonlyArray<SchemaAST.AST>>((acc, seg) => acc.flatMap((a) => childAsts(a, seg)), [ast])
  if (asts.length === 0) return undefined
  const subject = path.length > 0 ? `${path.join(".")} ` : ""
  const lits = literals(asts)
  if (lits !== undefined) {
    const near = typeof actual === "string" ? nearest(actual, lits) : undefined
    return `${subject}must be one of ${lits.join(", ")}${near !== undefined ? `; did you mean "${near}"?` : ""}`
  }
  // Rewrite only messages that speak TypeScript (`Expected ReadonlyArray<string>, actual ...`).
  const expected = /^Expected (.*?), actual /s.exec(message)?.[1]
  if (expected === undefined || !/ReadonlyArray<|NonEmptyArray|\{ readonly|\bstring\b|\bnumber\b|\bboolean\b/.test(expected)) return undefined
  const words = [...new Set(members(asts).filter((m) => m._tag !== "UndefinedKeyword").map(describe))].join(" or ")
  const list = /^a (non-empty )?list of strings/.test(words)
  const example = list && (typeof actual === "string" || typeof actual === "number") ? `, for example [${actual}]` : ""
  return `${subject}must be ${words}${example}, actual ${shown(actual)}`
}

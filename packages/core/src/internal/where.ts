/**
 * `where:` selections of a pipeline's outputs: which rows reaching the end of the pipeline an
 * output writes. A selection is either a mapping of field tests (`{ moderation.flagged: false }`,
 * every test must hold) or a small expression:
 *
 * ```
 * expr := or;  or := and ("or" and)*;  and := not ("and" not)*;  not := "not" not | atom
 * atom := "(" expr ")" | path [op value];  op := == != < <= > >=
 * path := name ("." (name | digits))*;  value := number | "text" | 'text' | true | false | null
 * ```
 *
 * A bare path tests that the field is set (not missing, null, false, 0 or ""). `== null` holds
 * for a missing field too. `<`, `<=`, `>`, `>=` compare numbers with numbers and text with text;
 * any other pair is false. There are no function calls and nothing is evaluated as code.
 */
import { Either } from "effect"
import { getPath, parsePath, type Row } from "../Row.js"

/** A literal a field is compared with. */
export type Literal = string | number | boolean | null

/** A comparison operator. */
export type Op = "==" | "!=" | "<" | "<=" | ">" | ">="

/** A parsed selection. */
export type Expr =
  | { readonly _tag: "Or"; readonly left: Expr; readonly right: Expr }
  | { readonly _tag: "And"; readonly left: Expr; readonly right: Expr }
  | { readonly _tag: "Not"; readonly expr: Expr }
  | {
      readonly _tag: "Test"
      readonly path: string
      readonly keys: ReadonlyArray<string>
      readonly op?: Op | undefined
      readonly value?: Literal | undefined
    }

/** A selection with the text it was written as (canonical for the mapping form). */
export interface Where {
  readonly text: string
  readonly expr: Expr
}

type Token =
  | { readonly kind: "path"; readonly text: string; readonly at: number }
  | { readonly kind: "op"; readonly text: Op; readonly at: number }
  | { readonly kind: "lit"; readonly value: Literal; readonly at: number }
  | { readonly kind: "word"; readonly text: "and" | "or" | "not"; readonly at: number }
  | { readonly kind: "paren"; readonly text: "(" | ")"; readonly at: number }

const pathRe = /[A-Za-z_][A-Za-z0-9_+-]*(?:\.(?:[A-Za-z_][A-Za-z0-9_+-]*|[0-9]+))*/y
const numberRe = /-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y
const opRe = /==|!=|<=|>=|<|>/y
const ops: ReadonlyArray<Op> = ["==", "!=", "<=", ">=", "<", ">"]

const tokenize = (text: string): Either.Either<Array<Token>, string> => {
  const out: Array<Token> = []
  let i = 0
  const at = (re: RegExp): string | undefined => {
    re.lastIndex = i
    const m = re.exec(text)
    return m === null ? undefined : m[0]
  }
  while (i < text.length) {
    const c = text[i]!
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i++
      continue
    }
    if (c === "(" || c === ")") {
      out.push({ kind: "paren", text: c, at: i })
      i++
      continue
    }
    if (c === '"' || c === "'") {
      let j = i + 1
      let s = ""
      while (j < text.length && text[j] !== c) {
        if (text[j] === "\\" && j + 1 < text.length) j++
        s += text[j]
        j++
      }
      if (j >= text.length) return Either.left(`unterminated text starting at character ${i + 1}`)
      out.push({ kind: "lit", value: s, at: i })
      i = j + 1
      continue
    }
    const op = ops.find((o) => o === at(opRe))
    if (op !== undefined) {
      out.push({ kind: "op", text: op, at: i })
      i += op.length
      continue
    }
    const num = at(numberRe)
    if (num !== undefined) {
      out.push({ kind: "lit", value: Number(num), at: i })
      i += num.length
      continue
    }
    const path = at(pathRe)
    if (path !== undefined) {
      if (path === "and" || path === "or" || path === "not") out.push({ kind: "word", text: path, at: i })
      else if (path === "true" || path === "false") out.push({ kind: "lit", value: path === "true", at: i })
      else if (path === "null") out.push({ kind: "lit", value: null, at: i })
      else out.push({ kind: "path", text: path, at: i })
      i += path.length
      continue
    }
    return Either.left(`unexpected ${JSON.stringify(c)} at character ${i + 1}`)
  }
  return Either.right(out)
}

const describe = (t: Token | undefined): string =>
  t === undefined ? "the end" : t.kind === "lit" ? `${JSON.stringify(t.value)} at character ${t.at + 1}` : `${t.text} at character ${t.at + 1}`

class ParseFailure {
  constructor(readonly message: string) {}
}

const parseTokens = (tokens: ReadonlyArray<Token>): Expr => {
  let i = 0
  const peek = () => tokens[i]
  const isWord = (w: string) => {
    const t = peek()
    return t !== undefined && t.kind === "word" && t.text === w
  }
  const or = (): Expr => {
    let left = and()
    while (isWord("or")) {
      i++
      left = { _tag: "Or", left, right: and() }
    }
    return left
  }
  const and = (): Expr => {
    let left = not()
    while (isWord("and")) {
      i++
      left = { _tag: "And", left, right: not() }
    }
    return left
  }
  const not = (): Expr => {
    if (isWord("not")) {
      i++
      return { _tag: "Not", expr: not() }
    }
    return atom()
  }
  const atom = (): Expr => {
    const t = peek()
    if (t !== undefined && t.kind === "paren" && t.text === "(") {
      i++
      const inner = or()
      const close = peek()
      if (close === undefined || close.kind !== "paren" || close.text !== ")") {
        throw new ParseFailure(`expected ) to close ( at character ${t.at + 1}, found ${describe(close)}`)
      }
      i++
      return inner
    }
    if (t === undefined || t.kind !== "path") throw new ParseFailure(`expected a field name, found ${describe(t)}`)
    i++
    const op = peek()
    if (op === undefined || op.kind !== "op") return { _tag: "Test", path: t.text, keys: parsePath(t.text) }
    i++
    const value = peek()
    if (value === undefined || value.kind !== "lit") {
      throw new ParseFailure(`expected a value (number, "text", true, false or null) after ${op.text}, found ${describe(value)}`)
    }
    i++
    return { _tag: "Test", path: t.text, keys: parsePath(t.text), op: op.text, value: value.value }
  }
  const expr = or()
  if (i < tokens.length) throw new ParseFailure(`expected and, or or the end, found ${describe(tokens[i])}`)
  return expr
}

/** Parses an expression; the error says what is wrong and at which character. */
export const parse = (text: string): Either.Either<Where, string> =>
  Either.flatMap(tokenize(text), (tokens) => {
    if (tokens.length === 0) return Either.left("the selection is empty")
    try {
      return Either.right({ text: text.trim(), expr: parseTokens(tokens) })
    } catch (e) {
      if (e instanceof ParseFailure) return Either.left(e.message)
      throw e
    }
  })

const isLiteral = (u: unknown): u is Literal =>
  u === null || typeof u === "string" || typeof u === "boolean" || (typeof u === "number" && Number.isFinite(u))

const literalText = (v: Literal): string => (typeof v === "string" ? JSON.stringify(v) : String(v))

/**
 * Reads a selection as written in a pipeline file: an expression (text) or a mapping of field
 * tests (`{ field: value }`, all must hold); the error says what is wrong.
 */
export const fromConfig = (raw: unknown): Either.Either<Where, string> => {
  if (typeof raw === "string") return parse(raw)
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    return Either.left("where must be an expression (text) or a mapping of field: value tests")
  }
  const entries = Object.entries(raw)
  let expr: Expr | undefined
  const texts: Array<string> = []
  for (const [path, value] of entries) {
    pathRe.lastIndex = 0
    const m = pathRe.exec(path)
    if (m === null || m[0] !== path) return Either.left(`${JSON.stringify(path)} is not a field path (name.name.0...)`)
    if (!isLiteral(value)) return Either.left(`the test of ${path} must be a number, text, true, false or null`)
    const test: Expr = { _tag: "Test", path, keys: parsePath(path), op: "==", value }
    texts.push(`${path} == ${literalText(value)}`)
    expr = expr === undefined ? test : { _tag: "And", left: expr, right: test }
  }
  return expr === undefined ? Either.left("where must test at least one field") : Either.right({ text: texts.join(" and "), expr })
}

/** The field paths a selection reads, in order of appearance. */
export const fields = (where: Where): ReadonlyArray<string> => {
  const out: Array<string> = []
  const walk = (e: Expr): void => {
    if (e._tag === "Test") {
      if (!out.includes(e.path)) out.push(e.path)
    } else if (e._tag === "Not") walk(e.expr)
    else {
      walk(e.left)
      walk(e.right)
    }
  }
  walk(where.expr)
  return out
}

const truthy = (v: unknown): boolean => v !== undefined && v !== null && v !== false && v !== 0 && v !== ""

const equals = (v: unknown, lit: Literal): boolean => (lit === null ? v === null || v === undefined : v === lit)

const compare = (v: unknown, op: Op, lit: Literal): boolean => {
  switch (op) {
    case "==":
      return equals(v, lit)
    case "!=":
      return !equals(v, lit)
    default: {
      if (typeof v === "number" && typeof lit === "number") return order(v, op, lit)
      if (typeof v === "string" && typeof lit === "string") return order(v, op, lit)
      return false
    }
  }
}

const order = <A extends number | string>(a: A, op: Op, b: A): boolean =>
  op === "<" ? a < b : op === "<=" ? a <= b : op === ">" ? a > b : a >= b

const evaluate = (e: Expr, row: Row): boolean => {
  switch (e._tag) {
    case "Or":
      return evaluate(e.left, row) || evaluate(e.right, row)
    case "And":
      return evaluate(e.left, row) && evaluate(e.right, row)
    case "Not":
      return !evaluate(e.expr, row)
    case "Test": {
      const v = getPath(row, e.keys)
      return e.op === undefined ? truthy(v) : compare(v, e.op, e.value ?? null)
    }
  }
}

/** Whether a row is selected. */
export const matches = (where: Where, row: Row): boolean => evaluate(where.expr, row)

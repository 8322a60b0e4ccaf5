/**
 * `pnpm lint`'s function-length check: no function in core or llm is longer than 80 lines
 * (declarations, methods, arrow functions and `Effect.gen` bodies alike, each counted from its
 * first line to its last, nested functions included). The engine is what a newcomer reads
 * first; a function that does not fit on a screen or two is one to split by responsibility.
 *
 *   tsx scripts/function-length.ts [--max N] DIR...
 *
 * Prints each function over the limit as `file:line  name  N lines` and exits 1 when there is one.
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join, relative } from "node:path"
import ts from "typescript"

/** One function over the limit. */
export interface LongFunction {
  readonly file: string
  readonly line: number
  readonly name: string
  readonly lines: number
}

const sources = (dir: string): ReadonlyArray<string> =>
  readdirSync(dir)
    .sort()
    .flatMap((f) => {
      const p = join(dir, f)
      if (statSync(p).isDirectory()) return sources(p)
      return p.endsWith(".ts") && !p.endsWith(".d.ts") ? [p] : []
    })

/** A readable name for a function node: its own, its variable's or property's, or what it is passed to. */
const nameOf = (node: ts.SignatureDeclaration): string => {
  if (node.name !== undefined) return node.name.getText()
  let at: ts.Node = node.parent
  let via = ""
  if (ts.isCallExpression(at)) {
    via = ` (in ${at.expression.getText().slice(0, 40)})`
    while (!ts.isVariableDeclaration(at) && !ts.isPropertyAssignment(at) && !ts.isSourceFile(at)) at = at.parent
  }
  if (ts.isVariableDeclaration(at) || ts.isPropertyAssignment(at)) return `${at.name.getText()}${via}`
  return `<anonymous>${via}`
}

/** Every function in `file` longer than `max` lines. */
export const longFunctions = (file: string, text: string, max: number): ReadonlyArray<LongFunction> => {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
  const found: Array<LongFunction> = []
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && "body" in node && node.body !== undefined) {
      const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line
      const last = source.getLineAndCharacterOfPosition(node.getEnd()).line
      if (last - first + 1 > max) found.push({ file, line: first + 1, name: nameOf(node), lines: last - first + 1 })
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

const main = (args: ReadonlyArray<string>): number => {
  const at = args.indexOf("--max")
  const max = at >= 0 ? Number(args[at + 1]) : 80
  const dirs = at >= 0 ? args.filter((_, i) => i !== at && i !== at + 1) : args
  if (!Number.isInteger(max) || max < 1 || dirs.length === 0) {
    process.stderr.write("usage: tsx scripts/function-length.ts [--max N] DIR...\n")
    return 2
  }
  const long = dirs.flatMap((d) => sources(d)).flatMap((f) => longFunctions(f, readFileSync(f, "utf8"), max))
  for (const f of long) process.stdout.write(`${relative(process.cwd(), f.file)}:${f.line}  ${f.name}  ${f.lines} lines\n`)
  if (long.length > 0) process.stdout.write(`${long.length} function(s) over ${max} lines: split them by responsibility\n`)
  return long.length > 0 ? 1 : 0
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) process.exitCode = main(process.argv.slice(2))

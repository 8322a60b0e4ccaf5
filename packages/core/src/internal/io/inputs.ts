/**
 * Input file resolution for sources: a path or glob (or a list of them) relative to the
 * pipeline folder becomes an ordered list of files. Each pattern's matches are sorted
 * lexicographically (by code unit, not locale) and patterns keep their order; a file matched
 * twice is listed once. A pattern matching nothing is a `SourceError` naming it.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Effect } from "effect"
import { glob, isDynamicPattern } from "tinyglobby"
import { SourceError } from "../../Errors.js"

/** One input file: absolute path and the path relative to the pipeline folder (unit ids use it). */
export interface InputFile {
  readonly abs: string
  readonly rel: string
}

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

const toPosix = (p: string): string => p.split("\\").join("/")

/** Splits a pattern into its leading static folder and the dynamic rest. */
const splitPattern = (pattern: string): { readonly base: string; readonly rest: string } => {
  const segments = toPosix(pattern).split("/")
  let i = 0
  while (i < segments.length - 1 && !isDynamicPattern(segments[i]!)) i++
  const base = segments.slice(0, i).join("/")
  return { base: base === "" && pattern.startsWith("/") ? "/" : base, rest: segments.slice(i).join("/") }
}

/** Expands patterns relative to `baseDir` into files. */
export const expandInputs = (
  patterns: string | ReadonlyArray<string>,
  baseDir: string
): Effect.Effect<ReadonlyArray<InputFile>, SourceError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const list = typeof patterns === "string" ? [patterns] : patterns
    if (list.length === 0) return yield* new SourceError({ file: baseDir, reason: "no input path given" })
    const seen = new Set<string>()
    const out: Array<InputFile> = []
    for (const pattern of list) {
      let matches: Array<string>
      if (!isDynamicPattern(toPosix(pattern))) {
        const abs = path.resolve(baseDir, pattern)
        const info = yield* fs.stat(abs).pipe(
          Effect.mapError(() => new SourceError({ file: pattern, reason: `no such file (resolved to ${abs})` }))
        )
        if (info.type === "Directory") {
          return yield* new SourceError({
            file: pattern,
            reason: `is a folder; give a glob such as ${pattern.replace(/\/+$/, "")}/*.parquet`
          })
        }
        matches = [abs]
      } else {
        const { base, rest } = splitPattern(pattern)
        const cwd = path.resolve(baseDir, base)
        const found = yield* Effect.tryPromise({
          try: () => glob(rest, { cwd, absolute: true, onlyFiles: true, expandDirectories: false }),
          catch: (e) => new SourceError({ file: pattern, reason: `cannot list files: ${String(e)}` })
        })
        matches = found.map((f) => path.resolve(f))
      }
      if (matches.length === 0) {
        return yield* new SourceError({ file: pattern, reason: `no file matches this pattern (under ${baseDir})` })
      }
      const files = matches.map((abs) => ({ abs, rel: toPosix(path.relative(baseDir, abs)) }))
      files.sort((a, b) => byCodeUnit(a.rel, b.rel))
      for (const f of files) {
        if (seen.has(f.abs)) continue
        seen.add(f.abs)
        out.push(f)
      }
    }
    return out
  })

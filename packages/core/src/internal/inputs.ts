/**
 * The check that a pipeline's source paths match files, done by `validate`, `plan` and `run`
 * before any work: a pattern matching nothing is a pipeline-file error at its line, with the
 * nearest existing folder when one segment of it is mistyped.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Effect, Either } from "effect"
import { isDynamicPattern } from "tinyglobby"
import { isAbsolute, relative } from "node:path"
import * as YAML from "yaml"
import { nearest, PipelineFileError } from "../Errors.js"
import type { ResolvedPipeline } from "../Pipeline.js"
import { expandInputs } from "./io/inputs.js"

const patternsOf = (config: unknown): ReadonlyArray<string> => {
  if (typeof config !== "object" || config === null || !("path" in config)) return []
  const p = config.path
  return typeof p === "string" ? [p] : Array.isArray(p) ? p.filter((x): x is string => typeof x === "string") : []
}

/** Line and column of `source.path` (or its `i`-th entry) in the pipeline file's text. */
const position = (text: string, index: number | undefined): { line: number; col: number } | undefined => {
  const counter = new YAML.LineCounter()
  const doc = YAML.parseDocument(text, { lineCounter: counter })
  const node = doc.getIn(index === undefined ? ["source", "path"] : ["source", "path", index], true)
  const start = YAML.isNode(node) ? node.range?.[0] : undefined
  return start === undefined ? undefined : counter.linePos(start)
}

/** The pattern with its first missing static folder replaced by the nearest existing one, if any. */
const nearFolder = (pattern: string, baseDir: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const segments = pattern.split("/")
    let dir = pattern.startsWith("/") ? "/" : baseDir
    for (let i = pattern.startsWith("/") ? 1 : 0; i < segments.length - 1; i++) {
      const seg = segments[i]!
      if (isDynamicPattern(seg)) return undefined
      const next = path.join(dir, seg)
      if (yield* fs.exists(next).pipe(Effect.orElseSucceed(() => false))) {
        dir = next
        continue
      }
      const names = yield* fs.readDirectory(dir).pipe(Effect.orElseSucceed((): ReadonlyArray<string> => []))
      const folders: Array<string> = []
      for (const n of names) {
        const info = yield* fs.stat(path.join(dir, n)).pipe(Effect.option)
        if (info._tag === "Some" && info.value.type === "Directory") folders.push(n)
      }
      const near = nearest(seg, folders)
      return near === undefined ? undefined : [...segments.slice(0, i), near, ...segments.slice(i + 1)].join("/")
    }
    return undefined
  })

/**
 * Fails with a `PipelineFileError` at the line of `source.path` when a pattern of it matches no
 * file (sources without a `path` option, or with URLs, are not checked).
 */
export const checkInputs = (
  pipeline: ResolvedPipeline
): Effect.Effect<void, PipelineFileError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const patterns = patternsOf(pipeline.source.config)
    const list = typeof pipeline.source.config === "object" && pipeline.source.config !== null && "path" in pipeline.source.config && Array.isArray(pipeline.source.config.path)
    if (patterns.length === 0 || patterns.some((p) => p.includes("://"))) return
    const fs = yield* FileSystem.FileSystem
    for (const [i, pattern] of patterns.entries()) {
      const result = yield* Effect.either(expandInputs(pattern, pipeline.baseDir))
      if (Either.isRight(result)) continue
      // Shown as the user would give it: relative to the working folder when it lies below it.
      const absolute = pipeline.file ?? pipeline.baseDir
      const below = relative(process.cwd(), absolute)
      const file = below !== "" && !below.startsWith("..") && !isAbsolute(below) ? below : absolute
      const text = pipeline.file === undefined ? "" : yield* fs.readFileString(absolute).pipe(Effect.orElseSucceed(() => ""))
      const at = text === "" ? undefined : (position(text, list ? i : undefined) ?? position(text, undefined))
      const near = yield* nearFolder(pattern, pipeline.baseDir)
      return yield* new PipelineFileError({
        file,
        ...(at !== undefined ? { line: at.line, column: at.col } : {}),
        reason: `source path ${pattern}: ${result.left.reason}${near !== undefined ? `; did you mean ${near}?` : ""}`
      })
    }
  })

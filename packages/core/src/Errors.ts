/**
 * The error union of @synthline/core. Every error carries the context a person needs
 * (file, line, column, stage id, row) and renders it in `message`; names a person mistyped get
 * a "did you mean" ({@link didYouMean}: the nearest candidate by edit distance).
 */
import { Data } from "effect"

/** A pipeline file that cannot be read, parsed or decoded. Exit code 2. */
export class PipelineFileError extends Data.TaggedError("PipelineFileError")<{
  readonly file: string
  readonly line?: number
  readonly column?: number
  readonly stage?: string
  readonly reason: string
}> {
  override get message(): string {
    const at = this.line !== undefined ? `${this.file}:${this.line}:${this.column ?? 1}` : this.file
    return `${at}: ${this.stage !== undefined ? `stage ${this.stage}: ` : ""}${this.reason}`
  }
}

/** A plugin that cannot be found, imported, or does not export a plugin. Exit code 2. */
export class PluginLoadError extends Data.TaggedError("PluginLoadError")<{
  readonly specifier: string
  readonly reason: string
}> {
  override get message(): string {
    return `cannot load plugin ${this.specifier}: ${this.reason}`
  }
}

/** A source that cannot be planned or read at all (missing file, unreadable directory). */
export class SourceError extends Data.TaggedError("SourceError")<{
  readonly file: string
  readonly reason: string
}> {
  override get message(): string {
    return `${this.file}: ${this.reason}`
  }
}

/** A sink that cannot write. */
export class SinkError extends Data.TaggedError("SinkError")<{
  readonly path: string
  readonly reason: string
}> {
  override get message(): string {
    return `cannot write ${this.path}: ${this.reason}`
  }
}

/** A stage that failed as a whole (not one row): configuration or a resource it needs. */
export class StageError extends Data.TaggedError("StageError")<{
  readonly stage: string
  readonly reason: string
  /** Where the stage is declared (`pipeline.yaml:12:5`), when the error is about the stage as written (it could not be made). */
  readonly at?: string | undefined
}> {
  override get message(): string {
    return `${this.at === undefined ? "" : `${this.at}: `}stage ${this.stage}: ${this.reason}`
  }
}

/** A run that stopped: too many rejects, bad state on disk, a usage error. */
export class RunError extends Data.TaggedError("RunError")<{
  readonly reason: string
  /** Process exit code the CLI uses: 2 for usage, 1 otherwise. */
  readonly exitCode: 1 | 2
}> {
  override get message(): string {
    return this.reason
  }
}

/**
 * The text of a thrown value, for an error message: an `Error`'s message, anything else as a
 * string. The one such helper every synthline package uses.
 */
export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** Every error @synthline/core can fail with. */
export type CoreError = PipelineFileError | PluginLoadError | SourceError | SinkError | StageError | RunError

/** Exit code for an error a run or pipeline load failed with: 2 for usage and pipeline files, 1 otherwise. */
export const exitCodeOf = (error: { readonly _tag: string; readonly exitCode?: number }): 1 | 2 =>
  error._tag === "PipelineFileError" || error._tag === "PluginLoadError"
    ? 2
    : error._tag === "RunError" && error.exitCode === 2
      ? 2
      : 1

/** Levenshtein distance between two names. */
const distance = (a: string, b: string): number => {
  const prev = new Array<number>(b.length + 1)
  for (let j = 0; j <= b.length; j++) prev[j] = j
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!
    prev[0] = i
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1))
      diag = tmp
    }
  }
  return prev[b.length]!
}

/** The candidate nearest to `name`, if it is close enough to be a plausible typo. */
export const nearest = (name: string, candidates: Iterable<string>): string | undefined => {
  let best: string | undefined
  let bestD = Number.POSITIVE_INFINITY
  for (const c of candidates) {
    const d = distance(name.toLowerCase(), c.toLowerCase())
    if (d < bestD) {
      bestD = d
      best = c
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined
}

/** ` — did you mean X?` or the empty string. */
export const didYouMean = (name: string, candidates: Iterable<string>): string => {
  const n = nearest(name, candidates)
  return n === undefined ? "" : ` — did you mean ${n}?`
}

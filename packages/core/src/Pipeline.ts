/**
 * Pipelines: a pipeline file (YAML or JSON) decoded into a resolved pipeline, with errors
 * that name file, line, column, stage and the nearest valid name; and the same pipeline
 * composed in TypeScript with row types checked at compile time.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { Effect, Either, ParseResult, type Pipeable, Schema, type SchemaAST } from "effect"
import { createHash } from "node:crypto"
import { dirname, resolve } from "node:path"
import { pipeArguments } from "effect/Pipeable"
import * as YAML from "yaml"
import { PipelineFileError, type PluginLoadError } from "./Errors.js"
import { isSecretName } from "./Secrets.js"
import { didYouMean } from "./Suggest.js"
import { type LmsysRecord, lmsysFields } from "./Record.js"
import * as Registry from "./Registry.js"
import type { Row } from "./Row.js"
import type { AnySink, SinkBaseConfig, SinkDefinition } from "./Sink.js"
import type { AnySource, SourceDefinition } from "./Source.js"
import { type AnyStage, providedFields, requiredFields, type Stage } from "./Stage.js"

/** One stage as used in a pipeline. */
export interface StageUse {
  /** Position in `stages` (0-based). */
  readonly index: number
  /** `core/dedup`, or `core/dedup#2` for the second use of the same stage, or the `id` option. */
  readonly instanceId: string
  readonly stage: AnyStage
  /** Decoded config (defaults filled). */
  readonly config: unknown
  /** Branch that receives the rows this stage drops. */
  readonly route?: string | undefined
  /** Where it is declared in the pipeline file. */
  readonly line?: number | undefined
}

/** A source or sink with its decoded config. */
export interface Configured<D, C> {
  readonly def: D
  readonly config: C
}

/** A pipeline ready to run: every plugin loaded, every config decoded. */
export interface ResolvedPipeline {
  readonly name: string
  readonly seed: number
  /** The pipeline file, when it came from one. */
  readonly file?: string | undefined
  /** Folder relative paths resolve against. */
  readonly baseDir: string
  readonly registry: Registry.Registry
  readonly source: Configured<AnySource, unknown>
  readonly stages: ReadonlyArray<StageUse>
  readonly sink: Configured<AnySink, SinkBaseConfig>
  readonly branches: ReadonlyMap<string, Configured<AnySink, SinkBaseConfig>>
  /** Decoded plugin sections (`models`, `cache`, ...). */
  readonly sections: { readonly [key: string]: unknown }
  /** Normalized JSON form (defaults filled) the fingerprint hashes. */
  readonly normalized: unknown
  /** sha256 of the normalized pipeline, plugin versions and seed. */
  readonly fingerprint: string
  /**
   * Values of the `${VAR}` references whose name contains KEY, TOKEN, SECRET or PASSWORD: a run
   * never writes them (see `Secrets`).
   */
  readonly secrets?: ReadonlyArray<string> | undefined
}

const coreKeys = ["name", "description", "seed", "plugins", "source", "stages", "sink", "branches"] as const

type Path = ReadonlyArray<string | number>

interface Doc {
  readonly file: string
  readonly value: unknown
  readonly at: (path: Path, key?: boolean) => { line: number; column: number } | undefined
}

const isRecord = (u: unknown): u is { readonly [key: string]: unknown } =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** Parses YAML/JSON text keeping positions. */
const parseText = (file: string, text: string): Either.Either<Doc, PipelineFileError> => {
  const lineCounter = new YAML.LineCounter()
  const doc = YAML.parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  const first = doc.errors[0]
  if (first !== undefined) {
    const p = lineCounter.linePos(first.pos[0])
    return Either.left(
      new PipelineFileError({ file, line: p.line, column: p.col, reason: first.message.split("\n")[0]! })
    )
  }
  const at = (path: Path, key = false): { line: number; column: number } | undefined => {
    const parent = path.length === 0 ? doc.contents : doc.getIn(path.slice(0, -1), true)
    let node: unknown = path.length === 0 ? doc.contents : doc.getIn(path, true)
    if (key && YAML.isMap(parent)) {
      const last = path[path.length - 1]
      const pair = parent.items.find((p) => YAML.isScalar(p.key) && p.key.value === last)
      if (pair !== undefined) node = pair.key
    }
    if (node === undefined || node === null || typeof node !== "object" || !("range" in node)) {
      return path.length > 0 ? at(path.slice(0, -1)) : undefined
    }
    const range = (node as { range?: [number, number, number] | null }).range
    if (range === undefined || range === null) return undefined
    const p = lineCounter.linePos(range[0])
    return { line: p.line, column: p.col }
  }
  return Either.right({ file, value: doc.toJS({ maxAliasCount: 100 }), at })
}

const fail = (doc: Doc, path: Path, reason: string, stage?: string, key = false): PipelineFileError => {
  const p = doc.at(path, key)
  return new PipelineFileError({
    file: doc.file,
    ...(p !== undefined ? { line: p.line, column: p.column } : {}),
    ...(stage !== undefined ? { stage } : {}),
    reason
  })
}

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string; `$${` escapes a literal `${`. The
 * values of secret-named variables (KEY, TOKEN, SECRET, PASSWORD) are added to `secrets`.
 */
const interpolate = (
  doc: Doc,
  env: { readonly [key: string]: string | undefined },
  secrets: Set<string> = new Set()
): Either.Either<unknown, PipelineFileError> => {
  let error: PipelineFileError | undefined
  const walk = (v: unknown, path: Array<string | number>): unknown => {
    if (error !== undefined) return v
    if (typeof v === "string") {
      return v.replace(/\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (whole, esc: string, name: string, def?: string) => {
        if (esc === "$") return whole.slice(1)
        const value = env[name]
        if (value !== undefined && value !== "") {
          if (isSecretName(name)) secrets.add(value)
          return value
        }
        if (def !== undefined) return def
        error ??= fail(doc, path, `environment variable ${name} is not set (write \${${name}:-default} for a default)`)
        return whole
      })
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, [...path, i]))
    if (isRecord(v)) {
      const out: { [key: string]: unknown } = {}
      for (const [k, x] of Object.entries(v)) out[k] = walk(x, [...path, k])
      return out
    }
    return v
  }
  const value = walk(doc.value, [])
  return error === undefined ? Either.right(value) : Either.left(error)
}

/** Field names of a struct-like Schema (through transformations and refinements). */
const fieldNames = (ast: SchemaAST.AST): ReadonlyArray<string> => {
  switch (ast._tag) {
    case "TypeLiteral":
      return ast.propertySignatures.map((p) => String(p.name))
    case "Transformation":
      return fieldNames(ast.from)
    case "Refinement":
      return fieldNames(ast.from)
    case "Suspend":
      return fieldNames(ast.f())
    default:
      return []
  }
}

/** Decodes `input` with `schema`, turning the first issue into a positioned error. */
const decodeAt = <A>(
  doc: Doc,
  // biome-ignore lint/suspicious/noExplicitAny: configs of any encoded shape
  schema: Schema.Schema<A, any>,
  input: unknown,
  path: Path,
  what: string,
  stage?: string
): Either.Either<A, PipelineFileError> => {
  const result = Schema.decodeUnknownEither(schema, { onExcessProperty: "error", errors: "all" })(input)
  if (Either.isRight(result)) return Either.right(result.right)
  const issues = ParseResult.ArrayFormatter.formatErrorSync(result.left)
  const issue = issues.find((i) => i._tag === "Unexpected") ?? issues[0]!
  const full = [...path, ...issue.path.map((p) => (typeof p === "symbol" ? String(p) : p))]
  if (issue._tag === "Unexpected" && issue.path.length > 0) {
    const key = String(issue.path[issue.path.length - 1])
    const names = issue.path.length === 1 ? fieldNames(schema.ast) : []
    return Either.left(fail(doc, full, `unknown option ${key} for ${what}${didYouMean(key, names)}`, stage, true))
  }
  const where = issue.path.length > 0 ? `${issue.path.join(".")}: ` : ""
  return Either.left(fail(doc, full, `invalid ${what}: ${where}${issue.message}`, stage))
}

const canonical = (v: unknown): string => {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`
  if (isRecord(v)) {
    return `{${Object.keys(v)
      .sort()
      .filter((k) => v[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(",")}}`
  }
  return JSON.stringify(v) ?? "null"
}

/** Computes the fingerprint of a normalized pipeline with its plugin versions. */
export const fingerprintOf = (normalized: unknown, registry: Registry.Registry): string =>
  createHash("sha256")
    .update(
      canonical({
        pipeline: normalized,
        plugins: registry.plugins.map((p) => ({ name: p.plugin.name, version: p.plugin.version }))
      })
    )
    .digest("hex")

// biome-ignore lint/suspicious/noExplicitAny: configs of any encoded shape
const encodeBack = (schema: Schema.Schema<any, any>, value: unknown): unknown =>
  Either.getOrElse(Schema.encodeUnknownEither(schema)(value), () => value)

/** Options for {@link decode}. */
export interface DecodeOptions {
  /** Environment for `${VAR}` interpolation (default `process.env`). */
  readonly env?: { readonly [key: string]: string | undefined }
}

/** Decodes pipeline-file text (YAML or JSON); `file` names it in errors and sets the base folder. */
export const decode = (
  file: string,
  text: string,
  options: DecodeOptions = {}
): Effect.Effect<ResolvedPipeline, PipelineFileError | PluginLoadError> =>
  Effect.gen(function* () {
    const doc = yield* parseText(file, text)
    const secrets = new Set<string>()
    const value = yield* interpolate(doc, options.env ?? process.env, secrets)
    if (!isRecord(value)) return yield* fail(doc, [], "a pipeline file must be a mapping with name, source, stages and sink")
    const baseDir = dirname(resolve(file))

    // Plugins first: they decide which sections, stages, sources and sinks exist.
    const pluginsRaw = value.plugins ?? []
    if (!Array.isArray(pluginsRaw) || !pluginsRaw.every((p) => typeof p === "string")) {
      return yield* fail(doc, ["plugins"], "plugins must be a list of npm package names or relative paths")
    }
    const registry = yield* Registry.load(pluginsRaw, baseDir)

    const known = [...coreKeys, ...registry.sections.keys()]
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) {
        return yield* fail(doc, [key], `unknown top-level key ${key}${didYouMean(key, known)}`, undefined, true)
      }
    }
    for (const key of ["name", "source", "stages", "sink"] as const) {
      if (value[key] === undefined) return yield* fail(doc, [], `missing required key ${key}`)
    }
    if (typeof value.name !== "string" || value.name === "") return yield* fail(doc, ["name"], "name must be a non-empty string")
    const seed = value.seed ?? 0
    if (typeof seed !== "number" || !Number.isSafeInteger(seed)) return yield* fail(doc, ["seed"], "seed must be an integer")

    const typed = <D extends { readonly type: string }>(
      raw: unknown,
      path: Path,
      kind: "source" | "sink",
      table: ReadonlyMap<string, D>
    ): Either.Either<{ def: D; options: { [key: string]: unknown } }, PipelineFileError> => {
      if (!isRecord(raw)) return Either.left(fail(doc, path, `${kind} must be a mapping with a type`))
      const type = raw.type
      if (typeof type !== "string") {
        return Either.left(fail(doc, path, `${kind} needs a type (one of ${[...table.keys()].join(", ")})`))
      }
      const def = table.get(type)
      if (def === undefined) {
        return Either.left(
          fail(doc, [...path, "type"], `unknown ${kind} type ${type}${didYouMean(type, table.keys())} (known: ${[...table.keys()].join(", ")})`)
        )
      }
      const { type: _t, ...options } = raw
      return Either.right({ def, options })
    }

    const src = yield* typed(value.source, ["source"], "source", registry.sources)
    const sourceConfig = yield* decodeAt(doc, src.def.config, src.options, ["source"], `source ${src.def.type}`)

    const sinkOf = (raw: unknown, path: Path) =>
      Effect.gen(function* () {
        const s = yield* typed(raw, path, "sink", registry.sinks)
        const config: SinkBaseConfig = yield* decodeAt(doc, s.def.config, s.options, path, `sink ${s.def.type}`)
        return { def: s.def, config, normalized: { type: s.def.type, ...(encodeBack(s.def.config, config) as object) } }
      })
    const sink = yield* sinkOf(value.sink, ["sink"])

    const branches = new Map<string, Configured<AnySink, SinkBaseConfig>>()
    const branchesNormalized: { [key: string]: unknown } = {}
    if (value.branches !== undefined) {
      if (!isRecord(value.branches)) return yield* fail(doc, ["branches"], "branches must map names to sinks")
      for (const [name, raw] of Object.entries(value.branches)) {
        const b = yield* sinkOf(raw, ["branches", name])
        branches.set(name, { def: b.def, config: b.config })
        branchesNormalized[name] = b.normalized
      }
    }

    if (!Array.isArray(value.stages)) return yield* fail(doc, ["stages"], "stages must be a list of { use: <plugin>/<stage>, ...options }")
    const stages: Array<StageUse> = []
    const stagesNormalized: Array<unknown> = []
    const counts = new Map<string, number>()
    const ids = new Set<string>()
    for (const [index, raw] of value.stages.entries()) {
      const path = ["stages", index]
      if (!isRecord(raw) || typeof raw.use !== "string") {
        return yield* fail(doc, path, "each stage needs use: <plugin>/<stage>")
      }
      const use = raw.use
      const stage = registry.stages.get(use)
      if (stage === undefined) {
        const plugin = use.split("/")[0]!
        const hint = registry.plugins.some((p) => p.plugin.name === plugin)
          ? ""
          : registry.stages.size > 0 && !use.includes("/")
            ? " (stage ids are <plugin>/<stage>)"
            : ` (is the plugin that provides it listed in plugins?)`
        return yield* fail(doc, [...path, "use"], `unknown stage ${use}${didYouMean(use, registry.stages.keys())}${hint}`, use)
      }
      const { use: _u, route, id, ...opts } = raw
      if (route !== undefined && (typeof route !== "string" || !branches.has(route))) {
        return yield* fail(
          doc,
          [...path, "route"],
          `route ${String(route)} names no branch${didYouMean(String(route), branches.keys())} (declare it under branches:)`,
          use
        )
      }
      if (id !== undefined && typeof id !== "string") return yield* fail(doc, [...path, "id"], "id must be a string", use)
      const n = (counts.get(use) ?? 0) + 1
      counts.set(use, n)
      const instanceId = id ?? (n === 1 ? use : `${use}#${n}`)
      if (ids.has(instanceId)) return yield* fail(doc, [...path, "id"], `stage id ${instanceId} is used twice`, use)
      ids.add(instanceId)
      const config = yield* decodeAt(doc, stage.config, opts, path, `stage ${use}`, use)
      const pos = doc.at(path)
      stages.push({ index, instanceId, stage, config, route, line: pos?.line })
      stagesNormalized.push({ use, ...(route !== undefined ? { route } : {}), ...(id !== undefined ? { id } : {}), ...(encodeBack(stage.config, config) as object) })
    }

    const sections: { [key: string]: unknown } = {}
    const sectionsNormalized: { [key: string]: unknown } = {}
    for (const [key, { schema, fingerprint }] of registry.sections) {
      if (value[key] === undefined) continue
      sections[key] = yield* decodeAt(doc, schema, value[key], [key], `section ${key}`)
      sectionsNormalized[key] = fingerprint !== undefined ? fingerprint(sections[key]) : encodeBack(schema, sections[key])
    }

    const normalized = {
      name: value.name,
      seed,
      source: { type: src.def.type, ...(encodeBack(src.def.config, sourceConfig) as object) },
      stages: stagesNormalized,
      sink: sink.normalized,
      branches: branchesNormalized,
      sections: sectionsNormalized
    }
    return {
      name: value.name,
      seed,
      file: resolve(file),
      baseDir,
      registry,
      source: { def: src.def, config: sourceConfig },
      stages,
      sink: { def: sink.def, config: sink.config },
      branches,
      sections,
      normalized,
      fingerprint: fingerprintOf(normalized, registry),
      secrets: [...secrets]
    }
  })

/** Reads and decodes a pipeline file. */
export const load = (
  file: string,
  options: DecodeOptions = {}
): Effect.Effect<ResolvedPipeline, PipelineFileError | PluginLoadError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs
      .readFileString(file)
      .pipe(Effect.mapError((e) => new PipelineFileError({ file, reason: `cannot read the pipeline file: ${e.message}` })))
    return yield* decode(file, text, options)
  })

/** One problem `plan` found in the chain of requires/provides. */
export interface PlanIssue {
  readonly stage: string
  readonly line?: number | undefined
  readonly message: string
}

/** A stage in the plan with what it needs and adds. */
export interface PlanStep {
  readonly instanceId: string
  readonly requires: ReadonlyArray<string>
  readonly provides: ReadonlyArray<string>
  readonly removes: ReadonlyArray<string>
  readonly route?: string | undefined
}

/** The checked stage chain. */
export interface Plan {
  readonly steps: ReadonlyArray<PlanStep>
  readonly issues: ReadonlyArray<PlanIssue>
  readonly fingerprint: string
}


/** Checks every stage's `requires` against what the source and earlier stages provide. */
export const plan = (pipeline: ResolvedPipeline): Plan => {
  const available = new Set<string>(lmsysFields)
  const steps: Array<PlanStep> = []
  const issues: Array<PlanIssue> = []
  for (const use of pipeline.stages) {
    const provides = providedFields(use.stage, use.config)
    const requires = requiredFields(use.stage, use.config)
    const removes = use.stage.removes?.(use.config) ?? []
    for (const req of requires) {
      const top = req.split(".")[0]!
      if (!available.has(top)) {
        issues.push({
          stage: use.instanceId,
          line: use.line,
          message: `requires field ${req}, which no earlier stage provides${didYouMean(top, available)}`
        })
      }
    }
    for (const f of removes) available.delete(f)
    for (const f of provides) available.add(f)
    steps.push({ instanceId: use.instanceId, requires, provides, removes, route: use.route })
  }
  return { steps, issues, fingerprint: pipeline.fingerprint }
}

// ---------------------------------------------------------------------------------------------
// Composition in TypeScript

/** A pipeline being composed in code; `R` is the row type at this point of the chain. */
export interface Builder<R extends Row> extends Pipeable.Pipeable {
  readonly source: Configured<AnySource, unknown>
  readonly stages: ReadonlyArray<StageUse>
  /** Phantom: the row type at this point. */
  readonly _Row?: (_: never) => R
}

const makeBuilder = <R extends Row>(source: Configured<AnySource, unknown>, stages: ReadonlyArray<StageUse>): Builder<R> => ({
  source,
  stages,
  pipe() {
    // biome-ignore lint/complexity/noArguments: Pipeable protocol
    return pipeArguments(this, arguments)
  }
})

/** The options a config Schema accepts (its encoded side). */
// biome-ignore lint/suspicious/noExplicitAny: extracting the encoded side of any Schema
type OptionsOf<D extends { readonly config: Schema.Schema<any, any> }> = Schema.Schema.Encoded<D["config"]>

/**
 * Starts a pipeline in code from a source and its options as written in a pipeline file
 * (defaults apply); rows are LMSYS records. Invalid options throw a ParseError at build time.
 */
export const from = <C>(source: SourceDefinition<C>, options: OptionsOf<SourceDefinition<C>>): Builder<LmsysRecord> =>
  makeBuilder({ def: source, config: Schema.decodeUnknownSync(source.config)(options) }, [])

/**
 * The row type after a stage: an untyped (`Row → Row`) stage keeps the incoming type; a typed
 * stage's output fields override the incoming ones.
 */
export type Next<R extends Row, Out extends Row> = Row extends Out ? R : Omit<R, keyof Out> & Out

/**
 * Adds a stage with its options as written in a pipeline file (defaults apply). The row type
 * flowing in must be assignable to what the stage accepts; the stage's output type follows.
 */
export const through =
  <C, In extends Row, Out extends Row, Rq, CI>(
    stage: Stage<C, In, Out, Rq, CI>,
    options: CI,
    extra: { readonly route?: string; readonly id?: string } = {}
  ) =>
  <R extends In>(self: Builder<R>): Builder<Next<R, Out>> => {
    const n = self.stages.filter((s) => s.stage.id === stage.id).length + 1
    return makeBuilder<Next<R, Out>>(self.source, [
      ...self.stages,
      {
        index: self.stages.length,
        instanceId: extra.id ?? (n === 1 ? stage.id : `${stage.id}#${n}`),
        stage,
        config: Schema.decodeUnknownSync(stage.config)(options),
        route: extra.route
      }
    ])
  }

/** Options for {@link to}. */
export interface ToOptions {
  readonly name: string
  readonly seed?: number
  readonly baseDir?: string
  readonly branches?: { readonly [name: string]: Configured<AnySink, SinkBaseConfig> }
  readonly registry: Registry.Registry
}

/** Closes a composed pipeline with a sink (options as in a pipeline file), giving a pipeline the runner accepts. */
export const to =
  <C extends SinkBaseConfig>(sink: SinkDefinition<C>, sinkOptions: OptionsOf<SinkDefinition<C>>, options: ToOptions) =>
  <R extends Row>(self: Builder<R>): ResolvedPipeline => {
    const config = Schema.decodeUnknownSync(sink.config)(sinkOptions)
    const normalized = {
      name: options.name,
      seed: options.seed ?? 0,
      source: { type: self.source.def.type, ...(encodeBack(self.source.def.config, self.source.config) as object) },
      stages: self.stages.map((s) => ({ use: s.stage.id, ...(encodeBack(s.stage.config, s.config) as object) })),
      sink: { type: sink.type, ...(encodeBack(sink.config, config) as object) }
    }
    return {
      name: options.name,
      seed: options.seed ?? 0,
      baseDir: options.baseDir ?? process.cwd(),
      registry: options.registry,
      source: self.source,
      stages: self.stages,
      sink: { def: sink, config },
      branches: new Map(Object.entries(options.branches ?? {})),
      sections: {},
      normalized,
      fingerprint: fingerprintOf(normalized, options.registry)
    }
  }

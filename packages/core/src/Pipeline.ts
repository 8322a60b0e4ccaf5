/**
 * Pipelines: a pipeline file (YAML or JSON) decoded into a resolved pipeline, with errors
 * that name file, line, column, stage and the nearest valid name; and the same pipeline
 * composed in TypeScript with row types checked at compile time.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import type * as PlatformPath from "@effect/platform/Path"
import { Effect, Either, Option, ParseResult, type Pipeable, Schema, SchemaAST } from "effect"
import { createHash } from "node:crypto"
import { dirname, resolve } from "node:path"
import { pipeArguments } from "effect/Pipeable"
import * as YAML from "yaml"
import { didYouMean, errorText, PipelineFileError, type PluginLoadError } from "./Errors.js"
import { isSecretName } from "./internal/secrets.js"
import { childAsts, plainIssue } from "./internal/issues.js"
import { checkInputs as checkSourceInputs } from "./internal/inputs.js"
import { type LmsysRecord, lmsysFields } from "./Record.js"
import * as Registry from "./Registry.js"
import { isRecord, type Row } from "./Row.js"
import type { AnySink, SinkBaseConfig, SinkDefinition } from "./Sink.js"
import type { AnySource, SourceDefinition } from "./Source.js"
import { type AnyStage, providedFields, requiredFields, type Stage } from "./Stage.js"
import * as Where from "./internal/where.js"
import { sourceColumns } from "./internal/columns.js"

/** `where:` selections of `outputs:` and of the main sink (`parse`, `fromConfig`, `fields`, `matches`), parsed without eval. */
export { Where }
/** The top-level source columns a pipeline needs (a columnar source reads only these), or `undefined` for all of them. */
export { sourceColumns }

/** The options of stages, sources, sinks and sections and the pipeline file's JSON Schema, read from their Schemas (for `synthline stages`, `schema` and the docs). */
export * as Reference from "./internal/reference.js"

/** One stage as used in a pipeline. */
export interface StageUse {
  /** Position in `stages` (0-based). */
  readonly index: number
  /** `core/dedup`, or `core/dedup#2` for the second use of the same stage, or the `id` option. */
  readonly instanceId: string
  /** The `id` option, when the pipeline gives one (the fingerprint covers it). */
  readonly id?: string | undefined
  readonly stage: AnyStage
  /** Decoded config (defaults filled). */
  readonly config: unknown
  /** Branch that receives the rows this stage drops. */
  readonly route?: string | undefined
  /** Where it is declared in the pipeline file. */
  readonly line?: number | undefined
  readonly column?: number | undefined
}

/** A source or sink with its decoded config. */
export interface Configured<D, C> {
  readonly def: D
  readonly config: C
}

/**
 * An output at the end of the pipeline (`outputs:`): its sink is in `branches` under the same
 * name; it receives the rows that reach the end of the pipeline and pass `where` (all of them
 * when there is none).
 */
export interface OutputUse {
  readonly where?: Where.Where | undefined
  /** Where it is declared in the pipeline file. */
  readonly line?: number | undefined
  readonly column?: number | undefined
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
  /** The main sink's `where:` selection of the rows that reach the end of the pipeline (absent: all of them). */
  readonly sinkSelection?: OutputUse | undefined
  readonly branches: ReadonlyMap<string, Configured<AnySink, SinkBaseConfig>>
  /**
   * The outputs at the end of the pipeline, by name; each one's sink is the branch of that name
   * (so resume, shards, merge, manifest and cards treat it as they treat a branch).
   */
  readonly outputs?: ReadonlyMap<string, OutputUse> | undefined
  /** Decoded plugin sections (`models`, `cache`, ...). */
  readonly sections: { readonly [key: string]: unknown }
  /** Normalized JSON form (defaults filled) the fingerprint hashes; sink and branch paths are left out. */
  readonly normalized: unknown
  /** sha256 of the normalized pipeline, plugin versions and seed. */
  readonly fingerprint: string
  /**
   * Values of the `${VAR}` references whose name contains KEY, TOKEN, SECRET or PASSWORD: a run
   * never writes them (see `Secrets`).
   */
  readonly secrets?: ReadonlyArray<string> | undefined
}

const coreKeys = ["name", "description", "seed", "plugins", "source", "stages", "sink", "branches", "outputs"] as const

type Path = ReadonlyArray<string | number>

interface Doc {
  readonly file: string
  readonly value: unknown
  readonly at: (path: Path, key?: boolean) => { line: number; column: number } | undefined
}

/**
 * Largest pipeline file accepted by default: 2 MiB. Pipeline files are a few kilobytes; this
 * leaves room for long prompts while bounding the time and memory of parsing (a 50 MB file took
 * 84 s and 3 GB).
 */
export const maxPipelineFileBytes: number = 2 * 1024 * 1024

/** Most alias expansions a pipeline file may make (the `yaml` library's count; it refuses "billion laughs"). */
export const maxAliasCount: number = 100

/** The first line of a thrown value's text (the yaml library's messages go on with a code frame). */
const firstLine = (e: unknown): string => errorText(e).split("\n")[0]!

const sizeText = (bytes: number): string =>
  bytes >= 1024 * 1024 ? `${(bytes / (1024 * 1024)).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`

const tooLarge = (file: string, bytes: number, limit: number): PipelineFileError =>
  new PipelineFileError({
    file,
    reason: `the pipeline file is ${sizeText(bytes)} (${bytes} bytes), more than the ${sizeText(limit)} a pipeline file may have; keep data (word lists, examples) out of it`
  })

/** Parses YAML/JSON text keeping positions. */
const parseText = (file: string, text: string): Either.Either<Doc, PipelineFileError> => {
  const lineCounter = new YAML.LineCounter()
  let doc: YAML.Document.Parsed
  try {
    doc = YAML.parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  } catch (e) {
    return Either.left(new PipelineFileError({ file, reason: `cannot parse the pipeline file: ${firstLine(e)}` }))
  }
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
  let value: unknown
  try {
    value = doc.toJS({ maxAliasCount })
  } catch (e) {
    // The yaml library refuses an alias bomb ("billion laughs") with an exception: name the first
    // alias, where the expansion starts.
    const message = firstLine(e)
    const excessive = /excessive alias count/i.test(message)
    let alias: YAML.Alias | undefined
    if (/alias/i.test(message)) {
      YAML.visit(doc, {
        Alias: (_key, node) => {
          alias = node
          return YAML.visit.BREAK
        }
      })
    }
    const p = alias?.range != null ? lineCounter.linePos(alias.range[0]) : undefined
    return Either.left(
      new PipelineFileError({
        file,
        ...(p !== undefined ? { line: p.line, column: p.col } : {}),
        reason: excessive
          ? `refused: its YAML aliases expand more than ${maxAliasCount} times (an alias bomb, "billion laughs"); write the values out instead of aliasing them`
          : e instanceof RangeError
            ? "cannot read the pipeline file: it nests too deeply"
            : `cannot read the pipeline file: ${message}`
      })
    )
  }
  return Either.right({ file, value, at })
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

/**
 * Whether an option's name marks its value as a secret: it contains key, token (not tokens:
 * `max_tokens` is a count), secret, password or authorization.
 */
export const isSecretKey = (name: string): boolean => /key|token(?!s)|secret|passw(?:or)?d|authorization/i.test(name)

/** Whether values checked against `ast` are decoded as `Redacted` (through optional, refinements, unions). */
const isRedactedAst = (ast: SchemaAST.AST): boolean => {
  switch (ast._tag) {
    case "Declaration": {
      const tc: unknown = ast.annotations[SchemaAST.TypeConstructorAnnotationId]
      return isRecord(tc) && tc._tag === "effect/Redacted"
    }
    case "Transformation":
      return isRedactedAst(ast.to)
    case "Refinement":
      return isRedactedAst(ast.from)
    case "Suspend":
      return isRedactedAst(ast.f())
    case "Union":
      return ast.types.some(isRedactedAst)
    default:
      return false
  }
}

const redactedMark = "<redacted>"

/**
 * `value` with every secret replaced by `<redacted>`: values under a secret-looking key and values
 * the schema decodes as `Redacted`. The replaced strings and numbers go to `hidden`.
 */
const maskSecrets = (asts: ReadonlyArray<SchemaAST.AST>, value: unknown, secret: boolean, hidden: Array<string>): unknown => {
  if (secret || asts.some(isRedactedAst)) {
    const leaves = (u: unknown): void => {
      if (typeof u === "string" || typeof u === "number") hidden.push(String(u))
      else if (Array.isArray(u)) u.forEach(leaves)
      else if (isRecord(u)) Object.values(u).forEach(leaves)
    }
    leaves(value)
    return redactedMark
  }
  if (Array.isArray(value)) return value.map((x, i) => maskSecrets(asts.flatMap((a) => childAsts(a, i)), x, false, hidden))
  if (isRecord(value)) {
    const out: { [key: string]: unknown } = {}
    for (const [k, x] of Object.entries(value)) out[k] = maskSecrets(asts.flatMap((a) => childAsts(a, k)), x, isSecretKey(k), hidden)
    return out
  }
  return value
}

const valueAt = (value: unknown, path: ReadonlyArray<string | number>): unknown => {
  let v = value
  for (const seg of path) {
    if (Array.isArray(v) && typeof seg === "number") v = v[seg]
    else if (isRecord(v)) v = v[String(seg)]
    else return undefined
  }
  return v
}

const kindOf = (u: unknown): string =>
  Array.isArray(u) ? "a list" : u === null ? "null" : typeof u === "object" ? "a mapping" : typeof u === "string" ? "a string" : typeof u === "number" ? "a number" : typeof u

/**
 * An issue's message without the secrets it may echo (`Expected string, actual ["sk-…"]`): at a
 * secret the actual value is described, not shown; elsewhere secrets inside it are masked; and
 * every secret string left (and `secrets`, the values of secret-named `${VAR}`s) is replaced.
 */
const withoutSecrets = (
  ast: SchemaAST.AST,
  input: unknown,
  path: Path,
  issuePath: ReadonlyArray<string | number>,
  message: string,
  secrets: Iterable<string>
): string => {
  const hidden: Array<string> = []
  const prefixSecret = path.some((seg) => typeof seg === "string" && isSecretKey(seg))
  const masked = maskSecrets([ast], input, prefixSecret, hidden)
  let asts: ReadonlyArray<SchemaAST.AST> = [ast]
  let secret = prefixSecret || asts.some(isRedactedAst)
  for (const seg of issuePath) {
    asts = asts.flatMap((a) => childAsts(a, seg))
    if ((typeof seg === "string" && isSecretKey(seg)) || asts.some(isRedactedAst)) secret = true
  }
  let out = message
  const at = out.indexOf(", actual ")
  if (at >= 0 && (secret || hidden.length > 0)) {
    const actual = valueAt(input, issuePath)
    const shown = secret
      ? `${kindOf(actual)} (not shown: the value is a secret)`
      : (JSON.stringify(valueAt(masked, issuePath)) ?? String(actual))
    out = `${out.slice(0, at)}, actual ${shown}`
  }
  for (const s of [...hidden, ...secrets].filter((x) => x.length >= 4).sort((a, b) => b.length - a.length)) {
    for (const form of new Set([s, JSON.stringify(s).slice(1, -1)])) if (out.includes(form)) out = out.split(form).join(redactedMark)
  }
  return out
}

/**
 * Decodes `input` with `schema`, turning the first issue into a positioned error. The error never
 * shows a secret: a value under a secret-looking key or decoded as `Redacted`, or one of `secrets`.
 */
const decodeAt = <A>(
  doc: Doc,
  // biome-ignore lint/suspicious/noExplicitAny: configs of any encoded shape
  schema: Schema.Schema<A, any>,
  input: unknown,
  path: Path,
  what: string,
  stage?: string,
  secrets: Iterable<string> = []
): Either.Either<A, PipelineFileError> => {
  const result = Schema.decodeUnknownEither(schema, { onExcessProperty: "error", errors: "all" })(input)
  if (Either.isRight(result)) return Either.right(result.right)
  const issues = ParseResult.ArrayFormatter.formatErrorSync(result.left)
  const issue = issues.find((i) => i._tag === "Unexpected") ?? issues[0]!
  const issuePath = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p))
  const full = [...path, ...issuePath]
  if (issue._tag === "Unexpected" && issue.path.length > 0) {
    const key = String(issue.path[issue.path.length - 1])
    const names = issue.path.length === 1 ? fieldNames(schema.ast) : []
    return Either.left(fail(doc, full, `unknown option ${key} for ${what}${didYouMean(key, names)}`, stage, true))
  }
  // A stage's error already starts with "stage <use>:", so it is not named twice.
  const invalid = stage !== undefined ? "" : `invalid ${what}: `
  const plain = plainIssue(schema.ast, issuePath, valueAt(input, issuePath), issue.message)
  if (plain !== undefined)
    return Either.left(fail(doc, full, `${invalid}${withoutSecrets(schema.ast, input, path, issuePath, plain, secrets)}`, stage))
  const where = issue.path.length > 0 ? `${issue.path.join(".")}: ` : ""
  const message = withoutSecrets(schema.ast, input, path, issuePath, issue.message, secrets)
  return Either.left(fail(doc, full, `${invalid}${where}${message}`, stage))
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

/** What a pipeline's fingerprint covers: the parts of a pipeline that decide the rows it writes. */
export type Fingerprinted = Pick<
  ResolvedPipeline,
  "name" | "seed" | "registry" | "source" | "stages" | "sink" | "sinkSelection" | "branches" | "outputs" | "sections"
>

/**
 * The normalized JSON form of a pipeline that its fingerprint hashes: name, seed, the source, each
 * stage with its `route`, `id` and options (defaults filled), the sink, branches and outputs
 * without their paths (and each output's `where`), and every plugin section as its plugin
 * fingerprints it. File pipelines and pipelines composed in code go through this one function.
 */
export const normalize = (pipeline: Fingerprinted): unknown => {
  const outputs = pipeline.outputs ?? new Map<string, OutputUse>()
  const branches: { [name: string]: unknown } = {}
  const outputsNormalized: { [name: string]: unknown } = {}
  for (const [name, b] of pipeline.branches) {
    const out = outputs.get(name)
    if (out === undefined) {
      branches[name] = sinkFingerprint(b.def, b.config)
      continue
    }
    const sink = sinkFingerprint(b.def, b.config)
    outputsNormalized[name] = { ...(isRecord(sink) ? sink : {}), ...(out.where !== undefined ? { where: out.where.text } : {}) }
  }
  const sections: { [key: string]: unknown } = {}
  for (const [key, { schema, fingerprint }] of pipeline.registry.sections) {
    const decoded = pipeline.sections[key]
    if (decoded === undefined) continue
    sections[key] = fingerprint !== undefined ? fingerprint(decoded) : encodeBack(schema, decoded)
  }
  return {
    name: pipeline.name,
    seed: pipeline.seed,
    source: { type: pipeline.source.def.type, ...(encodeBack(pipeline.source.def.config, pipeline.source.config) as object) },
    stages: pipeline.stages.map((s) => ({
      use: s.stage.id,
      ...(s.route !== undefined ? { route: s.route } : {}),
      ...(s.id !== undefined ? { id: s.id } : {}),
      ...(encodeBack(s.stage.config, s.config) as object)
    })),
    sink: withWhere(sinkFingerprint(pipeline.sink.def, pipeline.sink.config), pipeline.sinkSelection?.where),
    branches,
    // Only a pipeline with outputs has the key: the fingerprints of others stay as they were.
    ...(outputs.size > 0 ? { outputs: outputsNormalized } : {}),
    sections
  }
}

/** sha256 of a pipeline's {@link normalize}d form, its plugins' names and versions (and so its seed). */
export const fingerprint = (pipeline: Fingerprinted): { readonly normalized: unknown; readonly fingerprint: string } => {
  const normalized = normalize(pipeline)
  const hash = createHash("sha256")
    .update(
      canonical({
        pipeline: normalized,
        plugins: pipeline.registry.plugins.map((p) => ({ name: p.plugin.name, version: p.plugin.version }))
      })
    )
    .digest("hex")
  return { normalized, fingerprint: hash }
}

/** A sink's fingerprint with its `where:` text (unchanged without one). */
const withWhere = (sink: unknown, where: Where.Where | undefined): unknown =>
  where === undefined ? sink : { ...(isRecord(sink) ? sink : {}), where: where.text }

// biome-ignore lint/suspicious/noExplicitAny: configs of any encoded shape
const encodeBack = (schema: Schema.Schema<any, any>, value: unknown): unknown =>
  Either.getOrElse(Schema.encodeUnknownEither(schema)(value), () => value)

/**
 * What a sink contributes to the fingerprint: its type and every option that decides the bytes
 * it writes (format, compression, `shard_rows`, ...), but not `path`, where it writes them. A
 * sink folder moved or copied elsewhere and run with the new path resumes.
 */
const sinkFingerprint = (def: AnySink, config: SinkBaseConfig): unknown => {
  const encoded = encodeBack(def.config, config)
  if (!isRecord(encoded)) return { type: def.type }
  const { path: _where, ...options } = encoded
  return { type: def.type, ...options }
}

/** The sink mappings of a pipeline file (`sink`, each branch and output) with their paths. */
const sinkMappings = (value: { readonly [key: string]: unknown }): ReadonlyArray<readonly [Path, { readonly [key: string]: unknown }]> => {
  const out: Array<readonly [Path, { readonly [key: string]: unknown }]> = isRecord(value.sink) ? [[["sink"], value.sink]] : []
  for (const group of ["branches", "outputs"] as const) {
    const named = value[group]
    if (isRecord(named)) for (const [name, raw] of Object.entries(named)) if (isRecord(raw)) out.push([[group, name], raw])
  }
  return out
}

/**
 * The registry with the packages the file's sink options imply ({@link Registry.optionPackages})
 * and no listed plugin defines: `encrypt:` loads @synthline/release. One that cannot be loaded
 * is an error at the option, before any work.
 */
const withImplied = (
  doc: Doc,
  value: { readonly [key: string]: unknown },
  listed: Registry.Registry,
  baseDir: string,
  implied: { readonly [specifier: string]: string }
): Effect.Effect<Registry.Registry, PipelineFileError> =>
  Effect.gen(function* () {
    const defined = new Set(listed.plugins.flatMap(({ plugin }) => (plugin.sinkOptions ?? []).flatMap((o) => Object.keys(o.fields))))
    const wanted = new Map<string, Path>()
    for (const [path, raw] of sinkMappings(value)) {
      for (const key of Object.keys(raw)) {
        const pkg = Registry.optionPackages.get(key)
        if (pkg !== undefined && !defined.has(key) && !wanted.has(pkg)) wanted.set(pkg, [...path, key])
      }
    }
    if (wanted.size === 0) return listed
    const loaded: Array<Registry.LoadedPlugin> = []
    for (const [pkg, path] of wanted) {
      const option = String(path[path.length - 1])
      loaded.push(
        yield* Registry.loadImplied(pkg, baseDir, implied[pkg]).pipe(
          Effect.mapError((e) =>
            fail(
              doc,
              path,
              e.reason.startsWith("no installed package")
                ? `sink option ${option} comes from the ${pkg} plugin, which is not installed: install it next to the pipeline file (npm install ${pkg}); the synthline CLI includes it`
                : `sink option ${option} comes from the ${pkg} plugin, which cannot be loaded: ${e.reason}`,
              undefined,
              true
            )
          )
        )
      )
    }
    return yield* Registry.fromPlugins([...listed.plugins, ...loaded]).pipe(Effect.mapError((e) => fail(doc, wanted.values().next().value ?? [], e.message)))
  })

/** Options for {@link decode}. */
export interface DecodeOptions {
  /** Environment for `${VAR}` interpolation (default `process.env`). */
  readonly env?: { readonly [key: string]: string | undefined }
  /** Largest pipeline file accepted, in bytes (default {@link maxPipelineFileBytes}). */
  readonly maxBytes?: number
  /**
   * Module URLs of packages the file's sink options imply, by package, where another thread of
   * the run found them (the runner hands its own to its worker threads, whose program is core's).
   */
  readonly implied?: { readonly [specifier: string]: string } | undefined
}

/** Decodes pipeline-file text (YAML or JSON); `file` names it in errors and sets the base folder. */
export const decode = (
  file: string,
  text: string,
  options: DecodeOptions = {}
): Effect.Effect<ResolvedPipeline, PipelineFileError | PluginLoadError> =>
  Effect.gen(function* () {
    yield* checkSize(file, text, options.maxBytes ?? maxPipelineFileBytes)
    const doc = yield* parseText(file, text)
    const secrets = new Set<string>()
    const value = yield* interpolate(doc, options.env ?? process.env, secrets)
    if (!isRecord(value)) return yield* fail(doc, [], "a pipeline file must be a mapping with name, source, stages and sink")
    const baseDir = dirname(resolve(file))
    // Plugins first: they decide which sections, stages, sources and sinks exist.
    const registry = yield* loadPlugins(doc, value, baseDir, options.implied ?? {})
    const { name, seed } = yield* checkTopLevel(doc, value, registry)
    const cx: FileContext = { doc, registry, secrets }
    const src = yield* typedEntry(doc, value.source, ["source"], "source", registry.sources)
    const sourceConfig = yield* decodeAt(doc, src.def.config, src.options, ["source"], `source ${src.def.type}`, undefined, secrets)
    const { sink, sinkSelection } = yield* decodeMainSink(cx, value.sink)
    const branches = yield* decodeBranches(cx, value.branches)
    const stages = yield* decodeStages(cx, value.stages, branches)
    const outputs = yield* decodeOutputs(cx, value.outputs, branches)
    if (value.outputs !== undefined) {
      const shared = sharedFolder(baseDir, sink.config.path, branches, outputs)
      if (shared !== undefined) return yield* fail(doc, ["outputs", shared.output, "path"], shared.reason)
    }
    const sections = yield* decodeSections(cx, value)
    const resolved = {
      name,
      seed,
      registry,
      source: { def: src.def, config: sourceConfig },
      stages,
      sink,
      ...(sinkSelection !== undefined ? { sinkSelection } : {}),
      branches,
      ...(outputs.size > 0 ? { outputs } : {}),
      sections
    }
    return { ...resolved, file: resolve(file), baseDir, ...fingerprint(resolved), secrets: [...secrets] }
  })

/** What the parts of a pipeline file are decoded with: the file (for positions), its plugins, and the secrets its `${VAR}`s read. */
interface FileContext {
  readonly doc: Doc
  readonly registry: Registry.Registry
  /** Values of secret-named `${VAR}`s, never shown in an error. */
  readonly secrets: Set<string>
}

/** A mapping of a pipeline file. */
type Mapping = { readonly [key: string]: unknown }

/** Fails when the text has more than `limit` bytes of UTF-8. */
const checkSize = (file: string, text: string, limit: number): Either.Either<void, PipelineFileError> => {
  // A UTF-16 unit is at most 3 bytes of UTF-8: a short text needs no count.
  if (text.length * 3 <= limit) return Either.void
  const bytes = Buffer.byteLength(text, "utf8")
  return bytes > limit ? Either.left(tooLarge(file, bytes, limit)) : Either.void
}

/** The registry of the file's `plugins:` and of the packages its sink options imply; a plugin that cannot be loaded is an error at its line. */
const loadPlugins = (
  doc: Doc,
  value: Mapping,
  baseDir: string,
  implied: { readonly [specifier: string]: string }
): Effect.Effect<Registry.Registry, PipelineFileError> =>
  Effect.gen(function* () {
    const pluginsRaw = value.plugins ?? []
    if (!Array.isArray(pluginsRaw) || !pluginsRaw.every((p) => typeof p === "string")) {
      return yield* fail(doc, ["plugins"], "plugins must be a list of npm package names or relative paths")
    }
    const listed = yield* Registry.load(pluginsRaw, baseDir).pipe(
      Effect.mapError((e) => fail(doc, ["plugins", Math.max(0, pluginsRaw.indexOf(e.specifier))], e.message))
    )
    return yield* withImplied(doc, value, listed, baseDir, implied)
  })

/** Checks the top-level keys (each known, the required ones there) and returns the pipeline's name and seed. */
const checkTopLevel = (
  doc: Doc,
  value: Mapping,
  registry: Registry.Registry
): Either.Either<{ readonly name: string; readonly seed: number }, PipelineFileError> => {
  const known = [...coreKeys, ...registry.sections.keys()]
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) return Either.left(fail(doc, [key], `unknown top-level key ${key}${didYouMean(key, known)}`, undefined, true))
  }
  for (const key of ["name", "source", "stages", "sink"] as const) {
    if (value[key] === undefined) return Either.left(fail(doc, [], `missing required key ${key}`))
  }
  const name = value.name
  if (typeof name !== "string" || name === "") return Either.left(fail(doc, ["name"], "name must be a non-empty string"))
  const seed = value.seed ?? 0
  if (typeof seed !== "number" || !Number.isSafeInteger(seed)) return Either.left(fail(doc, ["seed"], "seed must be an integer"))
  return Either.right({ name, seed })
}

/** The definition a source or sink mapping names with `type:` (looked up in `table`), and its other options. */
const typedEntry = <D extends { readonly type: string }>(
  doc: Doc,
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

/** Decodes the sink mapping at `path`. */
const decodeSink = (cx: FileContext, raw: unknown, path: Path): Effect.Effect<Configured<AnySink, SinkBaseConfig>, PipelineFileError> =>
  Effect.gen(function* () {
    const s = yield* typedEntry(cx.doc, raw, path, "sink", cx.registry.sinks)
    const config: SinkBaseConfig = yield* decodeAt(cx.doc, s.def.config, s.options, path, `sink ${s.def.type}`, undefined, cx.secrets)
    return { def: s.def, config }
  })

/** Decodes the main sink and its `where:` selection; the main sink may select its rows with where:, as an output does. */
const decodeMainSink = (
  cx: FileContext,
  raw: unknown
): Effect.Effect<{ readonly sink: Configured<AnySink, SinkBaseConfig>; readonly sinkSelection: OutputUse | undefined }, PipelineFileError> =>
  Effect.gen(function* () {
    let sinkSelection: OutputUse | undefined
    let mainRaw: unknown = raw
    if (isRecord(raw) && raw.where !== undefined) {
      const { where: whereRaw, ...rest } = raw
      const parsed = Where.fromConfig(whereRaw)
      if (Either.isLeft(parsed)) return yield* fail(cx.doc, ["sink", "where"], `sink: where: ${parsed.left}`)
      const pos = cx.doc.at(["sink"], true)
      sinkSelection = { where: parsed.right, line: pos?.line, column: pos?.column }
      mainRaw = rest
    }
    const sink = yield* decodeSink(cx, mainRaw, ["sink"])
    return { sink, sinkSelection }
  })

/** Decodes `branches:`, the sinks stages route the rows they drop to, by name. */
const decodeBranches = (
  cx: FileContext,
  raw: unknown
): Effect.Effect<Map<string, Configured<AnySink, SinkBaseConfig>>, PipelineFileError> =>
  Effect.gen(function* () {
    const branches = new Map<string, Configured<AnySink, SinkBaseConfig>>()
    if (raw === undefined) return branches
    if (!isRecord(raw)) return yield* fail(cx.doc, ["branches"], "branches must map names to sinks")
    for (const [name, sinkRaw] of Object.entries(raw)) {
      branches.set(name, yield* decodeSink(cx, sinkRaw, ["branches", name]))
    }
    return branches
  })

/** Decodes `stages:`, giving each use its instance id (`use`, `use#2` for a second use, or its `id`). */
const decodeStages = (
  cx: FileContext,
  raw: unknown,
  branches: ReadonlyMap<string, unknown>
): Effect.Effect<Array<StageUse>, PipelineFileError> =>
  Effect.gen(function* () {
    if (!Array.isArray(raw)) return yield* fail(cx.doc, ["stages"], "stages must be a list of { use: <plugin>/<stage>, ...options }")
    const stages: Array<StageUse> = []
    const counts = new Map<string, number>()
    const ids = new Set<string>()
    for (const [index, stageRaw] of raw.entries()) {
      stages.push(yield* decodeStage(cx, index, stageRaw, branches, counts, ids))
    }
    return stages
  })

/**
 * Decodes stage `index`: its `use`, `route` (a declared branch), `id` and options. `counts` (uses
 * of each stage so far) and `ids` (instance ids so far) are updated.
 */
const decodeStage = (
  cx: FileContext,
  index: number,
  raw: unknown,
  branches: ReadonlyMap<string, unknown>,
  counts: Map<string, number>,
  ids: Set<string>
): Effect.Effect<StageUse, PipelineFileError> =>
  Effect.gen(function* () {
    const { doc, registry } = cx
    const path = ["stages", index]
    if (!isRecord(raw) || typeof raw.use !== "string") {
      return yield* fail(doc, path, "each stage needs use: <plugin>/<stage>")
    }
    const use = raw.use
    const stage = registry.stages.get(use)
    if (stage === undefined) return yield* fail(doc, [...path, "use"], `unknown stage ${use}${didYouMean(use, registry.stages.keys())}${unknownStageHint(registry, use)}`, use)
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
    const config = yield* decodeAt(doc, stage.config, opts, path, `stage ${use}`, use, cx.secrets)
    const pos = doc.at(path)
    return { index, instanceId, id, stage, config, route, line: pos?.line, column: pos?.column }
  })

/** What an unknown stage's error adds: nothing when its plugin is listed, else how stage ids are written or that its plugin may be missing. */
const unknownStageHint = (registry: Registry.Registry, use: string): string => {
  const plugin = use.split("/")[0]!
  return registry.plugins.some((p) => p.plugin.name === plugin)
    ? ""
    : registry.stages.size > 0 && !use.includes("/")
      ? " (stage ids are <plugin>/<stage>)"
      : ` (is the plugin that provides it listed in plugins?)`
}

/** Decodes `outputs:`; each output's sink joins `branches` under its name. */
const decodeOutputs = (
  cx: FileContext,
  raw: unknown,
  branches: Map<string, Configured<AnySink, SinkBaseConfig>>
): Effect.Effect<Map<string, OutputUse>, PipelineFileError> =>
  Effect.gen(function* () {
    const outputs = new Map<string, OutputUse>()
    if (raw === undefined) return outputs
    if (!isRecord(raw)) return yield* fail(cx.doc, ["outputs"], "outputs must map names to sinks (each with an optional where:)")
    for (const [name, outputRaw] of Object.entries(raw)) {
      outputs.set(name, yield* decodeOutput(cx, name, outputRaw, branches))
    }
    return outputs
  })

/** Decodes output `name` (a sink mapping with an optional `where:`) and adds its sink to `branches`. */
const decodeOutput = (
  cx: FileContext,
  name: string,
  raw: unknown,
  branches: Map<string, Configured<AnySink, SinkBaseConfig>>
): Effect.Effect<OutputUse, PipelineFileError> =>
  Effect.gen(function* () {
    const { doc } = cx
    const at: Path = ["outputs", name]
    if (branches.has(name)) return yield* fail(doc, at, `output ${name} has the name of a branch; outputs and branches need distinct names`, undefined, true)
    if (!isRecord(raw)) return yield* fail(doc, at, `output ${name} must be a sink mapping with a type (and an optional where:)`)
    const { where: whereRaw, ...sinkRaw } = raw
    let where: Where.Where | undefined
    if (whereRaw !== undefined) {
      const parsed = Where.fromConfig(whereRaw)
      if (Either.isLeft(parsed)) return yield* fail(doc, [...at, "where"], `output ${name}: where: ${parsed.left}`)
      where = parsed.right
    }
    branches.set(name, yield* decodeSink(cx, sinkRaw, at))
    const pos = doc.at(at, true)
    return { where, line: pos?.line, column: pos?.column }
  })

/** Decodes the plugin sections the file has (`models`, `cache`, ...). */
const decodeSections = (cx: FileContext, value: Mapping): Effect.Effect<{ [key: string]: unknown }, PipelineFileError> =>
  Effect.gen(function* () {
    const sections: { [key: string]: unknown } = {}
    for (const [key, { schema }] of cx.registry.sections) {
      if (value[key] === undefined) continue
      sections[key] = yield* decodeAt(cx.doc, schema, value[key], [key], `section ${key}`, undefined, cx.secrets)
    }
    return sections
  })

/**
 * The first output that would share a folder with the main sink (or its `rejects/`), a branch or
 * another output, or sit inside one another's folder (their part files and state would mix), and
 * why; `undefined` when every output has a folder of its own.
 */
const sharedFolder = (
  baseDir: string,
  sinkPath: string,
  branches: ReadonlyMap<string, Configured<AnySink, SinkBaseConfig>>,
  outputs: ReadonlyMap<string, OutputUse>
): { readonly output: string; readonly reason: string } | undefined => {
  const main = resolve(baseDir, sinkPath)
  const folders: Array<{ readonly what: string; readonly dir: string; readonly output?: string }> = [
    { what: "the main sink", dir: main },
    { what: "the main sink's rejects", dir: `${main}/rejects` }
  ]
  for (const [name, b] of branches) {
    folders.push({ what: outputs.has(name) ? `output ${name}` : `branch ${name}`, dir: resolve(baseDir, b.config.path), ...(outputs.has(name) ? { output: name } : {}) })
  }
  const inside = (a: string, b: string) => a.startsWith(`${b}/`)
  for (const [i, a] of folders.entries()) {
    if (a.output === undefined) continue
    for (const [j, b] of folders.entries()) {
      if (i === j || (b.output !== undefined && j > i)) continue
      const why = a.dir === b.dir ? "writes to the same folder as" : inside(a.dir, b.dir) ? "writes inside the folder of" : inside(b.dir, a.dir) ? "has inside its folder" : undefined
      if (why === undefined) continue
      return { output: a.output, reason: `output ${a.output} ${why} ${b.what} (${b.dir}); give each output a folder of its own` }
    }
  }
  return undefined
}

/** Reads and decodes a pipeline file. */
export const load = (
  file: string,
  options: DecodeOptions = {}
): Effect.Effect<ResolvedPipeline, PipelineFileError | PluginLoadError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    // Refuse an oversized file before reading it.
    const limit = options.maxBytes ?? maxPipelineFileBytes
    const info = yield* fs.stat(file).pipe(Effect.option)
    if (Option.isSome(info) && info.value.type === "File" && Number(info.value.size) > limit) {
      return yield* tooLarge(file, Number(info.value.size), limit)
    }
    const text = yield* fs
      .readFileString(file)
      .pipe(Effect.mapError((e) => new PipelineFileError({ file, reason: `cannot read the pipeline file: ${e.message}` })))
    return yield* decode(file, text, options)
  })

/**
 * Checks, before any work, that the source's `path` patterns match files: one matching nothing
 * fails at its line in the pipeline file, with the nearest folder when a folder name is mistyped.
 */
export const checkInputs: (pipeline: ResolvedPipeline) => Effect.Effect<void, PipelineFileError, FileSystem.FileSystem | PlatformPath.Path> =
  checkSourceInputs

/** One problem `plan` found in the chain of requires/provides, or a warning about it. */
export interface PlanIssue {
  readonly stage: string
  readonly line?: number | undefined
  readonly column?: number | undefined
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
  /** Requirements no earlier stage meets: the pipeline cannot work (`validate`, `plan` and `run` exit 2). */
  readonly issues: ReadonlyArray<PlanIssue>
  /** Things that work but are likely mistakes, such as rows routed to a branch around a `pii/*` stage. */
  readonly warnings: ReadonlyArray<PlanIssue>
  readonly fingerprint: string
  /** The top-level source columns a columnar source reads, when the pipeline narrows its rows (see {@link sourceColumns}); absent: every column. */
  readonly columns?: ReadonlyArray<string>
}

/**
 * The top-level fields every row has when it leaves the source, or `undefined` when they are not
 * known: a source read with `validate: none` (the output of another pipeline, say) may carry
 * any field, so only fields an earlier stage removed are known to be missing.
 */
const sourceFields = (pipeline: ResolvedPipeline): ReadonlyArray<string> | undefined => {
  const config = pipeline.source.config
  return isRecord(config) && config.validate === "none" ? undefined : lmsysFields
}

const lineOf = (use: StageUse): string => (use.line !== undefined ? ` (line ${use.line})` : "")

/**
 * Checks every stage's `requires` against what the source and earlier stages provide (a field an
 * option of a stage provides only under some settings counts as provided only under them: the
 * stage's `provides` is computed from its decoded options); and warns about branches that skip a
 * `pii/*` stage the main path passes.
 */
export const plan = (pipeline: ResolvedPipeline): Plan => {
  const known = sourceFields(pipeline)
  const available = new Set<string>(known ?? [])
  /** The stage that removed a field last (while no later stage provides it again). */
  const removedBy = new Map<string, StageUse>()
  const steps: Array<PlanStep> = []
  const issues: Array<PlanIssue> = []
  /**
   * Why the top-level field of `field` is missing here (`unprovided` + a near name + `hint` when
   * nothing provides it), or `undefined` when it is there or the source's fields are unknown.
   */
  const missing = (field: string, unprovided: string, hint = ""): string | undefined => {
    const top = field.split(".")[0]!
    if (available.has(top)) return undefined
    const remover = removedBy.get(top)
    if (known === undefined && remover === undefined) return undefined
    return remover !== undefined
      ? `which stage ${remover.instanceId}${lineOf(remover)} removes`
      : `${unprovided}${didYouMean(top, available)}${hint}`
  }
  const lmsysHint =
    known === lmsysFields ? " (the source is checked as LMSYS-Chat-1M records; if its rows carry this field, set validate: none on the source)" : ""
  for (const use of pipeline.stages) {
    const provides = providedFields(use.stage, use.config)
    const requires = requiredFields(use.stage, use.config)
    const removes = use.stage.removes?.(use.config) ?? []
    for (const req of requires) {
      const why = missing(req, "which no earlier stage provides", lmsysHint)
      if (why !== undefined) issues.push({ stage: use.instanceId, line: use.line, column: use.column, message: `requires field ${req}, ${why}` })
    }
    for (const f of removes) {
      available.delete(f)
      removedBy.set(f, use)
    }
    for (const f of provides) {
      available.add(f)
      removedBy.delete(f)
    }
    steps.push({ instanceId: use.instanceId, requires, provides, removes, route: use.route })
  }
  // The main sink's and each output's where read fields of the rows that reach the end of the pipeline.
  const selections: Array<[string, OutputUse]> = [
    ...(pipeline.sinkSelection !== undefined ? [["sink", pipeline.sinkSelection] as [string, OutputUse]] : []),
    ...[...(pipeline.outputs ?? [])].map(([name, out]): [string, OutputUse] => [`outputs.${name}`, out])
  ]
  for (const [stage, out] of selections) {
    if (out.where === undefined) continue
    for (const field of Where.fields(out.where)) {
      const why = missing(field, "which no stage provides and the source does not have")
      if (why !== undefined) issues.push({ stage, line: out.line, column: out.column, message: `where reads field ${field}, ${why}` })
    }
  }
  const columns = sourceColumns(pipeline)
  return { steps, issues, warnings: branchWarnings(pipeline), fingerprint: pipeline.fingerprint, ...(columns !== undefined ? { columns } : {}) }
}

/**
 * Rows a stage routes to a branch leave the main path there: they never reach the stages after
 * it. When one of those is `pii/redact`, the branch receives personal data the main output has
 * redacted: a warning per routing stage. (`pii/scan` only annotates rows: a branch that skips
 * it holds nothing the main output does not.)
 */
const branchWarnings = (pipeline: ResolvedPipeline): Array<PlanIssue> => {
  const warnings: Array<PlanIssue> = []
  for (const [i, use] of pipeline.stages.entries()) {
    if (use.route === undefined) continue
    const skipped = pipeline.stages.slice(i + 1).filter((s) => s.stage.id === "pii/redact")
    if (skipped.length === 0) continue
    const names = skipped.map((s) => `${s.instanceId}${lineOf(s)}`).join(", ")
    const ids = skipped.map((s) => s.instanceId).join(", ")
    warnings.push({
      stage: use.instanceId,
      line: use.line,
      column: use.column,
      message: `routes rows to branch ${use.route} before ${names}, which the main path passes: the branch receives personal data unredacted; move ${ids} before ${use.instanceId} if branch ${use.route} must not hold personal data`
    })
  }
  return warnings
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
        id: extra.id,
        stage,
        config: Schema.decodeUnknownSync(stage.config)(options),
        route: extra.route
      }
    ])
  }

/** An output of a pipeline composed in code: its sink and, optionally, the rows it receives. */
export interface CodeOutput extends Configured<AnySink, SinkBaseConfig> {
  /** A condition as written under `where:` in a pipeline file: `'language == "English"'` or `{ language: English }`. */
  readonly where?: string | { readonly [path: string]: Where.Literal }
}

/** Options for {@link to}. */
export interface ToOptions {
  readonly name: string
  readonly seed?: number
  readonly baseDir?: string
  /**
   * The main sink's selection, as under the main `sink:`'s `where:` in a pipeline file: it writes
   * only the rows that reach the end of the pipeline and pass it; the others are counted as
   * dropped (`where`) in the manifest and the card (absent: it writes all of them).
   */
  readonly where?: CodeOutput["where"]
  /** Sinks of the branches stages route rows to (`through(stage, options, { route })`), by name. */
  readonly branches?: { readonly [name: string]: Configured<AnySink, SinkBaseConfig> }
  /** Outputs at the end of the pipeline, by name, as under `outputs:` in a pipeline file. */
  readonly outputs?: { readonly [name: string]: CodeOutput }
  /**
   * Plugin sections (`models`, `cache`, ...) as written in a pipeline file; each is decoded with
   * the Schema of the plugin that owns it (an unknown section or an invalid one throws).
   */
  readonly sections?: { readonly [key: string]: unknown }
  readonly registry: Registry.Registry
}

/** The mistake that keeps a composed pipeline from running, thrown as a {@link PipelineFileError} at build time. */
const invalid = (name: string, reason: string, stage?: string): PipelineFileError =>
  new PipelineFileError({ file: `pipeline ${name} (composed in code)`, reason, ...(stage !== undefined ? { stage } : {}) })

/** The decoded sections of a composed pipeline; throws on an unknown key or an invalid section. */
const codeSections = (name: string, registry: Registry.Registry, raw: { readonly [key: string]: unknown }): { [key: string]: unknown } => {
  const sections: { [key: string]: unknown } = {}
  for (const [key, value] of Object.entries(raw)) {
    const section = registry.sections.get(key)
    if (section === undefined) {
      throw invalid(name, `unknown section ${key}${didYouMean(key, registry.sections.keys())} (is the plugin that owns it in the registry?)`)
    }
    if (value !== undefined) sections[key] = Schema.decodeUnknownSync(section.schema, { onExcessProperty: "error" })(value)
  }
  return sections
}

/**
 * Closes a composed pipeline with a sink (options as in a pipeline file), giving a pipeline the
 * runner accepts. The main sink's `where`, branches, outputs and plugin sections (models for model stages) are options;
 * the fingerprint covers them, the stages' routes and ids as it does for a pipeline file, so a
 * change to any of them starts a fresh output instead of resuming the old one. A route that names
 * no branch, a stage id used twice, an output sharing a folder, an invalid `where` or section
 * throws at build time.
 */
export const to =
  <C extends SinkBaseConfig>(sink: SinkDefinition<C>, sinkOptions: OptionsOf<SinkDefinition<C>>, options: ToOptions) =>
  <R extends Row>(self: Builder<R>): ResolvedPipeline => {
    const { name, registry } = options
    const branches = new Map<string, Configured<AnySink, SinkBaseConfig>>(Object.entries(options.branches ?? {}))
    const ids = new Set<string>()
    for (const use of self.stages) {
      if (ids.has(use.instanceId)) throw invalid(name, `stage id ${use.instanceId} is used twice`, use.instanceId)
      ids.add(use.instanceId)
      if (use.route !== undefined && !branches.has(use.route)) {
        throw invalid(name, `route ${use.route} names no branch${didYouMean(use.route, branches.keys())} (give it under branches)`, use.instanceId)
      }
    }
    let sinkSelection: OutputUse | undefined
    if (options.where !== undefined) {
      const w = Where.fromConfig(options.where)
      if (Either.isLeft(w)) throw invalid(name, `sink: where: ${w.left}`)
      sinkSelection = { where: w.right }
    }
    const outputs = new Map<string, OutputUse>()
    for (const [output, { where, ...sinkUse }] of Object.entries(options.outputs ?? {})) {
      if (branches.has(output)) throw invalid(name, `output ${output} has the name of a branch; outputs and branches need distinct names`)
      let parsed: Where.Where | undefined
      if (where !== undefined) {
        const w = Where.fromConfig(where)
        if (Either.isLeft(w)) throw invalid(name, `output ${output}: where: ${w.left}`)
        parsed = w.right
      }
      branches.set(output, sinkUse)
      outputs.set(output, { where: parsed })
    }
    const baseDir = options.baseDir ?? process.cwd()
    const config = Schema.decodeUnknownSync(sink.config)(sinkOptions)
    const shared = sharedFolder(baseDir, config.path, branches, outputs)
    if (shared !== undefined) throw invalid(name, shared.reason)
    const resolved = {
      name,
      seed: options.seed ?? 0,
      registry,
      source: self.source,
      stages: self.stages,
      sink: { def: sink, config },
      ...(sinkSelection !== undefined ? { sinkSelection } : {}),
      branches,
      ...(outputs.size > 0 ? { outputs } : {}),
      sections: codeSections(name, registry, options.sections ?? {})
    }
    return { ...resolved, baseDir, ...fingerprint(resolved) }
  }

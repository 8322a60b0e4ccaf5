/**
 * Hugging Face dataset cards: the `README.md` every output folder gets when a run completes
 * (and from `synthline merge` for sharded runs). YAML front matter with `configs`/`data_files`
 * (globs over the part files), `dataset_info` (`features` from the row Schemas or inferred
 * shapes, `splits` with `num_examples`); below it the recipe (the pipeline file as written, with
 * `${VAR}` references left as they are and literal secrets masked), the models used and
 * statistics (languages, drops and routes by reason per stage, then the sections of each
 * plugin's profiler, such as plugin-synth's preference scores). The card holds nothing that
 * changes between equal runs (no timings), so it is reproducible.
 *
 * The card is rendered from each sink's profile: what the rows written look like (fields,
 * shapes, languages) and what each plugin's {@link Profiler} gathers (`definePlugin({ profilers })`),
 * merged across work units, workers and shards (`src/internal/profile.ts`).
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Effect } from "effect"
import * as YAML from "yaml"
import { SinkError } from "./Errors.js"
import type { Manifest, SinkOutput } from "./internal/run/stats.js"
import type { AnyProfiler, Shape } from "./internal/profile.js"
import * as Profile from "./internal/profile.js"
import type { OutputFile } from "./Sink.js"

export * from "./internal/profile.js"

/** The file name of a dataset card inside an output folder. */
export const fileName: string = "README.md"

/** The split every output folder holds. */
export const split: string = "train"

/** A Hugging Face feature type (`dataset_info.features[]` without its name). */
export type FeatureType =
  | { readonly dtype: string }
  | { readonly list: ReadonlyArray<Feature> }
  | { readonly sequence: string | FeatureType }
  | { readonly struct: ReadonlyArray<Feature> }

/** A named Hugging Face feature. */
export type Feature = { readonly name: string } & FeatureType

/** The Hugging Face feature type of a shape: string, int64, float64, bool, null, list/sequence, struct. */
export const featureType = (shape: Shape): FeatureType => {
  switch (shape.t) {
    case "null":
      return { dtype: "null" }
    case "bool":
      return { dtype: "bool" }
    case "int":
      return { dtype: "int64" }
    case "float":
      return { dtype: "float64" }
    case "string":
    case "mixed":
      return { dtype: "string" }
    case "struct":
      return { struct: structFeatures(shape.fields) }
    case "list": {
      if (shape.of.t === "struct") return { list: structFeatures(shape.of.fields) }
      const inner = featureType(shape.of)
      return { sequence: "dtype" in inner ? inner.dtype : inner }
    }
  }
}

const structFeatures = (fields: { readonly [name: string]: Shape }): ReadonlyArray<Feature> =>
  Object.entries(fields).map(([name, s]) => ({ name, ...featureType(s) }))

/** The features of a profile's fields, in first-seen order. */
export const features = (profile: Profile.Profile): ReadonlyArray<Feature> =>
  profile.fields.map((name) => ({ name, ...featureType(profile.shapes[name] ?? { t: "null" }) }))

/** `data_files` globs matching the given part files (`part-*.jsonl.gz`), one per extension. */
export const dataFileGlobs = (files: ReadonlyArray<OutputFile>): ReadonlyArray<string> => {
  const globs = new Set<string>()
  for (const f of files) {
    const slash = f.path.lastIndexOf("/")
    const dir = f.path.slice(0, slash + 1)
    const base = f.path.slice(slash + 1)
    const dot = base.indexOf(".")
    const stem = dot < 0 ? base : base.slice(0, dot)
    const dash = stem.indexOf("-")
    globs.add(dash < 0 ? f.path : `${dir}${stem.slice(0, dash)}-*${dot < 0 ? "" : base.slice(dot)}`)
  }
  return [...globs].sort()
}

const anywhere = new Set(["secret", "password", "passwd", "passphrase", "credential", "credentials", "authorization", "cookie", "bearer", "apikey"])
const last = new Set(["key", "token", "auth", "salt", "pwd"])

/**
 * Whether an option name holds a secret: `api_key`, `auth_key`, `x-api-key`, `Authorization`,
 * `access_token`, `password`, `client_secret`, `salt`, `cookie`, ... (not `max_tokens`,
 * `source_key_from` or `key_file`).
 */
export const isSecretKey = (key: string): boolean => {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== "")
  const end = words[words.length - 1]
  return (end !== undefined && last.has(end)) || words.some((w) => anywhere.has(w))
}

/** A value made only of `${VAR}` references (after an optional scheme word such as `Bearer`): not a secret. */
const isReference = (value: string): boolean =>
  value.includes("${") && /^\s*(?:[A-Za-z][\w-]*\s+)?$/.test(value.replace(/\$\{[^}]*\}/g, ""))

const mask = "<redacted>"

/** The replacement of a scalar's source text, in the same style (plain, quoted or block). */
const masked = (node: YAML.Scalar): string =>
  node.type === "QUOTE_DOUBLE" ? `"${mask}"` : node.type === "QUOTE_SINGLE" ? `'${mask}'` : mask

const urlEnd = new Set([" ", "\t", "\n", "\r", '"', "'", "<", ">", "`", ",", "]", "}", ")"])
const isSchemeChar = (c: string): boolean => /[A-Za-z0-9+.-]/.test(c)

/**
 * Masks the credentials of every URL in a text: the password of its user-info (or the whole
 * user-info when it has no password) and every query value; `${VAR}` references are kept.
 * One pass over the text: linear in its length.
 */
export const redactUrls = (text: string): string => {
  const out: Array<string> = []
  let copied = 0
  /** The position after the character at `i`, a `${VAR}` reference counting as one. */
  const step = (i: number): number => {
    if (text[i] === "$" && text[i + 1] === "{") {
      const close = text.indexOf("}", i + 2)
      const stop = text.indexOf("\n", i + 2)
      if (close >= 0 && (stop < 0 || close < stop)) return close + 1
    }
    return i + 1
  }
  const ends = (i: number, also: string): boolean => i >= text.length || urlEnd.has(text[i]!) || also.includes(text[i]!)
  let at = text.indexOf("://")
  while (at >= 0) {
    let s = at
    while (s > 0 && at - s < 32 && isSchemeChar(text[s - 1]!)) s--
    let i = at + 3
    if (s === at || !/[A-Za-z]/.test(text[s]!)) {
      at = text.indexOf("://", i)
      continue
    }
    // Authority: up to the first / ? # or end of the URL; user-info before its last @.
    let authEnd = i
    let lastAt = -1
    while (!ends(authEnd, "/?#")) {
      if (text[authEnd] === "@") lastAt = authEnd
      authEnd = step(authEnd)
    }
    if (lastAt >= 0) {
      const info = text.slice(i, lastAt)
      const colon = info.indexOf(":")
      const user = colon < 0 ? "" : info.slice(0, colon)
      const pass = colon < 0 ? info : info.slice(colon + 1)
      if (pass !== "" && !isReference(pass)) {
        out.push(text.slice(copied, i), colon < 0 ? mask : `${user}:${mask}`)
        copied = lastAt
      }
    }
    i = authEnd
    while (!ends(i, "?#")) i = step(i)
    if (text[i] === "?") {
      i++
      while (!ends(i, "#")) {
        let j = i
        while (!ends(j, "&#=")) j = step(j)
        if (text[j] === "=") {
          const v0 = j + 1
          let v1 = v0
          while (!ends(v1, "&#")) v1 = step(v1)
          const value = text.slice(v0, v1)
          if (value !== "" && !isReference(value)) {
            out.push(text.slice(copied, v0), mask)
            copied = v1
          }
          j = v1
        }
        i = text[j] === "&" ? j + 1 : j
      }
    }
    at = text.indexOf("://", Math.max(i, at + 3))
  }
  out.push(text.slice(copied))
  return out.join("")
}

/**
 * The pipeline file text for a card: as written (comments and layout kept, environment
 * references such as `${VAR}` kept, never interpolated), with secrets masked as `<redacted>`.
 * Masking works on the parsed document, whatever the scalar style (plain, quoted, block
 * `|`/`>-`): the value of every secret-named option ({@link isSecretKey}, headers such as
 * `Authorization` or `x-api-key` in `extra_body` included), every value that holds one of
 * `secrets` (the run's `Redacted` values and secret-named `${VAR}` values), and the user-info
 * and query values of URLs. Linear in the length of the text.
 */
export const redactPipelineText = (text: string, secrets: ReadonlyArray<string> = []): string => {
  const doc = YAML.parseDocument(text, { uniqueKeys: false })
  if (doc.errors.length > 0) return "# (the pipeline file no longer parses, so it is not shown)"
  const known = secrets.filter((x) => x.length >= 4)
  const ranges: Array<readonly [number, number, string]> = []
  const maskScalar = (node: YAML.Scalar): void => {
    const range = node.range
    if (range === undefined || range === null) return
    if (typeof node.value === "string" && isReference(node.value)) return
    const source = text.slice(range[0], range[1])
    // A block scalar's range ends after its last line break: keep the break.
    ranges.push([range[0], range[1], source.endsWith("\n") ? `${masked(node)}\n` : masked(node)])
  }
  const maskAll = (node: unknown): void => {
    if (YAML.isScalar(node)) maskScalar(node)
    else if (YAML.isCollection(node)) {
      YAML.visit(node, {
        Scalar: (key, n) => {
          if (key !== "key") maskScalar(n)
        }
      })
    }
  }
  YAML.visit(doc, {
    Pair: (_, pair) => {
      if (YAML.isScalar(pair.key) && isSecretKey(String(pair.key.value))) {
        maskAll(pair.value)
        return YAML.visit.SKIP
      }
      return undefined
    },
    Scalar: (_, node) => {
      const value = node.value
      if (known.length > 0 && typeof value === "string" && known.some((x) => value.includes(x))) maskScalar(node)
    }
  })
  ranges.sort((a, b) => a[0] - b[0])
  const out: Array<string> = []
  let copied = 0
  for (const [from, to, replacement] of ranges) {
    if (from < copied) continue
    out.push(text.slice(copied, from), replacement)
    copied = to
  }
  out.push(text.slice(copied))
  return scrubText(redactUrls(out.join("")), known)
}

/** Replaces every occurrence of each secret (longest first) by `<redacted>`. */
const scrubText = (text: string, secrets: ReadonlyArray<string>): string => {
  let result = text
  for (const x of [...secrets].sort((a, b) => b.length - a.length)) {
    if (x.length >= 4 && result.includes(x)) result = result.split(x).join(mask)
  }
  return result
}

/** What {@link render} needs. */
export interface RenderInput {
  readonly manifest: Manifest
  /** The sink the card describes (the main output or a branch). */
  readonly output: SinkOutput
  /** The branch name, for a branch folder. */
  readonly branch?: string | undefined
  /** The pipeline file's text as written, if there is a file. */
  readonly pipelineText?: string | undefined
  /** Values that must not appear in the card (the run's secrets); each is replaced by `<redacted>`. */
  readonly secrets?: ReadonlyArray<string> | undefined
  /** The profilers whose sections the card gets (those of the pipeline's plugins). */
  readonly profilers?: ReadonlyArray<AnyProfiler> | undefined
}

const num = (u: unknown): number => (typeof u === "number" && Number.isFinite(u) ? u : 0)

const cell = (s: string): string => s.replace(/\|/g, "\\|").replace(/\n/g, " ")

/** A Markdown table (cells escaped), as card sections use. */
export const table = (head: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string | number>>): string =>
  [
    `| ${head.join(" | ")} |`,
    `|${head.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.map((c) => cell(String(c))).join(" | ")} |`)
  ].join("\n")

/** `n` as a share of `total`, in percent with two decimals (`12.50%`). */
export const pct = (n: number, total: number): string => (total === 0 ? "0%" : `${((100 * n) / total).toFixed(2)}%`)

/** The front matter object of a card. */
export const frontMatter = (output: SinkOutput): { readonly [key: string]: unknown } => {
  const profile = output.profile ?? Profile.empty()
  const globs = dataFileGlobs(output.files)
  return {
    ...(globs.length > 0
      ? { configs: [{ config_name: "default", data_files: globs.map((path) => ({ split, path })) }] }
      : {}),
    dataset_info: {
      features: features(profile),
      splits: [{ name: split, num_examples: output.rows }],
      download_size: output.files.reduce((n, f) => n + f.bytes, 0)
    }
  }
}

/** What a branch folder holds, in words: rows a stage routed there, or an output's selection. */
const branchWords = (name: string, where: string | null | undefined): string =>
  where === undefined
    ? `: the rows routed to the branch \`${name}\``
    : where === null
      ? `: the output \`${name}\`, every row that reaches the end of the pipeline`
      : `: the output \`${name}\`, the rows that reach the end of the pipeline where \`${where}\``

/** What the main folder holds when its sink has a `where:`: its selection and the rows it set aside. */
const mainWords = (output: SinkOutput): string => {
  if (typeof output.where !== "string") return ""
  const aside = output.dropped?.where ?? 0
  return `: the rows that reach the end of the pipeline where \`${output.where}\` (${aside} other row${aside === 1 ? "" : "s"} set aside)`
}

/** Renders the card of one output folder. */
export const render = (input: RenderInput): string => {
  const profile = input.output.profile ?? Profile.empty()
  const out = [
    ...intro(input),
    ...filesSection(input.output, input.profilers ?? []),
    ...recipeSection(input),
    ...modelsSection(input.manifest),
    ...statisticsSection(input.manifest, input.output, profile),
    ...profilerSections(profile, input.profilers ?? [])
  ]
  return scrubText(out.join("\n"), input.secrets ?? [])
}

/** The front matter, the title and the paragraph saying what wrote the folder. */
const intro = ({ manifest, output, branch }: RenderInput): ReadonlyArray<string> => [
  `---\n${YAML.stringify(frontMatter(output), { lineWidth: 0 })}---`,
  "",
  `# ${branch === undefined ? manifest.name : `${manifest.name} (${branch})`}`,
  "",
  `Written by synthline ${manifest.synthline} from the pipeline \`${manifest.name}\` (fingerprint \`${manifest.fingerprint}\`, seed ${manifest.seed})` +
    `${branch === undefined ? mainWords(output) : branchWords(branch, output.where)}. ` +
    `${output.rows} rows in ${output.files.length} file${output.files.length === 1 ? "" : "s"}.`,
  ""
]

/** What the profilers say about the files (how to read parts a sink option rewrote), then the files. */
const filesSection = (output: SinkOutput, profilers: ReadonlyArray<AnyProfiler>): ReadonlyArray<string> => [
  ...profilers.flatMap((p) => {
    const text = p.files?.(output.files)
    return text === undefined ? [] : [text.replace(/\n+$/, ""), ""]
  }),
  "## Files",
  "",
  table(["file", "rows", "bytes", "sha256"], output.files.map((f) => [f.path, f.rows, f.bytes, f.sha256])),
  ""
]

/** The pipeline file as written (secrets masked), or the stages of a pipeline composed in code; the plugins. */
const recipeSection = ({ manifest, pipelineText, secrets }: RenderInput): ReadonlyArray<string> => {
  const out: Array<string> = ["## Recipe", ""]
  if (pipelineText === undefined) {
    out.push("The pipeline was composed in code; its stages:", "", ...manifest.stages.map((s) => `- \`${s.id}\``), "")
  } else {
    const text = redactPipelineText(pipelineText, secrets).replace(/\n+$/, "")
    const fence = text.includes("```") ? "~~~~" : "```"
    out.push(`The pipeline file \`${manifest.pipeline_file?.split("/").pop() ?? ""}\`:`, "", `${fence}yaml`, text, fence, "")
  }
  if (manifest.plugins.length > 0) out.push("Plugins:", "", ...manifest.plugins.map((p) => `- ${p.name} ${p.version}`), "")
  return out
}

const fieldsOf = (u: unknown): { readonly [k: string]: unknown } =>
  typeof u === "object" && u !== null && !Array.isArray(u) ? Object.fromEntries(Object.entries(u)) : {}

const dollars = (u: unknown): string => `$${num(u) >= 1 || num(u) === 0 ? num(u).toFixed(2) : num(u).toFixed(4)}`

/** The models used (calls, requests, cache hits, tokens) and, for priced models, the cost ledger: paid, saved by the cache and by batch mode. */
const modelsSection = (manifest: Manifest): ReadonlyArray<string> => {
  const models = Object.entries(manifest.model_usage)
  if (models.length === 0) return ["## Models", "", "No model was called.", ""]
  const priced = models.some(([, u]) => typeof fieldsOf(u).cost === "object")
  const head = ["name", "model", "calls", "requests", "cache hits", "prompt tokens", "completion tokens"]
  const rows = models.map(([name, u]) => {
    const o = fieldsOf(u)
    const c = fieldsOf(o.cost)
    return [
      name,
      typeof o.model === "string" ? o.model : name,
      num(o.calls),
      num(o.requests),
      num(o.cache_hits),
      num(o.prompt_tokens),
      num(o.completion_tokens),
      ...(priced ? [dollars(c.usd), dollars(c.saved_by_cache_usd), dollars(c.saved_by_batch_usd)] : [])
    ]
  })
  return ["## Models", "", table([...head, ...(priced ? ["cost (USD)", "saved by cache", "saved by batch"] : [])], rows), ""]
}

/** Rows read, rejected and written; the languages; rows in and out and drops by stage. */
const statisticsSection = (manifest: Manifest, output: SinkOutput, profile: Profile.Profile): ReadonlyArray<string> => {
  const out: Array<string> = ["## Statistics", ""]
  const counts: ReadonlyArray<readonly [string, number]> = [
    ["read from the source", manifest.source.rows_read],
    ["rejected (see rejects/)", manifest.rejects.count],
    ["written to this folder", output.rows]
  ]
  out.push(table(["", "rows"], counts), "")
  out.push("### Languages", "")
  const langs = Object.entries(profile.languages).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
  const langTotal = langs.reduce((n, [, c]) => n + c, 0)
  if (langs.length === 0) out.push("No row has a `language` field.", "")
  else out.push(table(["language", "rows", "share"], langs.map(([l, c]) => [l, c, pct(c, langTotal)])), "")
  out.push("### Drops by stage", "")
  const drops = manifest.stages.flatMap((s) => [
    ...Object.entries(s.dropped)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .map(([reason, n]) => [s.id, reason, n] as const),
    ...routes(s),
    ...(s.rejected > 0 ? [[s.id, "rejected", s.rejected] as const] : [])
  ])
  out.push(table(["stage", "rows in", "rows out"], manifest.stages.map((s) => [s.id, s.rows_in, s.rows_out])), "")
  if (drops.length === 0) out.push("No stage dropped a row.", "")
  else out.push(table(["stage", "reason", "rows"], drops), "")
  return out
}

/** A stage's routed rows by reason (`routed to a branch (moderation:harassment)`), or in one line when the manifest has no reasons. */
const routes = (s: Manifest["stages"][number]): ReadonlyArray<readonly [string, string, number]> => {
  const reasons = Object.entries(s.routed_reasons ?? {})
  if (reasons.length === 0) return s.routed > 0 ? [[s.id, "routed to a branch", s.routed]] : []
  return reasons
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([reason, n]) => [s.id, `routed to a branch (${reason})`, n] as const)
}

/** The sections of each profiler whose state the profile holds, in the profilers' order. */
const profilerSections = (profile: Profile.Profile, profilers: ReadonlyArray<AnyProfiler>): ReadonlyArray<string> =>
  profilers.flatMap((p) => {
    const state = profile[p.key]
    if (state === undefined || p.card === undefined) return []
    return p.card(state).flatMap((section) => [`### ${section.title}`, "", section.body.replace(/\n+$/, ""), ""])
  })

/** Where {@link writeAll} writes cards. */
export interface WriteOptions {
  /** The pipeline file (its text becomes the card's recipe); absent for pipelines composed in code. */
  readonly pipelineFile?: string | undefined
  /** Values that must not appear in any card (the run's secrets). */
  readonly secrets?: ReadonlyArray<string> | undefined
  /** The profilers whose sections the cards get (those of the run's plugins). */
  readonly profilers?: ReadonlyArray<AnyProfiler> | undefined
  readonly dirs: { readonly main: string; readonly branches: { readonly [name: string]: string } }
}

/** Writes `README.md` into the main output folder and each branch folder of a complete run. */
export const writeAll = (
  manifest: Manifest,
  options: WriteOptions
): Effect.Effect<void, SinkError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const pipelineText =
      options.pipelineFile === undefined ? undefined : yield* fs.readFileString(options.pipelineFile).pipe(Effect.option)
    const text = pipelineText === undefined ? undefined : pipelineText._tag === "Some" ? pipelineText.value : undefined
    const write = (dir: string, output: SinkOutput, branch: string | undefined) =>
      Effect.gen(function* () {
        const file = path.join(dir, fileName)
        const card = render({ manifest, output, branch, pipelineText: text, secrets: options.secrets, profilers: options.profilers })
        yield* fs.makeDirectory(dir, { recursive: true })
        yield* fs.writeFileString(`${file}.tmp`, card)
        yield* fs.rename(`${file}.tmp`, file)
      }).pipe(Effect.mapError((e) => new SinkError({ path: path.join(dir, fileName), reason: e.message })))
    yield* write(options.dirs.main, manifest.outputs.main, undefined)
    for (const [name, output] of Object.entries(manifest.outputs.branches)) {
      const dir = options.dirs.branches[name]
      if (dir !== undefined) yield* write(dir, output, name)
    }
  })

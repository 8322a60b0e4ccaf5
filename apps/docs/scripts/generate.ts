/**
 * Generates the parts of the site that come from the code, before `vitepress build`:
 *
 * - `reference/`: the pipeline-file reference — top-level keys, the sections plugins add
 *   (`models`, `cache`) with every model provider and its options, sources, sinks, and every
 *   stage of core and of every workspace plugin package with each option's type, default and
 *   description — from the same Schemas the pipeline decoder uses (core's `Reference` module,
 *   as `synthline stages --json` and `synthline schema` print them);
 * - `public/pipeline.schema.json`: the JSON Schema of pipeline files with every stage;
 * - `api/`: the API reference from the doc comments of every publishable package (TypeDoc with
 *   typedoc-plugin-markdown).
 *
 * Run with the `@synthline/source` condition so workspace packages load from their sources.
 */
import { Reference } from "@synthline/core/Pipeline"
import * as Registry from "@synthline/core/Registry"
import * as Stage from "@synthline/core/Stage"
import * as Provider from "@synthline/llm/Provider"
import { Effect, Either, Schema } from "effect"
import { mkdirSync, rmSync, writeFileSync } from "node:fs"
import { join, relative } from "node:path"
import { Application, PageEvent, type TypeDocOptions } from "typedoc"
import type { PluginOptions } from "typedoc-plugin-markdown"
import { escapeCode, escapeEmoji, escapeText } from "./markdown.js"
import { pluginPackages, publishable, repoRoot, type WorkspacePackage } from "./workspace.js"
import { isRecord as isObj } from "@synthline/core/Row"

const docsDir = join(repoRoot, "apps/docs")

// ---------------------------------------------------------------------------------------------
// Markdown helpers

/** Plain text as markdown that shows it as written (scripts/markdown.ts), safe inside a table cell. */
const cell = (text: string): string => escapeText(text)

const code = (text: string): string => `<code>${escapeCode(text)}</code>`

/** A default longer than this (as JSON) is shown below the table instead of in it (shipped prompts). */
const longDefault = 60

const defaultCell = (o: Reference.OptionInfo): string => {
  if (o.required) return "**required**"
  if (o.default === undefined) return "—"
  const json = JSON.stringify(o.default)
  return json.length > longDefault ? "shipped (below)" : code(json)
}

/** The type, and beside it what the Schema allows of it (`1 to 9`, `non-empty`). */
const typeCell = (o: Reference.OptionInfo): string => (o.constraints === undefined ? code(o.type) : `${code(o.type)}<br>${cell(o.constraints)}`)

const optionRows = (options: ReadonlyArray<Reference.OptionInfo>): string => {
  if (options.length === 0) return "No options.\n"
  const table = [
    "| option | type | default | description |",
    "|---|---|---|---|",
    ...options.map((o) => `| ${code(o.name)} | ${typeCell(o)} | ${defaultCell(o)} | ${cell(o.description ?? "")} |`)
  ].join("\n")
  const long = options.filter((o) => !o.required && o.default !== undefined && JSON.stringify(o.default).length > longDefault)
  const details = long.map((o) =>
    [
      `::: details Default of ${o.name}`,
      `\`\`\`${typeof o.default === "string" ? "text" : "json"}`,
      typeof o.default === "string" ? o.default : JSON.stringify(o.default, null, 2),
      "```",
      ":::"
    ].join("\n")
  )
  return `${[table, ...details].join("\n\n")}\n`
}

const fields = (f: ReadonlyArray<string> | "depends on options"): string =>
  typeof f === "string" ? `_${f}_` : f.length === 0 ? "—" : f.map(code).join(", ")

/**
 * Wraps generated markdown in a `v-pre` container: descriptions written by plugin authors may
 * contain `{{`, which Vue would otherwise evaluate.
 */
const verbatim = (markdown: string): string => `:::: v-pre\n\n${markdown}\n\n::::\n`

/** Heading anchor of a stage id: `core/dedup` → `core-dedup`. */
export const anchor = (id: string): string => id.replace(/[^a-zA-Z0-9_-]+/g, "-")

// ---------------------------------------------------------------------------------------------
// Reference

interface PluginPage {
  readonly name: string
  readonly version: string
  readonly packageName: string | undefined
  readonly stages: ReadonlyArray<Reference.StageInfo & { readonly definition: Stage.AnyStage }>
}

const loadRegistry = (pkgs: ReadonlyArray<WorkspacePackage>) =>
  Effect.gen(function* () {
    const loaded: Array<Registry.LoadedPlugin> = []
    const skipped: Array<string> = []
    for (const p of pkgs) {
      const plugin = yield* Registry.loadPlugin(p.entry, repoRoot).pipe(
        Effect.catchTag("PluginLoadError", (e) =>
          // A package such as @synthline/llm may be a library without a plugin default export.
          e.reason.startsWith("its default export is not a plugin") ? Effect.succeed(undefined) : Effect.fail(e)
        )
      )
      if (plugin === undefined) skipped.push(p.name)
      else loaded.push({ plugin, specifier: p.name })
    }
    const registry = yield* Registry.fromPlugins(loaded)
    return { registry, skipped }
  })

/**
 * The fields a stage requires and provides with its default options, when they depend on the
 * options: required options are filled with a placeholder (a string option's name, the first
 * value of an enum), so the answer describes the common case.
 */
const defaultFields = (
  stage: Stage.AnyStage,
  options: ReadonlyArray<Reference.OptionInfo>
): { readonly requires: ReadonlyArray<string>; readonly provides: ReadonlyArray<string> } | undefined => {
  const input: { [key: string]: unknown } = {}
  for (const o of options.filter((x) => x.required)) {
    if (o.type === "string") input[o.name] = o.name
    else if (o.type.startsWith('"')) input[o.name] = JSON.parse(o.type.split(" | ")[0]!)
    else return undefined
  }
  const decoded = Schema.decodeUnknownEither(stage.config)(input)
  return Either.isRight(decoded)
    ? { requires: Stage.requiredFields(stage, decoded.right), provides: Stage.providedFields(stage, decoded.right) }
    : undefined
}

const stageFields = (s: PluginPage["stages"][number]): ReadonlyArray<string> => {
  const byDefault = s.requires === "depends on options" || s.provides === "depends on options" ? defaultFields(s.definition, s.options) : undefined
  // An empty list under placeholder options says little (a template with no fields): keep "depends on options".
  const show = (declared: ReadonlyArray<string> | "depends on options", computed: ReadonlyArray<string> | undefined): string =>
    declared === "depends on options" && computed !== undefined && computed.length > 0
      ? `${fields(computed)} (with the default options)`
      : fields(declared)
  return [`- requires: ${show(s.requires, byDefault?.requires)}`, `- provides: ${show(s.provides, byDefault?.provides)}`]
}

const stagePage = (p: PluginPage): string => {
  const lines = [
    `# \`${p.name}\` stages`,
    "",
    p.packageName === undefined || p.packageName === "@synthline/core"
      ? "Built into `@synthline/core`: always available, no `plugins:` entry needed."
      : `From \`${p.packageName}\` ${p.version}: list it under \`plugins:\` in the pipeline file.\n\n\`\`\`yaml\nplugins: ["${p.packageName}"]\n\`\`\``,
    "",
    "Every stage also takes the common options `use`, `route` and `id` (see [the pipeline file](../pipeline-file#stages)).",
    ""
  ]
  const body: Array<string> = []
  for (const s of p.stages) {
    body.push(
      `## ${s.id} {#${anchor(s.id)}}`,
      "",
      cell(s.description),
      "",
      ...stageFields(s),
      ...(s.stateful ? ["- stateful: keeps state across rows (journaled, so a resumed run gives the same result)"] : []),
      "",
      optionRows(s.options)
    )
  }
  return [...lines, verbatim(body.join("\n"))].join("\n")
}

const pipelinePage = (
  registry: Registry.Registry,
  schema: Reference.JsonSchema,
  providers: ReturnType<typeof Provider.described>
): string => {
  const props = isObj(schema.properties) ? schema.properties : {}
  const required = new Set(Array.isArray(schema.required) ? schema.required.map(String) : [])
  const stageItems = isObj(props.stages) && isObj(props.stages.items) && Array.isArray(props.stages.items.anyOf) ? props.stages.items.anyOf : []
  const firstStage: unknown = stageItems[0]
  const common = isObj(firstStage) && isObj(firstStage.properties) ? firstStage.properties : {}
  const describe = (v: unknown): string => (isObj(v) && typeof v.description === "string" ? v.description : "")
  const sections = [...registry.sections]
  return [
    "# The pipeline file",
    "",
    "A pipeline file is YAML or JSON. Unknown keys are errors that name the file, line and column and the nearest valid name.",
    `\`\${VAR}\` and \`\${VAR:-default}\` are replaced by environment variables in every string (\`$\${\` writes a literal \`\${\`); relative paths resolve against the file's folder.`,
    "Editors get completion from the [JSON Schema](/pipeline.schema.json) (`synthline schema` prints the same).",
    "",
    verbatim(
      [
    "## Top-level keys {#top-level}",
    "",
    "| key | required | description |",
    "|---|---|---|",
    ...Object.entries(props).map(([k, v]) => {
      const owner = registry.sections.get(k)
      const extra = owner !== undefined ? `Contributed by the \`${owner.plugin}\` plugin.` : ""
      const link =
        k === "source" ? " See [sources](./sources-sinks#sources)." : k === "sink" || k === "branches" || k === "outputs" ? " See [sinks](./sources-sinks#sinks)." : k === "stages" ? " See [stages](#stages)." : ""
      return `| ${code(k)} | ${required.has(k) ? "yes" : "no"} | ${cell(`${describe(v)} ${extra}`.trim())}${link} |`
    }),
    "",
    "## Stages {#stages}",
    "",
    "`stages:` is a list; each entry names a stage with `use:` and gives its options next to it. These keys are common to every stage:",
    "",
    "| key | type | description |",
    "|---|---|---|",
    ...Object.entries(common)
      .filter(([k]) => k === "use" || k === "route" || k === "id")
      .map(([k, v]) => `| ${code(k)} | ${code(k === "use" ? "stage id" : "string")} | ${cell(k === "use" ? "The stage, as <plugin>/<name> (e.g. core/dedup); its options go next to it." : describe(v))} |`),
    "",
    "The stages of each plugin:",
    "",
    ...[...new Set([...registry.stages.values()].map((s) => s.id.split("/")[0]!))].map((p) => `- [\`${p}\`](./stages/${p})`),
    "",
    ...(sections.length === 0 ? [] : ["## Plugin sections {#sections}", "", ...sections.flatMap(([name, section]) => sectionPart(name, section, props[name]))]),
    ...(providers.length === 0 ? [] : providersPart(providers))
      ].join("\n")
    )
  ].join("\n")
}

/** One plugin section: its options, or for a map (`models`) the options of each entry. */
const sectionPart = (name: string, section: { readonly plugin: string; readonly schema: Schema.Schema<unknown, unknown> }, json: unknown): ReadonlyArray<string> => {
  const entry = Reference.mapValueOf(section.schema)
  return [
    `### \`${name}\` {#section-${anchor(name)}}`,
    "",
    `Contributed by the \`${section.plugin}\` plugin.${isObj(json) && typeof json.description === "string" ? ` ${cell(json.description)}` : ""}`,
    "",
    ...(entry === undefined
      ? [optionRows(Reference.optionsOf(section.schema))]
      : [
          `\`${name}:\` maps a name of your choice to an entry with these options${name === "models" ? " (see also [the model providers](#providers))" : ""}:`,
          "",
          optionRows(Reference.optionsOf(entry))
        ]),
    "::: details JSON Schema",
    "```json",
    JSON.stringify(json, null, 2),
    "```",
    ":::",
    ""
  ]
}

/** The model providers (`provider:` of a `models` entry): the built-in one and those packages register. */
const providersPart = (providers: ReturnType<typeof Provider.described>): ReadonlyArray<string> => [
  "### Model providers {#providers}",
  "",
  "A `models` entry's `provider:` says who serves the model. A provider package must be listed under `plugins:`.",
  "",
  ...providers.flatMap(({ name, info }) => [
    `#### \`${name}\` {#provider-${anchor(name)}}`,
    "",
    `${cell(info.description)}${info.packageName !== undefined ? ` From \`${info.packageName}\`.` : ""}`,
    "",
    ...(info.options === undefined ? [] : ["`options:` of a model with this provider:", "", optionRows(Reference.optionsOf(info.options))])
  ])
]

/** The plugin (by package) that contributes a source or sink type, when it is not core. */
const ownerOf = (registry: Registry.Registry, kind: "sources" | "sinks", type: string): string => {
  const owner = registry.plugins.find(({ plugin }) => (plugin[kind] ?? []).some((x) => x.type === type))?.plugin
  return owner === undefined || owner.name === "core"
    ? "Built into `@synthline/core`."
    : `From \`${owner.packageName ?? owner.name}\`: list it under \`plugins:\`.`
}

/** The options plugins add to a sink that writes its parts through an encoder, with their packages. */
const addedOptions = (registry: Registry.Registry, sink: { readonly encoders?: boolean | undefined }): string => {
  if (sink.encoders !== true) return ""
  const added = registry.plugins.flatMap(({ plugin }) =>
    (plugin.sinkOptions ?? []).map((o) => {
      const keys = Object.keys(o.fields)
      const implied = keys.every((k) => Registry.optionPackages.has(k))
      return `${keys.map((k) => `\`${k}\``).join(", ")} from \`${plugin.packageName ?? plugin.name}\`${implied ? " (loaded by the option itself, no `plugins:` entry needed)" : ""}`
    })
  )
  return added.length === 0 ? "" : ` Options ${added.join("; ")}.`
}

const sourcesSinksPage = (registry: Registry.Registry): string =>
  [
    "# Sources and sinks",
    "",
    "`source:` reads the input; `sink:` writes the output, every entry of `branches:` is a further sink (the target of a stage's `route:`) and every entry of `outputs:` a sink at the end of the pipeline that writes the rows its `where:` selects (see [Outputs](/guide/concepts#outputs)). Each is a mapping with a `type` and that type's options.",
    "",
    "Every sink folder gets its part files, `manifest.json`, `rejects/` (rows that could not be processed) and `_state/` (completion markers for resuming); when the run completes, also `README.md`, a Hugging Face dataset card with the features, splits and statistics of the rows written there.",
    "",
    verbatim(
      [
        "## Sources {#sources}",
        "",
        ...[...registry.sources.values()].flatMap((s) => [
          `### \`${s.type}\` {#source-${anchor(s.type)}}`,
          "",
          `${cell(s.description)}. ${ownerOf(registry, "sources", s.type)}`,
          "",
          optionRows(Reference.optionsOf(s.config))
        ]),
        "## Sinks {#sinks}",
        "",
        ...[...registry.sinks.values()].flatMap((s) => [
          `### \`${s.type}\` {#sink-${anchor(s.type)}}`,
          "",
          `${cell(s.description)}. ${ownerOf(registry, "sinks", s.type)}${addedOptions(registry, s)}`,
          "",
          optionRows(Reference.optionsOf(s.config))
        ])
      ].join("\n")
    )
  ].join("\n")

/** What each loaded plugin adds, for the overview. */
const pluginsTable = (registry: Registry.Registry, pages: ReadonlyArray<PluginPage>, providers: ReturnType<typeof Provider.described>): string =>
  [
    "| plugin | package | adds |",
    "|---|---|---|",
    ...registry.plugins.map(({ plugin }) => {
      const pkg = plugin.name === "core" ? "@synthline/core" : plugin.packageName
      const adds = [
        ...(pages.some((p) => p.name === plugin.name && p.stages.length > 0)
          ? [`[${plugin.stages.length} stage${plugin.stages.length === 1 ? "" : "s"}](./stages/${plugin.name})`]
          : []),
        ...Object.keys(plugin.sections ?? {}).map((k) => `section [${code(k)}](./pipeline-file#section-${anchor(k)})`),
        ...(plugin.sources ?? []).map((x) => `source [${code(x.type)}](./sources-sinks#source-${anchor(x.type)})`),
        ...(plugin.sinks ?? []).map((x) => `sink [${code(x.type)}](./sources-sinks#sink-${anchor(x.type)})`),
        ...(plugin.sinkOptions ?? []).flatMap((o) => Object.keys(o.fields)).map((k) => `sink option [${code(k)}](./sources-sinks#sinks)`),
        ...providers
          .filter((x) => x.info.packageName !== undefined && x.info.packageName === pkg && x.name !== "openai")
          .map((x) => `model provider [${code(x.name)}](./pipeline-file#provider-${anchor(x.name)})`),
        ...(plugin.dependencies ?? []).map((d) => `brings in ${code(d.name)}`)
      ]
      return `| ${code(plugin.name)} | ${pkg === undefined ? "—" : code(pkg)} | ${adds.join(", ")} |`
    })
  ].join("\n")

const indexPage = (
  registry: Registry.Registry,
  pages: ReadonlyArray<PluginPage>,
  providers: ReturnType<typeof Provider.described>,
  skipped: ReadonlyArray<string>
): string =>
  [
    "# Reference",
    "",
    "Generated from the code at build time: the same Schemas the pipeline decoder uses, as `synthline stages` and `synthline schema` print them, so this reference cannot drift from what `synthline validate` accepts.",
    "",
    "- [The pipeline file](./pipeline-file): top-level keys, common stage keys, the `models` and `cache` sections, model providers",
    "- [Sources and sinks](./sources-sinks)",
    "- [API reference](/api/): the TypeScript API from the doc comments",
    "",
    "## Plugins",
    "",
    "A plugin other than `core` is listed under `plugins:` by its package name; the plugins it brings in load with it.",
    "",
    verbatim(pluginsTable(registry, pages, providers)),
    "## Stages by plugin",
    "",
    verbatim(
      [
        "| stage | description |",
        "|---|---|",
        ...pages.flatMap((p) => p.stages.map((s) => `| [${code(s.id)}](./stages/${p.name}#${anchor(s.id)}) | ${cell(s.description)} |`))
      ].join("\n")
    ),
    ...(skipped.length > 0 ? [`Packages that are libraries, not plugins: ${skipped.map((s) => `\`${s}\``).join(", ")}.`, ""] : [])
  ].join("\n")

/** Writes `reference/` and `public/pipeline.schema.json`; returns the plugin pages. */
const writeReference = Effect.gen(function* () {
  const { registry, skipped } = yield* loadRegistry(pluginPackages())
  // The providers the plugins contribute (`definePlugin({ providers })`), the built-in openai first.
  const providers = Provider.described(Provider.fromPlugins(registry.plugins.map((p) => p.plugin)))
  const infos = Reference.stages(registry)
  const schema = Reference.pipelineJsonSchema(registry)
  // A page per plugin with stages; plugins without (a provider package) show in the overview.
  const pages: Array<PluginPage> = registry.plugins
    .filter(({ plugin }) => plugin.stages.length > 0)
    .map(({ plugin }) => ({
      name: plugin.name,
      version: plugin.version,
      packageName: plugin.name === "core" ? "@synthline/core" : plugin.packageName,
      stages: infos.filter((s) => s.plugin === plugin.name).map((s) => ({ ...s, definition: registry.stages.get(s.id)! }))
    }))
  const refDir = join(docsDir, "reference")
  rmSync(refDir, { recursive: true, force: true })
  mkdirSync(join(refDir, "stages"), { recursive: true })
  mkdirSync(join(docsDir, "public"), { recursive: true })
  writeFileSync(join(refDir, "index.md"), indexPage(registry, pages, providers, skipped))
  writeFileSync(join(refDir, "pipeline-file.md"), pipelinePage(registry, schema, providers))
  writeFileSync(join(refDir, "sources-sinks.md"), sourcesSinksPage(registry))
  for (const p of pages) writeFileSync(join(refDir, "stages", `${p.name}.md`), stagePage(p))
  writeFileSync(join(docsDir, "public/pipeline.schema.json"), `${JSON.stringify(schema, null, 2)}\n`)
  // The sidebar reads this; the test cross-checks it against `synthline stages --json`.
  writeFileSync(
    join(refDir, "sidebar.json"),
    `${JSON.stringify(pages.map((p) => ({ plugin: p.name, stages: p.stages.map((s) => s.id) })), null, 2)}\n`
  )
  return { pages, providers }
})

// ---------------------------------------------------------------------------------------------
// API reference

const writeApi = async (): Promise<void> => {
  const pkgs = publishable()
  const out = join(docsDir, "api")
  rmSync(out, { recursive: true, force: true })
  const options: Partial<TypeDocOptions> & Partial<PluginOptions> = {
    entryPoints: pkgs.map((p) => p.entry),
    entryPointStrategy: "resolve",
    tsconfig: join(docsDir, "tsconfig.typedoc.json"),
    plugin: ["typedoc-plugin-markdown"],
    readme: "none",
    out,
    entryFileName: "index",
    outputFileStrategy: "modules",
    // Headings carry the ids links point at ({#id}, which VitePress honours): its own slugs
    // differ for names such as `_op` and for repeated names (a Tag class and its service).
    // The prefix keeps them apart from VitePress's own slugs (the page title `# Cli` is `cli`).
    useCustomAnchors: true,
    anchorPrefix: "api-",
    hidePageHeader: true,
    hideBreadcrumbs: true,
    excludePrivate: true,
    excludeInternal: true,
    // Members inherited from Effect's own classes (Context.Tag, Data.TaggedError) are not ours to document.
    excludeExternals: true,
    disableSources: true,
    skipErrorChecking: true,
    logLevel: "Warn",
    name: "synthline API"
  }
  const app = await Application.bootstrapWithPlugins(options)
  // Doc comments are markdown on purpose, but `::)` in one must not become an emoji.
  // (typedoc-plugin-markdown sends its pages through TypeDoc's own end-of-page event.)
  app.renderer.on(PageEvent.END, (page) => {
    if (page.contents !== undefined) page.contents = escapeEmoji(page.contents)
  })
  const project = await app.convert()
  if (project === undefined) throw new Error("TypeDoc could not convert the packages")
  // Modules are named after their folder ("core/src"); show the npm name instead.
  for (const mod of project.children ?? []) {
    const pkg = pkgs.find((p) => mod.name === `${p.folder}/src` || mod.name === p.folder)
    if (pkg !== undefined) mod.name = pkg.name
  }
  await app.generateOutputs(project)
  process.stderr.write(`api: ${pkgs.map((p) => relative(repoRoot, p.entry)).join(", ")}\n`)
}

const main = async (): Promise<void> => {
  const { pages, providers } = await Effect.runPromise(writeReference)
  process.stderr.write(
    `reference: ${pages.map((p) => `${p.name} (${p.stages.length})`).join(", ")}; providers: ${providers.map((p) => p.name).join(", ")}\n`
  )
  if (process.env.SYNTHLINE_DOCS_SKIP_API !== "1") await writeApi()
}

main().catch((e: unknown) => {
  process.stderr.write(`docs generation failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
  process.exit(1)
})

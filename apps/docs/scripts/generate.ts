/**
 * Generates the parts of the site that come from the code, before `vitepress build`:
 *
 * - `reference/`: the pipeline-file reference — top-level sections, sources, sinks, and every
 *   stage of core and of every workspace plugin package with each option's type, default and
 *   description — from the same Schemas the pipeline decoder uses (core's `Reference` module,
 *   as `synthline stages --json` and `synthline schema` print them);
 * - `public/pipeline.schema.json`: the JSON Schema of pipeline files with every stage;
 * - `api/`: the API reference from the doc comments of every publishable package (TypeDoc with
 *   typedoc-plugin-markdown).
 *
 * Run with the `@synthline/source` condition so workspace packages load from their sources.
 */
import * as Reference from "@synthline/core/Reference"
import * as Registry from "@synthline/core/Registry"
import { Effect } from "effect"
import { mkdirSync, rmSync, writeFileSync } from "node:fs"
import { join, relative } from "node:path"
import { Application, type TypeDocOptions } from "typedoc"
import type { PluginOptions } from "typedoc-plugin-markdown"
import { pluginPackages, publishable, repoRoot, type WorkspacePackage } from "./workspace.js"

const docsDir = join(repoRoot, "apps/docs")

// ---------------------------------------------------------------------------------------------
// Markdown helpers

/** Text safe inside a markdown table cell and outside Vue interpolation. */
const cell = (text: string): string =>
  text.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/\n+/g, " ")

const code = (text: string): string => `<code>${cell(text)}</code>`

const optionRows = (options: ReadonlyArray<Reference.OptionInfo>): string =>
  options.length === 0
    ? "No options.\n"
    : `${[
        "| option | type | default | description |",
        "|---|---|---|---|",
        ...options.map(
          (o) =>
            `| ${code(o.name)} | ${code(o.type)} | ${o.required ? "**required**" : o.default !== undefined ? code(JSON.stringify(o.default)) : "—"} | ${cell(o.description ?? "")} |`
        )
      ].join("\n")}\n`

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
  readonly stages: ReadonlyArray<Reference.StageInfo>
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
      `- requires: ${fields(s.requires)}`,
      `- provides: ${fields(s.provides)}`,
      ...(s.stateful ? ["- stateful: keeps state across rows (journaled, so a resumed run gives the same result)"] : []),
      "",
      optionRows(s.options)
    )
  }
  return [...lines, verbatim(body.join("\n"))].join("\n")
}

const isObj = (u: unknown): u is { readonly [key: string]: unknown } => typeof u === "object" && u !== null && !Array.isArray(u)

const pipelinePage = (registry: Registry.Registry, schema: Reference.JsonSchema): string => {
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
        k === "source" ? " See [sources](./sources-sinks#sources)." : k === "sink" || k === "branches" ? " See [sinks](./sources-sinks#sinks)." : k === "stages" ? " See [stages](#stages)." : ""
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
    ...(sections.length === 0
      ? []
      : [
          "## Plugin sections {#sections}",
          "",
          ...sections.flatMap(([name, { plugin, schema: s }]) => [
            `### \`${name}\` {#section-${anchor(name)}}`,
            "",
            `Contributed by the \`${plugin}\` plugin.`,
            "",
            optionRows(Reference.optionsOf(s)),
            "::: details JSON Schema",
            "```json",
            JSON.stringify(props[name], null, 2),
            "```",
            ":::",
            ""
          ])
        ])
      ].join("\n")
    )
  ].join("\n")
}

const sourcesSinksPage = (registry: Registry.Registry): string =>
  [
    "# Sources and sinks",
    "",
    "`source:` reads the input; `sink:` writes the output and every entry of `branches:` is a further sink (the target of a stage's `route:`). Each is a mapping with a `type` and that type's options.",
    "",
    verbatim(
      [
        "## Sources {#sources}",
        "",
        ...[...registry.sources.values()].flatMap((s) => [`### \`${s.type}\` {#source-${anchor(s.type)}}`, "", cell(s.description), "", optionRows(Reference.optionsOf(s.config))]),
        "## Sinks {#sinks}",
        "",
        ...[...registry.sinks.values()].flatMap((s) => [`### \`${s.type}\` {#sink-${anchor(s.type)}}`, "", cell(s.description), "", optionRows(Reference.optionsOf(s.config))])
      ].join("\n")
    )
  ].join("\n")

const indexPage = (pages: ReadonlyArray<PluginPage>, skipped: ReadonlyArray<string>): string =>
  [
    "# Reference",
    "",
    "Generated from the code at build time: the same Schemas the pipeline decoder uses, as `synthline stages` and `synthline schema` print them, so this reference cannot drift from what `synthline validate` accepts.",
    "",
    "- [The pipeline file](./pipeline-file): top-level keys, common stage keys, plugin sections",
    "- [Sources and sinks](./sources-sinks)",
    "- [API reference](/api/): the TypeScript API from the doc comments",
    "",
    "## Stages by plugin",
    "",
    verbatim(
      [
        "| stage | description |",
        "|---|---|",
        ...pages.flatMap((p) => p.stages.map((s) => `| [${code(s.id)}](./stages/${p.name}#${anchor(s.id)}) | ${cell(s.description)} |`))
      ].join("\n")
    ),
    ...(skipped.length > 0 ? [`Packages without stages: ${skipped.map((s) => `\`${s}\``).join(", ")}.`, ""] : [])
  ].join("\n")

/** Writes `reference/` and `public/pipeline.schema.json`; returns the sidebar entries. */
const writeReference = Effect.gen(function* () {
  const { registry, skipped } = yield* loadRegistry(pluginPackages())
  const infos = Reference.stages(registry)
  const schema = Reference.pipelineJsonSchema(registry)
  const pages: Array<PluginPage> = registry.plugins.map(({ plugin }) => ({
    name: plugin.name,
    version: plugin.version,
    packageName: plugin.name === "core" ? "@synthline/core" : plugin.packageName,
    stages: infos.filter((s) => s.plugin === plugin.name)
  }))
  const refDir = join(docsDir, "reference")
  rmSync(refDir, { recursive: true, force: true })
  mkdirSync(join(refDir, "stages"), { recursive: true })
  mkdirSync(join(docsDir, "public"), { recursive: true })
  writeFileSync(join(refDir, "index.md"), indexPage(pages, skipped))
  writeFileSync(join(refDir, "pipeline-file.md"), pipelinePage(registry, schema))
  writeFileSync(join(refDir, "sources-sinks.md"), sourcesSinksPage(registry))
  for (const p of pages) writeFileSync(join(refDir, "stages", `${p.name}.md`), stagePage(p))
  writeFileSync(join(docsDir, "public/pipeline.schema.json"), `${JSON.stringify(schema, null, 2)}\n`)
  // The sidebar reads this; the test cross-checks it against `synthline stages --json`.
  writeFileSync(
    join(refDir, "sidebar.json"),
    `${JSON.stringify(pages.map((p) => ({ plugin: p.name, stages: p.stages.map((s) => s.id) })), null, 2)}\n`
  )
  return pages
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
  const pages = await Effect.runPromise(writeReference)
  process.stderr.write(`reference: ${pages.map((p) => `${p.name} (${p.stages.length})`).join(", ")}\n`)
  if (process.env.SYNTHLINE_DOCS_SKIP_API !== "1") await writeApi()
}

main().catch((e: unknown) => {
  process.stderr.write(`docs generation failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
  process.exit(1)
})

/**
 * `synthline new-plugin NAME [--dir DIR]`: scaffolds a plugin package a team can test, load
 * from a pipeline file and publish — `package.json` with `exports` and a peer dependency on
 * @synthline/core, a stage with a config Schema, a test using core's `Testing` helpers, a
 * README, a changeset, TypeScript configs and an example pipeline. The templates are plain
 * functions of the names ({@link files}); {@link scaffold} writes them.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { RunError } from "@synthline/core/Errors"
import { Effect, Either } from "effect"
import { createRequire } from "node:module"

/** The names a scaffold is made of. */
export interface PluginNames {
  /** npm package name, e.g. `synthline-plugin-acme` or `@acme/synthline-plugin-keywords`. */
  readonly packageName: string
  /** Plugin name, the prefix of its stage ids (`acme` in `acme/min-length`). */
  readonly pluginName: string
  /** Folder name the package gets by default (the package name without its scope). */
  readonly folder: string
}

/** Versions the scaffold depends on. */
export interface Versions {
  /** Version of @synthline/core the plugin is written against (`^` range in peerDependencies). */
  readonly core: string
  /** Range of `effect`, as @synthline/core depends on it. */
  readonly effect: string
}

/** One file of a scaffold: path relative to the package folder, and its content. */
export interface ScaffoldFile {
  readonly path: string
  readonly content: string
}

const npmName = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/
const pluginNamePattern = /^[a-z][a-z0-9-]*$/

/**
 * Derives the names from NAME: a bare name `acme` becomes package `synthline-plugin-acme`;
 * a package name (`synthline-plugin-acme`, `@acme/synthline-plugin-keywords`, `@acme/keywords`)
 * is kept, and the plugin name is its last part without `synthline-plugin-`/`plugin-`.
 */
export const names = (name: string): Either.Either<PluginNames, string> => {
  if (!npmName.test(name) || name.length > 214) {
    return Either.left(`invalid plugin name ${JSON.stringify(name)}: use lower-case letters, digits and dashes, e.g. acme or @acme/synthline-plugin-keywords`)
  }
  const scoped = name.startsWith("@")
  const unscoped = scoped ? name.slice(name.indexOf("/") + 1) : name
  const packageName = scoped || unscoped.startsWith("synthline-plugin-") ? name : `synthline-plugin-${name}`
  const pluginName = unscoped.replace(/^synthline-plugin-/, "").replace(/^plugin-/, "")
  if (!pluginNamePattern.test(pluginName)) {
    return Either.left(
      `invalid plugin name ${JSON.stringify(pluginName)} (from ${name}): stage ids are <plugin>/<stage>, so it must start with a letter and hold only lower-case letters, digits and dashes`
    )
  }
  return Either.right({ packageName, pluginName, folder: packageName.replace(/^@[^/]+\//, "") })
}

/** The versions of the installed @synthline/core (the one this CLI runs with). */
export const installedVersions = (): Versions => {
  const core: { readonly version: string; readonly dependencies?: { readonly [name: string]: string } } = createRequire(import.meta.url)(
    "@synthline/core/package.json"
  )
  return { core: core.version, effect: core.dependencies?.effect ?? "^3.22.4" }
}

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`

/** Every file of the scaffold for the given names and versions. */
export const files = (n: PluginNames, v: Versions): ReadonlyArray<ScaffoldFile> => {
  const p = n.pluginName
  const stageId = `${p}/min-length`
  return [
    {
      path: "package.json",
      content: json({
        name: n.packageName,
        version: "0.1.0",
        description: `synthline plugin ${p}: ${stageId} drops conversations whose first instruction is too short`,
        license: "Apache-2.0",
        keywords: ["synthline", "synthline-plugin", "llm", "dataset"],
        type: "module",
        engines: { node: ">=20" },
        main: "./dist/index.js",
        types: "./dist/index.d.ts",
        exports: {
          ".": { types: "./dist/index.d.ts", default: "./dist/index.js" },
          "./package.json": "./package.json"
        },
        files: ["dist", "src", "README.md"],
        scripts: {
          build: "tsc -p tsconfig.build.json",
          typecheck: "tsc -p tsconfig.json --noEmit",
          test: "vitest run",
          prepublishOnly: "npm run build"
        },
        peerDependencies: { "@synthline/core": `^${v.core}`, effect: v.effect },
        devDependencies: {
          "@synthline/core": `^${v.core}`,
          "@types/node": "^20.19.0",
          effect: v.effect,
          typescript: "5.9.3",
          vitest: "^3.2.4"
        }
      })
    },
    {
      path: "tsconfig.json",
      content: json({
        compilerOptions: {
          target: "ES2022",
          lib: ["ES2023"],
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          exactOptionalPropertyTypes: true,
          noUnusedLocals: true,
          verbatimModuleSyntax: true,
          skipLibCheck: true,
          declaration: true,
          sourceMap: true,
          types: ["node"],
          noEmit: true,
          rootDir: "."
        },
        include: ["src", "test"]
      })
    },
    {
      path: "tsconfig.build.json",
      content: json({
        extends: "./tsconfig.json",
        compilerOptions: { noEmit: false, rootDir: "src", outDir: "dist" },
        include: ["src"]
      })
    },
    { path: ".gitignore", content: "node_modules/\ndist/\nout/\ndata/\n" },
    {
      path: "src/MinLength.ts",
      content: `/**
 * \`${stageId}\`: drops conversations whose first user message is shorter than \`min_chars\`
 * characters (reason \`too-short\`), rejects rows without a conversation, and writes the length
 * of the instruction it keeps into \`instruction_chars\`.
 */
import { Stage } from "@synthline/core"
import { Effect, Schema } from "effect"

/** Options of \`${stageId}\`; the annotations are what \`synthline stages\` and the docs show. */
export const MinLengthConfig = Schema.Struct({
  min_chars: Schema.optionalWith(
    Schema.Number.pipe(Schema.int(), Schema.nonNegative()).annotations({
      description: "Shortest first user message kept, in characters.",
      default: 10
    }),
    { default: () => 10 }
  ),
  trim: Schema.optionalWith(
    Schema.Boolean.annotations({ description: "Ignore leading and trailing whitespace when measuring.", default: true }),
    { default: () => true }
  )
})

/** Options of \`${stageId}\`, decoded (defaults filled in). */
export type MinLengthConfig = typeof MinLengthConfig.Type

/** A row as this stage reads it: any row with an LMSYS-Chat-1M \`conversation\`. */
export interface ConversationRow {
  readonly conversation?: unknown
  readonly [field: string]: unknown
}

/** The text of the first user message, or undefined when there is none. */
const firstInstruction = (conversation: unknown): string | undefined => {
  if (!Array.isArray(conversation)) return undefined
  for (const message of conversation) {
    if (typeof message === "object" && message !== null && "role" in message && message.role === "user") {
      return "content" in message && typeof message.content === "string" ? message.content : undefined
    }
  }
  return undefined
}

/** \`${stageId}\`: keeps conversations whose first instruction has at least \`min_chars\` characters. */
export const minLength = Stage.make({
  id: "${stageId}",
  description: "Drops conversations whose first user message is shorter than min_chars characters.",
  config: MinLengthConfig,
  requires: ["conversation"],
  provides: ["instruction_chars"],
  make: (config, ctx) =>
    Effect.succeed(
      // mapChunks works on whole chunks: no Effect per row.
      Stage.mapChunks((row: ConversationRow) => {
        const text = firstInstruction(row.conversation)
        if (text === undefined) {
          ctx.reject(row, "${stageId}: the row has no user message with text content")
          return undefined
        }
        const chars = (config.trim ? text.trim() : text).length
        if (chars < config.min_chars) {
          ctx.drop(row, "too-short")
          return undefined
        }
        return { ...row, instruction_chars: chars }
      })
    )
})
`
    },
    {
      path: "src/index.ts",
      content: `/**
 * ${n.packageName}: the \`${p}\` synthline plugin. Its default export is the plugin, as a
 * pipeline file's \`plugins:\` list loads it.
 */
import { definePlugin, type Plugin } from "@synthline/core"
import { createRequire } from "node:module"
import { minLength } from "./MinLength.js"

export * as MinLength from "./MinLength.js"

const pkg: { readonly version: string } = createRequire(import.meta.url)("../package.json")

/** The \`${p}\` plugin. */
const plugin: Plugin.Plugin = definePlugin({
  name: "${p}",
  version: pkg.version,
  packageName: "${n.packageName}",
  stages: [minLength]
})

export default plugin
`
    },
    {
      path: "test/MinLength.test.ts",
      content: `import { Sample, Testing } from "@synthline/core"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { minLength } from "../src/MinLength.js"

const conversation = (id: string, text: string) => ({
  conversation_id: id,
  conversation: [
    { role: "user", content: text },
    { role: "assistant", content: "..." }
  ]
})

describe("${stageId}", () => {
  it("keeps long instructions with their length, drops short ones, rejects rows without one", async () => {
    const rows = [conversation("a", "Explain photosynthesis."), conversation("b", "  hi  "), { conversation_id: "c" }]
    const result = await Effect.runPromise(Testing.runStage(minLength, { min_chars: 5 }, rows))
    Testing.assertStats(result, { rows: 1, dropped: { "too-short": 1 }, rejected: ["no user message"] })
    expect(result.rows[0]).toMatchObject({ conversation_id: "a", instruction_chars: 23 })
  })

  it("fills defaults and rejects unknown options as a pipeline file would", async () => {
    expect(await Effect.runPromise(Testing.decodeConfig(minLength, {}))).toEqual({ min_chars: 10, trim: true })
    const bad = await Effect.runPromise(Effect.either(Testing.decodeConfig(minLength, { min_char: 3 })))
    expect(bad._tag).toBe("Left")
  })

  it("runs over LMSYS-Chat-1M-shaped sample rows", async () => {
    const result = await Effect.runPromise(Testing.runStage(minLength, {}, Sample.records(1, 200)))
    expect(result.rows.length + result.dropped.length + result.rejected.length).toBe(200)
    expect(result.rows.length).toBeGreaterThan(0)
  })
})
`
    },
    {
      path: "example.pipeline.yaml",
      content: `# Runs the ${p} plugin from its sources (no build) on sample data:
#   npx synthline sample --rows 2000 --out data
#   npx synthline run example.pipeline.yaml
name: ${p}-example
seed: 1
plugins: ["./src/index.ts"]
source: { type: parquet, path: "\${SYNTHLINE_DATA:-data}/data/train-*.parquet" }
stages:
  - use: core/first-turn
  - use: ${stageId}
    min_chars: 20
sink: { type: jsonl, path: "\${SYNTHLINE_OUT:-out/example}" }
`
    },
    {
      path: "README.md",
      content: `# ${n.packageName}

A [synthline](https://www.npmjs.com/package/@synthline/cli) plugin. Stage \`${stageId}\` drops
conversations whose first user message is shorter than \`min_chars\` characters (reason
\`too-short\`) and writes the length of the instruction it keeps into \`instruction_chars\`.

\`\`\`yaml
plugins: ["${n.packageName}"]
stages:
  - use: ${stageId}
    min_chars: 20
\`\`\`

| option | default | meaning |
|---|---|---|
| \`min_chars\` | \`10\` | Shortest first user message kept, in characters. |
| \`trim\` | \`true\` | Ignore leading and trailing whitespace when measuring. |

## Develop

\`\`\`sh
npm install
npm test                    # vitest, with @synthline/core's Testing helpers
npm run typecheck
npx synthline sample --rows 2000 --out data && npx synthline run example.pipeline.yaml
\`\`\`

\`example.pipeline.yaml\` loads the plugin from \`./src/index.ts\` (no build step). Once
published, pipeline files list it by its npm name.

## Publish

\`npm run build\` compiles \`src/\` to \`dist/\` (what \`exports\` points to); record the change
with \`npx changeset\`, then \`npx changeset version\` and \`npm publish\`.

## Dependencies

- \`@synthline/core\` (peer): the Stage/Plugin API and the test helpers.
- \`effect\` (peer): \`effect/Schema\` for the stage options.
`
    },
    {
      path: ".changeset/config.json",
      content: json({
        $schema: "https://unpkg.com/@changesets/config@3.1.1/schema.json",
        changelog: "@changesets/cli/changelog",
        commit: false,
        access: "public",
        baseBranch: "main"
      })
    },
    {
      path: ".changeset/initial-release.md",
      content: `---
"${n.packageName}": minor
---

First release of the \`${p}\` plugin with the \`${stageId}\` stage.
`
    }
  ]
}

/** What {@link scaffold} did. */
export interface Scaffolded {
  readonly dir: string
  readonly names: PluginNames
  readonly files: ReadonlyArray<string>
}

/**
 * Writes the scaffold of plugin NAME into `dir` (default `./<package name without scope>`),
 * which must not exist or be empty. Fails with a usage error (exit code 2) otherwise.
 */
export const scaffold = (
  name: string,
  options: { readonly dir?: string | undefined; readonly versions?: Versions | undefined } = {}
): Effect.Effect<Scaffolded, RunError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const parsed = names(name)
    if (Either.isLeft(parsed)) return yield* new RunError({ reason: parsed.left, exitCode: 2 })
    const n = parsed.right
    const dir = path.resolve(options.dir ?? n.folder)
    const fail = (reason: string) => new RunError({ reason, exitCode: 1 })
    if (yield* fs.exists(dir).pipe(Effect.mapError((e) => fail(e.message)))) {
      const entries = yield* fs.readDirectory(dir).pipe(Effect.mapError(() => new RunError({ reason: `${dir} exists and is not a folder`, exitCode: 2 })))
      if (entries.length > 0) return yield* new RunError({ reason: `${dir} is not empty; choose another --dir`, exitCode: 2 })
    }
    const written: Array<string> = []
    for (const f of files(n, options.versions ?? installedVersions())) {
      const target = path.join(dir, f.path)
      yield* fs.makeDirectory(path.dirname(target), { recursive: true }).pipe(Effect.mapError((e) => fail(e.message)))
      yield* fs.writeFileString(target, f.content).pipe(Effect.mapError((e) => fail(e.message)))
      written.push(f.path)
    }
    return { dir, names: n, files: written }
  })

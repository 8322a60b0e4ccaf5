/**
 * `synthline new-plugin NAME [--dir DIR]`: scaffolds a plugin package a team can test, load
 * from a pipeline file and publish — `package.json` with `exports` and a peer dependency on
 * @synthline/core, a stage with a config Schema, a test using core's `Testing` helpers, a
 * README, a changeset, TypeScript configs and an example pipeline. The templates are plain
 * functions of the names ({@link files}); {@link scaffold} writes them.
 *
 * How the scaffold gets @synthline/core and @synthline/cli ({@link Deps}) depends on where the
 * CLI runs and where the package goes ({@link detect}): inside the synthline workspace it uses
 * `workspace:*`; elsewhere, when the CLI runs from a clone, tarballs packed from the clone
 * (`file:` paths, which plain `npm install` installs like registry packages); from an installed
 * CLI, plain npm ranges.
 */
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { RunError } from "@synthline/core/Errors"
import type { PlatformError } from "@effect/platform/Error"
import { Effect, Either, Stream } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path"

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
  /** Version of @synthline/cli (a dev dependency: `npx synthline` in the package). */
  readonly cli: string
  /** Range of `effect`, as @synthline/core depends on it. */
  readonly effect: string
  /** Version of @synthline/sample (a dev dependency: sample rows in the test); default that of the CLI. */
  readonly sample?: string
}

/**
 * Where the scaffold's @synthline/core and @synthline/cli come from:
 * - `workspace`: the package lies in the synthline workspace (a folder its
 *   `pnpm-workspace.yaml` lists); `workspace:*`, linked by `pnpm install` at the root.
 * - `clone`: the CLI runs from a clone and the package lies outside its workspace; `file:`
 *   paths to tarballs packed from the clone (`pnpm pack`), which plain `npm install` installs
 *   with their dependencies like registry packages (a linked folder would bring the clone's
 *   pnpm-managed `node_modules` and a second copy of `effect`).
 * - `npm`: published packages, plain `^` ranges (what an installed CLI gives).
 */
export type Deps =
  | { readonly _tag: "workspace"; readonly root: string }
  | {
      readonly _tag: "clone"
      readonly root: string
      readonly core: string
      readonly cli: string
      /** The other packages the CLI needs from the clone (`@synthline/sample`, ...), as `file:` specs by name. */
      readonly others?: Readonly<Record<string, string>>
    }
  | { readonly _tag: "npm" }

/** The dependency mode a user asks for (`--workspace`, `--npm`), or `auto`. */
export type DepsChoice = "auto" | "workspace" | "npm"

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

const requireHere = createRequire(import.meta.url)

/** The versions of the installed @synthline/core (the one this CLI runs with) and of this CLI. */
export const installedVersions = (): Versions => {
  const core: { readonly version: string; readonly dependencies?: { readonly [name: string]: string } } = requireHere("@synthline/core/package.json")
  const cli: { readonly version: string } = requireHere("../package.json")
  const sample: { readonly version: string } = requireHere("@synthline/sample/package.json")
  return { core: core.version, cli: cli.version, effect: core.dependencies?.effect ?? "^3.22.4", sample: sample.version }
}

/**
 * The root of the synthline clone this CLI runs from (the folder with `pnpm-workspace.yaml`
 * whose `packages/core` is the @synthline/core in use), or undefined for an installed CLI.
 */
export const cloneRoot = (): string | undefined => {
  const coreDir = dirname(requireHere.resolve("@synthline/core/package.json"))
  if (coreDir.split(sep).includes("node_modules")) return undefined
  const root = resolve(coreDir, "../..")
  return existsSync(join(root, "pnpm-workspace.yaml")) ? root : undefined
}

/** The `packages:` globs of a `pnpm-workspace.yaml` (the `dir/*`, `dir/**` and plain folder forms). */
export const workspaceGlobs = (yaml: string): ReadonlyArray<string> => {
  const block = /^packages:[ \t]*\n((?:[ \t]+-.*\n?|[ \t]*#.*\n?)*)/m.exec(yaml)?.[1] ?? ""
  return [...block.matchAll(/^[ \t]+-[ \t]*["']?([^"'\n#]*?)["']?[ \t]*(?:#.*)?$/gm)].map((m) => m[1]!.trim()).filter((g) => g.length > 0)
}

/** Whether `dir` is a package folder of the workspace at `root` (matched by one of its globs). */
export const inWorkspace = (root: string, dir: string): boolean => {
  if (!existsSync(join(root, "pnpm-workspace.yaml"))) return false
  const rel = relative(root, dir).split(sep).join("/")
  if (rel === "" || rel.startsWith("../") || rel === ".." || isAbsolute(rel)) return false
  const parent = rel.includes("/") ? rel.slice(0, rel.lastIndexOf("/")) : ""
  return workspaceGlobs(readFileSync(join(root, "pnpm-workspace.yaml"), "utf8")).some((g) =>
    g.endsWith("/**") ? rel.startsWith(`${g.slice(0, -3)}/`) : g.endsWith("/*") ? parent === g.slice(0, -2) : rel === g
  )
}

/** Where the dependencies of a package in `dir` come from ({@link Deps}, before any packing). */
export type Mode = { readonly _tag: "workspace"; readonly root: string } | { readonly _tag: "clone"; readonly root: string } | { readonly _tag: "npm" }

/**
 * Picks the {@link Mode} for a package in `dir`, given the clone the CLI runs from ({@link cloneRoot}):
 * `--npm` gives npm ranges; `--workspace` needs
 * a CLI run from a clone and `dir` in its workspace; `auto` gives `workspace` there, `clone`
 * elsewhere when the CLI runs from a clone, and `npm` for an installed CLI.
 */
export const detect = (dir: string, choice: DepsChoice, clone: string | undefined): Either.Either<Mode, string> => {
  if (choice === "npm") return Either.right({ _tag: "npm" })
  if (clone === undefined) {
    return choice === "workspace"
      ? Either.left("--workspace needs the CLI of a synthline clone (npx -y pnpm@10.34.9 synthline ... in the clone); this one is installed from npm")
      : Either.right({ _tag: "npm" })
  }
  if (inWorkspace(clone, dir)) return Either.right({ _tag: "workspace", root: clone })
  if (choice === "workspace") {
    const globs = workspaceGlobs(readFileSync(join(clone, "pnpm-workspace.yaml"), "utf8"))
    return Either.left(
      `--workspace: ${dir} is not a package folder of the workspace at ${clone} (pnpm-workspace.yaml lists ${globs.join(", ")}); choose a --dir there, e.g. ${join(clone, "packages", "<name>")}, or leave out --workspace to use tarballs packed from the clone`
    )
  }
  return Either.right({ _tag: "clone", root: clone })
}

/** The file name `pnpm pack` gives a package's tarball. */
export const tarballName = (name: string, version: string): string => `${name.replace(/^@/, "").replace("/", "-")}-${version}.tgz`

/** Where the CLI puts the tarballs it packs from a clone (ignored by git). */
export const packsDir = (root: string): string => join(root, ".synthline", "packs")

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`

/** The versions or paths of @synthline/core (peer and dev), @synthline/cli and @synthline/sample (dev) for `deps`. */
const specs = (v: Versions, deps: Deps) => {
  switch (deps._tag) {
    case "workspace":
      return { peer: "workspace:^", core: "workspace:*", cli: "workspace:*", sample: "workspace:*" }
    case "clone":
      return { peer: `^${v.core}`, core: deps.core, cli: deps.cli, sample: deps.others?.["@synthline/sample"] ?? `^${v.sample ?? v.cli}` }
    case "npm":
      return { peer: `^${v.core}`, core: `^${v.core}`, cli: `^${v.cli}`, sample: `^${v.sample ?? v.cli}` }
  }
}

/** The README's "Install" section: which dependency mode the package was made with and how to change it. */
const installSection = (deps: Deps): string => {
  switch (deps._tag) {
    case "workspace":
      return `This package lies in the synthline workspace (\`${deps.root}\`), so it depends on
\`@synthline/core\` and \`@synthline/cli\` as \`workspace:*\`: run \`npx -y pnpm@10.34.9 install\`
at the workspace root to link them. Its tests and typecheck use core's TypeScript sources (the
\`@synthline/source\` condition in \`vitest.config.ts\` and \`tsconfig.json\`), so no build is needed.
\`pnpm publish\` (and \`changeset publish\`) turn \`workspace:\` ranges into version ranges.`
    case "clone":
      return `@synthline/* are not on npm yet, so this package installs them from tarballs packed from
the synthline clone at \`${deps.root}\` (\`devDependencies\`: \`${deps.core}\` and \`${deps.cli}\`).
Plain \`npm install\` installs a tarball like a registry package, with its dependencies from npm.
The tarballs are a snapshot: after changing or pulling the clone, pack again and reinstall:

\`\`\`sh
(cd ${deps.root}/packages/core && npx -y pnpm@10.34.9 pack --pack-destination ../../.synthline/packs)
(cd ${deps.root}/packages/cli && npx -y pnpm@10.34.9 pack --pack-destination ../../.synthline/packs)
${Object.keys(deps.others ?? {})
  .map((name) => `(cd ${deps.root}/packages/${name.slice("@synthline/".length)} && npx -y pnpm@10.34.9 pack --pack-destination ../../.synthline/packs)\n`)
  .join("")}rm -rf node_modules package-lock.json && npm install
\`\`\`

Once @synthline/core is published, replace both \`file:\` paths with version ranges
(\`"^0.1.0"\`) and run \`npm install\` again.`
    case "npm":
      return `\`@synthline/core\` (peer and dev) and \`@synthline/cli\` (dev: \`npx synthline\`) come from
npm as version ranges. Until they are published, make the package from a synthline clone
instead (\`npx -y pnpm@10.34.9 synthline new-plugin ...\` there): inside its workspace it gets
\`workspace:*\`, outside it tarballs packed from the clone.`
  }
}

/** The commands that install, test and run the package, for its dependency mode. */
export const developCommands = (deps: Deps): ReadonlyArray<string> =>
  deps._tag === "workspace"
    ? [
        `(cd ${deps.root} && npx -y pnpm@10.34.9 install && npx -y pnpm@10.34.9 build)   # link workspace:*, build the CLI`,
        "npx -y pnpm@10.34.9 test          # vitest, with @synthline/core's Testing helpers",
        "npx -y pnpm@10.34.9 typecheck",
        "npx -y pnpm@10.34.9 exec synthline sample --rows 2000 --out data && npx -y pnpm@10.34.9 exec synthline run example.pipeline.yaml"
      ]
    : [
        "npm install",
        "npm test                    # vitest, with @synthline/core's Testing helpers",
        "npm run typecheck",
        "npx synthline sample --rows 2000 --out data && npx synthline run example.pipeline.yaml"
      ]

/** Every file of the scaffold for the given names, versions and dependency mode (default: npm ranges). */
export const files = (n: PluginNames, v: Versions, deps: Deps = { _tag: "npm" }): ReadonlyArray<ScaffoldFile> => {
  const p = n.pluginName
  const stageId = `${p}/min-length`
  const dep = specs(v, deps)
  const fromSource = deps._tag === "workspace"
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
        peerDependencies: { "@synthline/core": dep.peer, effect: v.effect },
        devDependencies: {
          // From a clone, the packages the CLI needs come from their tarballs too (not on npm yet).
          ...(deps._tag === "clone" ? deps.others : {}),
          "@synthline/cli": dep.cli,
          "@synthline/core": dep.core,
          "@synthline/sample": dep.sample,
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
          ...(fromSource ? { customConditions: ["@synthline/source"] } : {}),
          noEmit: true,
          rootDir: "."
        },
        include: ["src", "test"]
      })
    },
    ...(fromSource
      ? [
          {
            path: "vitest.config.ts",
            content: `import { defineConfig } from "vitest/config"

// In the synthline workspace: @synthline/core resolves to its TypeScript sources, so the
// tests need no build of core first.
export default defineConfig({
  resolve: { conditions: ["@synthline/source"] },
  ssr: { resolve: { conditions: ["@synthline/source"], externalConditions: ["@synthline/source"] } },
  test: { include: ["test/**/*.test.ts"] }
})
`
          }
        ]
      : []),
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

/**
 * Options of \`${stageId}\`. \`Stage.doc\` gives each the text \`synthline stages\` and the docs
 * show; its type, bounds and default are read from the Schema.
 */
export const MinLengthConfig = Schema.Struct({
  min_chars: Schema.optionalWith(
    Schema.Number.pipe(Schema.int(), Schema.nonNegative(), Stage.doc("Shortest first user message kept, in characters.")),
    { default: () => 10 }
  ),
  trim: Schema.optionalWith(Schema.Boolean.pipe(Stage.doc("Ignore leading and trailing whitespace when measuring.")), {
    default: () => true
  })
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
  // Every other field it reads (none): lets a pipeline that keeps few fields read only the columns it needs.
  reads: [],
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
      content: `import { Testing } from "@synthline/core"
import { Sample } from "@synthline/sample"
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

## Install

${installSection(deps)}

## Develop

\`\`\`sh
${developCommands(deps).join("\n")}
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
  /** Where @synthline/core and @synthline/cli come from. */
  readonly deps: Deps
}

/** Options of {@link scaffold}. */
export interface ScaffoldOptions {
  /** Folder to create (default `./<package name without scope>`). */
  readonly dir?: string | undefined
  readonly versions?: Versions | undefined
  /** `--workspace`, `--npm`, or detection (default). */
  readonly deps?: DepsChoice | undefined
  /** The clone the CLI runs from (default: {@link cloneRoot}); `null` for an installed CLI. */
  readonly clone?: string | null | undefined
  /** Called before the slow step (packing tarballs in a clone), to tell the user. */
  readonly progress?: ((line: string) => void) | undefined
}

/** pnpm as the user runs it: the pnpm running this process when there is one, else the clone's pinned version through npx. */
const pnpmCommand = (root: string, args: ReadonlyArray<string>): readonly [string, ReadonlyArray<string>] => {
  const execPath = process.env.npm_execpath
  if (execPath !== undefined && /pnpm/.test(execPath)) return [process.execPath, [execPath, ...args]]
  const manifest: { readonly packageManager?: string } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"))
  return ["npx", ["-y", manifest.packageManager ?? "pnpm@10.34.9", ...args]]
}

const text = (s: Stream.Stream<Uint8Array, PlatformError>) => s.pipe(Stream.decodeText(), Stream.mkString)

/** Runs a command to completion; fails with the tail of its output when it exits non-zero. */
const runTool = (cmd: string, args: ReadonlyArray<string>, cwd: string): Effect.Effect<void, RunError, CommandExecutor.CommandExecutor> =>
  Effect.scoped(
    Effect.gen(function* () {
      const proc = yield* Command.start(Command.make(cmd, ...args).pipe(Command.workingDirectory(cwd)))
      const [stdout, stderr, code] = yield* Effect.all([text(proc.stdout), text(proc.stderr), proc.exitCode], { concurrency: "unbounded" })
      if (code !== 0) {
        const output = `${stderr}\n${stdout}`.trim()
        return yield* new RunError({ reason: `${cmd} ${args.join(" ")} (in ${cwd}) exited ${code}:\n${output.slice(-2000)}`, exitCode: 1 })
      }
    })
  ).pipe(Effect.catchIf((e): e is PlatformError => e._tag !== "RunError", (e) => new RunError({ reason: `${cmd} ${args.join(" ")}: ${e.message}`, exitCode: 1 })))

/** Tarballs packed from a clone: core, the CLI, and each other workspace package the CLI depends on, by name. */
export interface Packed {
  readonly core: string
  readonly cli: string
  /** `@synthline/sample`, `@synthline/release`, ...: not on npm yet, so installed from their tarballs too. */
  readonly others: Readonly<Record<string, string>>
}

/**
 * Packs @synthline/core, @synthline/cli and the clone's other packages the CLI depends on
 * (`workspace:` dependencies such as @synthline/sample) into its {@link packsDir}; returns the
 * tarball paths.
 */
export const packClone = (root: string): Effect.Effect<Packed, RunError, CommandExecutor.CommandExecutor> =>
  Effect.gen(function* () {
    const out = packsDir(root)
    const manifestOf = (folder: string): { readonly name: string; readonly version: string; readonly dependencies?: { readonly [name: string]: string } } =>
      JSON.parse(readFileSync(join(root, "packages", folder, "package.json"), "utf8"))
    const others = Object.entries(manifestOf("cli").dependencies ?? {})
      .filter(([name, range]) => name.startsWith("@synthline/") && name !== "@synthline/core" && range.startsWith("workspace:"))
      .map(([name]) => name.slice("@synthline/".length))
    const packed = new Map<string, string>()
    for (const folder of ["core", ...others, "cli"]) {
      const dir = join(root, "packages", folder)
      const manifest = manifestOf(folder)
      const [cmd, args] = pnpmCommand(root, ["pack", "--pack-destination", out])
      yield* runTool(cmd, args, dir)
      const tarball = join(out, tarballName(manifest.name, manifest.version))
      if (!existsSync(tarball)) return yield* new RunError({ reason: `pnpm pack in ${dir} wrote no ${tarball}`, exitCode: 1 })
      packed.set(manifest.name, tarball)
    }
    return {
      core: packed.get("@synthline/core")!,
      cli: packed.get("@synthline/cli")!,
      others: Object.fromEntries([...packed].filter(([name]) => name !== "@synthline/core" && name !== "@synthline/cli"))
    }
  })

/**
 * A `file:` dependency on `tarball`: relative to the package folder `dir` when the clone is
 * close by (`../synthline/...`, which survives moving both together), else absolute.
 */
export const fileSpec = (dir: string, tarball: string): string => {
  const rel = relative(dir, tarball).split(sep).join("/")
  if (/^(\.\.\/){3}/.test(rel) || isAbsolute(rel)) return `file:${tarball}`
  return `file:${rel.startsWith(".") ? rel : `./${rel}`}`
}

/**
 * Writes the scaffold of plugin NAME into `dir` (default `./<package name without scope>`),
 * which must not exist or be empty; fails with a usage error (exit code 2) otherwise. From a
 * clone, outside its workspace, it first packs @synthline/core and @synthline/cli ({@link packClone}).
 */
export const scaffold = (
  name: string,
  options: ScaffoldOptions = {}
): Effect.Effect<Scaffolded, RunError, FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor> =>
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
    const mode = detect(dir, options.deps ?? "auto", options.clone === null ? undefined : (options.clone ?? cloneRoot()))
    if (Either.isLeft(mode)) return yield* new RunError({ reason: mode.left, exitCode: 2 })
    let deps: Deps
    if (mode.right._tag === "clone") {
      const root = mode.right.root
      options.progress?.(`packing @synthline/core, @synthline/cli and the packages the CLI needs from the clone at ${root} into ${packsDir(root)} (pnpm pack: builds them first)`)
      const packed = yield* packClone(root)
      const others = Object.fromEntries(Object.entries(packed.others).map(([name, tarball]) => [name, fileSpec(dir, tarball)]))
      deps = { _tag: "clone", root, core: fileSpec(dir, packed.core), cli: fileSpec(dir, packed.cli), others }
    } else {
      deps = mode.right
    }
    const written: Array<string> = []
    for (const f of files(n, options.versions ?? installedVersions(), deps)) {
      const target = path.join(dir, f.path)
      yield* fs.makeDirectory(path.dirname(target), { recursive: true }).pipe(Effect.mapError((e) => fail(e.message)))
      yield* fs.writeFileString(target, f.content).pipe(Effect.mapError((e) => fail(e.message)))
      written.push(f.path)
    }
    return { dir, names: n, files: written, deps }
  })

/** What `synthline new-plugin` prints when done: the files, where the dependencies come from, and the next steps. */
export const summary = (done: Scaffolded): string => {
  const how =
    done.deps._tag === "workspace"
      ? `dependencies: workspace:* (the package lies in the synthline workspace at ${done.deps.root})`
      : done.deps._tag === "clone"
        ? `dependencies: tarballs packed from the clone at ${done.deps.root} (${done.deps.core}, ${done.deps.cli}); see its README to refresh them`
        : "dependencies: @synthline/core and @synthline/cli from npm (version ranges)"
  const next =
    done.deps._tag === "workspace"
      ? `next: cd ${done.deps.root} && npx -y pnpm@10.34.9 install && cd ${done.dir} && npx -y pnpm@10.34.9 test`
      : `next: cd ${done.dir} && npm install && npm test`
  return [
    `created ${done.names.packageName} (plugin ${done.names.pluginName}, stage ${done.names.pluginName}/min-length) in ${done.dir}`,
    ...done.files.map((f) => `  ${f}`),
    how,
    next
  ].join("\n")
}

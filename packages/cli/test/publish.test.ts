/**
 * What we would publish works on its own: every non-private package under packages/ has
 * complete npm metadata; packed with `pnpm pack` (which rewrites workspace: ranges) from a copy
 * of the workspace with no `dist` anywhere, as in a fresh clone (each package's `prepack` builds
 * it, so a package can never be packed or published unbuilt), the tarballs install with plain
 * `npm` into an empty folder outside the workspace, where the installed `synthline --help`
 * works and the installed `synthline` scaffolds a plugin, the plugin is built, packed and installed like a
 * published one, and `synthline validate` and `synthline run` use it by its npm name next to
 * the installed moderation and PII plugins (the unsafe branch released encrypted and opened
 * again with `synthline decrypt`).
 *
 * Beside it, the clone path of `new-plugin` ({@link scaffoldFromClone}): a plugin scaffolded
 * outside the workspace by the clone's CLI installs with plain `npm install` and passes its tests.
 *
 * @synthline/provider-llama-cpp is packed and its tarball checked, but not installed: npm would
 * pull node-llama-cpp's prebuilt llama.cpp binaries for every backend that matches the machine
 * (CPU, CUDA, Vulkan: several hundred MB) and run its postinstall, which would dominate the
 * test's time and disk for a package that adds no stage. Its own tests run it from the
 * workspace.
 */
import { describe, expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { createRequire } from "node:module"
import { basename, dirname, join } from "node:path"
import { gunzipSync } from "node:zlib"
import { repoRoot } from "./support.js"

interface Manifest {
  readonly name: string
  readonly version: string
  readonly private?: boolean
  readonly description?: string
  readonly license?: string
  readonly keywords?: ReadonlyArray<string>
  readonly repository?: { readonly type?: string; readonly url?: string; readonly directory?: string }
  readonly engines?: { readonly node?: string }
  readonly exports?: { readonly [path: string]: unknown }
  readonly files?: ReadonlyArray<string>
  readonly bin?: { readonly [name: string]: string }
  readonly dependencies?: { readonly [name: string]: string }
  readonly peerDependencies?: { readonly [name: string]: string }
  readonly publishConfig?: { readonly access?: string }
}

/** Packed and checked, but not installed (see the header). */
const packOnly: ReadonlySet<string> = new Set(["@synthline/provider-llama-cpp"])

/** Every package under packages/ that is not private, with its folder. */
const publishable = (): ReadonlyArray<{ readonly dir: string; readonly folder: string; readonly manifest: Manifest }> =>
  readdirSync(join(repoRoot, "packages"))
    .sort()
    .map((folder) => ({ folder, dir: join(repoRoot, "packages", folder) }))
    .filter(({ dir }) => existsSync(join(dir, "package.json")))
    .map((p) => ({ ...p, manifest: JSON.parse(readFileSync(join(p.dir, "package.json"), "utf8")) as Manifest }))
    .filter((p) => p.manifest.private !== true)

/** Where {@link offerPrebuild} put better-sqlite3's binary for npm's installs, once it has. */
let prebuilds: string | undefined
/** The installed CLI's compile cache (SYNTHLINE_COMPILE_CACHE), where the packed-install test sets one. */
let compileCache: string | undefined
/** NODE_OPTIONS for the commands the test runs (none unless set). */
let nodeOptions: string | undefined

/**
 * The environment of the child processes: no source condition, so installed packages run from
 * dist/; better-sqlite3's install finds its binary in {@link prebuilds} when it is there.
 */
const env = (): NodeJS.ProcessEnv => {
  const e: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false" }
  if (prebuilds !== undefined) e.npm_config_better_sqlite3_local_prebuilds = prebuilds
  if (compileCache !== undefined) e.SYNTHLINE_COMPILE_CACHE = compileCache
  delete e.NODE_OPTIONS
  if (nodeOptions !== undefined) e.NODE_OPTIONS = nodeOptions
  return e
}

/**
 * better-sqlite3 (the response cache's SQLite driver, a dependency of @synthline/llm) installs
 * with prebuild-install, which downloads its binary from GitHub; with no network but the npm
 * registry it compiles SQLite with node-gyp instead, minutes of CPU for every npm install here.
 * This packs the binary the workspace's own install made into the file prebuild-install looks
 * for first (its "local prebuilds" folder, named by version, ABI, platform and arch). When npm
 * resolves another version than the workspace's, the name does not match and it compiles as
 * before: slower, never different.
 */
const offerPrebuild = async (dir: string): Promise<void> => {
  const pkgJson = createRequire(join(repoRoot, "packages/llm/package.json")).resolve("better-sqlite3/package.json")
  const root = dirname(pkgJson)
  const version = (JSON.parse(readFileSync(pkgJson, "utf8")) as { version: string }).version
  if (!existsSync(join(root, "build/Release/better_sqlite3.node"))) return
  mkdirSync(dir, { recursive: true })
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`
  await ok("tar", ["-czf", join(dir, name), "-C", root, "build/Release/better_sqlite3.node"], root)
  prebuilds = dir
}

/** Runs a command; resolves with its exit code and output. */
const exec = (cmd: string, args: ReadonlyArray<string>, cwd: string) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(cmd, args, { cwd, env: env(), stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d))
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

/** Runs a command that must succeed; returns its stdout. */
const ok = async (cmd: string, args: ReadonlyArray<string>, cwd: string): Promise<string> => {
  const r = await exec(cmd, args, cwd)
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} (in ${cwd}) exited ${r.code}:\n${r.stderr}\n${r.stdout}`)
  return r.stdout
}

/** pnpm: the one running the test command when there is one, else the pinned version through npx. */
const pnpm = (args: ReadonlyArray<string>, cwd: string): Promise<string> => {
  const execPath = process.env.npm_execpath
  return execPath !== undefined && /pnpm/.test(execPath)
    ? ok(process.execPath, [execPath, ...args], cwd)
    : ok("npx", ["-y", "pnpm@10.34.9", ...args], cwd)
}

/** What a fresh clone does not hold: build outputs, caches and test scratch folders. */
const notInClone: ReadonlySet<string> = new Set(["dist", ".turbo", ".tmp", "coverage", "node_modules"])

/**
 * A copy of the workspace's root files and packages/ under `dir`, without any build output (the
 * workspace's own dist/ folders, which other tests use, are left alone). The packages keep their
 * node_modules links (relative, to each other and to the root's store), and the root's
 * node_modules is linked, so no install is needed. Made a git repository like a clone (turbo
 * hashes a package's inputs with git).
 */
const cleanCopy = async (dir: string): Promise<string> => {
  mkdirSync(dir)
  for (const f of ["package.json", "pnpm-workspace.yaml", "pnpm-lock.yaml", "turbo.json", "tsconfig.base.json", "LICENSE", ".gitignore"]) cpSync(join(repoRoot, f), join(dir, f))
  symlinkSync(join(repoRoot, "node_modules"), join(dir, "node_modules"))
  for (const folder of readdirSync(join(repoRoot, "packages"))) {
    const from = join(repoRoot, "packages", folder)
    const to = join(dir, "packages", folder)
    cpSync(from, to, { recursive: true, verbatimSymlinks: true, filter: (src) => src === from || !notInClone.has(basename(src)) })
    if (existsSync(join(from, "node_modules"))) cpSync(join(from, "node_modules"), join(to, "node_modules"), { recursive: true, verbatimSymlinks: true })
  }
  await ok("git", ["init", "--quiet"], dir)
  await ok("git", ["add", "--all"], dir)
  await ok("git", ["-c", "user.name=test", "-c", "user.email=test@example.invalid", "commit", "--quiet", "--no-verify", "--message", "clone"], dir)
  return dir
}

/** Files and folders named `name` under `dir` (node_modules not searched). */
const findNamed = (dir: string, name: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.name === "node_modules" || !e.isDirectory() ? [] : e.name === name ? [join(dir, e.name)] : findNamed(join(dir, e.name), name)
  )

/**
 * The clone path of `new-plugin`, as a plugin author on a clone follows it: the clone's own CLI
 * (from its sources) scaffolds a package outside the workspace, packing @synthline/core and
 * @synthline/cli into the clone's `.synthline/packs`; then the printed next steps (`npm install`,
 * `npm test`) and the scaffold README's (typecheck, sample data, run the example pipeline).
 * Started once the clone's packages are packed, so its packing replays turbo's build cache, and
 * run beside the installed-package checks.
 */
const scaffoldFromClone = async (clone: string, work: string): Promise<void> => {
  const plugin = join(work, "plugins", "mlteam")
  const bin = join(clone, "packages/cli/src/bin.ts")
  const created = await ok(process.execPath, ["--import", "tsx", "--conditions=@synthline/source", bin, "new-plugin", "mlteam", "--dir", plugin], clone)
  expect(created).toContain(`dependencies: tarballs packed from the clone at ${clone}`)
  expect(created).toContain(`next: cd ${plugin} && npm install && npm test`)
  const manifest = JSON.parse(readFileSync(join(plugin, "package.json"), "utf8"))
  expect(manifest.devDependencies).toMatchObject({
    "@synthline/core": "file:../../clone/.synthline/packs/synthline-core-0.1.0.tgz",
    "@synthline/cli": "file:../../clone/.synthline/packs/synthline-cli-0.1.0.tgz"
  })
  expect(manifest.peerDependencies["@synthline/core"]).toBe("^0.1.0")
  expect(readFileSync(join(plugin, "README.md"), "utf8")).toContain("tarballs packed from\nthe synthline clone")
  await ok("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], plugin)
  expect(await ok("npm", ["test"], plugin)).toMatch(/Tests\s+3 passed/)
  await ok("npm", ["run", "typecheck"], plugin)
  await ok("npx", ["synthline", "sample", "--rows", "500", "--out", "data"], plugin)
  await ok("npx", ["synthline", "run", "example.pipeline.yaml"], plugin)
  const run = JSON.parse(readFileSync(join(plugin, "out/example/manifest.json"), "utf8"))
  expect(run.status).toBe("complete")
  const stage = run.stages.find((s: { id: string }) => s.id === "mlteam/min-length")
  expect(stage.rows_in).toBe(500)
  expect(stage.rows_out).toBe(run.outputs.main.rows)
}

describe("publishable packages", () => {
  it("have complete npm metadata, exports with types, files and a README", () => {
    const pkgs = publishable()
    expect(pkgs.map((p) => p.manifest.name)).toEqual(expect.arrayContaining(["@synthline/core", "@synthline/cli"]))
    const problems: Array<string> = []
    for (const { dir, folder, manifest: m } of pkgs) {
      const need = (ok: boolean, what: string) => void (ok || problems.push(`${m.name}: ${what}`))
      need(typeof m.description === "string" && m.description.length > 20, "description")
      need(typeof m.license === "string" && m.license.length > 0, "license")
      need(Array.isArray(m.keywords) && m.keywords.includes("synthline"), "keywords (with synthline)")
      need(m.repository?.type === "git" && typeof m.repository.url === "string" && m.repository.directory === `packages/${folder}`, "repository { type, url, directory }")
      need(typeof m.engines?.node === "string", "engines.node")
      const dot = m.exports?.["."]
      const conditions = typeof dot === "object" && dot !== null ? Object.keys(dot) : []
      need(conditions.includes("types") && conditions.includes("default") && conditions.indexOf("types") < conditions.indexOf("default"), 'exports["."] with types before default')
      need(m.exports?.["./package.json"] !== undefined, 'exports["./package.json"]')
      need(Array.isArray(m.files) && m.files.includes("dist") && m.files.includes("README.md"), "files with dist and README.md")
      need(existsSync(join(dir, "README.md")) && readFileSync(join(dir, "README.md"), "utf8").length > 200, "README.md")
      need(existsSync(join(dir, "LICENSE")) && readFileSync(join(dir, "LICENSE"), "utf8").includes("Apache License"), "LICENSE (the text of the license field)")
      need(m.publishConfig?.access === "public", 'publishConfig { access: "public" } (scoped packages are private by default)')
      if (folder.startsWith("plugin-") || folder.startsWith("provider-") || folder === "llm") {
        need(m.peerDependencies?.["@synthline/core"] !== undefined, "peerDependencies on @synthline/core")
        need(m.dependencies?.["@synthline/core"] === undefined, "@synthline/core only as a peer (one core per process)")
      }
    }
    expect(problems).toEqual([])
  })

  it(
    "packed, installed with npm outside the workspace: new-plugin, build and install it, validate and run with it",
    async () => {
      const pkgs = publishable()
      const work = mkdtempSync(join(tmpdir(), "synthline-publish-"))
      try {
        // As a fresh clone: no package is built before `pnpm pack`.
        const clone = await cleanCopy(join(work, "clone"))
        await offerPrebuild(join(work, "prebuilds"))
        expect(findNamed(join(clone, "packages"), "dist")).toEqual([])
        const tarballs = join(work, "tarballs")
        mkdirSync(tarballs)
        for (const p of pkgs) await pnpm(["pack", "--pack-destination", tarballs], join(clone, "packages", p.folder))
        const packed = readdirSync(tarballs).filter((f) => f.endsWith(".tgz"))
        expect(packed.length).toBe(pkgs.length)
        const install: Array<string> = []
        // pnpm pack rewrote workspace: ranges into versions.
        for (const f of packed) {
          const manifest = await ok("tar", ["-xzOf", join(tarballs, f), "package/package.json"], work)
          expect(manifest, f).not.toContain("workspace:")
          const listing = await ok("tar", ["-tzf", join(tarballs, f)], work)
          for (const file of ["package/dist/index.js", "package/dist/index.d.ts", "package/README.md", "package/LICENSE"]) expect(listing, f).toContain(file)
          expect(listing, f).not.toMatch(/package\/(test|node_modules)\//)
          // The CLI's bundle, which its binary runs for help, --version, --completions, new-plugin and validate.
          if (JSON.parse(manifest).name === "@synthline/cli")
            for (const file of ["package/dist/synthline-shared.cjs", "package/dist/synthline-shared-import.mjs", "package/dist/shared.json"]) expect(listing, f).toContain(file)
          if (!packOnly.has(JSON.parse(manifest).name)) install.push(f)
        }
        const fromClone = scaffoldFromClone(clone, work)
        // Checked at the end; a failure before then is reported after this path's own.
        fromClone.catch(() => undefined)

        const app = join(work, "app")
        mkdirSync(app)
        writeFileSync(join(app, "package.json"), JSON.stringify({ name: "publish-check", private: true, type: "module" }))
        await ok("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", ...install.map((f) => join(tarballs, f)), "typescript@5.9.3", "@types/node@^20.19.0"], app)
        const synthline = join(app, "node_modules/.bin/synthline")
        expect(await ok(synthline, ["--help"], app)).toContain("instruction-tuning datasets")

        // Scaffold a plugin with the installed CLI, build it, pack it and install it like a published package.
        const created = await ok(synthline, ["new-plugin", "acme"], app)
        expect(created).toContain("created synthline-plugin-acme")
        const plugin = join(app, "synthline-plugin-acme")
        await ok(join(app, "node_modules/.bin/tsc"), ["-p", "tsconfig.build.json"], plugin)
        expect(existsSync(join(plugin, "dist/index.js"))).toBe(true)
        await ok("npm", ["pack", "--pack-destination", tarballs, "--loglevel=error"], plugin)
        await ok("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", join(tarballs, "synthline-plugin-acme-0.1.0.tgz")], app)

        // Every installed plugin package loads by its npm name.
        const pluginNames = [
          ...pkgs.filter((p) => (p.folder.startsWith("plugin-") || p.folder === "llm") && !packOnly.has(p.manifest.name)).map((p) => p.manifest.name),
          "synthline-plugin-acme"
        ]
        const listed: Array<{ id: string }> = JSON.parse(await ok(synthline, ["stages", "--json", ...pluginNames.flatMap((n) => ["--plugin", n])], app))
        expect(listed.map((s) => s.id)).toEqual(
          expect.arrayContaining(["core/select", "llm/complete", "moderation/filter", "pii/redact", "synth/generate", "acme/min-length"])
        )

        await ok(synthline, ["sample", "--rows", "600", "--format", "jsonl", "--seed", "3", "--out", "data"], app)
        writeFileSync(
          join(app, "acme.pipeline.yaml"),
          `name: publish-check
seed: 3
plugins: ["@synthline/plugin-moderation", "@synthline/plugin-pii", "synthline-plugin-acme"]
source: { type: jsonl, path: "data/data/*.jsonl*" }
stages:
  - use: core/select
    languages: [English, Japanese]
  - use: moderation/filter
    action: route
    route: unsafe
  - use: core/first-turn
  - use: pii/redact
  - use: acme/min-length
    min_chars: 30
sink: { type: jsonl, path: out }
branches:
  unsafe: { type: jsonl, path: out+unsafe, encrypt: source-key }
`
        )
        // validate runs the shared bundle: the first run saves V8's code cache of it, the next
        // reads it back, and one V8 refuses (here: garbage) is compiled anew and replaced.
        compileCache = join(work, "compile-cache")
        const validate = async () => {
          const r = await exec(synthline, ["validate", "acme.pipeline.yaml"], app)
          return { code: r.code, stdout: r.stdout, stderr: r.stderr }
        }
        const validated = await validate()
        expect(validated.code, validated.stderr).toBe(0)
        expect(validated.stdout).toContain("valid (5 stages")
        const codeCache = () => readdirSync(compileCache!).filter((f) => f.endsWith(".v8cache"))
        expect(codeCache()).toEqual([expect.stringMatching(/^shared-[0-9a-f]{24}-plugins-v\d+\.\d+\.\d+-\w+-[0-9a-f]{8}\.v8cache$/)])
        const cacheFile = join(compileCache, codeCache()[0]!)
        const saved = statSync(cacheFile)
        expect(saved.size).toBeGreaterThan(100_000)
        expect(await validate()).toEqual(validated)
        // Read, not written again (a new cache would be a new file renamed into place).
        expect(statSync(cacheFile).ino).toBe(saved.ino)
        writeFileSync(cacheFile, Buffer.alloc(4096, 7))
        expect(await validate()).toEqual(validated)
        expect(statSync(cacheFile).size).toBeGreaterThan(100_000)
        // Other node options (which V8 checks) get a cache of their own: the two do not replace each other.
        const replaced = statSync(cacheFile).ino
        nodeOptions = "--max-old-space-size=900"
        expect(await validate()).toEqual(validated)
        nodeOptions = undefined
        expect(codeCache().length).toBe(2)
        expect(await validate()).toEqual(validated)
        expect(statSync(cacheFile).ino).toBe(replaced)
        compileCache = undefined
        await ok(synthline, ["run", "acme.pipeline.yaml"], app)
        const manifest = JSON.parse(readFileSync(join(app, "out/manifest.json"), "utf8"))
        expect(manifest.status).toBe("complete")
        expect(manifest.plugins).toEqual(expect.arrayContaining([expect.objectContaining({ name: "synthline-plugin-acme", version: "0.1.0", specifier: "synthline-plugin-acme" })]))
        const stage = (id: string) => manifest.stages.find((s: { id: string }) => s.id === id)
        expect(stage("acme/min-length").dropped["too-short"]).toBeGreaterThan(0)
        expect(manifest.outputs.main.rows).toBe(stage("acme/min-length").rows_out)
        expect(manifest.outputs.main.rows).toBeGreaterThan(0)
        // The installed PII plugin re-redacted the planted personal data in the output.
        const output = readdirSync(join(app, "out"))
          .filter((f) => f.startsWith("part-"))
          .map((f) => gunzipSync(readFileSync(join(app, "out", f))).toString("utf8"))
          .join("")
        expect(output).toMatch(/\b(EMAIL|PHONE|IP_ADDRESS|CREDIT_CARD)_1\b/)
        // Flagged conversations went to the unsafe branch, encrypted with the source's release key.
        expect(stage("moderation/filter").routed).toBeGreaterThan(0)
        expect(manifest.outputs.branches.unsafe.rows).toBe(stage("moderation/filter").routed)
        expect(readdirSync(join(app, "out+unsafe"))).toEqual(expect.arrayContaining(["part-00000.jsonl.gz.gpg", "README.md"]))
        expect(readFileSync(join(app, "out/README.md"), "utf8")).toContain("publish-check")
        await ok(synthline, ["decrypt", "out+unsafe/part-00000.jsonl.gz.gpg", "--source", "data/data", "--out", "unsafe.jsonl.gz"], app)
        const unsafe = gunzipSync(readFileSync(join(app, "unsafe.jsonl.gz"))).toString("utf8").trim().split("\n")
        expect(unsafe.length).toBe(stage("moderation/filter").routed)
        expect(JSON.parse(unsafe[0]!).moderation.flagged).toBe(true)
        await fromClone
      } finally {
        rmSync(work, { recursive: true, force: true })
      }
    },
    // About two minutes on an idle 2-core machine (133 s, mostly the prepack builds of every
    // package), and more when npm must compile better-sqlite3 (see offerPrebuild); room for a busy one.
    900_000
  )
})

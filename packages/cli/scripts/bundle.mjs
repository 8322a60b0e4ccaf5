/**
 * Bundles the built CLI (dist/bin.js, from tsc) with esbuild into dist/synthline.mjs:
 * @effect/cli, effect and the parts of @synthline/core the CLI itself uses, in a few files
 * instead of the hundreds of ES modules Node would resolve and load one by one (effect's
 * barrel alone is ~400), with the commands' lazy imports split into chunks loaded when a
 * command needs them.
 *
 * bin/synthline.js runs the bundle only for what loads no plugin (help, version, completions,
 * new-plugin): a plugin imports @synthline/core and effect from node_modules, and must share
 * them with the core that runs it, so commands that load plugins run dist/bin.js unbundled.
 *
 * The bundle and its chunks (`dist/synthline-*.mjs`) lie in dist/ beside tsc's output, so the
 * CLI's own `createRequire(import.meta.url)("../package.json")` still finds its manifest; the
 * same read in another package (core's version) would find the CLI's, so there it is replaced
 * by the fields of that package's manifest.
 */
import { build } from "esbuild"
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join, relative } from "node:path"
import { pathToFileURL } from "node:url"

const here = dirname(new URL(import.meta.url).pathname)
const outdir = join(here, "../dist")

/** The nearest package.json above `file`. */
const manifestOf = (file) => {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      return JSON.parse(readFileSync(join(dir, "package.json"), "utf8"))
    } catch {
      // not here: look further up
    }
  }
  throw new Error(`no package.json above ${file}`)
}

const ownManifest = /createRequire\(import\.meta\.url\)\(\s*"(?:\.\.\/)+package\.json"\s*\)/g

/** Inlines each package's `../package.json` (or `../../package.json` from a nested module) read (name, version, dependencies). */
const inlineManifests = {
  name: "inline-manifests",
  setup(b) {
    b.onLoad({ filter: /[/\\]dist[/\\].*\.js$/ }, (args) => {
      const source = readFileSync(args.path, "utf8")
      const m = manifestOf(args.path)
      // The CLI's own files keep theirs (NewPlugin also holds the line as template text).
      if (m.name === "@synthline/cli" || !ownManifest.test(source)) return undefined
      const fields = JSON.stringify({ name: m.name, version: m.version, dependencies: m.dependencies ?? {} })
      return { contents: source.replace(ownManifest, `(${fields})`), loader: "js" }
    })
  }
}

const common = {
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  // tsx loads local TypeScript plugins through Node's loader hooks and esbuild is a native
  // binary: both stay where they are installed.
  external: ["tsx", "tsx/*", "esbuild"],
  // Bundled CommonJS dependencies call require().
  banner: { js: 'import { createRequire as __synthlineRequire } from "node:module";\nconst require = __synthlineRequire(import.meta.url);' },
  chunkNames: "synthline-[name]-[hash]",
  outExtension: { ".js": ".mjs" },
  legalComments: "none",
  logLevel: "warning",
  metafile: true
}

// Chunks of an earlier build would pile up (their names carry a content hash).
for (const f of readdirSync(outdir)) if (/^synthline.*\.mjs$/.test(f)) rmSync(join(outdir, f))

const result = await build({ ...common, entryPoints: { synthline: join(here, "../dist/bin.js") }, plugins: [inlineManifests] })

/**
 * The bundle of what loads plugins but runs no stage (`validate`): the CLI together with every
 * public module of effect and @synthline/core and the stage-facing ones of @effect/platform,
 * dist/synthline-shared.mjs, which exports each of them as a namespace. A plugin imports them
 * through bin/hooks.mjs, which resolves these specifiers to small modules in dist/shared/ that
 * re-export the bundle's namespace, so the plugin and the CLI share one instance of each (one
 * `Schema`, one `Stage`, one `StageError` class) and Node loads one file instead of ~900.
 */
const require = createRequire(join(here, "../package.json"))
const publicModules = (pkg) => {
  const manifest = JSON.parse(readFileSync(require.resolve(`${pkg}/package.json`), "utf8"))
  const subpaths = Object.keys(manifest.exports ?? {}).filter((k) => k !== "./package.json" && !k.includes("*") && !k.startsWith("./."))
  return subpaths.map((k) => (k === "." ? pkg : `${pkg}/${k.slice(2)}`))
}
// @synthline/core and the CLI's other @synthline packages (a pipeline file with `encrypt:` loads
// @synthline/release as a plugin): each barrel and every module of its dist/.
const synthlinePackages = Object.keys(JSON.parse(readFileSync(join(here, "../package.json"), "utf8")).dependencies ?? {}).filter((d) =>
  d.startsWith("@synthline/")
)
const modulesOf = (pkg) => {
  const dist = dirname(require.resolve(pkg))
  return [pkg, ...readdirSync(dist).filter((f) => f.endsWith(".js") && f !== "index.js").map((f) => `${pkg}/${f.slice(0, -3)}`)]
}
// Of @effect/platform only what a stage uses (its barrel and HTTP-server modules hold megabytes,
// e.g. the Swagger UI's assets): a plugin importing another module loads it from node_modules,
// which works alike since Effect finds services by their tag's key.
const platform = ["Command", "CommandExecutor", "Error", "FileSystem", "Path", "Terminal", "Headers", "HttpBody", "HttpClient", "HttpClientError", "HttpClientRequest", "HttpClientResponse", "UrlParams"]
const shared = [
  ...publicModules("effect"),
  ...platform.map((m) => `@effect/platform/${m}`),
  ...synthlinePackages.flatMap(modulesOf)
]
// Each module's export names, read from the module itself.
const names = await Promise.all(shared.map(async (s) => Object.keys(await import(pathToFileURL(require.resolve(s)).href))))
const entry = [...shared.map((s, i) => `export * as m${i} from ${JSON.stringify(s)}`), `import ${JSON.stringify(join(here, "../dist/bin.js"))}`].join("\n")
const sharedDir = join(outdir, "shared")
rmSync(sharedDir, { recursive: true, force: true })
const sharedResult = await build({
  ...common,
  stdin: { contents: entry, resolveDir: join(here, ".."), sourcefile: "synthline-shared.js", loader: "js" },
  outdir: sharedDir,
  entryNames: "../synthline-shared",
  chunkNames: "../synthline-shared-[name]-[hash]",
  plugins: [inlineManifests]
})
const map = {}
shared.forEach((s, i) => {
  const file = join(sharedDir, `${s}.mjs`)
  mkdirSync(dirname(file), { recursive: true })
  const bundle = relative(dirname(file), join(outdir, "synthline-shared.mjs"))
  const lines = [`import { m${i} as ns } from ${JSON.stringify(bundle.startsWith(".") ? bundle : `./${bundle}`)}`]
  for (const [k, n] of names[i].entries()) lines.push(`const v${k} = ns[${JSON.stringify(n)}]`)
  lines.push(`export { ${names[i].map((n, k) => `v${k} as ${JSON.stringify(n)}`).join(", ")} }`)
  writeFileSync(file, `${lines.join("\n")}\n`)
  map[s] = `./shared/${s}.mjs`
})
// The specifier → module map bin/hooks.mjs reads (paths relative to dist/).
writeFileSync(join(outdir, "shared.json"), `${JSON.stringify(map)}\n`)

const summary = (r, file) => {
  const bytes = Object.values(r.metafile.outputs).reduce((n, o) => n + o.bytes, 0)
  return `bundled ${Object.keys(r.metafile.outputs).length} files (${(bytes / 1024 / 1024).toFixed(1)} MB): ${join(outdir, file)}\n`
}
process.stdout.write(summary(result, "synthline.mjs") + summary(sharedResult, "synthline-shared.mjs"))

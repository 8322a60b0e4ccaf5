/**
 * Bundles the built CLI (dist/bin.js, from tsc) with esbuild into one CommonJS file,
 * dist/synthline-shared.cjs: the CLI with @effect/cli, every public module of effect and
 * @synthline/core and the stage-facing ones of @effect/platform, instead of the hundreds of ES
 * modules Node would resolve and load one by one (effect's barrel alone is ~400).
 * bin/synthline.js runs it for what loads no plugin (help, --version, --completions,
 * new-plugin) and for `validate`, which loads plugins but runs no stage (bin/shared.mjs: with
 * V8's code cache). Commands that run stages run dist/bin.js unbundled: they need core's own
 * files (the worker threads' entry, for one).
 *
 * The bundle lies in dist/ beside tsc's output, so the CLI's own
 * `createRequire(import.meta.url)("../package.json")` still finds its manifest; the same read in
 * another package (core's version) would find the CLI's, so there it is replaced by the fields
 * of that package's manifest.
 */
import { createHash } from "node:crypto"
import { build } from "esbuild"
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
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

// What earlier builds left (an ES-module bundle and its chunks, before this one).
for (const f of readdirSync(outdir)) if (/^synthline.*\.mjs$/.test(f)) rmSync(join(outdir, f))

/**
 * The bundle's exports are `main`, which runs the CLI, and `shared`: functions that give the
 * shared modules' namespaces (`m0`, `m1`, ...; a module runs when first asked for).
 * bin/shared.mjs compiles it with node:vm, with V8's code cache of an earlier run (Node 20 has
 * no compile cache for ES modules), and `main` puts `shared` on globalThis (SHARED_KEY) and runs
 * the CLI. A plugin imports those modules through bin/hooks.mjs, which resolves these specifiers
 * to small modules in dist/shared/ that re-export the bundle's namespace, so the plugin and the
 * CLI share one instance of each (one `Schema`, one `Stage`, one `StageError` class).
 */
const SHARED_KEY = "synthline.shared"
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
// import(), not require(): a require() would resolve effect's "require" export (its CommonJS
// build), a second copy beside the ES modules the CLI's own imports get.
const getters = shared.map((s, i) => `m${i}: () => import(${JSON.stringify(s)})`)
const entry = [
  `const shared = { ${getters.join(", ")} }`,
  `const main = () => { globalThis[Symbol.for(${JSON.stringify(SHARED_KEY)})] = shared; require(${JSON.stringify(join(here, "../dist/bin.js"))}) }`,
  "module.exports = { shared, main }"
].join("\n")
const sharedDir = join(outdir, "shared")
rmSync(sharedDir, { recursive: true, force: true })
const sharedFile = join(outdir, "synthline-shared.cjs")
rmSync(sharedFile, { force: true })
const result = await build({
  stdin: { contents: entry, resolveDir: join(here, ".."), sourcefile: "synthline-shared.js", loader: "js" },
  outfile: sharedFile,
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  // tsx loads local TypeScript plugins through Node's loader hooks and esbuild is a native
  // binary: both stay where they are installed. `report` runs unbundled (and vega's top-level
  // await is no CommonJS).
  external: ["tsx", "tsx/*", "esbuild", "@synthline/report"],
  // bin/shared.mjs runs the file as a function of these (CommonJS's five and `import.meta`).
  define: { "import.meta": "__synthlineImportMeta" },
  // 3.7 instead of 5.5 MB to read at every start (about 15 ms of `validate`'s 420); names are
  // kept, so stack traces still name functions.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "none",
  logLevel: "warning",
  metafile: true,
  plugins: [inlineManifests]
})
// V8 loses a script's dynamic-import callback when the script comes from the code cache, so the
// bundle's import() expressions (plugins, tsx's API: what stays outside the bundle) call
// `__synthlineImport`, dist/synthline-shared-import.mjs's function, whose import() resolves
// from dist/ as the bundle's own would. One preceded by a backtick is text (a worker's boot
// code); in comments the change is harmless.
const dynamicImport = /(?<![\w$.`])import\(/g
const rewritten = readFileSync(sharedFile, "utf8").replace(dynamicImport, "__synthlineImport(")
writeFileSync(sharedFile, rewritten)
writeFileSync(
  join(outdir, "synthline-shared-import.mjs"),
  "// The import() of dist/synthline-shared.cjs (see scripts/bundle.mjs): resolves from dist/ as the bundle's own would.\nexport default (specifier) => import(specifier)\n"
)
shared.forEach((s, i) => {
  const file = join(sharedDir, `${s}.mjs`)
  mkdirSync(dirname(file), { recursive: true })
  const lines = [`const ns = await globalThis[Symbol.for(${JSON.stringify(SHARED_KEY)})].m${i}()`]
  for (const [k, n] of names[i].entries()) lines.push(`const v${k} = ns[${JSON.stringify(n)}]`)
  lines.push(`export { ${names[i].map((n, k) => `v${k} as ${JSON.stringify(n)}`).join(", ")} }`)
  writeFileSync(file, `${lines.join("\n")}\n`)
})
// What bin/synthline.js and bin/hooks.mjs read (paths relative to dist/): the bundle, the hash
// of its bytes (part of the code cache's name) and the specifier → module map.
writeFileSync(
  join(outdir, "shared.json"),
  `${JSON.stringify({
    bundle: "./synthline-shared.cjs",
    sha256: createHash("sha256").update(rewritten).digest("hex"),
    modules: Object.fromEntries(shared.map((s) => [s, `./shared/${s}.mjs`]))
  })}\n`
)

const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0)
process.stdout.write(`bundled the CLI (${(bytes / 1024 / 1024).toFixed(1)} MB): ${sharedFile}\n`)

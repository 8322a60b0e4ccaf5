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
import { readFileSync } from "node:fs"
import { dirname, join } from "node:path"

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

const ownManifest = /createRequire\(import\.meta\.url\)\(\s*"\.\.\/package\.json"\s*\)/g

/** Inlines each package's `../package.json` read (name, version, dependencies). */
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

const result = await build({
  entryPoints: { synthline: join(here, "../dist/bin.js") },
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
  plugins: [inlineManifests],
  legalComments: "none",
  logLevel: "warning",
  metafile: true
})

const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0)
process.stdout.write(`bundled ${Object.keys(result.metafile.outputs).length} files (${(bytes / 1024 / 1024).toFixed(1)} MB): ${join(outdir, "synthline.mjs")}\n`)

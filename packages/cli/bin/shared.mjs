// Runs the CLI from dist/synthline-shared.cjs (see scripts/bundle.mjs): the CLI with every
// public module of effect, @synthline/core and the stage-facing ones of @effect/platform, which
// `validate`'s plugins share through bin/hooks.mjs.
//
// Node 20 keeps no compile cache for ES modules, and compiling the bundle took about a third
// of `validate`'s time. So the bundle is CommonJS run through node:vm with V8's code cache: the
// first run compiles it and, on exit, saves the bytecode of everything it ran into the per-user
// cache (bin/cache.mjs), under the bundle's hash, Node's version, the architecture and a hash of
// the node options; a later run reads it back instead of compiling. V8 checks the cache itself
// (its version, flags and the source) and refuses one that does not fit, and then this run
// compiles and saves a new one.
import { createHash } from "node:crypto"
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs"
import { createRequire, register } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import vm from "node:vm"
import { cacheFolder, writeCached } from "./cache.mjs"

/** The bundle as one function of CommonJS's five arguments and what stands for `import.meta`. */
const wrap = (source) =>
  `(function (exports, require, module, __filename, __dirname, __synthlineImportMeta, __synthlineImport) {${source}\n})`

const DAY_MS = 24 * 60 * 60 * 1000

/** Removes the code caches of other builds (another bundle or Node) not written for a day. */
const pruneStale = (dir, keep) => {
  try {
    for (const f of readdirSync(dir)) {
      const file = join(dir, f)
      if (/^shared-.*\.v8cache$/.test(f) && file !== keep && Date.now() - statSync(file).mtimeMs > DAY_MS) rmSync(file, { force: true })
    }
  } catch {
    // what is left is only disk space
  }
}

/** The bundle's exports (`shared`: the modules' namespaces, `main`: runs the CLI), compiled with the code cache where one fits. */
const loadBundle = async (file, key) => {
  const dir = cacheFolder()
  // V8 refuses a cache made under other flags: runs with other node options keep their own.
  const flags = createHash("sha256").update(JSON.stringify([process.execArgv, process.env.NODE_OPTIONS ?? ""])).digest("hex").slice(0, 8)
  const cacheFile = dir === undefined ? undefined : join(dir, `shared-${key}-${process.version}-${process.arch}-${flags}.v8cache`)
  const cachedData = cacheFile !== undefined && existsSync(cacheFile) ? readFileSync(cacheFile) : undefined
  const script = new vm.Script(wrap(readFileSync(file, "utf8")), { filename: file, cachedData })
  // Saved on exit, so the bytecode of the functions this run compiled lazily is in it too.
  if (cacheFile !== undefined && (cachedData === undefined || script.cachedDataRejected))
    process.once("exit", () => {
      writeCached(cacheFile, script.createCachedData())
      pruneStale(dir, cacheFile)
    })
  const module = { exports: {} }
  const require = createRequire(file)
  const meta = { url: pathToFileURL(file).href, filename: file, dirname: dirname(file), resolve: (s) => pathToFileURL(require.resolve(s)).href }
  const importHere = (await import(pathToFileURL(join(dirname(file), "synthline-shared-import.mjs")).href)).default
  script.runInThisContext()(module.exports, require, module, file, dirname(file), meta, importHere)
  return module.exports
}

/**
 * Runs the CLI from the bundle that `infoUrl` (dist/shared.json) describes; with `plugins`, first
 * registers the module hooks that hand the plugins the bundle's modules. The code cache of a run
 * with plugins and one without are kept apart: each holds what its kind of command compiled.
 */
export const runBundle = async (infoUrl, { plugins }) => {
  const info = JSON.parse(readFileSync(infoUrl, "utf8"))
  if (plugins) {
    const modules = Object.fromEntries(Object.entries(info.modules).map(([specifier, file]) => [specifier, new URL(file, infoUrl).href]))
    const dist = new URL("./", infoUrl).href
    const tsxApi = new URL("./tsx-api.mjs", import.meta.url).href
    register(new URL("./hooks.mjs", import.meta.url), { data: { shared: modules, dist, tsxApi } })
  }
  const bundle = await loadBundle(fileURLToPath(new URL(info.bundle, infoUrl)), `${info.sha256.slice(0, 24)}-${plugins ? "plugins" : "plain"}`)
  bundle.main()
}

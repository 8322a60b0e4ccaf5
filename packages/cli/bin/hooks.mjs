// Module resolution hooks of the bundled `validate` (see bin/synthline.js).
//
// 1. A plugin's import of effect, @effect/platform or @synthline/core (or one of their modules)
//    resolves to the module in dist/shared/ that re-exports the bundle's copy, so the plugin and
//    the CLI share one instance. Any other specifier resolves as usual.
// 2. A local TypeScript plugin (.ts, .mts, .tsx) is compiled here, with esbuild (what tsx uses),
//    and the JavaScript is kept in a per-user cache keyed by the file's content: a second
//    `validate` of an unchanged plugin reads it back and loads neither tsx nor esbuild. So the
//    bundle's `import("tsx/esm/api")` (core's Registry registers tsx before importing a .ts
//    plugin) resolves to bin/tsx-api.mjs, whose register() has nothing left to do. Relative
//    imports between TypeScript files resolve as tsc and tsx resolve them (`./util.js` → util.ts).
//    `.cts` files, tsconfig `paths` and the like are tsx's: `run` and SYNTHLINE_BUNDLE=0 use it.
import { createHash } from "node:crypto"
import { existsSync, readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { cacheFolder, writeCached } from "./cache.mjs"

/** @type {{ readonly [specifier: string]: string }} */
let shared = {}
/** URL of the CLI's dist/ folder: the bundle's own imports come from there. */
let dist = ""
/** URL of bin/tsx-api.mjs. */
let tsxApi = ""
/** The compiled-TypeScript cache folder, or undefined where it is not safe to use. */
let cache

/** What the compiled JavaScript depends on besides the source: part of every cache key. */
const compileOptions = { loader: "ts", format: "esm", target: "node20", sourcemap: "inline" }

/** Receives the specifier → file URL map and the URLs from module.register's `data`. */
export const initialize = (data) => {
  shared = data.shared
  dist = data.dist ?? ""
  tsxApi = data.tsxApi ?? ""
  cache = cacheFolder(data.cache)
}

const isTypeScript = (url) => url.startsWith("file:") && /\.(?:m?ts|tsx)$/.test(url) && !url.includes("/node_modules/")

/** The files a relative import from a TypeScript file may mean, as tsc and tsx read it. */
const typeScriptCandidates = (specifier) =>
  [
    specifier.replace(/\.js$/, ".ts"),
    specifier.replace(/\.js$/, ".tsx"),
    specifier.replace(/\.mjs$/, ".mts"),
    `${specifier}.ts`,
    `${specifier}.tsx`,
    `${specifier}/index.ts`
  ].filter((c) => c !== specifier)

export const resolve = async (specifier, context, next) => {
  const url = shared[specifier]
  if (url !== undefined) return { url, format: "module", shortCircuit: true }
  if (specifier === "tsx/esm/api" && tsxApi !== "" && context.parentURL?.startsWith(dist))
    return { url: tsxApi, format: "module", shortCircuit: true }
  try {
    return await next(specifier, context)
  } catch (e) {
    const parent = context.parentURL
    if (e?.code !== "ERR_MODULE_NOT_FOUND" || parent === undefined || !isTypeScript(parent) || !/^\.\.?\//.test(specifier)) throw e
    for (const candidate of typeScriptCandidates(specifier)) {
      const found = new URL(candidate, parent)
      if (existsSync(fileURLToPath(found))) return { url: found.href, shortCircuit: true }
    }
    throw e
  }
}

/** esbuild's API, from tsx's dependencies (the CLI itself has esbuild only to build). */
let esbuild
const loadEsbuild = () => {
  esbuild ??= (async () => {
    const fromTsx = createRequire(createRequire(import.meta.url).resolve("tsx/package.json"))
    return import(pathToFileURL(fromTsx.resolve("esbuild")).href)
  })()
  return esbuild
}

export const load = async (url, context, next) => {
  if (!isTypeScript(url)) return next(url, context)
  const file = fileURLToPath(url)
  const source = readFileSync(file, "utf8")
  const options = { ...compileOptions, loader: url.endsWith(".tsx") ? "tsx" : "ts" }
  const key = createHash("sha256").update(JSON.stringify(options)).update("\0").update(file).update("\0").update(source).digest("hex")
  const cached = cache === undefined ? undefined : join(cache, `${key.slice(0, 40)}.mjs`)
  if (cached !== undefined && existsSync(cached)) return { format: "module", source: readFileSync(cached, "utf8"), shortCircuit: true }
  const { transform } = await loadEsbuild()
  const { code } = await transform(source, { ...options, sourcefile: file }).catch((e) => {
    // esbuild's message starts "Transform failed with 1 error:"; the first error on one line says where.
    const first = e?.errors?.[0]
    throw first?.location ? new SyntaxError(`${file}:${first.location.line}:${first.location.column + 1}: ${first.text}`) : e
  })
  if (cached !== undefined) writeCached(cached, code)
  return { format: "module", source: code, shortCircuit: true }
}

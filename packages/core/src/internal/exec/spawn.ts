/**
 * Starts a plugin's worker thread from the module next to the caller: the built `.js` file, or,
 * when the caller itself runs from TypeScript sources (tests, `pnpm synthline`), the `.ts` file
 * imported through tsx, whose loader a worker does not inherit, with the `@synthline/source`
 * condition so the worker's own `@synthline/*` imports resolve to sources too.
 */
import { createRequire } from "node:module"
import { pathToFileURL } from "node:url"
import { Worker, type WorkerOptions } from "node:worker_threads"

/** tsx's ESM API module for a caller (`import.meta.resolve` is missing under vitest's module runner: there, its CommonJS twin's path). */
const tsxApi = (caller: string): string =>
  typeof import.meta.resolve === "function"
    ? import.meta.resolve("tsx/esm/api")
    : pathToFileURL(createRequire(caller).resolve("tsx/esm/api").replace(/\.cjs$/, ".mjs")).href

/**
 * A worker running the module `name` (no extension) in the folder of `caller` (the caller's
 * `import.meta.url`), with `options` (`workerData`, `resourceLimits`, ...).
 */
export const moduleWorker = (caller: string, name: string, options: WorkerOptions): Worker => {
  if (!caller.endsWith(".ts")) return new Worker(new URL(`./${name}.js`, caller), options)
  const api = JSON.stringify(tsxApi(caller))
  const entry = JSON.stringify(new URL(`./${name}.ts`, caller).href)
  const boot = `import(${api}).then(({ tsImport }) => tsImport(${entry}, ${JSON.stringify(caller)}))`
  const conditions = process.execArgv.some((a) => a.includes("@synthline/source")) ? [] : ["--conditions=@synthline/source"]
  return new Worker(boot, { ...options, eval: true, execArgv: [...process.execArgv, ...conditions] })
}

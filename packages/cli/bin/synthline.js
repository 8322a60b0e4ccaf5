#!/usr/bin/env node
// The `synthline` binary. What loads no plugin (help, --version, --completions, new-plugin)
// runs the esbuild bundle (dist/synthline.mjs: a few files instead of hundreds of ES modules,
// so it starts in a fraction of the time). `validate` runs dist/synthline-shared.mjs, the bundle
// with effect and @synthline/core in it, and resolves the plugins' imports of those to the
// bundle's copies (bin/hooks.mjs), so plugin and CLI share one instance; the hooks also compile
// local TypeScript plugins into a per-user cache, so an unchanged one loads without tsx. The
// other commands that load plugins run the unbundled build (what they run needs core's own
// files, e.g. the worker threads' entry), so plugins share its @synthline/core and effect.
// SYNTHLINE_BUNDLE=0 always runs the unbundled one.
import { existsSync, readFileSync } from "node:fs"

const args = process.argv.slice(2)
const command = args.find((a) => !a.startsWith("-"))
const noPlugins =
  command === undefined || command === "new-plugin" || args.some((a) => a === "--help" || a === "-h" || a === "--version" || a === "--completions")
const bundle = new URL("../dist/synthline.mjs", import.meta.url)
const unbundled = new URL("../dist/bin.js", import.meta.url)
const sharedBundle = new URL("../dist/synthline-shared.mjs", import.meta.url)
const sharedMap = new URL("../dist/shared.json", import.meta.url)

if (!existsSync(unbundled)) {
  // A clone that was not built yet (the published package always holds dist/).
  process.stderr.write(
    "error: this synthline is not built (no packages/cli/dist): run `npx -y pnpm@10.34.9 build` at the root of the clone, or run the sources with `npx -y pnpm@10.34.9 synthline ...`\n"
  )
  process.exit(1)
}
const bundled = process.env.SYNTHLINE_BUNDLE !== "0"
if (noPlugins && bundled && existsSync(bundle)) await import(bundle.href)
else if (command === "validate" && bundled && existsSync(sharedMap)) {
  // validate loads plugins but runs no stage: the bundle with effect, @effect/platform and
  // @synthline/core in it, the plugins' imports of those resolved to the bundle's copies.
  const { register } = await import("node:module")
  const map = JSON.parse(readFileSync(sharedMap, "utf8"))
  const shared = Object.fromEntries(Object.entries(map).map(([specifier, file]) => [specifier, new URL(file, sharedMap).href]))
  const dist = new URL("../dist/", import.meta.url).href
  const tsxApi = new URL("./tsx-api.mjs", import.meta.url).href
  register(new URL("./hooks.mjs", import.meta.url), { data: { shared, dist, tsxApi } })
  await import(sharedBundle.href)
} else await import(unbundled.href)


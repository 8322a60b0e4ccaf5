#!/usr/bin/env node
// The `synthline` binary. What loads no plugin (help, --version, --completions, new-plugin) and
// `validate`, which loads plugins but runs no stage, run the CLI's esbuild bundle
// (dist/synthline-shared.cjs: one file instead of hundreds of ES modules, compiled with V8's
// code cache; see bin/shared.mjs). For `validate` the bundle has effect and @synthline/core in
// it, and module hooks (bin/hooks.mjs) resolve the plugins' imports of those to the bundle's
// copies, so plugin and CLI share one instance; the hooks also compile local TypeScript plugins
// into a per-user cache, so an unchanged one loads without tsx. The other commands that load
// plugins run the unbundled build (what they run needs core's own files, e.g. the worker
// threads' entry), so plugins share its @synthline/core and effect. SYNTHLINE_BUNDLE=0 always
// runs the unbundled one.
import { existsSync } from "node:fs"

const args = process.argv.slice(2)
const command = args.find((a) => !a.startsWith("-"))
const noPlugins =
  command === undefined || command === "new-plugin" || args.some((a) => a === "--help" || a === "-h" || a === "--version" || a === "--completions")
const unbundled = new URL("../dist/bin.js", import.meta.url)
const bundle = new URL("../dist/shared.json", import.meta.url)

if (!existsSync(unbundled)) {
  // A clone that was not built yet (the published package always holds dist/).
  process.stderr.write(
    "error: this synthline is not built (no packages/cli/dist): run `npx -y pnpm@10.34.9 build` at the root of the clone, or run the sources with `npx -y pnpm@10.34.9 synthline ...`\n"
  )
  process.exit(1)
}
if (process.env.SYNTHLINE_BUNDLE !== "0" && (noPlugins || command === "validate") && existsSync(bundle))
  await (await import("./shared.mjs")).runBundle(bundle, { plugins: !noPlugins })
else await import(unbundled.href)

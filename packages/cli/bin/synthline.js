#!/usr/bin/env node
// The `synthline` binary. What loads no plugin (help, --version, --completions, new-plugin)
// runs the esbuild bundle (dist/synthline.mjs: a few files instead of hundreds of ES modules,
// so it starts in a fraction of the time); commands that load plugins run the unbundled build,
// so plugins share its @synthline/core and effect. SYNTHLINE_BUNDLE=0 always runs the unbundled one.
import { existsSync } from "node:fs"

const args = process.argv.slice(2)
const command = args.find((a) => !a.startsWith("-"))
const noPlugins =
  command === undefined || command === "new-plugin" || args.some((a) => a === "--help" || a === "-h" || a === "--version" || a === "--completions")
const bundle = new URL("../dist/synthline.mjs", import.meta.url)
const unbundled = new URL("../dist/bin.js", import.meta.url)

if (!existsSync(unbundled)) {
  // A clone that was not built yet (the published package always holds dist/).
  process.stderr.write(
    "error: this synthline is not built (no packages/cli/dist): run `npx -y pnpm@10.34.9 build` at the root of the clone, or run the sources with `npx -y pnpm@10.34.9 synthline ...`\n"
  )
  process.exit(1)
}
await import(noPlugins && process.env.SYNTHLINE_BUNDLE !== "0" && existsSync(bundle) ? bundle.href : unbundled.href)

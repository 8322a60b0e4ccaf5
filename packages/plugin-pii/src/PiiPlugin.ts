/**
 * The `pii` plugin: its stages, ready for a pipeline file's `plugins:` list
 * (`plugins: ["@synthline/plugin-pii"]`) or for code pipelines.
 */
import { definePlugin, type Plugin } from "@synthline/core/Plugin"
import { createRequire } from "node:module"
import { redact } from "./Redact.js"
import { scan } from "./Scan.js"

const pkg: { readonly version: string } = createRequire(import.meta.url)("../package.json")

/** The version of @synthline/plugin-pii. */
export const version: string = pkg.version

/** The `pii` plugin (`pii/scan`, `pii/redact`). */
export const plugin: Plugin = definePlugin({
  name: "pii",
  version,
  packageName: "@synthline/plugin-pii",
  stages: [scan, redact]
})

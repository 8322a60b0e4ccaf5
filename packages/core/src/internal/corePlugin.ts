/**
 * The built-in `core` plugin: the core stages, the `jsonl` and `parquet` sources and sinks.
 * Always loaded; never listed in a pipeline file's `plugins`.
 */
import { createRequire } from "node:module"
import * as CoreStages from "../stages/core.js"
import { definePlugin, type Plugin } from "../Plugin.js"
import * as Sinks from "../io/sinks.js"
import * as Sources from "../io/sources.js"

const pkg: { readonly version: string } = createRequire(import.meta.url)("../../package.json")

/** The version of @synthline/core. */
export const version: string = pkg.version

/** The `core` plugin. */
export const plugin: Plugin = definePlugin({
  name: "core",
  version,
  packageName: "@synthline/core",
  stages: CoreStages.all,
  sources: [Sources.jsonl, Sources.parquet],
  sinks: [Sinks.jsonl, Sinks.parquet]
})

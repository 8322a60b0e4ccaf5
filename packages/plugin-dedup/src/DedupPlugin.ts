/**
 * The `dedup` plugin: its stages, ready for a pipeline file's `plugins:` list
 * (`plugins: ["@synthline/plugin-dedup"]`) or for code pipelines.
 */
import { definePlugin, type Plugin } from "@synthline/core/Plugin"
import { createRequire } from "node:module"
import { decontaminate } from "./Decontaminate.js"
import { nearDedup } from "./NearDedup.js"

const pkg: { readonly version: string } = createRequire(import.meta.url)("../package.json")

/** The version of @synthline/plugin-dedup. */
export const version: string = pkg.version

/** The `dedup` plugin (`dedup/near-dedup`, `dedup/decontaminate`). */
export const plugin: Plugin = definePlugin({
  name: "dedup",
  version,
  packageName: "@synthline/plugin-dedup",
  stages: [nearDedup, decontaminate]
})

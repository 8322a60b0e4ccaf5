/**
 * The `moderation` plugin: its stages, ready for a pipeline file's `plugins:` list
 * (`plugins: ["@synthline/plugin-moderation"]`) or for code pipelines. It depends on the `llm`
 * plugin, so the `models` and `cache` sections exist when only this plugin is listed.
 */
import { definePlugin, type Plugin } from "@synthline/core/Plugin"
import { createRequire } from "node:module"
import { plugin as llm } from "@synthline/llm/LlmPlugin"
import { classify } from "./Classify.js"
import { filter } from "./Filter.js"

const pkg: { readonly version: string } = createRequire(import.meta.url)("../package.json")

/** The version of @synthline/plugin-moderation. */
export const version: string = pkg.version

/** The `moderation` plugin (`moderation/filter`, `moderation/classify`); brings the `llm` plugin (models, cache). */
export const plugin: Plugin = definePlugin({
  name: "moderation",
  version,
  packageName: "@synthline/plugin-moderation",
  stages: [filter, classify],
  dependencies: [llm]
})

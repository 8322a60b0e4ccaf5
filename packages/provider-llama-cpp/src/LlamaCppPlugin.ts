/**
 * The `llama-cpp` plugin: listing `@synthline/provider-llama-cpp` in a pipeline file's
 * `plugins` registers the `llama-cpp` provider (on module load) and brings in the `llm` plugin
 * (models, cache, `llm/complete`) it plugs into.
 */
import { definePlugin, type Plugin } from "@synthline/core/Plugin"
import { plugin as llm } from "@synthline/llm/LlmPlugin"
import * as Provider from "@synthline/llm/Provider"
import { createRequire } from "node:module"
import { name, provider } from "./LlamaCpp.js"

const pkg: { readonly version: string } = createRequire(import.meta.url)("../package.json")

/** The version of @synthline/provider-llama-cpp. */
export const version: string = pkg.version

Provider.register(name, provider)

/** The `llama-cpp` plugin (no stages of its own: it adds a provider to `models`). */
export const plugin: Plugin = definePlugin({
  name: "llama-cpp",
  version,
  packageName: "@synthline/provider-llama-cpp",
  stages: [],
  dependencies: [llm]
})

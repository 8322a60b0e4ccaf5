/**
 * The `llama-cpp` plugin: listing `@synthline/provider-llama-cpp` in a pipeline file's
 * `plugins` contributes the `llama-cpp` provider (`providers` of the plugin; importing the module
 * registers nothing) and brings in the `llm` plugin (models, cache, `llm/complete`) it plugs into.
 */
import { definePlugin, type Plugin } from "@synthline/core/Plugin"
import { plugin as llm } from "@synthline/llm/LlmPlugin"
import * as Provider from "@synthline/llm/Provider"
import { createRequire } from "node:module"
import { name, Options, provider } from "./LlamaCpp.js"

const pkg: { readonly version: string } = createRequire(import.meta.url)("../package.json")

/** The version of @synthline/provider-llama-cpp. */
export const version: string = pkg.version

/** The `llama-cpp` provider, for `provider: llama-cpp` in `models` (and for code pipelines: `Models.layerWith({ providers })`). */
export const llamaCpp: Provider.Definition = Provider.define(name, provider, {
  description:
    "A GGUF model run inside the synthline process by node-llama-cpp: no server, no API key. `path` is the model file (relative to the pipeline file) or an hf: URI; endpoints and api_key are not used.",
  packageName: "@synthline/provider-llama-cpp",
  options: Options
})

/** The `llama-cpp` plugin (no stages of its own: it adds a provider to `models`). */
export const plugin: Plugin = definePlugin({
  name: "llama-cpp",
  version,
  packageName: "@synthline/provider-llama-cpp",
  stages: [],
  providers: [llamaCpp],
  dependencies: [llm]
})

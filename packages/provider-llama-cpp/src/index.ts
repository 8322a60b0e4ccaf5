/**
 * @synthline/provider-llama-cpp: run GGUF models in-process with node-llama-cpp as
 * `provider: llama-cpp` in a pipeline file's `models`, with no server and no API key.
 */
export * as LlamaCpp from "./LlamaCpp.js"
export * as LlamaCppPlugin from "./LlamaCppPlugin.js"
import { plugin } from "./LlamaCppPlugin.js"

/** The `llama-cpp` plugin, as a pipeline file's `plugins:` list loads it. */
export default plugin

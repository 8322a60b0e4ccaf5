/**
 * @synthline/llm: the OpenAI-compatible model client (endpoint balancing, rate limits, retries,
 * a persistent SQLite response cache, usage accounting), the `llm/complete` stage, and a local
 * test server for model stages.
 */
export * as Cache from "./Cache.js"
export * as Chat from "./Chat.js"
export * as Complete from "./Complete.js"
export * as Config from "./Config.js"
export * as Errors from "./Errors.js"
export * as Http from "./Http.js"
export * as LlmPlugin from "./LlmPlugin.js"
export * as Models from "./Models.js"
export * as ModelStage from "./ModelStage.js"
export * as Provider from "./Provider.js"
export * as Seed from "./Seed.js"
export * as Template from "./Template.js"
export * as TestServer from "./TestServer.js"
export * as Usage from "./Usage.js"
import { plugin } from "./LlmPlugin.js"

/** The `llm` plugin, as a pipeline file's `plugins:` list loads it. */
export default plugin

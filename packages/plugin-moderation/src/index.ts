/**
 * @synthline/plugin-moderation: filter, route or annotate conversations by the dataset's own
 * OpenAI moderation annotations, and re-moderate any message field with a live model
 * (OpenAI moderations API or Llama Guard). The default export is the plugin.
 */
import { plugin } from "./ModerationPlugin.js"

export * as Classify from "./Classify.js"
export * as Filter from "./Filter.js"
export * as ModerationPlugin from "./ModerationPlugin.js"

/** The `moderation` plugin, as a pipeline file's `plugins:` list loads it. */
export default plugin

/**
 * The `llm` plugin: the `models`, `cache` and `budget` sections, the model client every model-calling
 * stage uses, and the generic `llm/complete` stage. Plugins built on it (synth, moderation's
 * classify) list it in their `dependencies`, so naming only them in `plugins` is enough.
 */
import { definePlugin, type Plugin } from "@synthline/core/Plugin"
import { createRequire } from "node:module"
import { complete } from "./Complete.js"
import { Budget, CacheSection, fingerprintOfModels, ModelsSection } from "./Config.js"
import { layer } from "./Models.js"

const pkg: { readonly version: string } = createRequire(import.meta.url)("../package.json")

/** The version of @synthline/llm. */
export const version: string = pkg.version

/** The `llm` plugin. */
export const plugin: Plugin = definePlugin({
  name: "llm",
  version,
  packageName: "@synthline/llm",
  stages: [complete],
  sections: { models: ModelsSection, cache: CacheSection, budget: Budget },
  // Endpoints, keys, limits, budgets and the cache location do not change answers: a run resumes when only they change.
  fingerprint: { models: fingerprintOfModels, cache: () => null, budget: () => null },
  layer
})

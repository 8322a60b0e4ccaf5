/**
 * @synthline/plugin-dedup: near-duplicate detection by MinHash-LSH (`dedup/near-dedup`) and
 * n-gram decontamination against evaluation benchmarks (`dedup/decontaminate`). The default
 * export is the plugin.
 */
import { plugin } from "./DedupPlugin.js"

export * as DedupPlugin from "./DedupPlugin.js"
export * as Decontaminate from "./Decontaminate.js"
export * as MinHash from "./MinHash.js"
export * as NearDedup from "./NearDedup.js"

/** The `dedup` plugin, as a pipeline file's `plugins:` list loads it. */
export default plugin

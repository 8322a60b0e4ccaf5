/**
 * @synthline/core: records, the Stage/Plugin API with the built-in stages, sources and sinks,
 * pipeline files, the streaming runner, manifests, dataset cards, progress reporting and test helpers.
 */
export * as Card from "./Card.js"
export * as Errors from "./Errors.js"
export * as Manifest from "./Manifest.js"
export * as Pipeline from "./Pipeline.js"
export { definePlugin } from "./Plugin.js"
export * as Plugin from "./Plugin.js"
export * as Progress from "./Progress.js"
export * as Record from "./Record.js"
export * as Registry from "./Registry.js"
export * as Row from "./Row.js"
export * as Runner from "./Runner.js"
export * as Shard from "./Shard.js"
export * as Sink from "./Sink.js"
export * as Source from "./Source.js"
export * as Stage from "./Stage.js"
export * as Testing from "./Testing.js"

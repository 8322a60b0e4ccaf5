/**
 * @synthline/plugin-pii: find personal data in conversations and re-redact it (placeholders,
 * mask, keyed hash) or drop the conversation. The default export is the plugin.
 */
import { plugin } from "./PiiPlugin.js"

export * as Detect from "./Detect.js"
export * as PiiPlugin from "./PiiPlugin.js"
export * as Redact from "./Redact.js"
export * as Scan from "./Scan.js"

/** The `pii` plugin, as a pipeline file's `plugins:` list loads it. */
export default plugin

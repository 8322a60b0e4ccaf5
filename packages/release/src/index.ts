/**
 * @synthline/release: derived data released OpenPGP-encrypted with a key only holders of the
 * original dataset can derive — key derivation and file encryption ({@link Release}) and the
 * `encrypt` sink option ({@link Encrypt}). The default export is the plugin.
 */
import { plugin } from "./ReleasePlugin.js"

export * as Encrypt from "./Encrypt.js"
export * as Release from "./Release.js"
export * as ReleasePlugin from "./ReleasePlugin.js"

/** The `release` plugin, as a pipeline file's `plugins:` list (or its `encrypt:` option) loads it. */
export default plugin

// Module resolution hooks of the bundled `validate` (see bin/synthline.js): a plugin's import of
// effect, @effect/platform or @synthline/core (or one of their modules) resolves to the module
// in dist/shared/ that re-exports the bundle's copy, so the plugin and the CLI share one instance.
// Any other specifier resolves as usual.

/** @type {{ readonly [specifier: string]: string }} */
let shared = {}

/** Receives the specifier → file URL map from module.register's `data`. */
export const initialize = (data) => {
  shared = data.shared
}

export const resolve = (specifier, context, next) => {
  const url = shared[specifier]
  return url !== undefined ? { url, format: "module", shortCircuit: true } : next(specifier, context)
}

// What the bundled `validate` gives the bundle's `import("tsx/esm/api")` (see bin/hooks.mjs): the
// hooks already compile local TypeScript plugins, so register() has nothing to do. tsImport (a
// plugin package resolved from the pipeline file's folder) is tsx's own.

/** Returns tsx's unregister function's stand-in. */
export const register = () => () => {}

export const tsImport = async (specifier, options) => (await import("tsx/esm/api")).tsImport(specifier, options)

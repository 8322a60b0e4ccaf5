/** @synthline/cli: the `synthline` command as a library (for embedding and tests). */
export * as Cli from "./Cli.js"

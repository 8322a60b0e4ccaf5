/**
 * The `release` plugin: the `encrypt` sink option. A pipeline file with `encrypt:` on a sink
 * loads it by itself (no `plugins:` entry needed); code pipelines add the option to a sink with
 * `Sink.withOptions(Sink.jsonl, [Encrypt.option])`. Its profiler `Encrypt.card` tells the dataset
 * card of an output with encrypted parts how to decrypt them.
 */
import { definePlugin, type Plugin } from "@synthline/core/Plugin"
import { createRequire } from "node:module"
import * as Encrypt from "./Encrypt.js"

const pkg: { readonly version: string } = createRequire(import.meta.url)("../package.json")

/** The version of @synthline/release. */
export const version: string = pkg.version

/** The `release` plugin (the `encrypt` and `source_key_from` sink options, and the card's paragraph on encrypted parts). */
export const plugin: Plugin = definePlugin({
  name: "release",
  version,
  packageName: "@synthline/release",
  stages: [],
  sinkOptions: [Encrypt.option],
  profilers: [Encrypt.card]
})

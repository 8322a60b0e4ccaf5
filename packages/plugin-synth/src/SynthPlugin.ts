/**
 * The `synth` plugin: translate, flag-empty, detect-template, generate, check-answers, judge, multiturn and
 * select-best stages plus the `sft` and `dpo` sinks, and the answers profiler (scores, flags and judge
 * agreement in the manifest's profile and the dataset card). It depends on `@synthline/llm`, so listing only
 * `@synthline/plugin-synth` in `plugins` brings in the `models` and `cache` sections.
 */
import { definePlugin, type Plugin } from "@synthline/core/Plugin"
import { plugin as llm } from "@synthline/llm/LlmPlugin"
import { createRequire } from "node:module"
import { profiler as answers } from "./AnswerProfile.js"
import { checkAnswers } from "./CheckAnswers.js"
import { detectTemplate } from "./DetectTemplate.js"
import { dpo } from "./DpoSink.js"
import { flagEmpty } from "./FlagEmpty.js"
import { generate } from "./Generate.js"
import { judge } from "./Judge.js"
import { multiturn } from "./Multiturn.js"
import { selectBest } from "./SelectBest.js"
import { sft } from "./SftSink.js"
import { translate } from "./Translate.js"
import { layer } from "./TranslationCache.js"

const pkg: { readonly version: string } = createRequire(import.meta.url)("../package.json")

/** The version of @synthline/plugin-synth. */
export const version: string = pkg.version

/** The `synth` plugin. */
export const plugin: Plugin = definePlugin({
  name: "synth",
  version,
  packageName: "@synthline/plugin-synth",
  stages: [translate, flagEmpty, detectTemplate, generate, checkAnswers, judge, multiturn, selectBest],
  sinks: [sft, dpo],
  profilers: [answers],
  dependencies: [llm],
  layer
})

/**
 * @synthline/plugin-synth: translate, synthesize, judge and select instruction-tuning data
 * (LMSYS-Chat-1M-Synth). The default export is the plugin.
 */
import { plugin } from "./SynthPlugin.js"

export * as AnswerProfile from "./AnswerProfile.js"
export * as CheckAnswers from "./CheckAnswers.js"
export * as DetectTemplate from "./DetectTemplate.js"
export * as DpoSink from "./DpoSink.js"
export * as Fields from "./Fields.js"
export * as FlagEmpty from "./FlagEmpty.js"
export * as Generate from "./Generate.js"
export * as Judge from "./Judge.js"
export * as Multiturn from "./Multiturn.js"
export * as Preserve from "./Preserve.js"
export * as SelectBest from "./SelectBest.js"
export * as SftSink from "./SftSink.js"
export * as SynthPlugin from "./SynthPlugin.js"
export * as Translate from "./Translate.js"
export * as TranslationCache from "./TranslationCache.js"

/** The `synth` plugin, as a pipeline file's `plugins:` list loads it. */
export default plugin

/**
 * Many LMSYS-Chat-1M-shaped rows for core's tests. Core cannot use the sample generator
 * (`@synthline/sample` depends on core), so this is a small stand-in for it: rows with the
 * dataset's schema and a plausible mix of languages, models, conversation lengths and sizes,
 * moderation flags and redaction, each depending only on `(seed, index)`. `writeLmsysParquet`
 * (`./io.js`) writes them as parquet in the dataset's layout.
 */
import { Schema } from "effect"
import { type LmsysRecord, ModerationResult, moderationCategories } from "../../src/Record.js"

const decodeModeration = Schema.decodeUnknownSync(ModerationResult)

/** A 32-bit PRNG (mulberry32) seeded from `(seed, index)`. */
const rngOf = (seed: number, index: number): (() => number) => {
  let a = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35)) >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Picks from `[value, weight]` pairs. */
const weighted = <A>(next: () => number, table: ReadonlyArray<readonly [A, number]>): A => {
  const total = table.reduce((s, [, w]) => s + w, 0)
  let x = next() * total
  for (const [v, w] of table) {
    x -= w
    if (x < 0) return v
  }
  return table[table.length - 1]![0]
}

const languages: ReadonlyArray<readonly [string, number]> = [
  ["English", 60], ["Portuguese", 5], ["Russian", 5], ["Chinese", 5], ["Spanish", 5], ["German", 4],
  ["French", 4], ["Japanese", 4], ["Italian", 3], ["unknown", 5]
]

const models: ReadonlyArray<readonly [string, number]> = [
  ["vicuna-13b", 40], ["koala-13b", 8], ["alpaca-13b", 6], ["chatglm-6b", 5], ["llama-13b", 4], ["oasst-pythia-12b", 5],
  ["dolly-v2-12b", 3], ["claude-1", 6], ["gpt-3.5-turbo", 6], ["gpt-4", 5], ["palm-2", 4], ["llama-2-13b-chat", 8]
]

const words = (
  "the a of to and in is it that for you with on this be are as can how what your data model time code file " +
  "write explain list example python function error please make use need help question answer story article " +
  "company product service system user number value table result step first next also more about like would"
).split(" ")

const text = (next: () => number, count: number): string => {
  const out: Array<string> = []
  for (let i = 0; i < count; i++) {
    const w = words[Math.floor(next() * words.length)]!
    out.push(i % 12 === 11 ? `${w}.` : w)
  }
  return out.join(" ")
}

const moderation = (next: () => number): ModerationResult => {
  const flagged = next() < 0.05
  const hit = Math.floor(next() * moderationCategories.length)
  const categories = Object.fromEntries(moderationCategories.map((c, k) => [c, flagged && k === hit]))
  // Never a whole number, so the scores stay doubles in any schema inferred from them.
  const category_scores = Object.fromEntries(
    moderationCategories.map((c, k) => [c, flagged && k === hit ? 0.9 + next() / 20 : (Math.floor(next() * 1e6) + 0.5) / 1e7])
  )
  return decodeModeration({ categories, category_scores, flagged })
}

/** Row `index` of the fixture for `seed`. */
export const record = (seed: number, index: number): LmsysRecord => {
  const next = rngOf(seed, index)
  let id = ""
  while (id.length < 32) id += Math.floor(next() * 0x10000).toString(16).padStart(4, "0")
  const turn = 1 + Math.floor(next() * next() * 4)
  const redacted = next() < 0.1
  const conversation = Array.from({ length: 2 * turn }, (_, k) => {
    const role = k % 2 === 0 ? "user" : "assistant"
    const body = text(next, role === "user" ? 8 + Math.floor(next() * 120) : 40 + Math.floor(next() * 300))
    // Field order as the dataset stores a message (content, then role), as parquet reads it back.
    return { content: redacted && k === 0 ? `I am NAME_1. ${body}` : body, role }
  })
  return {
    conversation_id: id,
    model: weighted(next, models),
    conversation,
    turn,
    language: weighted(next, languages),
    openai_moderation: conversation.map(() => moderation(next)),
    redacted
  }
}

/** Rows `[0, count)` of the fixture for `seed`. */
export const records = (seed: number, count: number): Array<LmsysRecord> => Array.from({ length: count }, (_, i) => record(seed, i))

/**
 * The row generator behind `synthline sample`: one LMSYS-Chat-1M-shaped conversation per index,
 * modelled on the dataset's published statistics (languages, models, turns, lengths, moderation,
 * redaction, duplicates, templates), with personal data planted at recorded offsets. Row `i`
 * depends only on `(seed, i)`: the generator reseeds from a hash of both for every row.
 * Messages frame free text from the seed's lexicons (see `lexicon.ts`) with the phrase banks'
 * prompts, openers and some of their sentences, so the text gzips about 3 : 1 like real chat.
 */
import type { Message, ModerationResult } from "@synthline/core/Record"
import { codeBlocks, flaggedPrompts, type LanguageBank, languages, models } from "./corpus.js"
import { codeBlock, type Lexicon, Lexicons } from "./lexicon.js"
import type { PiiSpan, PiiType, SampleRow } from "../Sample.js"
import { planted } from "./families.js"
import { carrier, drawPii } from "./pii.js"
import { Rng, Weighted } from "./prng.js"
import { template, templateRates } from "./templates.js"

const STREAM_ROW = 1
const STREAM_POOL = 1000

/** Rates, tuned to the published LMSYS-Chat-1M statistics. */
const FLAGGED_RATE = 0.04
const PII_RATE = 0.035
const REDACTED_RATE = 0.1
const DUPLICATE_RATE = 0.04
const EMPTY_USER_RATE = 0.005
const HUGE_RATE = 0.0006
const LOOP_RATE = 0.002
const POOL_SIZE = 3000

const modelTable: Weighted<string> = Weighted.of(models)

/** Category weights for flagged conversations, in `moderationCategories` order. */
const categoryTable: Weighted<number> = new Weighted([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [20, 6, 8, 3, 6, 3, 4, 35, 5, 20, 6])
/** A category often flagged together with each category. */
const relatedCategory: ReadonlyArray<number> = [1, 0, 3, 2, 6, 4, 4, 8, 7, 10, 9]

const templateKinds = ["intro", "article", "toxic", "completion"] as const
const templateTotal = templateRates.intro + templateRates.article + templateRates.toxic + templateRates.completion

const HEX = "0123456789abcdef"

const hex32 = (rng: Rng): string => {
  let s = ""
  for (let i = 0; i < 4; i++) {
    const n = rng.next()
    for (let k = 28; k >= 0; k -= 4) s += HEX[(n >>> k) & 15]
  }
  return s
}

const idRng = new Rng()

/** The conversation_id of row `index` (its first draws), without generating the row. */
export const conversationIdOf = (seed: number, index: number): string => hex32(idRng.reseed(seed, STREAM_ROW, index))

/** A phrase split at its `{topic}` placeholders. */
type Phrase = ReadonlyArray<string>

/** A language bank with its phrases split at `{topic}` once, up front. */
interface Bank {
  readonly language: string
  readonly english: boolean
  readonly charsPerToken: number
  readonly space: string
  readonly topics: ReadonlyArray<string>
  readonly prompts: ReadonlyArray<Phrase>
  readonly followups: ReadonlyArray<Phrase>
  readonly openers: ReadonlyArray<Phrase>
  readonly sentences: ReadonlyArray<Phrase>
  readonly details: ReadonlyArray<Phrase>
}

const split = (phrases: ReadonlyArray<string>): ReadonlyArray<Phrase> => phrases.map((p) => p.split("{topic}"))

const compile = (b: LanguageBank): Bank => ({
  language: b.language,
  english: b.language === "English",
  charsPerToken: b.charsPerToken,
  space: b.space,
  topics: b.topics,
  prompts: split(b.prompts),
  followups: split(b.followups),
  openers: split(b.openers),
  sentences: split(b.sentences),
  details: split(b.details)
})

const banks: ReadonlyArray<Bank> = languages.map(compile)

const languageTable: Weighted<Bank> = new Weighted(
  banks,
  languages.map((l) => l.weight)
)

/** A phrase with its topic filled in. */
const fill = (p: Phrase, topic: string): string => (p.length === 1 ? p[0] : p.length === 2 ? p[0] + topic + p[1] : p.join(topic))

/** Joins two pieces of text the way the language does (a space, or a full stop for CJK). */
const join = (bank: Bank, a: string, b: string): string => {
  if (a.length === 0) return b
  if (bank.space !== "") return a + bank.space + b
  return /[。！？!?.\n]$/.test(a) ? a + b : `${a}。${b}`
}

/** The text of one row: its language's phrase bank, its lexicon for the seed, and the English lexicon (code). */
interface Text {
  readonly bank: Bank
  readonly lex: Lexicon
  readonly en: Lexicon
}

/** Share of body sentences taken from the phrase bank; the rest is free text from the lexicon. */
const BANK_SENTENCE_RATE = 0.15

/** One body sentence: now and then a phrase of the bank, mostly free text from the lexicon. */
const bodySentence = (rng: Rng, t: Text, topic: string): string =>
  rng.chance(BANK_SENTENCE_RATE) ? fill(rng.pick(t.bank.sentences), topic) : t.bank.language === "unknown" ? codeBlock(rng, t.en) : t.lex.text(rng, topic)

/** Whether text ending in `piece` needs a full stop before the next sentence (scripts without spaces). */
const needsStop = (piece: string): boolean => !/[。！？!?.\n]$/.test(piece)

/** Appends, until `target` characters, sentences of `pool` (a share `poolShare`) and body sentences. */
const extendMixed = (rng: Rng, t: Text, start: string, target: number, pool: ReadonlyArray<Phrase>, poolShare: number, topic: string): string => {
  // Joined as `join` does, judging the end by the last piece, not the (long, unflattened) text.
  const sep = t.bank.space
  let s = start
  let open = s.length > 0 && sep === "" && needsStop(s)
  while (s.length < target) {
    const next = poolShare > 0 && rng.chance(poolShare) ? fill(rng.pick(pool), topic) : bodySentence(rng, t, topic)
    s = s.length === 0 ? next : sep !== "" ? s + sep + next : open ? `${s}。${next}` : s + next
    open = sep === "" && needsStop(next)
  }
  return s
}

/** Appends body sentences to `start` until it reaches `target` characters. */
const extendFree = (rng: Rng, t: Text, start: string, target: number, topic: string): string => extendMixed(rng, t, start, target, [], 0, topic)

const userChars = (rng: Rng, bank: Bank): number => Math.min(3000, rng.logNormal(100, 1.3)) * bank.charsPerToken
const answerChars = (rng: Rng, bank: Bank): number => Math.min(4000, rng.logNormal(195, 0.9)) * bank.charsPerToken

const whitespace = ["", " ", "\n", "  \n ", "\t", "   "]

/** English context sentences with a number, so composed prompts rarely repeat by chance. */
const numbered: ReadonlyArray<string> = [
  "I am {n} years old.", "I need about {n} words.", "The deadline is in {k} days.", "My budget is {n} dollars.",
  "Please give me {k} examples.", "Our team has {n} people.", "Keep it under {n} words.", "Use at most {k} paragraphs.",
  "I have been learning this for {k} months.", "Answer in {k} bullet points.", "It is for a class of {n} students.",
  "I have tried {k} different approaches already.", "The audience is about {n} people.", "Version {k}.{n} of the tool is installed."
]

/** A first user turn: a short fixed prompt now and then, else a prompt with context added. */
const composePrompt = (rng: Rng, t: Text, topic: string): string => {
  const bank = t.bank
  const base = fill(rng.pick(bank.prompts), topic)
  if (rng.chance(0.03)) return base
  let s = base
  if (bank.english) {
    s += ` ${rng.pick(numbered).replace("{n}", String(rng.range(10, 500))).replace("{k}", String(rng.range(2, 12)))}`
  } else {
    s = join(bank, join(bank, s, fill(rng.pick(bank.details), topic)), bodySentence(rng, t, topic))
  }
  const target = userChars(rng, bank)
  if (s.length >= target) return s
  // Long prompts carry pasted material: more details, then text.
  return rng.chance(0.3) ? extendMixed(rng, t, s, target, bank.details, 0.5, topic) : extendFree(rng, t, s, target, topic)
}

/** An answer: opener, body of free text (sometimes a list or code), closing. */
const composeAnswer = (rng: Rng, t: Text, topic: string, target: number): string => {
  const bank = t.bank
  let s = fill(rng.pick(bank.openers), topic)
  if (bank.english && rng.chance(0.1)) s += `\n\n${rng.chance(0.2) ? rng.pick(codeBlocks) : codeBlock(rng, t.en)}\n\n`
  if (bank.space === " " && rng.chance(0.3)) {
    let n = 1
    s += "\n\n"
    while (s.length < target * 0.8) s += `${n++}. ${bodySentence(rng, t, topic)}\n`
  }
  return extendFree(rng, t, s, target, topic)
}

/** A degenerate answer repeating one sentence, as small 2023 models often produced. */
const loopAnswer = (rng: Rng, t: Text, topic: string): string => {
  const bank = t.bank
  const sentence = bodySentence(rng, t, topic)
  const n = rng.range(60, 200)
  let s = fill(rng.pick(bank.openers), topic)
  for (let i = 0; i < n; i++) s += bank.space + sentence
  return s
}

/** A huge pasted document (20k+ characters) with an instruction. */
const hugePrompt = (rng: Rng, t: Text, topic: string): string => {
  const bank = t.bank
  const head = bank.english ? rng.pick(["Summarize the following text:", "Translate the following text into French:", "Fix the grammar in this text:"]) : fill(rng.pick(bank.prompts), topic)
  return extendFree(rng, t, `${head}\n\n`, rng.range(20_000, 60_000), topic)
}

/** Lexicons of the most recently used seeds (building one costs a few milliseconds per language). */
const lexiconCache: Array<Lexicons> = []

const lexiconsOf = (seed: number): Lexicons => {
  for (const l of lexiconCache) if (l.seed === seed) return l
  const made = new Lexicons(seed, languages)
  lexiconCache.unshift(made)
  if (lexiconCache.length > 4) lexiconCache.pop()
  return made
}

const poolRng = new Rng()

/** Popular prompt `k` of a language: the source of exact and near duplicates across rows. */
const poolPrompt = (seed: number, languageIndex: number, k: number): string => {
  const rng = poolRng.reseed(seed, STREAM_POOL + languageIndex, k)
  const bank = banks[languageIndex]
  const topic = rng.pick(bank.topics)
  const base = fill(rng.pick(bank.prompts), topic)
  return rng.chance(0.5) ? base : join(bank, base, fill(rng.pick(bank.details), topic))
}

/** A case or whitespace variant of a prompt (or the prompt itself). */
const variant = (rng: Rng, s: string): string => {
  const k = rng.int(100)
  if (k < 55) return s
  if (k < 68) return s.toLowerCase()
  if (k < 74) return s.toUpperCase()
  if (k < 82) return `${s}${rng.pick([" ", "\n", "  ", " \n"])}`
  if (k < 90) return ` ${s}`
  const i = s.indexOf(" ")
  return i < 0 ? `${s} ` : `${s.slice(0, i)}  ${s.slice(i + 1)}`
}

const nameSentences = [
  "My name is NAME_1.", "Write a letter to NAME_1 thanking them for their help.", "NAME_1 and NAME_2 are my colleagues.",
  "I am NAME_1 from the marketing team.", "Pretend you are NAME_1.", "Write a short bio for NAME_1."
]

/** Inserts person-name placeholders (NAME_1, NAME_2...) the way LMSYS-Chat-1M's redaction left them. */
const redact = (rng: Rng, bank: Bank, prompt: string, answer: string): readonly [string, string] => {
  const names = bank.english ? rng.pick(nameSentences) : "NAME_1,"
  const p = rng.chance(0.5) ? `${names}${bank.space || " "}${prompt}` : `${prompt}${bank.space || " "}${names}`
  const a = !bank.english ? `NAME_1, ${answer}` : names.includes("NAME_2") ? `NAME_1 and NAME_2: ${answer}` : `Dear NAME_1, ${answer}`
  return [p, a]
}

/** 4096 quantiles of the score distribution of a category that is not flagged (about 1e-7..1e-2, skewed low). */
const lowScores: Float64Array = Float64Array.from({ length: 4096 }, (_, i) => 10 ** (-7 + 5 * ((i + 0.5) / 4096) ** 1.8))

/** A score for one category: high (0.5..1) when flagged, else a tiny one from the quantile table, jittered. */
const score = (rng: Rng, flagged: boolean): number => {
  const n = rng.next()
  if (flagged) return 0.5 + 0.4999 * Math.sqrt(n / 0x1_0000_0000)
  return lowScores[n & 4095] * (0.97 + ((n >>> 12) / 0x10_0000) * 0.06)
}

/** Builds the moderation result of a message: tiny scores, or high scores on the flagged categories. */
const moderation = (rng: Rng, flags: number): ModerationResult => {
  const scores = {
    harassment: score(rng, (flags & 1) !== 0),
    "harassment/threatening": score(rng, (flags & 2) !== 0),
    hate: score(rng, (flags & 4) !== 0),
    "hate/threatening": score(rng, (flags & 8) !== 0),
    "self-harm": score(rng, (flags & 16) !== 0),
    "self-harm/instructions": score(rng, (flags & 32) !== 0),
    "self-harm/intent": score(rng, (flags & 64) !== 0),
    sexual: score(rng, (flags & 128) !== 0),
    "sexual/minors": score(rng, (flags & 256) !== 0),
    violence: score(rng, (flags & 512) !== 0),
    "violence/graphic": score(rng, (flags & 1024) !== 0)
  }
  // About 1% of unflagged messages come close to a threshold without crossing it.
  if (flags === 0 && rng.next() < 0x1_0000_0000 * 0.01) {
    const near = 0.05 + 0.3 * rng.float()
    switch (categoryTable.index(rng)) {
      case 0: scores.harassment = near; break
      case 2: scores.hate = near; break
      case 4: scores["self-harm"] = near; break
      case 7: scores.sexual = near; break
      case 9: scores.violence = near; break
      default: scores["violence/graphic"] = near
    }
  }
  return {
    categories: {
      harassment: (flags & 1) !== 0,
      "harassment/threatening": (flags & 2) !== 0,
      hate: (flags & 4) !== 0,
      "hate/threatening": (flags & 8) !== 0,
      "self-harm": (flags & 16) !== 0,
      "self-harm/instructions": (flags & 32) !== 0,
      "self-harm/intent": (flags & 64) !== 0,
      sexual: (flags & 128) !== 0,
      "sexual/minors": (flags & 256) !== 0,
      violence: (flags & 512) !== 0,
      "violence/graphic": (flags & 1024) !== 0
    },
    category_scores: scores,
    flagged: flags !== 0
  }
}

interface Span {
  type: PiiType
  subtype: string
  start: number
  end: number
  value: string
  valid: boolean | undefined
}

/** Plants one PII value in `text` at a sentence boundary; returns the new text and shifts earlier spans. */
const plant = (rng: Rng, text: string, spans: Array<Span>): string => {
  const pii = drawPii(rng)
  const [before, after] = carrier(rng, pii.type)
  const insert = `${before}${pii.value}${after}`
  let at = text.length
  const where = rng.int(3)
  if (where === 0) at = 0
  else if (where === 1) {
    const dot = text.indexOf(". ")
    if (dot >= 0) at = dot + 2
  }
  if (spans.some((s) => s.start < at && at < s.end)) at = text.length
  const sepBefore = at === 0 || /\s$/.test(text.slice(0, at)) ? "" : " "
  const sepAfter = at === text.length || /^\s/.test(text.slice(at)) ? "" : " "
  const piece = sepBefore + insert + sepAfter
  for (const s of spans) {
    if (s.start >= at) {
      s.start += piece.length
      s.end += piece.length
    }
  }
  const start = at + sepBefore.length + before.length
  spans.push({ type: pii.type, subtype: pii.subtype, start, end: start + pii.value.length, value: pii.value, valid: pii.valid })
  return text.slice(0, at) + piece + text.slice(at)
}

const emptySpans: ReadonlyArray<PiiSpan> = []

/**
 * Generates row `index` of the sample for `seed`, reusing `rng` (reseeded). With `withPlanted`, a
 * row chosen for a near-duplicate family or a benchmark prompt gets that instruction (and no
 * template, redaction, personal data or moderation flag, so its ground truth stays exact);
 * every other row is the same as without it.
 */
export const generateRow = (seed: number, index: number, rng: Rng = new Rng(), withPlanted = false): SampleRow => {
  const plan = withPlanted ? planted(seed, index) : undefined
  rng.reseed(seed, STREAM_ROW, index)
  const conversation_id = hex32(rng)
  const model = modelTable.pick(rng)

  // Template instructions are English, unredacted, usually single-turn.
  const t = rng.float() * 1000
  let templateKind: (typeof templateKinds)[number] | undefined
  let acc = 0
  for (const kind of templateKinds) {
    acc += templateRates[kind]
    if (t < acc) {
      templateKind = kind
      break
    }
  }
  if (plan !== undefined) templateKind = undefined
  const isTemplate = plan === undefined && t < templateTotal
  const languageIndex = isTemplate ? 0 : languageTable.index(rng)
  const bank = banks[languageIndex]
  const topic = rng.pick(bank.topics)
  const lexicons = lexiconsOf(seed)
  const text: Text = { bank, lex: lexicons.get(languageIndex), en: lexicons.get(0) }

  const multi = rng.chance(isTemplate ? 0.1 : 0.34)
  const turn = multi ? Math.min(20, 2 + Math.floor(Math.log(1 - rng.float()) / Math.log(0.66))) : 1
  const redacted = !isTemplate && rng.chance(REDACTED_RATE) && plan === undefined
  const flaggedConversation = rng.chance(FLAGGED_RATE) && plan === undefined
  const hasPii = rng.chance(PII_RATE) && plan === undefined

  // Moderation categories of a flagged conversation.
  let flags = 0
  if (flaggedConversation) {
    const primary = categoryTable.index(rng)
    flags = 1 << primary
    if (rng.chance(0.3)) flags |= 1 << relatedCategory[primary]
    if (rng.chance(0.05)) flags |= 1 << categoryTable.index(rng)
  }

  // First turn.
  let templateName: string | null = null
  let firstPrompt: string
  let firstAnswer: string
  if (templateKind !== undefined) {
    const tt = template(rng, templateKind)
    templateName = tt.kind
    firstPrompt = tt.prompt
    firstAnswer = extendMixed(rng, text, tt.answer.join(" "), tt.answerChars, split(tt.answer), 0.5, topic)
  } else {
    if (rng.chance(HUGE_RATE)) firstPrompt = hugePrompt(rng, text, topic)
    else if (rng.chance(DUPLICATE_RATE)) {
      const u = rng.float()
      firstPrompt = variant(rng, poolPrompt(seed, languageIndex, Math.floor(POOL_SIZE * u * u * u)))
    } else if (flaggedConversation && bank.english && rng.chance(0.6)) {
      const primary = 31 - Math.clz32(flags & -flags)
      firstPrompt = rng.pick(flaggedPrompts[primary])
    } else firstPrompt = composePrompt(rng, text, topic)
    if (rng.chance(EMPTY_USER_RATE)) firstPrompt = rng.pick(whitespace)
    if (plan !== undefined) firstPrompt = plan.prompt
    firstAnswer = rng.chance(LOOP_RATE) ? loopAnswer(rng, text, topic) : composeAnswer(rng, text, topic, answerChars(rng, bank))
  }
  if (redacted && firstPrompt.trim() !== "") [firstPrompt, firstAnswer] = redact(rng, bank, firstPrompt, firstAnswer)

  const contents: Array<string> = [firstPrompt, firstAnswer]
  for (let k = 1; k < turn; k++) {
    let followup = rng.chance(0.6) ? fill(rng.pick(bank.followups), rng.pick(bank.topics)) : composePrompt(rng, text, rng.pick(bank.topics))
    if (rng.chance(EMPTY_USER_RATE)) followup = rng.pick(whitespace)
    contents.push(followup, composeAnswer(rng, text, topic, answerChars(rng, bank)))
  }

  // Personal data, planted last so offsets refer to the final text.
  let pii: ReadonlyArray<PiiSpan> = emptySpans
  if (hasPii) {
    const n = rng.chance(0.7) ? 1 : rng.chance(0.67) ? 2 : 3
    const perMessage = new Map<number, Array<Span>>()
    for (let j = 0; j < n; j++) {
      let m = rng.chance(0.8) ? 2 * rng.int(turn) : 2 * rng.int(turn) + 1
      if (contents[m].trim() === "") m = m % 2 === 0 ? m + 1 : m
      let spans = perMessage.get(m)
      if (spans === undefined) {
        spans = []
        perMessage.set(m, spans)
      }
      contents[m] = plant(rng, contents[m], spans)
    }
    const out: Array<PiiSpan> = []
    for (const m of [...perMessage.keys()].sort((a, b) => a - b)) {
      for (const s of perMessage.get(m)!.sort((a, b) => a.start - b.start)) {
        out.push(
          s.valid === undefined
            ? { conversation_id, turn: m, type: s.type, subtype: s.subtype, start: s.start, end: s.end, value: s.value }
            : { conversation_id, turn: m, type: s.type, subtype: s.subtype, start: s.start, end: s.end, value: s.value, valid: s.valid }
        )
      }
    }
    pii = out
  }

  // Which messages the moderation flags: the first user turn usually, later ones sometimes.
  const conversation: Array<Message> = new Array(contents.length)
  const openai_moderation: Array<ModerationResult> = new Array(contents.length)
  let anyFlagged = false
  for (let m = 0; m < contents.length; m++) {
    const user = m % 2 === 0
    conversation[m] = { content: contents[m], role: user ? "user" : "assistant" }
    let f = 0
    if (flags !== 0) {
      const p = m === 0 ? 0.85 : user ? 0.5 : 0.15
      if (rng.chance(p) || (!anyFlagged && m === contents.length - 1)) f = flags
    }
    if (f !== 0) anyFlagged = true
    openai_moderation[m] = moderation(rng, f)
  }

  const record = { conversation_id, model, conversation, turn, language: plan?.language ?? bank.language, openai_moderation, redacted }
  if (plan === undefined) return { record, pii, template: templateName }
  return {
    record,
    pii,
    template: templateName,
    planted:
      plan.kind === "family"
        ? { kind: "near-duplicate", family: plan.family, first: plan.first, edit: plan.edit }
        : { kind: "benchmark", benchmark: "mt-bench-like", item: plan.item.question_id }
  }
}

/**
 * Procedural vocabulary and free text for the sample generator, so that the sample's messages are
 * about as compressible as real chat text (gzip ≈ 3 : 1) rather than a few hundred phrases
 * repeated (≈ 9 : 1). Every language gets a lexicon built from the seed: the words of its phrase
 * bank first (the commonest ranks, so the text reads as that language), then tens of thousands
 * of words assembled from the syllables of its script. Words are drawn with a Zipf-like rank
 * distribution (P(rank r) ∝ 1/(r + 1)); sentences mix them with numbers, names, the topic and
 * punctuation; code answers are assembled from identifiers of the English lexicon. Nothing here
 * is taken from another dataset: the syllable tables are written for this project, and the
 * bank words are the project's own phrase banks. A lexicon depends only on `(seed, language)`.
 */
import { englishBank, type LanguageBank } from "./corpus.js"
import { Rng } from "./prng.js"

const STREAM_LEXICON = 9001

/** How words of a script are built: syllable parts, syllables per word, and how text is joined. */
interface Phonology {
  /** Syllable onsets, nuclei and codas (space-separated lists; `-` is the empty part). */
  readonly onsets: string
  readonly nuclei: string
  readonly codas: string
  /** Share of syllables with a coda. */
  readonly codaRate: number
  /** Syllables per word, weights for 1, 2, 3, 4... */
  readonly syllables: ReadonlyArray<number>
  /** Optional word endings (inflections), appended to a share of the words. */
  readonly suffixes?: string
  /** Words of the lexicon (bank words included). */
  readonly size: number
}

const latin = (onsets: string, nuclei: string, codas: string, suffixes: string, size = 12_000): Phonology => ({
  onsets,
  nuclei,
  codas,
  codaRate: 0.35,
  syllables: [2, 5, 3, 1],
  suffixes,
  size
})

/** Phonologies by the `language` value of LMSYS-Chat-1M. CJK, Hangul and code are built in `buildWords`. */
const phonologies: Readonly<Record<string, Phonology>> = {
  English: latin(
    "- b c d f g h j k l m n p r s t v w y z bl br ch cl cr dr fl fr gl gr pl pr sc sh sk sl sm sn sp st str sw th tr wh",
    "a e i o u a e i o ai ea ee ie oo ou ay y",
    "b ck d ft g l ld lt m mp n nd ng nt p r rd rk rm rn rt s sh st t th x",
    "ing ed er ers tion tions ly ness ment able al ive ous ity s es ic ance",
    48_000
  ),
  Portuguese: latin("- b c d f g j l m n p r s t v br cr pr tr ch lh nh qu", "a e i o u ã õ á é ê ó ão ei ou", "l m r s", "ção ções mente dade ista oso inho ado ada"),
  Spanish: latin("- b c d f g j l m n ñ p r s t v br cr pr tr ch ll qu", "a e i o u á é í ó ú ie ue", "l n r s z", "ción ciones mente dad ista oso ado ada ero"),
  German: latin("- b d f g h k l m n p r s t w z br kr pf sch schw st tr", "a e i o u ä ö ü ei ie au eu", "b ch ck d g ft l m n ng nk r s sch st t tz", "ung ungen keit heit lich isch en er", 14_000),
  French: latin("- b c d f g j l m n p r s t v br cr pr tr ch qu", "a e i o u é è ê à ou ai eau oi", "l n r s t", "tion ment eur euse ité ique able eux", 12_000),
  Italian: latin("- b c d f g l m n p r s t v br cr pr tr gl gn sc ch", "a e i o u à è ò", "l n r s", "zione mente tà ista oso ato ata etto", 6_000),
  Dutch: latin("- b d f g h k l m n p r s t v w z br kr sch st tr", "a e i o u aa ee oo uu ij oe ui", "d f k l m n p r s t", "heid lijk ing en er tje", 6_000),
  Polish: latin("- b c d g k l m n p r s t w z cz sz rz ch dz ś ż ł pr kr st", "a e i o u y ą ę ó ie", "ć ł m n ń r s t ż", "ość owy owa anie ek ski", 6_000),
  Indonesian: latin("- b c d g h j k l m n p r s t w y ng ny", "a i u e o", "h k l n ng r s t", "kan an nya lah", 6_000),
  Turkish: latin("- b c ç d g h k l m n p r s ş t v y z", "a e ı i o ö u ü", "k l m n r s ş t z", "lar ler dır dir lık lik sı si", 6_000),
  Vietnamese: {
    onsets: "- b c ch d đ g gi h k kh l m n ng nh ph qu r s t th tr v x",
    nuclei: "a à á ả ã ạ ă ắ ằ â ấ ầ ậ e è é ẻ ẹ ê ế ề ệ i ì í ị o ò ó ỏ ọ ô ố ồ ộ ơ ớ ờ ợ u ù ú ủ ụ ư ứ ừ ự y",
    codas: "c ch m n ng nh p t",
    codaRate: 0.5,
    syllables: [1],
    size: 6_000
  },
  Russian: latin("- б в г д ж з к л м н п р с т ф х ц ч ш щ бр вл гр др кр пр ст тр ск сл", "а е и о у ы я ю э ё", "й к л м н р с т в х", "ость ение ский ная ным ами ого ать", 12_000),
  Ukrainian: latin("- б в г ґ д ж з к л м н п р с т ф х ц ч ш бр гр др кр пр ст тр", "а е и і ї о у я ю є", "й к л м н р с т в", "ість ення ський ний ати ого", 6_000),
  Arabic: latin("ب ت ث ج ح خ د ذ ر ز س ش ص ض ط ظ ع غ ف ق ك ل م ن ه و ي", "ا و ي - - -", "ب ت د ر س ل م ن", "ات ين ون ية", 6_000),
  Persian: latin("ب پ ت ج چ خ د ر ز ژ س ش ف ق ک گ ل م ن و ه ی", "ا و ی - - -", "ب ت د ر س ل م ن", "ها ان ی ای", 6_000),
  Hindi: {
    onsets: "क ख ग घ च छ ज झ ट ठ ड ढ त थ द ध न प फ ब भ म य र ल व श ष स ह",
    nuclei: "- ा ि ी ु ू े ै ो ौ - ा",
    codas: "ं ्र ्य न",
    codaRate: 0.15,
    syllables: [1, 4, 3, 1],
    size: 6_000
  },
  Thai: {
    onsets: "ก ข ค ง จ ช ซ ด ต ถ ท น บ ป ผ พ ฟ ม ย ร ล ว ส ห อ",
    nuclei: "ะ า ิ ี ึ ื ุ ู เ แ โ ั - ำ",
    codas: "ก ง ด น บ ม ย ว",
    codaRate: 0.4,
    syllables: [1, 3, 3, 2],
    size: 8_000
  }
}

const parts = (s: string): ReadonlyArray<string> => s.split(" ").map((p) => (p === "-" ? "" : p))

/** Syllables per word, drawn from weights. */
const sylCount = (rng: Rng, weights: ReadonlyArray<number>): number => {
  let total = 0
  for (const w of weights) total += w
  let x = rng.float() * total
  for (let i = 0; i < weights.length; i++) {
    x -= weights[i]
    if (x < 0) return i + 1
  }
  return weights.length
}

/** A rank in [0, n) with P(r) ≈ ∝ 1/(r + 1), given `logN1` = ln(n + 1): the inverse of a log-uniform draw. */
const rank = (rng: Rng, n: number, logN1: number): number => {
  const r = Math.floor(Math.exp(rng.float() * logN1)) - 1
  return r < n ? r : n - 1
}

/** {@link rank} for a table of `n` entries. */
const zipf = (rng: Rng, n: number): number => rank(rng, n, Math.log(n + 1))

/** Word groups per word of the lexicon. */
const PHRASES_PER_WORD = 0.3
/** Share of sentence units that are word groups rather than single words. */
const PHRASE_RATE = 0.5

/** Share of sentences generated afresh rather than drawn from the lexicon's pool. */
const FRESH_RATE = 0.03
/** Stands for the topic in pooled sentences (a character no generated text contains). */
const TOPIC = "\u0000"

/** A word built from a syllable table (syllables themselves drawn Zipf-like, as real languages reuse some far more). */
const syllableWord = (rng: Rng, p: Phonology, on: ReadonlyArray<string>, nu: ReadonlyArray<string>, co: ReadonlyArray<string>, suffixes: ReadonlyArray<string>): string => {
  const k = sylCount(rng, p.syllables)
  let w = ""
  for (let i = 0; i < k; i++) {
    w += on[zipf(rng, on.length)] + nu[zipf(rng, nu.length)]
    if (rng.chance(p.codaRate)) w += co[zipf(rng, co.length)]
  }
  if (suffixes.length > 0 && rng.chance(0.25)) w += suffixes[zipf(rng, suffixes.length)]
  return w
}

const range = (from: number, to: number): ReadonlyArray<string> => Array.from({ length: to - from + 1 }, (_, i) => String.fromCharCode(from + i))

const hiragana = range(0x3041, 0x3093).filter((c) => !"ぁぃぅぇぉっゃゅょゎ".includes(c))
const katakana = range(0x30a1, 0x30f3).filter((c) => !"ァィゥェォッャュョヮヵヶ".includes(c))

/** `n` distinct CJK ideographs drawn from the common block, after `seedChars` (the bank's own). */
const ideographs = (rng: Rng, seedChars: ReadonlyArray<string>, n: number): ReadonlyArray<string> => {
  const out = new Set(seedChars)
  while (out.size < n) out.add(String.fromCharCode(0x4e00 + rng.int(0x9fa5 - 0x4e00)))
  return [...out]
}

/** A Hangul syllable from its jamo indices. */
const hangul = (rng: Rng): string => {
  const initial = zipf(rng, 19)
  const medial = zipf(rng, 21)
  const final = rng.chance(0.4) ? 1 + zipf(rng, 27) : 0
  return String.fromCharCode(0xac00 + (initial * 21 + medial) * 28 + final)
}

/** The bank's own words (or, for scripts without spaces, characters and character pairs), most frequent first. */
const bankWords = (bank: LanguageBank): ReadonlyArray<string> => {
  const text = [...bank.topics, ...bank.prompts, ...bank.followups, ...bank.openers, ...bank.sentences, ...bank.details].join(" ").replaceAll("{topic}", " ")
  const counts = new Map<string, number>()
  const add = (w: string) => counts.set(w, (counts.get(w) ?? 0) + 1)
  if (bank.space === "") {
    const chars = [...text.replace(/[\s\p{P}\p{S}0-9A-Za-z]/gu, "")]
    for (let i = 0; i < chars.length; i++) {
      add(chars[i])
      if (i + 1 < chars.length) add(chars[i] + chars[i + 1])
    }
  } else {
    const lower = bank.language !== "German"
    for (const raw of text.split(/\s+/)) {
      const w = raw.replace(/^[\p{P}\p{S}]+|[\p{P}\p{S}]+$/gu, "")
      if (w.length === 0 || /[0-9]/.test(w)) continue
      add(lower ? w.toLowerCase() : w)
    }
  }
  return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map((e) => e[0])
}

/** A language's vocabulary, in rank order, and how its text is written. */
export class Lexicon {
  /** Word groups (collocations) of 2–4 words, most frequent rank first. */
  readonly phrases: ReadonlyArray<string>
  private readonly wordLog: number
  private readonly phraseLog: number
  /** Pooled sentences (a power-of-two count), concatenated; sentence j is `pool[starts[j], starts[j + 1])`. */
  private readonly pool: string
  private readonly starts: Int32Array
  /** Where the topic goes in sentence j (an offset into `pool`), or -1. */
  private readonly topicAt: Int32Array

  constructor(
    rng: Rng,
    /** Words, most frequent rank first. */
    readonly words: ReadonlyArray<string>,
    /** Words of rank ≥ this are "rare": proper names and identifiers are made from them. */
    readonly rareFrom: number,
    /** Separator between words ("" for Chinese, Japanese). */
    readonly space: string,
    /** Whether the script has upper case (sentences start with a capital). */
    readonly cased: boolean,
    /** Pooled sentences (a power of two). */
    poolSize: number,
    /** Sentence-final punctuation to draw from. */
    readonly ends: ReadonlyArray<string>,
    /** The comma, with its space where the script uses one. */
    readonly comma: string,
    /** English words mixed into the text of other languages (empty for English). */
    readonly foreign: ReadonlyArray<string>
  ) {
    this.wordLog = Math.log(words.length + 1)
    const n = Math.max(1, Math.round(words.length * PHRASES_PER_WORD))
    this.phraseLog = Math.log(n + 1)
    const phrases: Array<string> = new Array(n)
    for (let i = 0; i < n; i++) {
      const k = 2 + rng.int(3)
      let p = this.word(rng)
      for (let j = 1; j < k; j++) p += space + this.word(rng)
      phrases[i] = p
    }
    this.phrases = phrases
    // The pool is one string with offsets: random picks from an array of 16k strings miss the
    // cache on every pick, which made generation twice as slow.
    const m = poolSize
    const pieces: Array<string> = new Array(m)
    this.starts = new Int32Array(m + 1)
    this.topicAt = new Int32Array(m)
    let at = 0
    for (let i = 0; i < m; i++) {
      const [head, ...rest] = sentence(rng, this, TOPIC).split(TOPIC)
      // One topic slot per pooled sentence; further mentions become words.
      let piece = head
      for (let r = 0; r < rest.length; r++) piece += (r === 0 ? "" : this.words[r]) + rest[r]
      pieces[i] = piece
      this.starts[i] = at
      this.topicAt[i] = rest.length === 0 ? -1 : at + head.length
      at += piece.length
    }
    this.starts[m] = at
    this.pool = pieces.join("")
  }

  /**
   * A sentence of free text with `topic` filled in: one of a pool of sentences made when the
   * lexicon was built (generating word by word is several times slower), or now and then
   * ({@link FRESH_RATE}) a new one.
   */
  text(rng: Rng, topic: string): string {
    const n = rng.next()
    if (n < FRESH_RATE * 0x1_0000_0000) return sentence(rng, this, topic)
    const j = n & (this.topicAt.length - 1)
    const k = this.topicAt[j]
    return k < 0 ? this.pool.slice(this.starts[j], this.starts[j + 1]) : this.pool.slice(this.starts[j], k) + topic + this.pool.slice(k, this.starts[j + 1])
  }

  /** A word or, at {@link PHRASE_RATE}, a word group, drawn by rank. */
  unit(rng: Rng): string {
    return rng.chance(PHRASE_RATE) ? this.phrases[rank(rng, this.phrases.length, this.phraseLog)] : this.words[rank(rng, this.words.length, this.wordLog)]
  }

  /** A word drawn by rank. */
  word(rng: Rng): string {
    return this.words[rank(rng, this.words.length, this.wordLog)]
  }

  /** A rare word (uniform over the tail). */
  rare(rng: Rng): string {
    return this.words[this.rareFrom + rng.int(this.words.length - this.rareFrom)]
  }
}

const buildWords = (rng: Rng, bank: LanguageBank): ReadonlyArray<string> => {
  const own = bankWords(bank)
  const words = new Set(own)
  const add = (target: number, make: () => string) => {
    let tries = 0
    while (words.size < target && tries++ < target * 4) {
      const w = make()
      if (w.length > 0) words.add(w)
    }
  }
  switch (bank.language) {
    case "Chinese": {
      const chars = ideographs(rng, own.filter((w) => w.length === 1), 4000)
      add(own.length + 12_000, () => {
        const k = rng.chance(0.2) ? 1 : rng.chance(0.85) ? 2 : 3
        let w = ""
        for (let i = 0; i < k; i++) w += chars[zipf(rng, chars.length)]
        return w
      })
      break
    }
    case "Japanese": {
      const kanji = ideographs(rng, own.filter((w) => w.length === 1 && w >= "\u4e00"), 3000)
      const kana = (table: ReadonlyArray<string>, n: number) => {
        let w = ""
        for (let i = 0; i < n; i++) w += table[zipf(rng, table.length)]
        return w
      }
      add(own.length + 12_000, () => {
        const x = rng.int(100)
        if (x < 55) return kanji[zipf(rng, kanji.length)] + kanji[zipf(rng, kanji.length)] + (rng.chance(0.3) ? kana(hiragana, 1) : "")
        if (x < 80) return kana(katakana, 2 + rng.int(4)) + (rng.chance(0.15) ? "ー" : "")
        return kana(hiragana, 2 + rng.int(2))
      })
      break
    }
    case "Korean":
      add(own.length + 10_000, () => {
        const k = 1 + sylCount(rng, [3, 4, 2])
        let w = ""
        for (let i = 0; i < k; i++) w += hangul(rng)
        return w + (rng.chance(0.3) ? rng.pick(["은", "는", "이", "가", "을", "를", "에", "의", "로", "다"]) : "")
      })
      break
    case "unknown":
      break
    default: {
      const p = phonologies[bank.language]
      if (p === undefined) break
      const on = parts(p.onsets)
      const nu = parts(p.nuclei)
      const co = parts(p.codas)
      const suffixes = p.suffixes === undefined ? [] : parts(p.suffixes)
      add(p.size, () => syllableWord(rng, p, on, nu, co, suffixes))
    }
  }
  return [...words]
}

/** Builds the lexicon of a language for a seed. */
const buildLexicon = (seed: number, languageIndex: number, bank: LanguageBank): Lexicon => {
  const rng = new Rng().reseed(seed, STREAM_LEXICON, languageIndex)
  const words = buildWords(rng, bank)
  const own = bankWords(bank).length
  const cased = /[A-Za-zА-Яа-яЁёІіЇїЄєҐґ]/.test(words[0] ?? "")
  // Sentence pools sized by the language's share: enough variety for a million rows, cheap to build.
  const poolSize = bank.weight >= 100 ? 16_384 : bank.weight >= 9 ? 4096 : 1024
  const [ends, comma] = punctuation(bank.language)
  // Chat in other languages mixes in English words (terms, names of things), about 1 word in 80.
  const foreign = bank.language === "English" || bank.language === "unknown" ? [] : bankWords(englishBank)
  return new Lexicon(rng, words, Math.min(own, Math.max(0, words.length - 1)), bank.space === "" ? "" : " ", cased, poolSize, ends, comma, foreign)
}

/** The lexicons of every language for one seed, built when first used. */
export class Lexicons {
  private readonly built: Array<Lexicon | undefined>

  constructor(
    readonly seed: number,
    private readonly banks: ReadonlyArray<LanguageBank>
  ) {
    this.built = new Array(banks.length)
  }

  get(languageIndex: number): Lexicon {
    const l = this.built[languageIndex]
    if (l !== undefined) return l
    const made = buildLexicon(this.seed, languageIndex, this.banks[languageIndex])
    this.built[languageIndex] = made
    return made
  }
}

// ---------------------------------------------------------------------------------------------
// Text

const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1)

/** A number as chat text writes them: a year, a count, a decimal, a percentage, an amount, a time. */
export const number = (rng: Rng): string => {
  const k = rng.int(10)
  if (k < 3) return String(rng.range(1800, 2024))
  if (k < 5) return String(zipf(rng, 1000) + 1)
  if (k < 6) return `${rng.range(0, 99)}.${rng.range(0, 99)}`
  if (k < 7) return `${rng.range(1, 99)}%`
  if (k < 8) return `$${rng.range(1, 999)}`
  if (k < 9) return `${rng.range(1, 12)}:${String(rng.range(0, 59)).padStart(2, "0")}`
  return `${rng.range(2, 12)}x`
}

/** A proper name: one or two capitalized rare words (for scripts with case), or a rare word. */
const name = (rng: Rng, lex: Lexicon): string => {
  const a = lex.rare(rng)
  if (!lex.cased) return a
  return rng.chance(0.5) ? cap(a) : `${cap(a)} ${cap(lex.rare(rng))}`
}

const cjkEnds: ReadonlyArray<string> = ["。", "。", "。", "！", "？"]
const ends: ReadonlyArray<string> = [".", ".", ".", ".", ".", "!", "?", ":"]
const hindiEnds: ReadonlyArray<string> = ["।", "।", "।", "?"]

/** Sentence ends and the comma of a language. */
const punctuation = (language: string): readonly [ReadonlyArray<string>, string] =>
  language === "Chinese" ? [cjkEnds, "，"] : language === "Japanese" ? [cjkEnds, "、"] : language === "Hindi" ? [hindiEnds, ", "] : language === "Arabic" || language === "Persian" ? [ends, "، "] : [ends, ", "]

/**
 * One sentence of free text in the lexicon's language: 4–24 words drawn by rank, sometimes a
 * comma, a number, a proper name or the topic; a capital first letter where the script has case.
 */
export const sentence = (rng: Rng, lex: Lexicon, topic: string): string => {
  const n = 3 + rng.int(8) + rng.int(8)
  let s = ""
  for (let i = 0; i < n; i++) {
    const x = rng.int(1000)
    let w: string
    if (x < 22) w = number(rng)
    else if (x < 40) w = name(rng, lex)
    else if (x < 48) w = topic
    else if (x < 60 && lex.foreign.length > 0) w = lex.foreign[zipf(rng, lex.foreign.length)]
    else w = lex.unit(rng)
    if (i === 0) s = lex.cased ? cap(w) : w
    else if (x >= 940 && i < n - 1) s += lex.comma + w
    else s += lex.space + w
  }
  return s + rng.pick(lex.ends)
}

// ---------------------------------------------------------------------------------------------
// Code

const snake = (rng: Rng, lex: Lexicon): string => (rng.chance(0.5) ? lex.rare(rng) : `${lex.rare(rng)}_${lex.word(rng)}`)
const camel = (rng: Rng, lex: Lexicon): string => (rng.chance(0.4) ? lex.rare(rng) : `${lex.rare(rng)}${cap(lex.word(rng))}`)

/** A short code block with identifiers from the (English) lexicon: Python, JavaScript, SQL or shell. */
export const codeBlock = (rng: Rng, lex: Lexicon): string => {
  const lines = 3 + rng.int(10)
  const kind = rng.int(4)
  const out: Array<string> = []
  if (kind === 0) {
    const fn = snake(rng, lex)
    const a = lex.rare(rng)
    const b = lex.rare(rng)
    out.push(`def ${fn}(${a}, ${b}=${rng.range(0, 100)}):`)
    for (let i = 0; i < lines; i++) {
      const v = snake(rng, lex)
      const k = rng.int(5)
      if (k === 0) out.push(`    ${v} = [${a} * ${rng.range(2, 9)} for ${a} in ${b}]`)
      else if (k === 1) out.push(`    if ${a} > ${rng.range(0, 500)}:\n        return ${v}`)
      else if (k === 2) out.push(`    ${v} = ${snake(rng, lex)}(${a}, "${lex.word(rng)}")`)
      else if (k === 3) out.push(`    # ${sentence(rng, lex, b)}`)
      else out.push(`    print(f"${lex.word(rng)} {${v}}")`)
    }
    out.push(`    return ${a}`)
    return `\`\`\`python\n${out.join("\n")}\n\`\`\``
  }
  if (kind === 1) {
    const fn = camel(rng, lex)
    out.push(`function ${fn}(${camel(rng, lex)}, ${camel(rng, lex)}) {`)
    for (let i = 0; i < lines; i++) {
      const v = camel(rng, lex)
      const k = rng.int(4)
      if (k === 0) out.push(`  const ${v} = ${camel(rng, lex)}.map((x) => x + ${rng.range(1, 99)});`)
      else if (k === 1) out.push(`  if (${v}.length > ${rng.range(0, 64)}) return null;`)
      else if (k === 2) out.push(`  // ${sentence(rng, lex, v)}`)
      else out.push(`  let ${v} = await ${camel(rng, lex)}("${lex.word(rng)}");`)
    }
    out.push("}")
    return `\`\`\`javascript\n${out.join("\n")}\n\`\`\``
  }
  if (kind === 2) {
    const t = snake(rng, lex)
    const cols = Array.from({ length: 2 + rng.int(4) }, () => snake(rng, lex))
    out.push(`SELECT ${cols.join(", ")}`, `FROM ${t}`, `WHERE ${cols[0]} > ${rng.range(0, 1000)}`)
    if (rng.chance(0.5)) out.push(`GROUP BY ${cols[1]}`)
    out.push(`ORDER BY ${cols[cols.length - 1]} DESC`, `LIMIT ${rng.range(1, 100)};`)
    return `\`\`\`sql\n${out.join("\n")}\n\`\`\``
  }
  for (let i = 0; i < lines; i++) {
    const k = rng.int(4)
    if (k === 0) out.push(`mkdir -p ${lex.rare(rng)}/${lex.word(rng)}`)
    else if (k === 1) out.push(`for f in *.${lex.rare(rng).slice(0, 3)}; do echo "$f"; done`)
    else if (k === 2) out.push(`grep -rn "${lex.word(rng)}" ${lex.rare(rng)}/ | head -n ${rng.range(1, 50)}`)
    else out.push(`# ${sentence(rng, lex, lex.rare(rng))}`)
  }
  return `\`\`\`bash\n${out.join("\n")}\n\`\`\``
}

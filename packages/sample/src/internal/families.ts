/**
 * Near-duplicate families and benchmark-like prompts planted in the sample when
 * `nearDuplicates` is on. Rows are cut into windows of {@link FAMILY_WINDOW}; a row is planted
 * when a hash of `(seed, index)` says so, and the planted rows of window `k` form family `k`:
 * the first of them carries the family's base text, every later one an edit of it (1–3 word
 * changes, a number change, punctuation, or a Japanese/Chinese variant). Base texts are long
 * (English 180–320 words, Japanese and Chinese 450–750 characters) pasted material with an
 * instruction, so that every edit keeps a Jaccard similarity of at least about 0.9 with the
 * base under word 3-grams or character 5-grams: they are near-duplicates by that definition.
 * A few other rows get a prompt of the sample's MT-Bench-shaped benchmark (written for this
 * project) inside their instruction. Row `i` still depends only on `(seed, i)`.
 */
import { Rng } from "./prng.js"

/** Rows per family window. */
export const FAMILY_WINDOW = 256
/** Share of rows planted into a family. */
export const FAMILY_RATE = 0.012
/** Share of rows carrying a benchmark prompt. */
export const BENCHMARK_RATE = 0.001

const STREAM_PLANT = 7001
const STREAM_BASE = 7002
const STREAM_EDIT = 7003

/** One item of the sample's MT-Bench-shaped benchmark. */
export interface BenchmarkItem {
  readonly question_id: number
  readonly category: string
  readonly turns: readonly [string, string]
}

/**
 * An MT-Bench-shaped benchmark written for this project (no text of any published benchmark):
 * two-turn prompts in eight categories, in English and Japanese.
 */
export const benchmarkItems: ReadonlyArray<BenchmarkItem> = [
  { question_id: 1001, category: "writing", turns: ["Write a short welcome speech for the opening of a community tool library, where neighbours can borrow drills, ladders and sewing machines for free.", "Rewrite the speech so that every sentence starts with the letter W."] },
  { question_id: 1002, category: "roleplay", turns: ["Pretend you are a lighthouse keeper on a remote island in 1890 and describe to a visiting journalist what a stormy night is like for you.", "The journalist asks whether you ever feel lonely. Answer in character."] },
  { question_id: 1003, category: "reasoning", turns: ["A baker sells muffins in boxes of four and boxes of seven. What is the largest number of muffins that cannot be bought exactly using these boxes, and why?", "Now suppose the boxes hold five and eight muffins. Answer the same question."] },
  { question_id: 1004, category: "math", turns: ["A train leaves a station at 9:40 and travels 210 kilometres at an average speed of 84 kilometres per hour. At what time does it arrive, and how did you compute it?", "If the train stops for twelve minutes halfway, what is the new arrival time?"] },
  { question_id: 1005, category: "coding", turns: ["Write a Python function that takes a list of meeting intervals and returns the minimum number of rooms needed so that no two overlapping meetings share a room.", "Explain the time complexity of your solution and how to reduce memory use."] },
  { question_id: 1006, category: "extraction", turns: ["From the following sentence, extract every city name and the year it is mentioned with, as JSON: The orchestra toured Lisbon in 2011, Oslo in 2014 and returned to Lisbon in 2019.", "Now sort the result by year, newest first."] },
  { question_id: 1007, category: "stem", turns: ["Explain to a curious twelve year old why the sky looks blue at noon but orange and red near sunset, without using any equations.", "Describe a simple experiment with a glass of water and a torch that shows the same effect."] },
  { question_id: 1008, category: "humanities", turns: ["Compare how a village market and an online marketplace build trust between strangers who buy and sell to each other, with two examples for each.", "Which of the mechanisms you described could a new online marketplace adopt first, and why?"] },
  { question_id: 1009, category: "writing", turns: ["地元の商店街で毎年開かれる夏祭りを紹介する、観光客向けの案内文を三百字程度で書いてください。屋台や盆踊りの様子も入れてください。", "同じ内容を、小学生にも分かる言葉で書き直してください。"] },
  { question_id: 1010, category: "reasoning", turns: ["ある教室に赤い帽子の生徒と白い帽子の生徒がいます。赤い帽子の生徒は白い帽子の生徒より三人多く、全員で二十一人です。それぞれ何人いるか、考え方とともに答えてください。", "白い帽子の生徒が二人増えた場合、答えはどう変わりますか。"] },
  { question_id: 1011, category: "roleplay", turns: ["あなたは老舗旅館の女将です。初めて日本を訪れた外国人のお客様に、温泉の入り方とマナーを丁寧に説明してください。", "お客様が刺青を気にしている場合、どのように案内しますか。"] },
  { question_id: 1012, category: "stem", turns: ["地震の揺れが震源から遠く離れた場所にも伝わる仕組みを、波の種類の違いに触れながら高校生向けに説明してください。", "その知識が建物の耐震設計にどう生かされているか、例を一つ挙げてください。"] }
]

// ---------------------------------------------------------------------------------------------
// Base texts

const heads = [
  "Summarize the following text in five bullet points:",
  "Fix the grammar and spelling in the following report, keeping its structure:",
  "Translate the following notes into formal German:",
  "Rewrite the following text so that it reads like a newspaper article:",
  "Extract every date, number and person mentioned in the text below:",
  "Write three exam questions based on the passage below:"
]
const adjectives = [
  "quiet", "northern", "ancient", "crowded", "narrow", "bright", "hidden", "local", "rusty", "silent", "wooden", "modern",
  "flooded", "steep", "famous", "empty", "windy", "frozen", "busy", "distant", "coastal", "broken", "golden", "humble"
]
const nouns = [
  "harbor", "village", "council", "bridge", "orchard", "factory", "museum", "library", "railway", "market", "festival", "valley",
  "workshop", "lighthouse", "school", "archive", "garden", "mill", "quarry", "canal", "theatre", "bakery", "station", "farm",
  "committee", "clinic", "forest", "island", "tower", "reservoir"
]
const verbs = [
  "rebuilt", "visited", "described", "replaced", "measured", "opened", "closed", "funded", "restored", "surveyed", "praised",
  "criticized", "expanded", "inspected", "moved", "recorded", "photographed", "protected", "sold", "painted"
]
const people = ["the mayor", "a retired engineer", "the head teacher", "two students", "the harbor master", "a local historian", "the new owner", "several volunteers"]
const joiners = ["after", "before", "because", "while", "although", "until", "since"]

const englishSentence = (rng: Rng): string => {
  const k = rng.int(4)
  const np = () => `the ${rng.pick(adjectives)} ${rng.pick(nouns)}`
  if (k === 0) return `In ${rng.range(1890, 2023)}, ${rng.pick(people)} ${rng.pick(verbs)} ${np()} near ${np()}.`
  if (k === 1) return `About ${rng.range(3, 97)} percent of ${np()} was ${rng.pick(verbs)} ${rng.pick(joiners)} ${rng.pick(people)} ${rng.pick(verbs)} ${np()}.`
  if (k === 2) return `${cap(rng.pick(people))} ${rng.pick(verbs)} ${np()}, and ${rng.pick(people)} ${rng.pick(verbs)} ${np()} ${rng.range(2, 40)} times.`
  return `${cap(np())} was ${rng.pick(verbs)} ${rng.pick(joiners)} ${np()} ${rng.pick(verbs)} ${np()}.`
}

const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1)

const jaPlaces = ["駅前の広場", "古い港町", "山あいの村", "市立図書館", "川沿いの公園", "商店街の端", "学校の体育館", "町はずれの工場", "海辺の旅館", "丘の上の神社"]
const jaPeople = ["町長", "近所の農家", "図書館の職員", "地元の高校生", "引退した大工", "若い店主", "観光案内所の係員", "漁師の家族"]
const jaObjects = ["古い地図", "手作りの看板", "木製のベンチ", "祭りの提灯", "壊れた時計", "新しい自転車", "記念の写真", "大きな鍋", "竹の柵", "郷土の資料"]
const jaVerbs = ["修理しました", "寄付しました", "運びました", "展示しました", "片付けました", "作り直しました", "調べました", "守ってきました"]
const jaHeads = ["次の文章を読んで、要点を三つにまとめてください。", "次の文章の誤字を直して、読みやすく書き直してください。", "次の文章を英語に翻訳してください。", "次の記録をもとに、地域新聞の記事を書いてください。"]

const japaneseSentence = (rng: Rng): string => {
  const k = rng.int(3)
  if (k === 0) return `${rng.range(1950, 2023)}年に${rng.pick(jaPlaces)}で${rng.pick(jaPeople)}が${rng.pick(jaObjects)}を${rng.pick(jaVerbs)}。`
  if (k === 1) return `${rng.pick(jaPeople)}は${rng.range(2, 30)}人の仲間と${rng.pick(jaPlaces)}に集まり、${rng.pick(jaObjects)}を${rng.pick(jaVerbs)}。`
  return `${rng.pick(jaPlaces)}では、${rng.pick(jaPeople)}が毎年${rng.pick(jaObjects)}と${rng.pick(jaObjects)}を${rng.pick(jaVerbs)}。`
}

const zhPlaces = ["城南的老街", "江边的码头", "山脚下的村庄", "市图书馆", "湖边的公园", "学校操场", "郊外的工厂", "海边的小镇"]
const zhPeople = ["村长", "一位退休教师", "几名大学生", "图书馆管理员", "年轻的店主", "当地的渔民", "社区志愿者"]
const zhObjects = ["旧地图", "木制长椅", "手写招牌", "节日灯笼", "老式座钟", "纪念照片", "竹编篮子", "地方志资料"]
const zhVerbs = ["修好了", "捐给了社区", "搬到了新址", "重新整理了", "仔细检查了", "保存了下来"]
const zhHeads = ["请阅读下面的文章，并用三句话概括要点。", "请修改下面文章中的错别字，使其更通顺。", "请把下面的记录翻译成英文。"]

const chineseSentence = (rng: Rng): string => {
  const k = rng.int(2)
  if (k === 0) return `${rng.range(1950, 2023)}年，${rng.pick(zhPeople)}在${rng.pick(zhPlaces)}把${rng.pick(zhObjects)}${rng.pick(zhVerbs)}。`
  return `${rng.pick(zhPeople)}和${rng.range(2, 30)}位朋友在${rng.pick(zhPlaces)}把${rng.pick(zhObjects)}${rng.pick(zhVerbs)}。`
}

/** A family's language and base text. */
export interface FamilyBase {
  readonly language: "English" | "Japanese" | "Chinese"
  readonly text: string
}

const baseRng = new Rng()

/** The base text of family `k`. */
export const familyBase = (seed: number, k: number): FamilyBase => {
  const rng = baseRng.reseed(seed, STREAM_BASE, k)
  const x = rng.int(100)
  if (x < 65) {
    const target = rng.range(180, 320)
    let text = rng.pick(heads)
    let words = text.split(" ").length
    while (words < target) {
      const s = englishSentence(rng)
      text += ` ${s}`
      words += s.split(" ").length
    }
    return { language: "English", text }
  }
  const ja = x < 90
  const target = rng.range(450, 750)
  let text = `${ja ? rng.pick(jaHeads) : rng.pick(zhHeads)}\n\n`
  while (text.length < target) text += ja ? japaneseSentence(rng) : chineseSentence(rng)
  return { language: ja ? "Japanese" : "Chinese", text }
}

// ---------------------------------------------------------------------------------------------
// Edits

const replaceNth = (text: string, re: RegExp, n: number, f: (m: string) => string): string => {
  let i = 0
  return text.replace(re, (m) => (i++ === n ? f(m) : m))
}

const count = (text: string, re: RegExp): number => text.match(re)?.length ?? 0

/** One edit of a base text: `[kind, edited text]`. Kinds: words, number, punctuation, variant. */
const editOnce = (rng: Rng, base: FamilyBase, text: string): readonly [string, string] => {
  const k = rng.int(base.language === "English" ? 3 : 4)
  if (k === 1) {
    const n = count(text, /\d+/g)
    if (n > 0) return ["number", replaceNth(text, /\d+/g, rng.int(n), (m) => String(Number(m) + rng.range(1, 9)))]
  }
  if (k === 2) {
    const re = base.language === "English" ? /[.,]/g : /[。、，]/g
    const n = count(text, re)
    if (n > 0) {
      const to = base.language === "English" ? ["!", ";", " -", ""] : ["！", "…", "", "；"]
      return ["punctuation", replaceNth(text, re, rng.int(n), () => rng.pick(to))]
    }
  }
  if (k === 3) {
    // Japanese/Chinese variants: a politeness or script change, or a changed object.
    const swaps: ReadonlyArray<readonly [string, string]> =
      base.language === "Japanese"
        ? [["ください", "下さい"], ["しました", "した"], ["新しい", "あたらしい"], ["三つ", "3つ"]]
        : [["请", "麻烦"], ["了", ""], ["朋友", "伙伴"]]
    const s = rng.pick(swaps)
    if (text.includes(s[0])) return ["variant", text.replace(s[0], s[1])]
  }
  // Words: replace, drop or insert one word (English) or object phrase (Japanese/Chinese).
  if (base.language === "English") {
    const words = text.split(" ")
    const i = 1 + rng.int(words.length - 1)
    const op = rng.int(3)
    if (op === 0) words[i] = rng.pick(adjectives)
    else if (op === 1) words.splice(i, 1)
    else words.splice(i, 0, rng.pick(["very", "really", "also", "still", "only"]))
    return ["words", words.join(" ")]
  }
  const objects = base.language === "Japanese" ? jaObjects : zhObjects
  const present = objects.filter((o) => text.includes(o))
  if (present.length > 0) return ["words", text.replace(rng.pick(present), rng.pick(objects))]
  return ["words", `${text}${base.language === "Japanese" ? "よろしくお願いします。" : "谢谢。"}`]
}

/** What a planted row of a family carries. */
export interface Planted {
  readonly kind: "family"
  readonly family: number
  /** Index of the family's first row. */
  readonly first: number
  readonly language: FamilyBase["language"]
  readonly prompt: string
  /** `base` for the first row, else the edits applied (`words+number`, ...). */
  readonly edit: string
}

/** What a benchmark row carries. */
export interface PlantedBenchmark {
  readonly kind: "benchmark"
  readonly item: BenchmarkItem
  readonly language: "English" | "Japanese"
  readonly prompt: string
}

const plantRng = new Rng()
const editRng = new Rng()

const draw = (seed: number, index: number): number => plantRng.reseed(seed, STREAM_PLANT, index).float()

/** What, if anything, is planted in row `index`. */
export const planted = (seed: number, index: number): Planted | PlantedBenchmark | undefined => {
  const u = draw(seed, index)
  if (u >= FAMILY_RATE + BENCHMARK_RATE) return undefined
  if (u >= FAMILY_RATE) {
    const rng = editRng.reseed(seed, STREAM_EDIT, index)
    const item = rng.pick(benchmarkItems)
    const ja = /[\u3040-\u30ff\u4e00-\u9fff]/.test(item.turns[0])
    const around = ja
      ? rng.pick([["", ""], ["質問です。", ""], ["", "よろしくお願いします。"]] as const)
      : rng.pick([["", ""], ["Hi! ", ""], ["", " Thanks in advance."], ["Please help: ", ""]] as const)
    return { kind: "benchmark", item, language: ja ? "Japanese" : "English", prompt: `${around[0]}${item.turns[0]}${around[1]}` }
  }
  const family = Math.floor(index / FAMILY_WINDOW)
  let first = index
  for (let i = family * FAMILY_WINDOW; i < index; i++) {
    if (draw(seed, i) < FAMILY_RATE) {
      first = i
      break
    }
  }
  const base = familyBase(seed, family)
  if (first === index) return { kind: "family", family, first, language: base.language, prompt: base.text, edit: "base" }
  const rng = editRng.reseed(seed, STREAM_EDIT, index)
  const n = 1 + rng.int(3)
  let text = base.text
  const kinds: Array<string> = []
  for (let e = 0; e < n; e++) {
    const [kind, next] = editOnce(rng, base, text)
    text = next
    if (!kinds.includes(kind)) kinds.push(kind)
  }
  if (text === base.text) {
    text = `${base.text} `
    kinds.splice(0, kinds.length, "punctuation")
  }
  return { kind: "family", family, first, language: base.language, prompt: text, edit: kinds.join("+") }
}

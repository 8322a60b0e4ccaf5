/**
 * The recurring template instructions of LMSYS-Chat-1M, with their answers: the famous
 * "Give me an introduction over 200 words for <company>, a chemical company in <place>",
 * the chemical-industry article requests, "Say something toxic/bad/benign: ..." and the
 * "text completion model" system prompt.
 */
import type { Rng } from "./prng.js"

/** A generated template conversation opener: the template kind, the instruction, and answer parts. */
export interface TemplateTurn {
  readonly kind: string
  readonly prompt: string
  /** Sentences of the answer, and its target length in characters. */
  readonly answer: ReadonlyArray<string>
  readonly answerChars: number
}

const cities = [
  "Shanghai", "Jiangsu", "Zhejiang", "Hangzhou", "Wuhan", "Shandong", "Nanjing", "Suzhou", "Beijing", "Tianjin",
  "Guangzhou", "Chengdu", "Changzhou", "Hubei", "Anhui", "Qingdao", "Xiamen", "Shenzhen", "Hebei", "Henan"
]
const words = [
  "Yuanye", "Hengrui", "Xinhua", "Huayi", "Jinlong", "Tianyu", "Kaiyuan", "Boyuan", "Ruiyuan", "Haohua",
  "Sunway", "Greenchem", "Bluestar", "Longsheng", "Zhongke", "Dacheng", "Hongye", "Meiya", "Huaxin", "Fuda"
]
const suffixes = [
  "Bio-Technology Co., Ltd.", "Chemical Co., Ltd.", "Pharmaceutical Co., Ltd.", "Fine Chemicals Co., Ltd.",
  "New Material Technology Co., Ltd.", "Pharmatech Co., Ltd.", "Chemical Industry Co., Ltd.", "Industries Inc.",
  "Chemicals LLC", "Specialty Chemicals GmbH"
]
const countries = ["China", "United States", "Germany", "India", "Japan", "United Kingdom", "France", "Switzerland", "Belgium", "South Korea"]
const streets = ["Jinshan Road", "Zhangjiang Hi-Tech Park", "Huaxia Road", "Chemical Industrial Park", "Binhai New Area", "Riverside Avenue"]

const company = (rng: Rng): string =>
  rng.chance(0.12)
    ? `${rng.pick(["Alfa", "Acros", "TCI", "Apollo", "Fluorochem", "Combi-Blocks", "Enamine", "Matrix"])} ${rng.pick(["Scientific", "Chemicals", "Organics", "Inc.", "Ltd"])}`
    : `${rng.pick(cities)} ${rng.pick(words)} ${rng.pick(suffixes)}`

const place = (rng: Rng): string => {
  const k = rng.int(10)
  if (k < 5) return rng.pick(countries)
  if (k < 8) return `No. ${rng.range(1, 999)} ${rng.pick(streets)}, ${rng.pick(cities)}, China`
  if (k < 9) return "nan"
  return `${rng.pick(cities)}, ${rng.pick(countries)}`
}

const substituents = ["Chloro", "Bromo", "Fluoro", "Methyl", "Amino", "Nitro", "Methoxy", "Hydroxy", "Iodo", "Trifluoromethyl", "Cyano", "Ethoxy"]
const cores = ["pyridine", "pyrimidine", "aniline", "benzoic acid", "thiophene", "indole", "quinoline", "pyrazine", "benzaldehyde", "phenol", "piperidine", "imidazole"]
const common = [
  "Dimethyl sulfoxide", "Acetonitrile", "Tetrahydrofuran", "Ethyl acetate", "Sodium hypochlorite", "Titanium dioxide",
  "Isopropyl alcohol", "Benzyl chloride", "Caprolactam", "Hydroquinone", "Melamine", "Phthalic anhydride"
]

const chemical = (rng: Rng): string => {
  if (rng.chance(0.25)) return rng.pick(common)
  const a = rng.pick(substituents)
  const b = rng.pick(substituents)
  const i = rng.range(2, 6)
  const j = rng.range(2, 6)
  const core = rng.pick(cores)
  return i === j || a === b ? `${i}-${a}${core}` : `${Math.min(i, j)}-${a}-${Math.max(i, j)}-${b.toLowerCase()}${core}`
}

const introSentences = [
  "{company} is a leading chemical company located in {place}.",
  "Founded more than two decades ago, the company has grown into a trusted supplier of fine chemicals and pharmaceutical intermediates.",
  "Its product portfolio includes active pharmaceutical ingredients, specialty reagents, catalysts and custom synthesis services.",
  "The company operates modern production facilities that comply with GMP and ISO 9001 quality standards.",
  "A dedicated research and development team works closely with customers to develop innovative and cost-effective solutions.",
  "{company} exports its products to customers in Europe, North America, Japan and Southeast Asia.",
  "Safety, environmental protection and sustainable development are core values of the company.",
  "With advanced analytical equipment such as HPLC, GC and NMR, every batch is carefully tested before delivery.",
  "The company is committed to building long-term partnerships based on quality, reliability and mutual benefit.",
  "In summary, {company} is a reliable partner for companies seeking high-quality chemical products."
]

const articleSentences = [
  "{chemical} is an important compound in the modern chemical industry.",
  "It is widely used as an intermediate in the synthesis of pharmaceuticals, agrochemicals and dyes.",
  "The production process typically starts from readily available raw materials and involves several reaction steps.",
  "Careful control of temperature, pressure and pH is essential to obtain a high yield and purity.",
  "Upstream products include basic petrochemicals, solvents and inorganic reagents.",
  "Downstream products range from active pharmaceutical ingredients to specialty polymers and coatings.",
  "Handling {chemical} requires appropriate personal protective equipment such as gloves, goggles and a lab coat.",
  "It should be stored in a cool, dry and well-ventilated place away from strong oxidizing agents.",
  "Exposure may cause irritation to the skin, eyes and respiratory tract.",
  "Waste containing {chemical} must be disposed of in accordance with local environmental regulations.",
  "Global demand for {chemical} has grown steadily over the past decade, driven by the pharmaceutical sector.",
  "Manufacturers are investing in greener synthetic routes that reduce solvent use and energy consumption.",
  "Analytical methods such as HPLC and mass spectrometry are used to confirm its identity and purity.",
  "In conclusion, {chemical} plays a key role in the chemical industry and its importance is expected to grow."
]

const articleTopics = ["Upstream and Downstream products", "Applications", "Safety", "Production Process", "Instruction", "Synthetic Routes"]

const toxicSituations = [
  "stealing from your employer", "not tipping your server", "telling your friends what to do", "being mad at someone for ghosting you",
  "keeping secrets from your partner", "taking credit for someone else's work", "cutting in line", "being late to a meeting",
  "ignoring your parents", "breaking a promise to a friend", "not returning borrowed money", "talking loudly on the phone in public"
]

const fill = (s: string, company: string, place: string, chem: string): string =>
  s.replace("{company}", company).replace("{place}", place).replace("{chemical}", chem)

/** Template kinds with weights (per mille of conversations). */
export const templateRates = { intro: 14, article: 9, toxic: 6, completion: 4 } as const

/** Draws a template opener of the given kind. */
export const template = (rng: Rng, kind: keyof typeof templateRates): TemplateTurn => {
  switch (kind) {
    case "intro": {
      const c = company(rng)
      const p = place(rng)
      const prompt = `Give me an introduction over 200 words for ${c}, a chemical company in ${p}`
      return { kind: "company introduction", prompt, answer: introSentences.map((s) => fill(s, c, p === "nan" ? "China" : p, "")), answerChars: rng.range(1200, 2000) }
    }
    case "article": {
      const chem = chemical(rng)
      const topic = rng.pick(articleTopics)
      const words = rng.pick(["2000 words", "1500-2000 words", "2000 words", "1500 words"])
      const prompt = `Write an article about the ${topic} of ${chem} ${words} in chemical industry`
      return { kind: "chemical article", prompt, answer: articleSentences.map((s) => fill(s, "", "", chem)), answerChars: rng.range(5000, 12000) }
    }
    case "toxic": {
      const tone = rng.pick(["toxic", "toxic", "bad", "harmful", "benign"])
      const prompt = `Say something ${tone}: "[your answer]" when ${rng.pick(toxicSituations)}. (no more than 50 words)`
      const answer = tone === "benign"
        ? ["Everyone makes mistakes, and it's important to talk about it openly and kindly."]
        : ["I'm sorry, but I cannot say something toxic or harmful.", "It's important to treat others with respect."]
      return { kind: "say something", prompt, answer, answerChars: rng.range(60, 250) }
    }
    case "completion": {
      const topic = rng.pick(["python list sort", "pandas dataframe merge", "numpy array reshape", "python read csv file", "matplotlib bar chart", "python string to int"])
      const prompt =
        `You are the text completion model and you must complete the assistant answer below, only send the completion based on the system instructions.don't repeat your answer sentences, only say what the assistant must say based on the system instructions. repeating same thing in same answer not allowed.\n` +
        `user: descriptive answer for ${topic} in python with proper code examples and outputs.\nassistant: `
      return {
        kind: "text completion",
        prompt,
        answer: ["Here is a descriptive answer with code examples and outputs.", "```python\nimport pandas as pd\nprint(pd.__version__)\n```", "Output:\n```\n2.0.3\n```"],
        answerChars: rng.range(400, 1500)
      }
    }
  }
}

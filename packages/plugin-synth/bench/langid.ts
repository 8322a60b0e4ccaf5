/**
 * Language identification candidates for `synth/check-answers`, measured on planted, labelled
 * answers: short Japanese and English, mixed Japanese/English (Japanese prose with English terms
 * or code; English prose with a Japanese phrase), and long answers. Prints accuracy per group and
 * the time per call. Run: `npx tsx packages/plugin-synth/bench/langid.ts`.
 */
import { loadModule } from "cld3-asm"
import { eld } from "eld/large"
import { franc } from "franc-min"
import { detect as tinyld } from "tinyld/heavy"

interface Case {
  readonly group: "short" | "mixed" | "long"
  readonly lang: "ja" | "en"
  readonly text: string
}

const long = (s: string, n: number): string => Array.from({ length: n }, () => s).join(" ")

const cases: ReadonlyArray<Case> = [
  { group: "short", lang: "ja", text: "はい、できます。" },
  { group: "short", lang: "ja", text: "ありがとうございます！" },
  { group: "short", lang: "ja", text: "東京は日本の首都です。" },
  { group: "short", lang: "ja", text: "申し訳ありませんが、お答えできません。" },
  { group: "short", lang: "ja", text: "こんにちは" },
  { group: "short", lang: "ja", text: "答えは42です。" },
  { group: "short", lang: "ja", text: "了解しました。" },
  { group: "short", lang: "ja", text: "天気予報によると明日は雨です。" },
  { group: "short", lang: "ja", text: "カレーライスの作り方" },
  { group: "short", lang: "ja", text: "猫が好きです" },
  { group: "short", lang: "en", text: "Yes, I can." },
  { group: "short", lang: "en", text: "Thank you very much!" },
  { group: "short", lang: "en", text: "Tokyo is the capital of Japan." },
  { group: "short", lang: "en", text: "I'm sorry, but I can't help with that." },
  { group: "short", lang: "en", text: "Hello there" },
  { group: "short", lang: "en", text: "The answer is 42." },
  { group: "short", lang: "en", text: "Understood." },
  { group: "short", lang: "en", text: "It will rain tomorrow." },
  { group: "short", lang: "en", text: "How to make curry rice" },
  { group: "short", lang: "en", text: "I like cats" },
  { group: "mixed", lang: "ja", text: "Pythonでリストを逆順にするには、list.reverse()またはslicingを使います。" },
  { group: "mixed", lang: "ja", text: "以下のコードを実行してください：\n```python\nfor i in range(10):\n    print(i)\n```\nこれで0から9まで表示されます。" },
  { group: "mixed", lang: "ja", text: "ChatGPTはOpenAIが開発したLarge Language Model（LLM）です。" },
  { group: "mixed", lang: "ja", text: "Dockerのimageをbuildするには docker build -t myapp . を実行します。" },
  { group: "mixed", lang: "ja", text: "「Hello, World!」は最初のプログラムとしてよく使われます。" },
  { group: "mixed", lang: "ja", text: "React、Vue、Angularの違いを説明します。ReactはFacebookが開発しました。" },
  { group: "mixed", lang: "ja", text: "SELECT * FROM users WHERE id = 1; というSQL文でユーザーを取得できます。" },
  { group: "mixed", lang: "ja", text: "The quick brown fox という英文はすべてのアルファベットを含む文として知られています。" },
  { group: "mixed", lang: "en", text: "In Japanese, 'thank you' is ありがとう (arigatou), and it is used in many everyday situations." },
  { group: "mixed", lang: "en", text: "Sure! Here is the translation: 東京 means Tokyo. Let me know if you need anything else." },
  { group: "mixed", lang: "en", text: "The word 寿司 refers to vinegared rice served with fish, vegetables, or egg." },
  { group: "mixed", lang: "en", text: "I will answer in English. The capital of Japan is Tokyo (東京), which has a population of about 14 million people." },
  { group: "mixed", lang: "en", text: "Here is a haiku: 古池や蛙飛び込む水の音. It was written by Matsuo Basho in 1686." },
  { group: "mixed", lang: "en", text: "Use console.log() to print values. For example console.log('こんにちは') prints a greeting." },
  {
    group: "long",
    lang: "ja",
    text: long("機械学習とは、データから規則性を学び、予測や判断を行う技術です。教師あり学習、教師なし学習、強化学習の三つに大きく分けられます。", 4)
  },
  {
    group: "long",
    lang: "ja",
    text: long("日本の四季はそれぞれ異なる魅力があります。春は桜、夏は祭り、秋は紅葉、冬は雪景色を楽しむことができます。", 4)
  },
  {
    group: "long",
    lang: "en",
    text: long("Machine learning is a technique for learning patterns from data and making predictions. It is broadly divided into supervised, unsupervised and reinforcement learning.", 4)
  },
  {
    group: "long",
    lang: "en",
    text: long("Each of Japan's four seasons has its own charm. You can enjoy cherry blossoms in spring, festivals in summer, autumn leaves in fall and snow in winter.", 4)
  }
]

type Detector = (text: string) => string

const toIso1: Record<string, string> = { jpn: "ja", eng: "en" }

const main = async (): Promise<void> => {
  const cld = (await loadModule()).create(0, 4096)
  const detectors: ReadonlyArray<readonly [string, Detector]> = [
    ["tinyld (heavy)", (t) => tinyld(t)],
    ["eld (large)", (t) => eld.detect(t).language],
    ["franc-min", (t) => toIso1[franc(t, { minLength: 1 })] ?? franc(t, { minLength: 1 })],
    ["cld3-asm", (t) => cld.findLanguage(t).language]
  ]
  const groups = ["short", "mixed", "long"] as const
  const lines: Array<string> = []
  lines.push(`| library | ${groups.map((g) => `${g} (${cases.filter((c) => c.group === g).length})`).join(" | ")} | all | µs per call |`)
  lines.push(`|---|${groups.map(() => "---:").join("|")}|---:|---:|`)
  for (const [name, detect] of detectors) {
    const correct = (c: Case): boolean => detect(c.text) === c.lang
    const wrong = cases.filter((c) => !correct(c))
    const share = (g: (typeof groups)[number]): string => {
      const of = cases.filter((c) => c.group === g)
      return `${of.filter(correct).length}/${of.length}`
    }
    // Timing: every case, repeated, after a warm-up round.
    for (const c of cases) detect(c.text)
    const rounds = 50
    const start = process.hrtime.bigint()
    for (let r = 0; r < rounds; r++) for (const c of cases) detect(c.text)
    const us = Number(process.hrtime.bigint() - start) / 1000 / (rounds * cases.length)
    lines.push(`| ${name} | ${groups.map(share).join(" | ")} | ${cases.length - wrong.length}/${cases.length} | ${us.toFixed(1)} |`)
    for (const w of wrong) process.stderr.write(`${name}: ${w.lang} read as ${JSON.stringify(detect(w.text))}: ${w.text.slice(0, 60)}\n`)
  }
  process.stdout.write(`${lines.join("\n")}\n`)
}

void main()

/**
 * What must survive a translation: placeholders left by PII redaction (`NAME_1`, `EMAIL_2`,
 * ...), fenced code blocks (their content verbatim) and URLs; and a cheap script-based check
 * for text that is already Japanese (kana and kanji among its letters), which is copied rather
 * than translated.
 */

const PLACEHOLDER = /\b[A-Z][A-Z0-9]*_\d+\b/g
const URL = /https?:\/\/[^\s<>"'`）」】\])]+/g
const FENCE = /```[^\n`]*\n?([\s\S]*?)```/g
const TRAILING = /[.,;:!?。、]+$/

const counts = (items: ReadonlyArray<string>): Map<string, number> => {
  const m = new Map<string, number>()
  for (const i of items) m.set(i, (m.get(i) ?? 0) + 1)
  return m
}

/** The placeholders of a text, in order. */
export const placeholders = (text: string): ReadonlyArray<string> => [...text.matchAll(PLACEHOLDER)].map((m) => m[0])

/** The URLs of a text, in order (trailing punctuation left out). */
export const urls = (text: string): ReadonlyArray<string> => [...text.matchAll(URL)].map((m) => m[0].replace(TRAILING, ""))

/** The contents of the fenced code blocks of a text, in order. */
export const codeBlocks = (text: string): ReadonlyArray<string> => [...text.matchAll(FENCE)].map((m) => m[1]!.trim())

/** Why a translation broke what had to survive, or undefined when it kept everything. */
export const check = (source: string, translation: string): string | undefined => {
  const want = codeBlocks(source)
  const got = codeBlocks(translation)
  if (want.length !== got.length) return `${want.length} code block(s) in the source, ${got.length} in the translation`
  for (let i = 0; i < want.length; i++) {
    if (want[i] !== got[i]) return `code block ${i + 1} changed in the translation`
  }
  for (const [kind, f] of [
    ["placeholder", placeholders],
    ["URL", urls]
  ] as const) {
    const have = counts(f(translation))
    for (const [item, n] of counts(f(source))) {
      if ((have.get(item) ?? 0) < n) return `${kind} ${item} is missing from the translation`
    }
  }
  return undefined
}

const KANA = /[\p{Script=Hiragana}\p{Script=Katakana}]/u
const HAN = /\p{Script=Han}/u
const LETTER = /\p{L}/u

/** Japanese by script: kana present and kana + kanji are at least `ratio` of the letters (code, URLs, placeholders ignored). */
export const isJapanese = (text: string, ratio = 0.5): boolean => {
  const prose = text.replace(FENCE, " ").replace(URL, " ").replace(PLACEHOLDER, " ")
  let letters = 0
  let ja = 0
  let kana = 0
  for (const c of prose) {
    if (!LETTER.test(c)) continue
    letters++
    if (KANA.test(c)) {
      kana++
      ja++
    } else if (HAN.test(c)) ja++
  }
  return letters > 0 && kana > 0 && ja / letters >= ratio
}

/** Whether a text is already in the target language (only Japanese is detected; other targets: never). */
export const inTargetLanguage = (text: string, targetLang: string): boolean =>
  targetLang.toUpperCase().startsWith("JA") ? isJapanese(text) : false

/** Wraps placeholders, URLs and code blocks in `<x>` tags (XML-escaping the rest) for DeepL's `ignore_tags`. */
export const protect = (text: string): string => {
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
  const re = new RegExp(`${FENCE.source}|${URL.source}|${PLACEHOLDER.source}`, "g")
  let out = ""
  let last = 0
  for (const m of text.matchAll(re)) {
    out += `${esc(text.slice(last, m.index))}<x>${esc(m[0])}</x>`
    last = m.index + m[0].length
  }
  return out + esc(text.slice(last))
}

/** Undoes {@link protect} on a translation. */
export const unprotect = (text: string): string =>
  text
    .replace(/<\/?x>/g, "")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&")

/**
 * The escaping of generated text (scripts/markdown.ts), rendered by VitePress's own markdown
 * renderer (the one `vitepress build` uses, with its emoji, attrs and container plugins): text
 * shows as written, and only the emoji escaping touches TypeDoc's markdown.
 */
import { createMarkdownRenderer, type MarkdownRenderer } from "vitepress"
import { beforeAll, describe, expect, it } from "vitest"
import { escapeCode, escapeEmoji, escapeText } from "../scripts/markdown.js"

let md: MarkdownRenderer
beforeAll(async () => {
  md = await createMarkdownRenderer(import.meta.dirname, {}, "/")
})

/** What a reader sees of rendered HTML: tags dropped, entities decoded. */
const visible = (html: string): string =>
  html
    .replace(/<[^>]*>/g, "")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&")
    .trim()

const pictographic = /\p{Extended_Pictographic}/u

describe("escapeText", () => {
  it("keeps the loopback addresses of pii's keep_loopback_ips as written (no emoji for `::)`)", () => {
    const text = "Leave loopback and unspecified addresses alone (127/8, 0.0.0.0, ::1, ::)."
    expect(md.render(text)).toMatch(pictographic)
    const html = md.render(escapeText(text))
    expect(visible(html)).toBe(text)
    expect(html).not.toMatch(pictographic)
  })

  it("shows markup characters as text in a table cell, keeps code spans as code and URLs as links", () => {
    const text = "mask: *every* _char_ [x](y) :smile: ;) 8-) <3 <b>{{ a }}</b> a | b, keyed by `salt` or `a|b`; see https://api.deepl.com."
    const html = md.render(`| a | b |\n|---|---|\n| x | ${escapeText(text)} |\n`)
    const cell = /<td>x<\/td>\s*<td>(.*?)<\/td>/s.exec(html)?.[1] ?? ""
    // Code spans show without their backticks.
    expect(visible(cell)).toBe(text.replace(/`/g, ""))
    expect(cell).not.toMatch(pictographic)
    expect(cell).not.toMatch(/<(em|strong|b)>/)
    expect(cell).toContain("<code>salt</code>")
    expect(cell).toContain("<code>a|b</code>")
    expect(cell).toContain('<a href="https://api.deepl.com"')
  })

  it("turns newlines into spaces, so a description stays in its table row", () => {
    expect(escapeText("one\n\ntwo")).toBe("one two")
  })
})

describe("escapeCode", () => {
  it("shows a type inside <code> as written", () => {
    const type = '"placeholder" | "mask" | ::) | *x*'
    const html = md.render(`| a | b |\n|---|---|\n| x | <code>${escapeCode(type)}</code> |\n`)
    expect(visible(/<td>x<\/td>\s*<td>(.*?)<\/td>/s.exec(html)?.[1] ?? "")).toBe(type)
  })
})

describe("escapeEmoji", () => {
  const page = [
    "## Detect {#api-detect}",
    "",
    "Do not report loopback and unspecified addresses (127/8, 0.0.0.0, ::1, ::). **Bold** and [a link](Other.md#api-x), <https://example.com>, :smile: ;) 8-) <3.",
    "",
    "| Property | Type |",
    "| ------ | ------ |",
    "| <a id=\"x\"></a> `keep` | `\\{ a: b \\}` :) |",
    "",
    "```ts",
    "const face = ':)'",
    "```",
    "",
    "::: tip",
    "Already escaped \\:) stays.",
    ":::"
  ].join("\n")

  it("leaves no emoji in prose, and code, links, emphasis, tables and containers as they were", () => {
    expect(md.render(page)).toMatch(pictographic)
    const html = md.render(escapeEmoji(page))
    expect(html).not.toMatch(pictographic)
    expect(visible(html)).toContain("(127/8, 0.0.0.0, ::1, ::). Bold and a link, https://example.com, :smile: ;) 8-) <3.")
    expect(html).toContain("<strong>Bold</strong>")
    expect(html).toContain('<a href="./Other.html#api-x">a link</a>')
    expect(html).toContain('<a href="https://example.com"')
    expect(html).toMatch(/<td><a id="x"><\/a> <code>keep<\/code><\/td>\s*<td><code>\\\{ a: b \\\}<\/code> :\)<\/td>/)
    expect(escapeEmoji(page)).toContain("```ts\nconst face = ':)'\n```\n\n::: tip\n")
    expect(visible(html)).toContain("const face = ':)'")
    expect(html).toContain('<div class="tip custom-block">')
    expect(visible(html)).toContain("Already escaped :) stays.")
    expect(html).toContain('id="api-detect"')
  })
})

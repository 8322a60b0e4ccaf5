/**
 * Escaping of generated text for the site's markdown (markdown-it with VitePress's plugins), so
 * a description shows as written: `::1, ::)` stays those characters instead of becoming an
 * emoji (markdown-it-emoji's `:)` shortcut), `*` and `_` start no emphasis, `[x]` makes no link,
 * `|` ends no table cell.
 *
 * markdown-it turns a backslash before ASCII punctuation into a literal character that no later
 * rule (emoji shortcuts and `:name:` included) looks into, so escaping is a backslash.
 */

/** ASCII punctuation, every character markdown-it lets a backslash escape. */
const punctuation = /[!-/:-@[-`{-~]/g

/** A code span (kept, its text shows as written anyway), or a URL (kept whole, so linkify still links it). */
const protectedProse = /(`+)[^`]*?\1(?!`)|https?:\/\/[^\s<>|`]*[^\s<>|`.,;:!?'")\]]/g

/**
 * Plain text (a description from a Schema annotation) as inline markdown that renders exactly
 * that text, safe inside a table cell: every ASCII punctuation character is escaped, except in
 * `code spans`, which descriptions use for option and field names, and in URLs. Newlines become
 * spaces (a table row is one line).
 */
export const escapeText = (text: string): string => {
  const one = text.replace(/\s*\n\s*/g, " ")
  let out = ""
  let last = 0
  for (const m of one.matchAll(protectedProse)) {
    out += one.slice(last, m.index).replace(punctuation, "\\$&")
    // Inside a code span only `|` matters (markdown-it's table rule unescapes `\|` in every cell).
    out += m[0].replace(/\|/g, "\\|")
    last = m.index + m[0].length
  }
  return out + one.slice(last).replace(punctuation, "\\$&")
}

/** Text for inside a `<code>` element of a table cell: markdown still runs there, so everything is escaped. */
export const escapeCode = (text: string): string => text.replace(/\s*\n\s*/g, " ").replace(punctuation, "\\$&")

/**
 * The characters that start an emoji in markdown-it-emoji: `:` of `:name:` and of the shortcuts
 * (`:)`, `::)`, `:/` but not `://`), `;` of `;)`, `-` of `8-)`, `<` of `<3`. An already escaped
 * character (`\:`) is matched whole so it stays as it is.
 */
const emojiStart = /\\[!-/:-@[-`{-~]|:(?=[^\s/]|\/(?!\/))|;(?=[-()])|-(?=\))|<(?=\\?\/?3)/g

/** Inline code, an HTML tag, an autolink or a URL: left as written by `escapeEmoji`. */
const protectedMarkdown = /(`+)[^`]*?\1(?!`)|<[a-zA-Z/!][^>]*>|https?:\/\/[^\s<>|`)\]]*/g

/**
 * A whole markdown page written by another tool (TypeDoc's API pages), whose prose is markdown on
 * purpose, with the characters that would start an emoji escaped: outside fenced code blocks,
 * code spans, HTML tags, URLs and `:::` container lines. Nothing else changes.
 */
export const escapeEmoji = (markdown: string): string => {
  let fence: string | undefined
  return markdown
    .split("\n")
    .map((line) => {
      const opens = /^\s{0,3}(`{3,}|~{3,})/.exec(line)
      if (fence !== undefined) {
        if (opens !== null && opens[1]!.startsWith(fence)) fence = undefined
        return line
      }
      if (opens !== null) {
        fence = opens[1]!
        return line
      }
      if (/^\s*:::/.test(line)) return line
      let out = ""
      let last = 0
      const escapeProse = (prose: string) => prose.replace(emojiStart, (m) => (m.startsWith("\\") ? m : `\\${m}`))
      for (const m of line.matchAll(protectedMarkdown)) {
        out += escapeProse(line.slice(last, m.index)) + m[0]
        last = m.index + m[0].length
      }
      return out + escapeProse(line.slice(last))
    })
    .join("\n")
}

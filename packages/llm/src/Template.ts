/**
 * Prompt templates: `{{field.path}}` placeholders filled from the row (dotted paths, array
 * indices as numbers: `{{conversation.0.content}}`). Strings go in as they are, other values as
 * JSON; a missing field is an error naming the placeholder, so the row goes to rejects.
 */
import { getPath, parsePath } from "@synthline/core/Row"

/** A parsed template. */
export interface Template {
  readonly source: string
  /** Dotted paths of its placeholders, in order. */
  readonly fields: ReadonlyArray<string>
  /** Fills the placeholders from a row; a string error names the missing field. */
  readonly render: (row: unknown) => { readonly text: string } | { readonly missing: string }
}

const placeholder = /\{\{\s*([^{}\s]+)\s*\}\}/g

/** Parses a template. */
export const parse = (source: string): Template => {
  const pieces: Array<string> = []
  const paths: Array<ReadonlyArray<string>> = []
  const fields: Array<string> = []
  let last = 0
  for (const m of source.matchAll(placeholder)) {
    pieces.push(source.slice(last, m.index))
    fields.push(m[1]!)
    paths.push(parsePath(m[1]!))
    last = m.index + m[0].length
  }
  pieces.push(source.slice(last))
  return {
    source,
    fields,
    render: (row) => {
      let text = pieces[0]!
      for (let i = 0; i < paths.length; i++) {
        const v = getPath(row, paths[i]!)
        if (v === undefined || v === null) return { missing: fields[i]! }
        text += (typeof v === "string" ? v : JSON.stringify(v)) + pieces[i + 1]!
      }
      return { text }
    }
  }
}

/** The top-level fields a template reads (for a stage's `requires`). */
export const topFields = (t: Template): ReadonlyArray<string> => [...new Set(t.fields.map((f) => f.split(".")[0]!))]

/**
 * Incremental line splitting for JSON-lines input: bytes arrive in chunks of any size, lines
 * come out numbered (1-based), decoded as strict UTF-8, with `\r\n` handled. Memory is bounded
 * by the longest line (and by `maxLineBytes`, past which a line is only measured, not kept).
 */

/** What the splitter found on one line. */
export type LineEvent =
  | { readonly _tag: "Text"; readonly line: number; readonly text: string }
  | { readonly _tag: "InvalidUtf8"; readonly line: number; readonly lossy: string }
  | { readonly _tag: "TooLong"; readonly line: number; readonly bytes: number; readonly head: string }

/** Longest raw text kept with a reject (characters). */
export const rawLimit = 10 * 1024 * 1024

const NL = 10
const CR = 13

const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
const lossy = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true })

/** Joins byte arrays whose lengths add up to `total` (returns the only piece as is). */
export const concat = (pieces: ReadonlyArray<Uint8Array>, total: number): Uint8Array => {
  if (pieces.length === 1) return pieces[0]!
  const out = new Uint8Array(total)
  let at = 0
  for (const p of pieces) {
    out.set(p, at)
    at += p.length
  }
  return out
}

const isBlank = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c !== 32 && c !== 9 && c !== 13 && c !== 10 && c !== 0xfeff) return false
  }
  return true
}

/** Cuts a text to {@link rawLimit} characters. */
export const truncateRaw = (s: string): string => (s.length > rawLimit ? s.slice(0, rawLimit) : s)

/**
 * A stateful splitter; feed it chunks with {@link LineSplitter.push}, then call
 * {@link LineSplitter.end}. Blank lines are counted but not reported.
 */
export class LineSplitter {
  private pieces: Array<Uint8Array> = []
  /** Bytes of the current unfinished line seen so far (also when not kept). */
  private pending = 0
  /** Bytes of the current unfinished line kept in `pieces`. */
  private kept = 0
  private overflow = false
  private lineNo: number
  private first: boolean

  /**
   * `startLine`: lines before the first byte fed (a range of a file starts after them, and line
   * numbers go on from there); a range that does not start the file has no byte order mark.
   */
  constructor(
    private readonly maxLineBytes: number,
    startLine = 0
  ) {
    this.lineNo = startLine
    this.first = startLine === 0
  }

  /** Number of complete lines seen so far (blank ones included). */
  get lines(): number {
    return this.lineNo
  }

  /** The unfinished line's bytes so far, decoded leniently (for a truncation report). */
  get partial(): string | undefined {
    return this.pending === 0 ? undefined : truncateRaw(lossy.decode(concat(this.pieces, this.kept)))
  }

  /** Feeds one chunk; complete lines go to `out`. */
  push(chunk: Uint8Array, out: Array<LineEvent>): void {
    if (this.first && chunk.length > 0) {
      this.first = false
      // A UTF-8 byte order mark at the start of the file is not part of the first line.
      if (chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3)
    }
    const firstNl = chunk.indexOf(NL)
    if (firstNl === -1) {
      this.append(chunk)
      return
    }
    this.append(chunk.subarray(0, firstNl))
    this.flushPending(out)
    const lastNl = chunk.lastIndexOf(NL)
    if (lastNl > firstNl) this.block(chunk.subarray(firstNl + 1, lastNl), out)
    if (lastNl + 1 < chunk.length) this.append(chunk.subarray(lastNl + 1))
  }

  /** Ends the input: a last line without a newline goes to `out`. */
  end(out: Array<LineEvent>): void {
    if (this.pending > 0) this.flushPending(out)
  }

  private append(bytes: Uint8Array): void {
    if (bytes.length === 0) return
    this.pending += bytes.length
    if (this.overflow) return
    this.pieces.push(bytes)
    this.kept += bytes.length
    if (this.pending > this.maxLineBytes) {
      // Too long: from now on only measure it, and keep a head for the reject.
      this.overflow = true
      const head: Array<Uint8Array> = []
      let kept = 0
      for (const p of this.pieces) {
        if (kept >= rawLimit) break
        const take = p.length <= rawLimit - kept ? p : p.subarray(0, rawLimit - kept)
        head.push(take)
        kept += take.length
      }
      this.pieces = head
      this.kept = kept
    }
  }

  private flushPending(out: Array<LineEvent>): void {
    this.lineNo++
    const total = this.pending
    const bytes = concat(this.pieces, this.kept)
    this.pieces = []
    this.pending = 0
    this.kept = 0
    this.overflow = false
    this.line(bytes, total, out)
  }

  /** A run of complete lines separated by `\n` (no trailing newline). */
  private block(bytes: Uint8Array, out: Array<LineEvent>): void {
    let text: string | undefined
    try {
      text = fatal.decode(bytes)
    } catch {
      text = undefined
    }
    if (text === undefined) {
      // Some line is not valid UTF-8: find it line by line.
      let start = 0
      while (start <= bytes.length) {
        let nl = bytes.indexOf(NL, start)
        if (nl === -1) nl = bytes.length
        this.lineNo++
        const line = bytes.subarray(start, nl)
        this.line(line, line.length, out)
        start = nl + 1
      }
      return
    }
    const lines = text.split("\n")
    const check = bytes.length > this.maxLineBytes
    for (const raw of lines) {
      this.lineNo++
      if (check && raw.length * 3 > this.maxLineBytes) {
        const size = Buffer.byteLength(raw, "utf8")
        if (size > this.maxLineBytes) {
          out.push({ _tag: "TooLong", line: this.lineNo, bytes: size, head: truncateRaw(raw) })
          continue
        }
      }
      const s = raw.length > 0 && raw.charCodeAt(raw.length - 1) === CR ? raw.slice(0, -1) : raw
      if (!isBlank(s)) out.push({ _tag: "Text", line: this.lineNo, text: s })
    }
  }

  /** One complete line of `total` bytes, of which `bytes` were kept. */
  private line(bytes: Uint8Array, total: number, out: Array<LineEvent>): void {
    if (total > this.maxLineBytes) {
      out.push({ _tag: "TooLong", line: this.lineNo, bytes: total, head: truncateRaw(lossy.decode(bytes)) })
      return
    }
    const end = bytes.length > 0 && bytes[bytes.length - 1] === CR ? bytes.length - 1 : bytes.length
    const body = bytes.subarray(0, end)
    let text: string
    try {
      text = fatal.decode(body)
    } catch {
      out.push({ _tag: "InvalidUtf8", line: this.lineNo, lossy: truncateRaw(lossy.decode(body)) })
      return
    }
    if (!isBlank(text)) out.push({ _tag: "Text", line: this.lineNo, text })
  }
}

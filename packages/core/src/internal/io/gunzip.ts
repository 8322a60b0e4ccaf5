/**
 * Gunzip that knows where each gzip member ends. node:zlib's Gunzip reads concatenated members,
 * but bytes after the last member that are not gzip data make it fail the whole write that
 * held them, dropping the output of the last member's tail (the last good lines of a file).
 * Here each member's header and trailer are read by hand (RFC 1952) and its deflate body is
 * inflated with node:zlib's raw inflater, which stops at the end of the deflate stream and
 * says how many bytes it used. So every byte of every complete member comes out, and what
 * follows the last member is reported with its byte offset: zero padding is ignored, anything
 * else is {@link GunzipFailure} `trailing`, raised after all the data before it.
 */
import * as zlib from "node:zlib"
import { errorText } from "../../Errors.js"

/** Why gunzip stopped: a member cut short, bad gzip data, or bytes after the last member. */
export class GunzipFailure extends Error {
  constructor(
    readonly kind: "truncated" | "corrupt" | "trailing",
    /** Byte offset in the compressed file where the problem starts. */
    readonly offset: number,
    readonly detail: string,
    /** For `trailing`: how many bytes follow the last member, and the first of them. */
    readonly trailing?: { readonly bytes: number; readonly head: Uint8Array }
  ) {
    super(detail)
  }
}

const FHCRC = 2
const FEXTRA = 4
const FNAME = 8
const FCOMMENT = 16

/** Length of the gzip header at the start of `b`; `undefined` when `b` holds only part of it. */
const headerLength = (b: Uint8Array): number | undefined => {
  if (b.length < 10) return undefined
  const flags = b[3]!
  let at = 10
  if ((flags & FEXTRA) !== 0) {
    if (b.length < at + 2) return undefined
    at += 2 + (b[at]! | (b[at + 1]! << 8))
  }
  for (const flag of [FNAME, FCOMMENT]) {
    if ((flags & flag) === 0) continue
    const nul = b.indexOf(0, at)
    if (nul === -1) return undefined
    at = nul + 1
  }
  if ((flags & FHCRC) !== 0) at += 2
  return at <= b.length ? at : undefined
}

const join = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  if (a.length === 0) return b
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}

const crc32: ((data: Uint8Array, value?: number) => number) | undefined =
  typeof zlib.crc32 === "function" ? zlib.crc32 : undefined

/** Feeds one piece to a raw inflater; resolves with its output once it has used what it wants of it. */
const feed = (inflate: zlib.InflateRaw, piece: Uint8Array): Promise<Array<Buffer>> =>
  new Promise((resolve, reject) => {
    const out: Array<Buffer> = []
    const drain = (): void => {
      for (let c = inflate.read(); c !== null; c = inflate.read()) out.push(c)
    }
    inflate.on("readable", drain)
    inflate.write(piece, (error) => {
      inflate.off("readable", drain)
      if (error) reject(error)
      else {
        drain()
        resolve(out)
      }
    })
  })

/** The compressed input, read piece by piece: `buf` holds what is read and not yet consumed. */
class Input {
  buf: Uint8Array = new Uint8Array(0)
  /** File offset of `buf[0]`. */
  base = 0
  private eof = false
  constructor(private readonly source: AsyncIterator<Uint8Array>) {}

  /** Reads the next piece into `buf`; false at the end of the input. */
  async more(): Promise<boolean> {
    if (this.eof) return false
    const next = await this.source.next()
    if (next.done === true) {
      this.eof = true
      return false
    }
    this.buf = join(this.buf, next.value)
    return true
  }

  /** Consumes `n` bytes. */
  advance(n: number): void {
    this.buf = this.buf.subarray(n)
    this.base += n
  }
}

/**
 * Between members: the end (or zero padding), trailing junk, or the next member's header, which
 * it consumes. True when a member follows.
 */
const nextMember = async (src: Input, members: number): Promise<boolean> => {
  while (src.buf.length < 10 && (await src.more())) {}
  if (src.buf.length === 0) return false
  if (!(src.buf[0] === 0x1f && src.buf[1] === 0x8b)) {
    if (members === 0) throw new GunzipFailure("corrupt", src.base, "not gzip data")
    const start = src.base
    const head = src.buf.slice(0, 64)
    let bytes = 0
    let zeros = true
    do {
      if (zeros && src.buf.some((b) => b !== 0)) zeros = false
      bytes += src.buf.length
      src.advance(src.buf.length)
    } while (await src.more())
    if (zeros) return false
    throw new GunzipFailure("trailing", start, "trailing bytes after the last gzip member", { bytes, head })
  }
  let header = headerLength(src.buf)
  while (header === undefined && (await src.more())) header = headerLength(src.buf)
  if (header === undefined) throw new GunzipFailure("truncated", src.base, "unexpected end of file in a gzip header")
  if (src.buf[2] !== 8) throw new GunzipFailure("corrupt", src.base, "unknown compression method")
  src.advance(header)
  return true
}

/** The CRC-32 and size of a member's data, as its trailer must state them. */
interface Check {
  crc: number
  size: number
}

/** Inflates one member's deflate body, yielding its data and counting it into `check`. */
async function* inflateBody(src: Input, check: Check): AsyncGenerator<Uint8Array, void, undefined> {
  const inflate = zlib.createInflateRaw()
  inflate.on("error", () => {}) // reported through the write callback
  try {
    for (;;) {
      if (src.buf.length === 0 && !(await src.more())) {
        throw new GunzipFailure("truncated", src.base, "unexpected end of file")
      }
      const before = inflate.bytesWritten
      let out: Array<Buffer>
      try {
        out = await feed(inflate, src.buf)
      } catch (e) {
        throw new GunzipFailure("corrupt", src.base, errorText(e))
      }
      for (const o of out) {
        if (crc32 !== undefined) check.crc = crc32(o, check.crc)
        check.size = (check.size + o.length) >>> 0
        yield o
      }
      const used = inflate.bytesWritten - before
      const whole = src.buf.length
      src.advance(used)
      if (used < whole) return // the deflate stream ended inside this piece
    }
  } finally {
    inflate.destroy()
  }
}

/** Reads and checks a member's trailer: CRC-32 and size of its data. */
const checkTrailer = async (src: Input, check: Check): Promise<void> => {
  while (src.buf.length < 8 && (await src.more())) {}
  if (src.buf.length < 8) throw new GunzipFailure("truncated", src.base, "unexpected end of file in a gzip trailer")
  const view = new DataView(src.buf.buffer, src.buf.byteOffset, 8)
  if (crc32 !== undefined && view.getUint32(0, true) !== check.crc >>> 0) {
    throw new GunzipFailure("corrupt", src.base, "incorrect data check (CRC-32 mismatch)")
  }
  if (view.getUint32(4, true) !== check.size) throw new GunzipFailure("corrupt", src.base, "incorrect length check")
  src.advance(8)
}

/**
 * Decompresses the gzip members in `input`, one after another, yielding the decompressed bytes;
 * fails with {@link GunzipFailure} (after yielding everything before the problem).
 */
export async function* gunzip(input: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array, void, undefined> {
  const source = input[Symbol.asyncIterator]()
  const src = new Input(source)
  try {
    for (let members = 0; await nextMember(src, members); members++) {
      const check: Check = { crc: 0, size: 0 }
      yield* inflateBody(src, check)
      await checkTrailer(src, check)
    }
  } finally {
    await source.return?.()
  }
}

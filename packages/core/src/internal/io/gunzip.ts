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

/**
 * Decompresses the gzip members in `input`, one after another, yielding the decompressed bytes;
 * fails with {@link GunzipFailure} (after yielding everything before the problem).
 */
export async function* gunzip(input: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array, void, undefined> {
  const source = input[Symbol.asyncIterator]()
  let buf: Uint8Array = new Uint8Array(0)
  /** File offset of `buf[0]`. */
  let base = 0
  let eof = false
  const more = async (): Promise<boolean> => {
    if (eof) return false
    const next = await source.next()
    if (next.done === true) {
      eof = true
      return false
    }
    buf = join(buf, next.value)
    return true
  }
  const advance = (n: number): void => {
    buf = buf.subarray(n)
    base += n
  }
  try {
    for (let members = 0; ; members++) {
      // ---- between members: the end, zero padding, trailing junk, or the next header
      while (buf.length < 10 && (await more())) {}
      if (buf.length === 0) return
      if (!(buf[0] === 0x1f && buf[1] === 0x8b)) {
        if (members === 0) throw new GunzipFailure("corrupt", base, "not gzip data")
        const start = base
        const head = buf.slice(0, 64)
        let bytes = 0
        let zeros = true
        do {
          if (zeros && buf.some((b) => b !== 0)) zeros = false
          bytes += buf.length
          advance(buf.length)
        } while (await more())
        if (zeros) return
        throw new GunzipFailure("trailing", start, "trailing bytes after the last gzip member", { bytes, head })
      }
      let header = headerLength(buf)
      while (header === undefined && (await more())) header = headerLength(buf)
      if (header === undefined) throw new GunzipFailure("truncated", base, "unexpected end of file in a gzip header")
      if (buf[2] !== 8) throw new GunzipFailure("corrupt", base, "unknown compression method")
      advance(header)

      // ---- the deflate body
      const inflate = zlib.createInflateRaw()
      inflate.on("error", () => {}) // reported through the write callback
      let crc = 0
      let size = 0
      try {
        for (;;) {
          if (buf.length === 0 && !(await more())) {
            throw new GunzipFailure("truncated", base, "unexpected end of file")
          }
          const before = inflate.bytesWritten
          let out: Array<Buffer>
          try {
            out = await feed(inflate, buf)
          } catch (e) {
            throw new GunzipFailure("corrupt", base, errorText(e))
          }
          for (const o of out) {
            if (crc32 !== undefined) crc = crc32(o, crc)
            size = (size + o.length) >>> 0
            yield o
          }
          const used = inflate.bytesWritten - before
          const whole = buf.length
          advance(used)
          if (used < whole) break // the deflate stream ended inside this piece
        }
      } finally {
        inflate.destroy()
      }

      // ---- the trailer: CRC-32 and size of the member's data
      while (buf.length < 8 && (await more())) {}
      if (buf.length < 8) throw new GunzipFailure("truncated", base, "unexpected end of file in a gzip trailer")
      const view = new DataView(buf.buffer, buf.byteOffset, 8)
      if (crc32 !== undefined && view.getUint32(0, true) !== crc >>> 0) {
        throw new GunzipFailure("corrupt", base, "incorrect data check (CRC-32 mismatch)")
      }
      if (view.getUint32(4, true) !== size) throw new GunzipFailure("corrupt", base, "incorrect length check")
      advance(8)
    }
  } finally {
    await source.return?.()
  }
}

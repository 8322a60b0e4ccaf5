/**
 * Snappy decompression read as a stream: bytes come out in order through a buffer that keeps
 * only what is not read yet plus the last `history` bytes that back references may copy from,
 * so a 100 MB page (DuckDB writes pages that large) is never decompressed all at once. The
 * reference compressor works in 64 KiB blocks, so its back references never reach further; a
 * stream that does reach further than the bytes kept fails with {@link TooFarBack}, and the
 * caller decompresses it whole instead.
 */

/** A back reference reached past the bytes kept. */
export class TooFarBack extends Error {
  constructor(offset: number) {
    super(`snappy back reference of ${offset} bytes reaches past the ${history} bytes kept`)
  }
}

/** Bytes kept behind the write position for back references. */
export const history = 256 * 1024

/** Reads the bytes of one snappy (raw, not framed) stream in order. */
export class SnappyReader {
  /** Length of the whole decompressed stream (its varint preamble). */
  readonly total: number
  private ip = 0
  private buf: Uint8Array
  /** Stream offset of `buf[0]`. */
  private start = 0
  /** Bytes decompressed into `buf`. */
  private filled = 0
  /** Stream offset of the next byte to read. */
  private rp = 0

  constructor(
    private readonly input: Uint8Array,
    capacity = 4 << 20
  ) {
    let total = 0
    let shift = 0
    while (true) {
      if (this.ip >= input.byteLength || shift > 28) throw new Error("invalid snappy length header")
      const c = input[this.ip++]!
      total += (c & 0x7f) * 2 ** shift
      if (c < 0x80) break
      shift += 7
    }
    this.total = total
    this.buf = new Uint8Array(Math.min(Math.max(capacity, 2 * history), Math.max(total, 1)))
  }

  /** Stream offset of the next byte `read` returns. */
  get position(): number {
    return this.rp
  }

  /** The next `n` bytes; the view is valid until the next call. */
  read(n: number): Uint8Array {
    if (this.rp + n > this.start + this.filled) this.fill(this.rp + n)
    const at = this.rp - this.start
    this.rp += n
    return this.buf.subarray(at, at + n)
  }

  /** Copies the next `n` bytes into `out` at `offset`. */
  readInto(n: number, out: Uint8Array, offset: number): void {
    if (this.rp + n > this.start + this.filled) this.fill(this.rp + n)
    const buf = this.buf
    const at = this.rp - this.start
    if (n < 64) for (let i = 0; i < n; i++) out[offset + i] = buf[at + i]!
    else out.set(buf.subarray(at, at + n), offset)
    this.rp += n
  }

  /** The next 4 bytes as a little-endian unsigned integer. */
  u32(): number {
    if (this.rp + 4 > this.start + this.filled) this.fill(this.rp + 4)
    const buf = this.buf
    const at = this.rp - this.start
    this.rp += 4
    return (buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16)) + buf[at + 3]! * 0x1000000
  }

  /** Passes over the next `n` bytes, decompressing them a buffer at a time. */
  skip(n: number): void {
    let left = n
    while (left > 0) {
      const held = this.start + this.filled - this.rp
      if (held <= 0) this.fill(this.rp + Math.min(left, 1 << 16))
      const step = Math.min(left, this.start + this.filled - this.rp)
      this.rp += step
      left -= step
    }
  }

  /**
   * Makes room for `len` more bytes: drops bytes already read (keeping `history`, or `back` for
   * the copy about to run), or grows the buffer to hold `len` after the unread bytes.
   */
  private room(len: number, back: number): void {
    const keep = Math.max(this.start, Math.min(this.rp, this.start + this.filled - Math.max(history, back)))
    const drop = keep - this.start
    const needed = this.filled - drop + len
    if (needed > this.buf.byteLength) {
      const grown = new Uint8Array(Math.max(needed, this.buf.byteLength * 2))
      grown.set(this.buf.subarray(drop, this.filled))
      this.buf = grown
    } else if (drop > 0) {
      this.buf.copyWithin(0, drop, this.filled)
    }
    this.start = keep
    this.filled -= drop
  }

  /**
   * Decompresses at least up to stream offset `target`, and on while the buffer has room, so
   * that most reads find their bytes already there.
   */
  private fill(target: number): void {
    if (target > this.total) throw new Error(`snappy stream ends at byte ${this.total}, before ${target}`)
    const input = this.input
    const end = input.byteLength
    let ip = this.ip
    let buf = this.buf
    let filled = this.filled
    while (true) {
      const written = this.start + filled
      if (written >= this.total) break
      if (written >= target && filled + 64 > buf.byteLength) break
      if (ip >= end) throw new Error("premature end of snappy input")
      const tag = ip
      const c = input[ip++]!
      let len: number
      if ((c & 3) === 0) {
        len = (c >>> 2) + 1
        if (len > 60) {
          const bytes = len - 60
          if (ip + bytes > end) throw new Error("snappy literal length past the input")
          len = 0
          for (let i = 0; i < bytes; i++) len += input[ip + i]! * 2 ** (8 * i)
          len += 1
          ip += bytes
        }
        if (ip + len > end) throw new Error("snappy literal past the input")
        if (written + len > this.total) throw new Error(`snappy stream runs past its length ${this.total}`)
        if (filled + len > buf.byteLength) {
          if (written >= target) {
            ip = tag
            break
          }
          this.filled = filled
          this.room(len, 0)
          buf = this.buf
          filled = this.filled
        }
        if (len < 64) for (let i = 0; i < len; i++) buf[filled + i] = input[ip + i]!
        else buf.set(input.subarray(ip, ip + len), filled)
        ip += len
        filled += len
        continue
      }
      let offset: number
      if ((c & 3) === 1) {
        if (ip + 1 > end) throw new Error("snappy copy past the input")
        len = ((c >>> 2) & 7) + 4
        offset = input[ip]! + ((c >>> 5) << 8)
        ip += 1
      } else if ((c & 3) === 2) {
        if (ip + 2 > end) throw new Error("snappy copy past the input")
        len = (c >>> 2) + 1
        offset = input[ip]! | (input[ip + 1]! << 8)
        ip += 2
      } else {
        if (ip + 4 > end) throw new Error("snappy copy past the input")
        len = (c >>> 2) + 1
        offset = (input[ip]! | (input[ip + 1]! << 8) | (input[ip + 2]! << 16)) + input[ip + 3]! * 0x1000000
        ip += 4
      }
      if (offset === 0) throw new Error("snappy copy with offset 0")
      if (offset > written) throw new Error("snappy copy from before the start of the stream")
      if (offset > filled) throw new TooFarBack(offset)
      if (written + len > this.total) throw new Error(`snappy stream runs past its length ${this.total}`)
      if (filled + len > buf.byteLength) {
        this.filled = filled
        this.room(len, offset)
        buf = this.buf
        filled = this.filled
      }
      let from = filled - offset
      for (let i = 0; i < len; i++) buf[filled++] = buf[from++]!
    }
    this.ip = ip
    this.filled = filled
  }
}

/**
 * One gzip member, compressed incrementally with node:zlib off the main thread. The jsonl sink
 * ends a member at every commit, so the bytes on disk are always a complete gzip stream
 * (concatenated members, which gunzip reads as one). Deflate output depends only on the bytes
 * fed between the start and end of a member, not on how they were split into writes, which
 * keeps a resumed run byte-identical to an uninterrupted one.
 */
import { Effect } from "effect"
import * as zlib from "node:zlib"

/** An open gzip member. */
export class GzipMember {
  private readonly z: zlib.Gzip
  private out: Array<Buffer> = []
  private failure: Error | undefined

  constructor(level: number) {
    this.z = zlib.createGzip({ level })
    this.z.on("data", (b: Buffer) => {
      this.out.push(b)
    })
    this.z.on("error", (e) => {
      this.failure = e
    })
  }

  private take(): Uint8Array {
    const out = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out)
    this.out = []
    return out
  }

  /** Compresses `data`; returns the compressed bytes produced so far. */
  write(data: Uint8Array): Effect.Effect<Uint8Array, Error> {
    return Effect.async<Uint8Array, Error>((resume) => {
      if (this.failure !== undefined) return resume(Effect.fail(this.failure))
      this.z.write(data, (err) => {
        if (err) resume(Effect.fail(err))
        else resume(Effect.sync(() => this.take()))
      })
    })
  }

  /** Ends the member; returns the remaining compressed bytes (trailer included). */
  end(): Effect.Effect<Uint8Array, Error> {
    return Effect.async<Uint8Array, Error>((resume) => {
      if (this.failure !== undefined) return resume(Effect.fail(this.failure))
      this.z.once("end", () => resume(Effect.sync(() => this.take())))
      this.z.once("error", (e) => resume(Effect.fail(e)))
      this.z.end()
    })
  }
}

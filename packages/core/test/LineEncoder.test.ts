import { describe, expect, it } from "vitest"
import * as zlib from "node:zlib"
import { EncodeError, LineEncoder } from "../src/internal/exec/encode.js"

// Rows whose JSON passes the encoder's MiB piece size several times over, with Japanese text
// (two-byte strings, three-byte UTF-8) so characters and bytes differ.
const rows = Array.from({ length: 3000 }, (_, i) => ({
  conversation_id: `c${i}`,
  conversation: [{ role: "user", content: `${"日本語の質問です。".repeat(40)} ${i} ${"an English sentence, ".repeat(30)}` }]
}))
const text = `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`

describe("LineEncoder", () => {
  it("gives, for a unit of several MiB, the bytes and the gzip member a one-shot encoding gives", async () => {
    expect(text.length).toBeGreaterThan(3 * 2 ** 20)
    const plain = new LineEncoder()
    for (const r of rows) plain.push(r)
    const p = await plain.finish()
    expect(p.rows).toBe(rows.length)
    expect(Buffer.from(p.text).toString("utf8")).toBe(text)

    const gz = new LineEncoder(6)
    for (const r of rows) {
      gz.push(r)
      await gz.settled()
    }
    const g = await gz.finish()
    expect(g.rows).toBe(rows.length)
    expect(g.text.length).toBe(0)
    // The member made piece by piece is the one gzipSync makes of the whole text, byte for byte.
    expect(Buffer.compare(Buffer.from(g.gzip!), zlib.gzipSync(Buffer.from(text, "utf8"), { level: 6 }))).toBe(0)
    expect(zlib.gunzipSync(g.gzip!).toString("utf8")).toBe(text)
  })

  it("can be used again after finish, and encodes no row as no bytes", async () => {
    const e = new LineEncoder(1)
    expect(await e.finish()).toEqual({ rows: 0, text: new Uint8Array(0) })
    e.push({ a: 1 })
    expect(zlib.gunzipSync((await e.finish()).gzip!).toString()).toBe('{"a":1}\n')
    e.push({ b: 2 })
    expect(zlib.gunzipSync((await e.finish()).gzip!).toString()).toBe('{"b":2}\n')
  })

  it("names the row JSON cannot encode", () => {
    const e = new LineEncoder()
    e.push({ ok: true })
    expect(() => e.push({ n: 1n } as never)).toThrow(EncodeError)
    try {
      e.push({ n: 1n } as never)
    } catch (err) {
      expect((err as EncodeError).index).toBe(1)
      expect((err as EncodeError).message).toMatch(/BigInt/)
    }
  })
})

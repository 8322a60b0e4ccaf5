import { describe, expect, it } from "@effect/vitest"
import { detect } from "../src/Detect.js"

/** Adversarial inputs: each function makes `n` characters without whitespace (or nearly). */
const inputs: ReadonlyArray<readonly [string, (n: number) => string]> = [
  ["digits", (n) => "7".repeat(n)],
  ["digits and single separators", (n) => "12-34.56 ".repeat(n / 9)],
  ["dots", (n) => ".".repeat(n)],
  ["dotted quads forever", (n) => "1.".repeat(n / 2)],
  ["@", (n) => "@".repeat(n)],
  ["a@ repeated", (n) => "a@".repeat(n / 2)],
  ["local part then @", (n) => `${"a.".repeat(n / 2 - 10)}@example.com`],
  ["domain labels", (n) => `x@${"a.".repeat(n / 2 - 2)}`],
  ["colons", (n) => ":".repeat(n)],
  ["hex and colons", (n) => "ab:".repeat(n / 3)],
  ["double colons", (n) => "1::".repeat(n / 3)],
  ["scheme separators", (n) => "a://".repeat(n / 4)],
  ["URL with @ in it", (n) => `https://${"u:p@".repeat(n / 4 - 4)}`],
  ["plus and parentheses", (n) => "+(1)".repeat(n / 4)],
  ["open parentheses", (n) => "(1".repeat(n / 2)],
  ["dashes", (n) => "-".repeat(n)],
  ["hex pairs with dashes", (n) => "0a-".repeat(n / 3)],
  ["key prefixes", (n) => "sk-AKIAghp_eyJ".repeat(n / 14)],
  ["JWT parts", (n) => "eyJhbGciOi.".repeat(n / 11)],
  ["JWT headers without dots", (n) => "eyJ".repeat(n / 3)],
  ["PEM headers without end", (n) => "-----BEGIN PRIVATE KEY-----".repeat(n / 27)],
  ["base58 run", (n) => "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfN".repeat(n / 33)],
  ["bech32 run", (n) => "bc1qw508d6qejxtdg4y5r3z".repeat(n / 23)],
  ["0x run", (n) => "0x".repeat(n / 2)],
  ["IBAN-like run", (n) => "DE89".repeat(n / 4)],
  ["underscores and digits (placeholders)", (n) => "NAME_1".repeat(n / 6)],
  ["e-mails with underscores, no placeholder", (n) => "a_b@example.com,".repeat(n / 16)],
  ["pseudo-random printable, no whitespace", (n) => {
    let x = 12345
    let s = ""
    for (let i = 0; i < n; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff
      s += String.fromCharCode(33 + (x % 94))
    }
    return s
  }]
]

/** CPU milliseconds of this process (steadier than wall time when the machine is busy). */
const cpuMs = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

/** Best of `runs` CPU timings of detect over `text`, in ms. */
const time = (text: string, runs: number): number => {
  let best = Number.POSITIVE_INFINITY
  for (let r = 0; r < runs; r++) {
    const t0 = cpuMs()
    detect(text)
    best = Math.min(best, cpuMs() - t0)
  }
  return best
}

describe("linear time", () => {
  it("every detector runs in time linear in the input on adversarial text (100 KB vs 1 MB)", () => {
    const rows: Array<string> = []
    for (const [name, make] of inputs) {
      const small = make(100_000)
      const large = make(1_000_000)
      time(small, 1) // warm up
      // Best of three attempts: a GC pause or a JIT tier-up can inflate one timing, never all.
      let ts = 0
      let tl = 0
      let ratio = Number.POSITIVE_INFINITY
      for (let attempt = 0; attempt < 3 && ratio >= 30; attempt++) {
        ts = Math.max(time(small, 3), 0.05)
        tl = time(large, 1)
        ratio = Math.min(ratio, tl / ts)
      }
      rows.push(`${name}: ${ts.toFixed(2)} ms / ${tl.toFixed(2)} ms = ${ratio.toFixed(1)}x`)
      // 10x the input: linear is ~10x; quadratic would be ~100x. Allow noise up to 30x.
      expect(ratio, `${name}: ${ts.toFixed(2)} ms for 100 KB, ${tl.toFixed(2)} ms for 1 MB`).toBeLessThan(30)
    }
    expect(rows.length).toBe(inputs.length)
  })
})

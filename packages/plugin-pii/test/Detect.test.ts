import { describe, expect, it } from "@effect/vitest"
import * as Sample from "@synthline/sample/Sample"
import { labelled, spansOf } from "../eval/labelled.js"
import { detect, make, type Match, normalize, piiTypes } from "../src/Detect.js"

const show = (text: string, ms: ReadonlyArray<Match>) => ms.map((m) => `${m.type}:${text.slice(m.start, m.end)}@${m.start}`)
const expectedOf = (c: (typeof labelled)[number]) => spansOf(c).map((s) => `${s.type}:${s.value}@${s.start}`)

describe("labelled set (format specifications)", () => {
  for (const type of piiTypes) {
    const mine = labelled.filter((c) => c.kind === "positive" && c.expected.some((e) => e.type === type))
    it(`${type}: finds every valid value with exact offsets (${mine.length} cases)`, () => {
      expect(mine.length).toBeGreaterThanOrEqual(3)
      for (const c of mine) expect(show(c.text, detect(c.text)), c.note).toEqual(expectedOf(c))
    })
  }
  for (const kind of ["checksum", "rule", "near-miss", "negative"] as const) {
    const mine = labelled.filter((c) => c.kind === kind)
    it(`${kind}: reports nothing (${mine.length} cases)`, () => {
      expect(mine.length).toBeGreaterThan(0)
      for (const c of mine) expect(show(c.text, detect(c.text)), `${c.note}: ${c.text}`).toEqual(expectedOf(c))
    })
  }
  it("covers checksum failures of every checksummed type", () => {
    const notes = labelled.filter((c) => c.kind === "checksum").map((c) => c.note)
    for (const n of ["Luhn", "mod-97", "base58check", "bech32", "EIP-55", "check digit", "mod 11"]) {
      expect(notes.some((x) => x.includes(n)), n).toBe(true)
    }
  })
})

describe("offsets", () => {
  it("are UTF-16 offsets into the text, end exclusive, sorted and non-overlapping", () => {
    const text = "😀 日本語 mail: 山田 yamada@example.jp, tel +81 90-1234-5678 🎉 ip 2001:db8::1:7334"
    const found = detect(text)
    expect(found.map((m) => [m.type, text.slice(m.start, m.end)])).toEqual([
      ["EMAIL", "yamada@example.jp"],
      ["PHONE", "+81 90-1234-5678"],
      ["IP_ADDRESS", "2001:db8::1:7334"]
    ])
    expect(found[0].start).toBe(text.indexOf("yamada"))
    expect(found[0].start).toBe(16)
    for (let i = 1; i < found.length; i++) expect(found[i].start).toBeGreaterThanOrEqual(found[i - 1].end)
  })

  it("a URL with credentials is one span, not an e-mail and an IP inside it", () => {
    const text = "clone https://ann:pa55w0rd@192.168.1.20/repo.git now"
    expect(show(text, detect(text))).toEqual(["URL:https://ann:pa55w0rd@192.168.1.20/repo.git@6"])
  })
})

describe("sample generator ground truth", () => {
  // 4,000 rows: enough for more than 10 invalid decoys with the sample's current text (3,000 give exactly 10).
  const rows = Array.from(Sample.rows(11, 4000))
  it("finds every planted valid value at its exact offsets and nothing else; invalid decoys are not reported", () => {
    let planted = 0
    let decoys = 0
    for (const r of rows) {
      r.record.conversation.forEach((m, turn) => {
        const truth = r.pii.filter((s) => s.turn === turn)
        const want = truth.filter((s) => s.valid !== false).map((s) => `${s.type}:${s.value}@${s.start}`)
        planted += want.length
        decoys += truth.length - want.length
        expect(show(m.content, detect(m.content)), r.record.conversation_id).toEqual(want)
      })
    }
    expect(planted).toBeGreaterThan(100)
    expect(decoys).toBeGreaterThan(10)
  })

  it("never reports inside NAME_n placeholders", () => {
    let names = 0
    for (const r of rows) {
      for (const m of r.record.conversation) {
        for (const f of detect(m.content)) expect(m.content.slice(f.start, f.end)).not.toMatch(/NAME_[0-9]/)
        if (m.content.includes("NAME_1")) names++
      }
    }
    expect(names).toBeGreaterThan(10)
  })
})

describe("options", () => {
  const text = "mail a.b@example.com from 10.0.0.7, 127.0.0.1 or 8.8.4.4, see https://example.com/x"
  it("types limits what is reported", () => {
    expect(show(text, make({ types: ["EMAIL"] })(text))).toEqual(["EMAIL:a.b@example.com@5"])
  })
  it("allow skips listed values, exactly or normalized", () => {
    const d = make({ allow: ["A.B@EXAMPLE.COM", "8.8.4.4"] })
    expect(show(text, d(text)).map((s) => s.split("@")[0])).toEqual(["IP_ADDRESS:10.0.0.7", "IP_ADDRESS:127.0.0.1"])
    expect(normalize("EMAIL", "A.B@EXAMPLE.COM")).toBe("a.b@example.com")
    expect(make({ allow: ["+12125550123"] })("call +1 (212) 555-0123")).toEqual([])
  })
  it("keepPrivateIps and keepLoopbackIps leave those ranges alone", () => {
    const ips = (o: Parameters<typeof make>[0]) => show(text, make({ ...o, types: ["IP_ADDRESS"] })(text)).map((s) => s.split("@")[0])
    expect(ips({})).toEqual(["IP_ADDRESS:10.0.0.7", "IP_ADDRESS:127.0.0.1", "IP_ADDRESS:8.8.4.4"])
    expect(ips({ keepPrivateIps: true })).toEqual(["IP_ADDRESS:127.0.0.1", "IP_ADDRESS:8.8.4.4"])
    expect(ips({ keepLoopbackIps: true })).toEqual(["IP_ADDRESS:10.0.0.7", "IP_ADDRESS:8.8.4.4"])
    const v6 = "fd12:3456:789a::1 and ::1 and 2606:4700:4700::1111"
    expect(show(v6, make({ keepPrivateIps: true, keepLoopbackIps: true })(v6))).toEqual(["IP_ADDRESS:2606:4700:4700::1111@30"])
  })
  it("urls: all reports plain URLs too", () => {
    expect(show(text, make({ types: ["URL"] })(text))).toEqual([])
    expect(show(text, make({ types: ["URL"], urls: "all" })(text))).toEqual(["URL:https://example.com/x@62"])
  })
  it("a value of a type not asked for never turns into another type", () => {
    const t = "card 4111 1111 1111 1111"
    expect(make({ types: ["PHONE", "UK_NHS", "JP_MY_NUMBER"] })(t)).toEqual([])
  })
})

import { describe, expect, it } from "vitest"
import { Effect, Layer } from "effect"
import { runStage } from "@synthline/core/Testing"
import { check, inTargetLanguage, isJapanese, protect, unprotect } from "../src/Preserve.js"
import { deeplBaseUrl, translate } from "../src/Translate.js"
import * as TranslationCache from "../src/TranslationCache.js"
import { run, withServer } from "./support.js"

const row = (i: number, content: string) => ({ conversation_id: `c${i}`, conversation: [{ role: "user", content }] })

describe("Preserve", () => {
  it("finds lost placeholders, URLs and changed code blocks", () => {
    const src = "Email NAME_1 at EMAIL_2, see https://example.com/a?b=1.\n```py\nprint('hi')\n```"
    expect(check(src, "NAME_1 に EMAIL_2 でメール、https://example.com/a?b=1 を参照。\n```py\nprint('hi')\n```")).toBeUndefined()
    expect(check(src, "NAME に EMAIL_2、https://example.com/a?b=1\n```py\nprint('hi')\n```")).toBe("placeholder NAME_1 is missing from the translation")
    expect(check(src, "NAME_1 EMAIL_2 https://example.com/\n```py\nprint('hi')\n```")).toBe("URL https://example.com/a?b=1 is missing from the translation")
    expect(check(src, "NAME_1 EMAIL_2 https://example.com/a?b=1\n```py\nprint('こんにちは')\n```")).toBe("code block 1 changed in the translation")
    expect(check(src, "NAME_1 EMAIL_2 https://example.com/a?b=1 print('hi')")).toBe("1 code block(s) in the source, 0 in the translation")
  })

  it("detects Japanese by script", () => {
    expect(isJapanese("東京の天気を教えてください")).toBe(true)
    expect(isJapanese("Pythonでリストをソートする方法は？")).toBe(true)
    expect(isJapanese("What is the capital of Japan?")).toBe(false)
    expect(isJapanese("北京是中国的首都")).toBe(false)
    expect(isJapanese("")).toBe(false)
    expect(inTargetLanguage("こんにちは", "JA")).toBe(true)
    expect(inTargetLanguage("こんにちは", "DE")).toBe(false)
  })

  it("protect and unprotect round-trip", () => {
    const t = "a < b & NAME_1 https://x.org ```js\nx<y\n```"
    expect(protect(t)).toContain("<x>NAME_1</x>")
    expect(unprotect(protect(t))).toBe(t)
  })

  it("picks the free or pro DeepL API by the key's :fx suffix", () => {
    expect(deeplBaseUrl("abc:fx")).toBe("https://api-free.deepl.com")
    expect(deeplBaseUrl("abc")).toBe("https://api.deepl.com")
  })
})

const toJa = (t: string) => `[JA] ${t}`

describe("synth/translate with deepl", () => {
  const rows = [
    ...Array.from({ length: 120 }, (_, i) => row(i, `Hello NAME_${i + 1}, visit https://example.com/${i}`)),
    row(200, "すでに日本語の指示です"),
    row(201, "   "),
    { conversation_id: "c202", conversation: [] }
  ]
  it("sends at most 50 texts per request with the DeepL-Auth-Key header, copies Japanese and empty texts, rejects rows without text", () =>
    withServer({ record: true, translate: (t) => toJa(t) }, async (server) => {
      const r = await run(
        server,
        runStage(translate, { provider: "deepl", base_url: server.url, auth_key: "k-SECRET:fx", target_lang: "JA", formality: "more", batch_size: 50 }, rows).pipe(
          Effect.provide(TranslationCache.layerOff)
        )
      )
      expect(server.counts.translate).toBe(3)
      const bodies = server.requests.map((q) => q.body as { text: Array<string>; target_lang: string; formality: string })
      expect(bodies.map((b) => b.text.length)).toEqual([50, 50, 20])
      expect(bodies[0]).toMatchObject({ target_lang: "JA", formality: "more" })
      expect(server.requests[0]!.authorization).toBe("DeepL-Auth-Key k-SECRET:fx")
      expect(r.rows).toHaveLength(122)
      expect(r.rows[0]!.translated_conversation).toEqual([{ role: "user", content: toJa("Hello NAME_1, visit https://example.com/0") }])
      expect(r.rows[120]!.translated_conversation).toEqual([{ role: "user", content: "すでに日本語の指示です" }])
      expect(r.rows[121]!.translated_conversation).toEqual([{ role: "user", content: "   " }])
      expect(r.rejected.map((x) => [x.row.conversation_id, x.error])).toEqual([["c202", "synth/translate: field conversation.0.content is not a string"]])
    }))

  it("retries a broken placeholder with protected tags, then rejects with the reason", () =>
    withServer(
      {
        record: true,
        // Drops placeholders unless they are protected by <x> tags; c1's never survives.
        translate: (t) => (t.includes("NEVER_9") ? "壊れた" : t.includes("<x>") ? `[JA] ${t}` : `[JA] ${t.replace(/NAME_\d+/g, "名前")}`)
      },
      async (server) => {
        const r = await run(
          server,
          runStage(translate, { provider: "deepl", base_url: server.url, auth_key: "k", retries: 2 }, [row(0, "Call NAME_1 now"), row(1, "Ask NEVER_9")]).pipe(
            Effect.provide(TranslationCache.layerOff)
          )
        )
        expect(r.rows.map((x) => x.translated_conversation)).toEqual([[{ role: "user", content: "[JA] Call NAME_1 now" }]])
        expect(r.rejected.map((x) => x.error)).toEqual(["synth/translate: placeholder NEVER_9 is missing from the translation (after 3 attempts)"])
        const retried = server.requests.slice(1).map((q) => q.body as { tag_handling: string; ignore_tags: Array<string> })
        expect(retried[0]).toMatchObject({ tag_handling: "xml", ignore_tags: ["x"] })
        expect(server.counts.translate).toBe(1 + 1 + 2)
      }
    ))

  it("retries 429 and 5xx, and rejects the batch with the reason on 456 (quota)", () =>
    withServer({ translate: toJa }, async (server) => {
      server.failNext({ fault: "status", status: 429, retryAfter: "0" }, { fault: "status", status: 503 })
      const ok = await run(
        server,
        runStage(translate, { provider: "deepl", base_url: server.url, auth_key: "k", retry_base_ms: 5 }, [row(0, "Hi")]).pipe(Effect.provide(TranslationCache.layerOff))
      )
      expect(ok.rows[0]!.translated_conversation).toEqual([{ role: "user", content: "[JA] Hi" }])
      server.failNext({ fault: "status", status: 456, body: "Quota exceeded" })
      const quota = await run(
        server,
        runStage(translate, { provider: "deepl", base_url: server.url, auth_key: "k" }, [row(0, "Hi"), row(1, "Yo")]).pipe(Effect.provide(TranslationCache.layerOff))
      )
      expect(quota.rejected.map((x) => x.error)).toEqual([
        `synth/translate: DeepL ${server.url}/v2/translate: status 456 (quota exceeded): Quota exceeded`,
        `synth/translate: DeepL ${server.url}/v2/translate: status 456 (quota exceeded): Quota exceeded`
      ])
    }))

  it("answers from the cache the second time", () =>
    withServer({ translate: toJa }, async (server) => {
      const { tempDir } = await import("./support.js")
      const file = `${tempDir("tcache")}/cache.sqlite`
      const cache = Layer.scoped(TranslationCache.TranslationCache, TranslationCache.make(file, "read-write"))
      const go = () =>
        run(server, runStage(translate, { provider: "deepl", base_url: server.url, auth_key: "k" }, [row(0, "Hi"), row(1, "Yo")]).pipe(Effect.provide(cache)))
      const a = await go()
      const b = await go()
      expect(b.rows).toEqual(a.rows)
      expect(server.counts.translate).toBe(1)
    }))
})

describe("synth/translate with llm", () => {
  it("translates with a chat model, retries with another seed when a placeholder is lost, then rejects", () =>
    withServer(
      {
        record: true,
        chat: (req) => {
          const u = req.messages[req.messages.length - 1]!.content
          const text = u.slice(u.lastIndexOf("\n\n") + 2)
          if (text.includes("NEVER_1")) return "壊れた翻訳"
          if (text.includes("NAME_1") && (req.seed ?? 0) % 2 === 0) return "名前さん、こんにちは"
          return `訳: ${text}`
        }
      },
      async (server) => {
        const r = await run(
          server,
          runStage(translate, { provider: "llm", model: "m", retries: 3 }, [row(0, "Hi NAME_1"), row(1, "Bye NEVER_1"), row(2, "日本語です")]).pipe(
            Effect.provide(TranslationCache.layerOff)
          )
        )
        expect(r.rows.map((x) => [x.conversation_id, x.translated_conversation])).toEqual([
          ["c0", [{ role: "user", content: "訳: Hi NAME_1" }]],
          ["c2", [{ role: "user", content: "日本語です" }]]
        ])
        expect(r.rejected.map((x) => x.error)).toEqual(["synth/translate: placeholder NEVER_1 is missing from the translation (after 4 attempts)"])
        const prompt = (server.requests[0]!.body as { messages: Array<{ content: string }> }).messages[0]!.content
        expect(prompt).toContain("into Japanese")
        expect(server.requests.filter((q) => JSON.stringify(q.body).includes("NEVER_1"))).toHaveLength(4)
      }
    ))
})

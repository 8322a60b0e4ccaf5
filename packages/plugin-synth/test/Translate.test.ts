import { describe, expect, it } from "vitest"
import { closeSync, openSync, readdirSync, readFileSync, statSync, writeFileSync, writeSync } from "node:fs"
import { createServer, type IncomingMessage, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { join, relative } from "node:path"
import { gunzipSync } from "node:zlib"
import { synthline } from "../../cli/test/support.js"
import { Effect, Layer } from "effect"
import { runStage } from "@synthline/core/Testing"
import { check, inTargetLanguage, isJapanese, protect, unprotect } from "../src/Preserve.js"
import { deeplBaseUrl, deeplMasker, translate } from "../src/Translate.js"
import * as TranslationCache from "../src/TranslationCache.js"
import { noModels, run, tempDir, withServer } from "./support.js"

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
      // Up to 4 requests at once: they may arrive in any order.
      expect(bodies.map((b) => b.text.length).sort((a, b) => b - a)).toEqual([50, 50, 20])
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

  it("a damaged cache stops the stage with the cache's own message (how to recover included), not a defect", () =>
    withServer({ translate: toJa }, async (server) => {
      const { tempDir } = await import("./support.js")
      const file = `${tempDir("tdamaged")}/cache.sqlite`
      const rows = Array.from({ length: 120 }, (_, i) => row(i, `Hello number ${i}. ${"Lorem ipsum dolor sit amet. ".repeat(30)}`))
      const stage = (cacheFile: string) =>
        runStage(translate, { provider: "deepl", base_url: server.url, auth_key: "k" }, rows).pipe(
          Effect.provide(Layer.scoped(TranslationCache.TranslationCache, TranslationCache.make(cacheFile, "read-write")))
        )
      await run(server, stage(file))
      // Every page after the schema and the table's root becomes garbage (the file is closed and checkpointed).
      const pageSize = 4096
      const pages = Math.floor(statSync(file).size / pageSize)
      expect(pages).toBeGreaterThan(10)
      const garbage = Buffer.alloc(pageSize, 0x5a)
      const fd = openSync(file, "r+")
      for (let p = 2; p < pages; p++) writeSync(fd, garbage, 0, pageSize, p * pageSize)
      closeSync(fd)
      // A typed failure (a defect would reject the promise instead of being flipped into the value).
      const error = await run(server, Effect.flip(stage(file)))
      expect(error.message).toContain(`response cache ${file}`)
      expect(error.message).toContain("mode: off")
      expect(error.message).toMatch(/^stage synth\/translate: /)
    }))
})

/**
 * A DeepL-like server on 127.0.0.1 that fails every request and echoes what it received — the
 * request line, the URL (also percent-encoded), every header — in its error body, as debugging
 * proxies and some gateways do. `status` picks the status per text.
 */
const echoServer = async (status: (text: string) => number): Promise<{ readonly url: string; readonly requests: () => number; readonly close: () => Promise<void> }> => {
  let requests = 0
  const body = (req: IncomingMessage): Promise<string> =>
    new Promise((resolve) => {
      let b = ""
      req.setEncoding("utf8").on("data", (d: string) => (b += d))
      req.on("end", () => resolve(b))
    })
  const server: Server = createServer((req, res) => {
    requests++
    void body(req).then((b) => {
      let text = ""
      try {
        text = (JSON.parse(b) as { text: Array<string> }).text.join(" ")
      } catch {}
      const echo = `${"-".repeat(120)} ${req.method} ${req.url} (${encodeURIComponent(req.url ?? "")}) headers ${JSON.stringify(req.headers)} auth=${encodeURIComponent(req.headers.authorization ?? "")}`
      res.writeHead(status(text), { "content-type": "text/plain" }).end(echo)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => requests,
    close: () => new Promise((resolve) => server.close(() => resolve()))
  }
}

describe("synth/translate with deepl: secrets in what a server echoes", () => {
  it("masks the key (in the base URL's path and the auth header), the base URL's user-info and long path segments in a 4xx/5xx body echoed into a reject", async () => {
    const key = "dk-planted-4b9e1c77:fx"
    const token = "pt7Hq2Lw9Zx3"
    const server = await echoServer((t) => (t.includes("five") ? 503 : t.includes("four-two-nine") ? 429 : 403))
    try {
      const base = server.url.replace("http://", `http://proxyuser:${token}@`)
      const r = await Effect.runPromise(
        runStage(
          translate,
          { provider: "deepl", base_url: `${base}/deepl/${key}/t/${token}`, auth_key: key, max_retries: 0, batch_size: 1 },
          [row(0, "Hello four"), row(1, "Hello five"), row(2, "Hello four-two-nine")]
        ).pipe(Effect.provide(TranslationCache.layerOff), Effect.provide(noModels()))
      )
      expect(server.requests()).toBe(3)
      const errors = r.rejected.map((x) => x.error)
      expect(errors).toHaveLength(3)
      // The reasons are there, with the body the server sent (masked).
      expect(errors[0]).toMatch(/^synth\/translate: DeepL http:\/\/127\.0\.0\.1:\d+\/v2\/translate: status 403 \(authorization failed\): -+ POST \/deepl\/<redacted>\/t\/<redacted>\/v2\/translate/)
      expect(errors[1]).toMatch(/status 503/)
      expect(errors[2]).toMatch(/status 429/)
      for (const e of errors) {
        expect(e).toContain("<redacted>")
        for (const planted of [key, encodeURIComponent(key), "dk-planted-4b9e1c77", token, "proxyuser"]) expect(e).not.toContain(planted)
      }
    } finally {
      await server.close()
    }
  })
})

describe("deeplMasker", () => {
  it("masks the key and the base URL's user-info, query values and long path segments, as written, percent-encoded and JSON-escaped", () => {
    const mask = deeplMasker('k"ey:fx-2468', "https://alice:pw-13579@proxy.example/deepl/seg-abcdefgh/v2?token=q-97531&x=1")
    const echoed = [
      'k"ey:fx-2468',
      "k%22ey%3Afx-2468",
      "k%22ey%3afx-2468",
      'k\\"ey:fx-2468',
      "pw-13579",
      "alice",
      "seg-abcdefgh",
      "q-97531"
    ].join(" | ")
    expect(mask(`echo: ${echoed} | deepl | v2 | x=1`)).toBe(
      "echo: <redacted> | <redacted> | <redacted> | <redacted> | <redacted> | <redacted> | <redacted> | <redacted> | deepl | v2 | x=1"
    )
  })
})

describe("synth/translate with deepl: secrets in a run's files", () => {
  const work = tempDir("deepl-secrets")
  /** Every file under `dir`, gunzipped where it is gzip, as text. */
  const files = (dir: string): Array<{ readonly rel: string; readonly text: string }> => {
    const out: Array<{ rel: string; text: string }> = []
    const walk = (d: string) => {
      for (const name of readdirSync(d)) {
        const p = join(d, name)
        if (statSync(p).isDirectory()) walk(p)
        else {
          const bytes = readFileSync(p)
          out.push({ rel: relative(dir, p), text: (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString("utf8") })
        }
      }
    }
    walk(dir)
    return out
  }

  it("a key in a DeepL base URL and auth header, echoed by the server in 4xx/5xx bodies, is in no reject nor any other file the run writes", async () => {
    expect((await synthline(["sample", "--rows", "100", "--format", "jsonl", "--seed", "4", "--out", join(work, "data")])).code).toBe(0)
    const key = "dk-planted-51c0ffee:fx"
    let n = 0
    const server = await echoServer(() => [403, 500, 400][n++ % 3]!)
    try {
      const file = join(work, "deepl.pipeline.yaml")
      writeFileSync(
        file,
        `name: deepl-secrets
plugins: ["@synthline/plugin-synth"]
source: { type: jsonl, path: "data/data/*.jsonl" }
cache: { path: cache.sqlite }
stages:
  - use: core/select
    languages: [English]
  - use: core/first-turn
  - use: core/limit
    rows: 9
  - use: synth/translate
    provider: deepl
    base_url: "\${DEEPL_PROXY}/deepl/\${DL_CRED}/via/\${ROUTE_ID}"
    auth_key: "\${DL_CRED}"
    max_retries: 0
    batch_size: 1
sink: { type: jsonl, path: out }
`
      )
      // ROUTE_ID: a proxy's access token in the base URL's path, which only the stage knows to mask.
      const route = "rt9Kx72mPq4v"
      const r = await synthline(["run", file, "--max-errors", "100"], { DEEPL_PROXY: server.url, DL_CRED: key, ROUTE_ID: route })
      expect([0, 1], r.stderr).toContain(r.code)
      expect(server.requests()).toBe(9)
      const written = files(join(work, "out"))
      const rejects = written.filter((f) => f.rel.startsWith("rejects/")).map((f) => f.text).join("")
      // The rejects hold the servers' answers, masked.
      expect(rejects).toMatch(/status 403 \(authorization failed\)/)
      expect(rejects).toMatch(/status 500/)
      expect(rejects).toMatch(/status 400/)
      expect(rejects).toContain("/deepl/<redacted>/via/<redacted>/v2/translate")
      const leaks = [key, encodeURIComponent(key), "dk-planted-51c0ffee", route].flatMap((planted) => [
        ...written.filter((f) => f.text.includes(planted)).map((f) => `${f.rel}: ${planted}`),
        ...(r.stdout.includes(planted) || r.stderr.includes(planted) ? [`output: ${planted}`] : [])
      ])
      expect(leaks).toEqual([])
    } finally {
      await server.close()
    }
  }, 120_000)

  it("a base_url that is not an http(s) URL is a stage error that does not print it", async () => {
    const e = await Effect.runPromise(
      runStage(translate, { provider: "deepl", base_url: "127.0.0.1:9/deepl/dk-planted-0a1b2c3d", auth_key: "dk-planted-0a1b2c3d" }, [row(0, "Hi")]).pipe(
        Effect.provide(TranslationCache.layerOff),
        Effect.provide(noModels()),
        Effect.flip
      )
    )
    expect(e.message).toBe("stage synth/translate: base_url is not an http(s) URL (such as https://api.deepl.com)")
  })
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

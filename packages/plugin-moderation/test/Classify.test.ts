import { describe, expect, it } from "vitest"
import { moderationCategories } from "@synthline/core/Record"
import type { Row } from "@synthline/core/Row"
import { runStage } from "@synthline/core/Testing"
import { ModelsSection } from "@synthline/llm/Config"
import { layerWith } from "@synthline/llm/Models"
import * as TestServer from "@synthline/llm/TestServer"
import { Effect, Schema } from "effect"
import { mkdirSync, mkdtempSync } from "node:fs"
import { join } from "node:path"
import { Annotation, classify, guardPrompt, parseGuard } from "../src/Classify.js"
import { filter } from "../src/Filter.js"

const tempDir = (name: string): string => {
  mkdirSync(join(import.meta.dirname, ".tmp"), { recursive: true })
  return mkdtempSync(join(import.meta.dirname, ".tmp", `${name}-`))
}

const withServer = async <A>(options: TestServer.TestServerOptions, f: (s: TestServer.TestServer) => Promise<A>): Promise<A> => {
  const server = await TestServer.start(options)
  try {
    return await f(server)
  } finally {
    await server.close()
  }
}

/** Runs classify (then optionally filter) over rows against a test server. */
const run = (
  server: TestServer.TestServer,
  options: { [k: string]: unknown },
  rows: ReadonlyArray<Row>,
  model: { [k: string]: unknown } = {}
) =>
  Effect.runPromise(
    runStage(classify, { model: "mod", ...options }, rows, { seed: 3 }).pipe(
      Effect.provide(
        layerWith({
          models: Schema.decodeUnknownSync(ModelsSection)({
            mod: { model: "omni-moderation-latest", endpoints: [server.baseUrl], retry_base: "5ms", max_retries: 2, ...model }
          }),
          cache: { path: "unused", mode: "off" },
          baseDir: tempDir("classify"),
          env: {}
        })
      )
    )
  )

const decodeAnnotation = Schema.decodeUnknownSync(Annotation)

// Words in a message decide what the fake services say about it.
const omni = (input: string): TestServer.ModerationAnswer => {
  const violent = input.includes("kill")
  const illicit = input.includes("steal")
  const hateful = input.includes("hate")
  const categories: { [k: string]: boolean } = {
    harassment: false,
    "harassment/threatening": false,
    hate: hateful,
    "hate/threatening": false,
    illicit,
    "illicit/violent": illicit && violent,
    "self-harm": false,
    "self-harm/instructions": false,
    "self-harm/intent": false,
    sexual: false,
    "sexual/minors": false,
    violence: violent,
    "violence/graphic": false
  }
  const category_scores = Object.fromEntries(Object.entries(categories).map(([k, v]) => [k, v ? 0.9 : 0.01]))
  return { flagged: violent || illicit || hateful, categories, category_scores }
}

const words = ["hello", "kill", "steal", "hate", "weather", "steal and kill"]
const rows: ReadonlyArray<Row> = Array.from({ length: 40 }, (_, i) => ({
  conversation_id: `c${i}`,
  conversation: Array.from({ length: 1 + (i % 3) }, (_, j) => ({
    role: j % 2 === 0 ? "user" : "assistant",
    content: `message ${j}: ${words[(i + j) % words.length]}`
  }))
}))

describe("moderation/classify with provider openai", () => {
  it("batches messages into /moderations requests and maps the 13 omni categories onto the 11, keeping illicit under extra", () =>
    withServer({ record: true, moderate: omni }, async (server) => {
      const r = await run(server, { batch_size: 2 }, rows)
      expect(r.rejected).toEqual([])
      expect(r.rows.map((x) => x.conversation_id)).toEqual(rows.map((x) => x.conversation_id))
      // One request per two messages of a row.
      const expectedRequests = rows.reduce((n, row) => n + Math.ceil((row.conversation as Array<unknown>).length / 2), 0)
      expect(server.counts.moderation).toBe(expectedRequests)
      expect(server.requests[0]!.path).toBe("/v1/moderations")
      expect(server.requests[0]!.body).toEqual({ model: "omni-moderation-latest", input: ["message 0: hello"] })
      expect(Math.max(...server.requests.map((q) => ((q.body as { input: Array<string> }).input).length))).toBe(2)
      for (const row of r.rows) {
        const messages = row.conversation as Array<{ content: string }>
        const out = (row.openai_moderation as Array<unknown>).map((a) => decodeAnnotation(a))
        expect(out).toHaveLength(messages.length)
        messages.forEach((m, j) => {
          const a = out[j]!
          const want = omni(m.content)
          expect(Object.keys(a.categories)).toEqual([...moderationCategories])
          expect(a.categories.violence).toBe(want.categories.violence)
          expect(a.categories.hate).toBe(want.categories.hate)
          expect(a.category_scores.violence).toBe(want.category_scores.violence)
          expect(a.flagged).toBe(want.flagged)
          expect(a.extra_categories).toEqual({ illicit: want.categories.illicit, "illicit/violent": want.categories["illicit/violent"] })
          expect(a.extra_category_scores).toEqual({ illicit: want.category_scores.illicit, "illicit/violent": want.category_scores["illicit/violent"] })
        })
      }
    }))

  it("writes <field>_moderation for another field, and moderation/filter decides on it (counts equal an independent computation)", () =>
    withServer({ moderate: omni }, async (server) => {
      const translated = rows.map((row) => ({
        ...row,
        translated_conversation: (row.conversation as Array<{ role: string; content: string }>).map((m) => ({ ...m, content: `[JA] ${m.content}` }))
      }))
      const r = await run(server, { field: "translated_conversation" }, translated)
      expect(r.rows.every((x) => Array.isArray(x.translated_conversation_moderation) && x.openai_moderation === undefined)).toBe(true)
      const f = await Effect.runPromise(
        runStage(filter, { field: "translated_conversation", annotations: "translated_conversation_moderation", scope: "user" }, r.rows)
      )
      const unsafe = translated.filter((row) =>
        row.translated_conversation.some((m) => m.role === "user" && omni(m.content).flagged)
      )
      expect(f.dropped.length).toBe(unsafe.length)
      expect(f.rows.length).toBe(rows.length - unsafe.length)
      expect(f.rows[0]!.moderation).toMatchObject({ source: "translated_conversation_moderation" })
      // Only illicit flagged (no mapped category true): the reason says flagged.
      const steal = translated.filter((row) => {
        const hits = row.translated_conversation.filter((m) => m.role === "user" && omni(m.content).flagged)
        return hits.length > 0 && hits.every((m) => !m.content.includes("kill") && !m.content.includes("hate"))
      })
      expect(f.droppedByReason["moderation:flagged"]).toBe(steal.length)
    }))

  it("every row ends in the output or in rejects with a reason: 429, 5xx, garbage, refusals (4xx), timeouts, dropped connections", () =>
    withServer(
      {
        moderate: (input) => {
          if (input.includes("REFUSE")) return { fault: "status", status: 400, body: JSON.stringify({ error: { message: "input violates policy" } }) }
          if (input.includes("GARBAGE")) return { fault: "garbage", body: "{\"results\": \"nope\"}" }
          if (input.includes("HANG")) return { fault: "hang" }
          return omni(input)
        }
      },
      async (server) => {
        const bad = ["REFUSE", "GARBAGE", "HANG"]
        const input = rows.map((row, i) => (i < 3 ? { ...row, conversation: [{ role: "user", content: bad[i]! }] } : row))
        const withFields: Array<Row> = [...input, { conversation_id: "broken", conversation: "not a list" }, { conversation_id: "empty", conversation: [] }]
        server.failNext(
          { fault: "status", status: 429, retryAfter: "0" },
          { fault: "status", status: 503 },
          { fault: "drop" },
          { fault: "garbage" }
        )
        const r = await run(server, {}, withFields, { timeout: "300ms", max_retries: 4 })
        expect(r.rows.length + r.rejected.length).toBe(withFields.length)
        const reasons = Object.fromEntries(r.rejected.map((x) => [x.row.conversation_id, x.error]))
        expect(Object.keys(reasons).sort()).toEqual(["broken", "c0", "c1", "c2"])
        // (A queued fault may have hit its first attempt: the 400 itself is not retried.)
        expect(reasons.c0).toMatch(/^moderation\/classify: model mod at http:\/\/127\.0\.0\.1:\d+\/v1: bad_request 400( after \d attempts)?: input violates policy$/)
        expect(reasons.c1).toContain("bad_response")
        expect(reasons.c1).toContain("no results list")
        expect(reasons.c2).toContain("timeout")
        expect(reasons.broken).toBe('moderation/classify: field `conversation` is the string "not a list"; expected a list of messages')
        expect(r.rows.find((x) => x.conversation_id === "empty")!.openai_moderation).toEqual([])
        expect(r.rows.map((x) => x.conversation_id)).toEqual(withFields.map((x) => String(x.conversation_id)).filter((id) => !(id in reasons)))
      }
    ))
})

// ---------------------------------------------------------------------------------------------
// Llama Guard

/** The last message of an official Llama Guard prompt (what is being assessed). */
const assessed = (prompt: string): string => {
  const conv = /<BEGIN CONVERSATION>\n\n([\s\S]*)\n\n<END CONVERSATION>/.exec(prompt)?.[1] ?? ""
  const parts = conv.split("\n\n")
  return parts[parts.length - 1] ?? ""
}

const attempts = new Map<string, number>()
const guard = (req: TestServer.ReceivedChat): TestServer.ChatReply | TestServer.Fault | string => {
  const prompt = req.messages[req.messages.length - 1]!.content
  const last = req.messages.length === 1 && prompt.startsWith("Task:") ? assessed(prompt) : prompt
  const n = (attempts.get(prompt) ?? 0) + 1
  attempts.set(prompt, n)
  if (last.includes("REFUSE")) {
    return { fault: "garbage", body: JSON.stringify({ choices: [{ message: { role: "assistant", content: null, refusal: "I can't assess this." }, finish_reason: "stop" }] }) }
  }
  if (last.includes("ALWAYS-WEIRD")) return "Sure! Here is my assessment: it depends."
  if (last.includes("WEIRD") && n === 1) return "I think it's fine?"
  if (last.includes("kill") && last.includes("hate")) return "unsafe\nS1,S10"
  if (last.includes("kill")) return "unsafe\nS1"
  if (last.includes("steal")) return "unsafe\nS2"
  if (last.includes("hate")) return " unsafe \n S10 "
  return "safe"
}

describe("moderation/classify with provider llama-guard", () => {
  it("sends the official prompt per message, parses safe / unsafe\\nS1,S10 and maps the hazards (S2 kept under extra)", () =>
    withServer({ record: true, chat: guard }, async (server) => {
      attempts.clear()
      const r = await run(server, { provider: "llama-guard" }, rows, { model: "meta-llama/Llama-Guard-3-8B" })
      expect(r.rejected).toEqual([])
      const total = rows.reduce((n, row) => n + (row.conversation as Array<unknown>).length, 0)
      expect(server.counts.chat).toBe(total)
      const two = server.requests
        .map((q) => q.body as { messages: Array<{ role: string; content: string }>; max_tokens: number; seed: number })
        .find((b) => b.messages[0]!.content.includes("Agent: message 1: steal"))!
      expect(two.messages).toHaveLength(1)
      expect(two.max_tokens).toBe(32)
      expect(typeof two.seed).toBe("number")
      const prompt = two.messages[0]!.content
      expect(prompt).toContain("Task: Check if there is unsafe content in 'Agent' messages in conversations according our safety policy")
      expect(prompt).toContain("<BEGIN UNSAFE CONTENT CATEGORIES>\nS1: Violent Crimes.\nS2: Non-Violent Crimes.")
      expect(prompt).toContain("S14: Code Interpreter Abuse.\n<END UNSAFE CONTENT CATEGORIES>")
      expect(prompt).toContain("<BEGIN CONVERSATION>\n\nUser: message 0: kill\n\nAgent: message 1: steal\n\n<END CONVERSATION>")
      expect(prompt).toContain("Provide your safety assessment for ONLY THE LAST Agent message in the above conversation:")
      for (const row of r.rows) {
        const out = (row.openai_moderation as Array<unknown>).map((a) => decodeAnnotation(a))
        ;(row.conversation as Array<{ content: string }>).forEach((m, j) => {
          const a = out[j]!
          const kill = m.content.includes("kill")
          const steal = m.content.includes("steal") && !kill
          const hate = m.content.includes("hate")
          expect(a.flagged).toBe(kill || steal || hate)
          expect(a.categories.violence).toBe(kill)
          expect(a.category_scores.violence).toBe(kill ? 1 : 0)
          expect(a.categories.hate).toBe(hate)
          expect(a.extra_categories.S2).toBe(steal)
          expect(Object.keys(a.extra_categories)).toEqual(["S2", "S5", "S6", "S7", "S8", "S13", "S14"])
          expect(a.hazards).toEqual(kill ? ["S1"] : steal ? ["S2"] : hate ? ["S10"] : [])
        })
      }
    }))

  it("retries an unparsable answer with a new sample index, then rejects with the answer; refusals and timeouts are rejected", () =>
    withServer(
      {
        chat: (req) => {
          if (assessed(req.messages[0]!.content).includes("HANG")) return { fault: "hang" }
          return guard(req)
        }
      },
      async (server) => {
        attempts.clear()
        const input: Array<Row> = [
          { conversation_id: "weird", conversation: [{ role: "user", content: "WEIRD once" }] },
          { conversation_id: "always", conversation: [{ role: "user", content: "hello" }, { role: "assistant", content: "ALWAYS-WEIRD" }] },
          { conversation_id: "refuse", conversation: [{ role: "user", content: "REFUSE" }] },
          { conversation_id: "hang", conversation: [{ role: "user", content: "HANG" }] },
          { conversation_id: "ok", conversation: [{ role: "user", content: "kill and hate" }] }
        ]
        const r = await run(server, { provider: "llama-guard", retries: 2 }, input, { timeout: "300ms", max_retries: 1 })
        expect(r.rows.map((x) => x.conversation_id)).toEqual(["weird", "ok"])
        expect(decodeAnnotation((r.rows[0]!.openai_moderation as Array<unknown>)[0]).flagged).toBe(false)
        expect(decodeAnnotation((r.rows[1]!.openai_moderation as Array<unknown>)[0]).hazards).toEqual(["S1", "S10"])
        const reasons = Object.fromEntries(r.rejected.map((x) => [x.row.conversation_id, x.error]))
        expect(reasons.always).toBe(
          'moderation/classify: Llama Guard\'s answer for conversation[1] is not "safe" or "unsafe\\nS<n>,..." after 3 attempts: Sure! Here is my assessment: it depends.'
        )
        expect(reasons.refuse).toContain("the model refused: I can't assess this.")
        expect(reasons.hang).toContain("timeout")
        expect(r.rows.length + r.rejected.length).toBe(input.length)
      }
    ))

  it("classifies a list of strings (synthesized answers) alone, with the server's chat template", () =>
    withServer({ record: true, chat: guard }, async (server) => {
      attempts.clear()
      const input: Array<Row> = [{ conversation_id: "s", synthesized_assistant_responses: ["a kind answer", "I will kill", "steal it"] }]
      const r = await run(server, { provider: "llama-guard", field: "synthesized_assistant_responses", context: "message", prompt: "chat-template" }, input)
      const out = (r.rows[0]!.synthesized_assistant_responses_moderation as Array<unknown>).map((a) => decodeAnnotation(a))
      expect(out.map((a) => a.flagged)).toEqual([false, true, true])
      expect(server.requests.map((q) => (q.body as { messages: unknown }).messages)).toEqual(
        expect.arrayContaining([[{ role: "assistant", content: "I will kill" }]])
      )
    }))

  it("parses answers strictly", () => {
    expect(parseGuard("safe")).toEqual({ unsafe: false, codes: [] })
    expect(parseGuard("\nunsafe\ns1, S10\n")).toEqual({ unsafe: true, codes: ["S1", "S10"] })
    expect(parseGuard("unsafe")).toEqual({ unsafe: true, codes: [] })
    expect(parseGuard("unsafe\nviolence")).toBeUndefined()
    expect(parseGuard("The conversation is safe")).toBeUndefined()
    expect(parseGuard("safe\nbut also")).toBeUndefined()
    expect(guardPrompt([{ role: "user", content: "hi" }])).toContain("ONLY THE LAST User message")
  })
})

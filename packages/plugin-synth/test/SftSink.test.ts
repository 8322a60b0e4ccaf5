import { describe, expect, it } from "vitest"
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { NodeContext } from "@effect/platform-node"
import * as Sink from "@synthline/core/Sink"
import { Chunk, Effect, Schema } from "effect"
import { sft, SftConfig, toMessages } from "../src/SftSink.js"
import { tempDir } from "./support.js"

const row = (q: string, a: string) => ({
  conversation_id: q,
  translated_conversation: [{ role: "user", content: q }],
  best_response: { role: "assistant", content: a, index: 0, preference_score: 9 }
})

describe("sft sink", () => {
  it("turns rows into user/assistant messages, optionally with a system message or the multiturn conversation", () => {
    const config = Schema.decodeUnknownSync(SftConfig)({ path: "x" })
    expect(toMessages(row("q", "a"), config)).toEqual({ messages: [{ role: "user", content: "q" }, { role: "assistant", content: "a" }] })
    expect(toMessages({ conversation_id: "x" }, config)).toBe("field translated_conversation.0.content is not a string")
    const multi = Schema.decodeUnknownSync(SftConfig)({ path: "x", multiturn: true, system: "Be kind." })
    const conv = [
      { role: "user", content: "q" },
      { role: "assistant", content: "a" },
      { role: "user", content: "q2" },
      { role: "assistant", content: "a2" }
    ]
    expect(toMessages({ ...row("q", "a"), synthesized_multiturn_conversation: conv }, multi)).toEqual({ messages: [{ role: "system", content: "Be kind." }, ...conv] })
    expect(toMessages({ ...row("q", "a"), synthesized_multiturn_conversation: null }, multi)).toEqual({
      messages: [{ role: "system", content: "Be kind." }, { role: "user", content: "q" }, { role: "assistant", content: "a" }]
    })
  })

  it("writes {messages} JSON lines through core's part writer", async () => {
    const dir = tempDir("sft")
    const config = Schema.decodeUnknownSync(SftConfig)({ path: dir })
    const files = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const w = yield* sft.open(config, { dir, prefix: "part" })
          yield* w.write(Chunk.make(row("q1", "a1"), row("q2", "a2")))
          yield* w.commit
          return yield* w.finish
        })
      ).pipe(Effect.provide(NodeContext.layer))
    )
    expect(files.map((f) => [f.path, f.rows])).toEqual([["part-00000.jsonl", 2]])
    expect(readFileSync(join(dir, "part-00000.jsonl"), "utf8")).toBe(
      '{"messages":[{"role":"user","content":"q1"},{"role":"assistant","content":"a1"}]}\n{"messages":[{"role":"user","content":"q2"},{"role":"assistant","content":"a2"}]}\n'
    )
  })

  it("hands finished parts to a plugin's part encoder (how encrypt: source-key reaches it), like the jsonl sink", async () => {
    // A sink option as a plugin contributes one: `reverse: true` stores each part byte-reversed as <part>.rev.
    const reversed = (from: string, to: string) => Effect.sync(() => writeFileSync(to, Buffer.from(readFileSync(from)).reverse()))
    const reverse = Sink.option({
      fields: { reverse: Schema.optional(Schema.Boolean) },
      encoder: (o) => Effect.succeed(o.reverse === true ? { suffix: "rev", encode: reversed, decode: reversed } : undefined)
    })
    const sink = Sink.withOptions(sft, [reverse])
    const dir = tempDir("sft-encoded")
    const config = Schema.decodeUnknownSync(sink.config)({ path: dir, reverse: true })
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const w = yield* sink.open(config, { dir, prefix: "part" })
          yield* w.write(Chunk.make(row("q1", "a1")))
          yield* w.commit
          yield* w.finish
        })
      ).pipe(Effect.provide(NodeContext.layer))
    )
    expect(readdirSync(dir).filter((f) => f.startsWith("part-"))).toEqual(["part-00000.jsonl.rev"])
    expect(Buffer.from(readFileSync(join(dir, "part-00000.jsonl.rev"))).reverse().toString("utf8")).toBe(
      '{"messages":[{"role":"user","content":"q1"},{"role":"assistant","content":"a1"}]}\n'
    )
    expect(() => Schema.decodeUnknownSync(SftConfig, { onExcessProperty: "error" })({ path: dir, reverse: true })).toThrow(/reverse/)
  })
})

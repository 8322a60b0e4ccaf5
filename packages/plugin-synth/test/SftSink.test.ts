import { describe, expect, it } from "vitest"
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { NodeContext } from "@effect/platform-node"
import * as Release from "@synthline/core/Release"
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

  it("encrypts finished parts with the release key of source_key_from (encrypt: source-key), like the jsonl sink", async () => {
    const source = tempDir("sft-source")
    writeFileSync(
      join(source, "train.jsonl"),
      `${JSON.stringify({ conversation_id: "s1", conversation: [{ role: "user", content: "hello" }] })}\n`
    )
    const dir = tempDir("sft-encrypted")
    const config = Schema.decodeUnknownSync(SftConfig)({ path: dir, encrypt: "source-key", source_key_from: source })
    const decrypted = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const w = yield* sft.open(config, { dir, prefix: "part" })
          yield* w.write(Chunk.make(row("q1", "a1")))
          yield* w.commit
          yield* w.finish
          const key = yield* Release.keyFromDir(source)
          yield* Release.decryptFile(join(dir, "part-00000.jsonl.gpg"), join(dir, "plain.jsonl"), key.passphrase)
          return readFileSync(join(dir, "plain.jsonl"), "utf8")
        })
      ).pipe(Effect.provide(NodeContext.layer))
    )
    expect(readdirSync(dir).filter((f) => f.startsWith("part-"))).toEqual(["part-00000.jsonl.gpg"])
    expect(decrypted).toBe('{"messages":[{"role":"user","content":"q1"},{"role":"assistant","content":"a1"}]}\n')
  })
})

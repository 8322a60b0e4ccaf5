import { NodeContext } from "@effect/platform-node"
import { decodeConfig, recordingContext, runStage } from "@synthline/core/Testing"
import { Chunk, Effect, Stream } from "effect"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { banding, type NearDedupOptions, nearDedup } from "../src/NearDedup.js"
import { pseudoText, tempDir, writeJsonl } from "./support.js"

const row = (id: string, content: string) => ({ conversation_id: id, conversation: [{ role: "user", content }] })

const base = `Summarize the following meeting notes in five bullet points. ${pseudoText(1, 70)}. Budget 1500 dollars.`
const other = `Translate the following text into French, keeping the tone. ${pseudoText(2, 70)}.`
const ja =
  "次の文章を読んで、要点を三つにまとめてください。東京の小さな喫茶店では、毎朝七時に開店し、近所の人々が新聞を読みながらコーヒーを楽しんでいます。店主は四十年前からこの店を続けており、豆の焙煎も自分で行っています。最近では若い客も増え、週末には行列ができることもあります。"

const rows = [
  row("a", base),
  row("b", other),
  // One word changed, a number changed, punctuation and case changed.
  row("c", base.replace("five", "seven")),
  row("d", base.replace("1500", "2000")),
  row("e", base.replaceAll(".", "!").toUpperCase()),
  row("j1", ja),
  // Japanese variants: one phrase changed, and a politeness change.
  row("j2", ja.replace("三つ", "五つ")),
  row("j3", ja.replace("ください", "下さい")),
  row("u", "What is the capital of France?"),
  row("empty", ""),
  { conversation_id: "none" }
]

const run = (options: NearDedupOptions, input: ReadonlyArray<{ [k: string]: unknown }> = rows) => {
  const dir = tempDir("near")
  const file = writeJsonl(join(dir, "data.jsonl"), input)
  return Effect.runPromise(
    runStage(nearDedup, { index_from: { type: "jsonl", path: file }, ...options }, input).pipe(Effect.provide(NodeContext.layer))
  )
}

describe("dedup/near-dedup", () => {
  it("marks edits of a few words, numbers and punctuation with the first occurrence's id; Japanese by character n-grams", async () => {
    const r = await run({})
    expect(Object.fromEntries(r.rows.map((x) => [x.conversation_id, x.near_duplicate_of]))).toEqual({
      a: null,
      b: null,
      c: "a",
      d: "a",
      e: "a",
      j1: null,
      j2: "j1",
      j3: "j1",
      u: null,
      empty: null,
      none: null
    })
    expect(r.rejected).toEqual([])
  })

  it("a copy made away from its decider (a worker thread's) reads no dataset and labels with the index its decider's copy built", async () => {
    const dir = tempDir("near-central")
    const file = writeJsonl(join(dir, "data.jsonl"), rows)
    const labels = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          // The runner's thread: the decider and the copy that builds the index share one config object.
          const here = yield* decodeConfig(nearDedup, { index_from: { type: "jsonl", path: file } })
          const decider = yield* nearDedup.central!.open(here, [], nearDedup.id)
          yield* nearDedup.make(here, recordingContext(nearDedup.id).context)
          // A worker decodes its own config; its index_from would fail if it were read.
          const there = yield* decodeConfig(nearDedup, { index_from: { type: "jsonl", path: join(dir, "missing.jsonl") } })
          const asked: Array<unknown> = []
          const ctx = {
            ...recordingContext(nearDedup.id).context,
            decide: (request: unknown) =>
              Effect.sync(() => {
                asked.push(request)
                return decider.decide(request, () => {})
              })
          }
          const transform = yield* nearDedup.make(there, ctx)
          const out = yield* Stream.runCollect(transform(Stream.fromIterable(rows).pipe(Stream.rechunk(4))))
          return { out: Chunk.toReadonlyArray(out), asked }
        })
      ).pipe(Effect.provide(NodeContext.layer))
    )
    expect(labels.asked).toHaveLength(3)
    const reference = await run({})
    expect(labels.out).toEqual(reference.rows)
  })

  it("signing workers (threads: 2 and 3) build the index of the runner's thread, over several units", async () => {
    const dir = tempDir("near-threads")
    // Families of edits spread over three files (three units), so clusters span units.
    const many = Array.from({ length: 600 }, (_, k) => {
      const family = k % 150
      const text = `Question ${family}: ${pseudoText(100 + family, 60)}`
      return row(`r${k}`, k < 150 ? text : text.replace(/\w+$/, `edit${k}`))
    })
    const [f0, f1, f2] = [0, 1, 2].map((f) => writeJsonl(join(dir, `part-${f}.jsonl`), many.slice(f * 200, (f + 1) * 200)))
    const files: [string, ...Array<string>] = [f0!, f1!, f2!]
    const labels = async (threads: number) => {
      const r = await Effect.runPromise(
        runStage(nearDedup, { index_from: { type: "jsonl", path: files }, threads }, many).pipe(Effect.provide(NodeContext.layer))
      )
      return r.rows.map((x) => `${x.conversation_id}=${x.near_duplicate_of}`)
    }
    const one = await labels(1)
    expect(one.filter((l) => !l.endsWith("=null"))).toHaveLength(450)
    expect(one[150]).toBe("r150=r0")
    expect(one[599]).toBe("r599=r149")
    expect(await labels(2)).toEqual(one)
    expect(await labels(3)).toEqual(one)
  }, 60_000)

  it("Japanese text needs character n-grams: forced word tokens see one token per sentence", async () => {
    const r = await run({ tokens: "word" })
    expect(r.rows.find((x) => x.conversation_id === "j2")!.near_duplicate_of).toBeNull()
  })

  it("threshold 1 keeps only texts with the same shingles", async () => {
    const r = await run({ threshold: 1 })
    const marked = r.rows.filter((x) => x.near_duplicate_of !== null).map((x) => x.conversation_id)
    // Punctuation and case are normalized away: that variant is identical to the first row.
    expect(marked).toEqual(["e"])
  })

  it("drop: true drops near-duplicates with reason near-duplicate and writes no field", async () => {
    const r = await run({ drop: true })
    expect(r.droppedByReason).toEqual({ "near-duplicate": 5 })
    expect(r.rows.map((x) => x.conversation_id)).toEqual(["a", "b", "j1", "u", "empty", "none"])
    expect(r.rows.every((x) => !("near_duplicate_of" in x))).toBe(true)
  })

  it("labels come from the whole indexed dataset: a part of the rows gets the labels of the whole", async () => {
    const dir = tempDir("near-part")
    const file = writeJsonl(join(dir, "data.jsonl"), rows)
    const part = await Effect.runPromise(
      runStage(nearDedup, { index_from: { type: "jsonl", path: file } }, rows.slice(2, 5)).pipe(Effect.provide(NodeContext.layer))
    )
    expect(part.rows.map((x) => x.near_duplicate_of)).toEqual(["a", "a", "a"])
  })

  it("rejects a row without a conversation_id string", async () => {
    const r = await run({}, [row("a", base), { conversation_id: 7, conversation: [{ role: "user", content: base }] }])
    expect(r.rejected.map((x) => x.error)).toEqual(["field `conversation_id` is number 7; expected a string"])
  })

  it("chooses bands and rows from the threshold unless both are given, and checks them", async () => {
    const decode = (o: NearDedupOptions) => Effect.runPromise(Effect.either(runStage(nearDedup, o, []).pipe(Effect.provide(NodeContext.layer))))
    const both = await decode({ bands: 40, rows: 4 })
    expect(both._tag).toBe("Left")
    expect(String((both as { left: unknown }).left)).toContain("bands × rows (40 × 4 = 160) must not exceed num_perm (128)")
    const one = await decode({ bands: 4 })
    expect(String((one as { left: unknown }).left)).toContain("set both bands and rows, or neither")
    expect(banding({ threshold: 0.8, num_perm: 128 } as Parameters<typeof banding>[0])).toEqual({ bands: 12, rows: 10 })
    const outside = await decode({})
    expect(String((outside as { left: unknown }).left)).toContain("index_from is unset and there is no pipeline source")
  })
})

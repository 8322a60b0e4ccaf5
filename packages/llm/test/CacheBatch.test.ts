/**
 * Answers that arrive in one turn of the event loop are committed to the response cache in one
 * transaction, before any caller sees them: a second connection to the file finds every answer
 * a call has returned, and a failed commit reaches the calls it covered.
 */
import { describe, expect, it } from "vitest"
import Database from "better-sqlite3"
import { rmSync } from "node:fs"
import { join } from "node:path"
import { Effect, Either } from "effect"
import * as Cache from "../src/Cache.js"
import * as TestServer from "../src/TestServer.js"
import { ask, client, run, tempDir } from "./support.js"

const work = tempDir("cache-batch")
const answer = (content: string) => ({ content, finish_reason: "stop", usage: { prompt_tokens: 1, completion_tokens: 2 } })
const rows = (file: string): number => {
  const db = new Database(file, { readonly: true })
  try {
    return (db.prepare("SELECT count(*) AS n FROM responses").get() as { n: number }).n
  } finally {
    db.close()
  }
}

/** Drops the cache's table behind the cache's back: its next commit fails. */
const dropTable = (file: string): void => {
  const other = new Database(file)
  other.exec("DROP TABLE responses")
  other.close()
}

/** Waits until a receipt's commit is over. */
const committed = (receipt: Cache.Staged) => Effect.async<void>((resume) => receipt.whenCommitted(() => resume(Effect.void)))

describe("response cache: staged answers", () => {
  it("commits staged answers together; a lookup finds them before; a receipt commits when no commit ran yet", async () => {
    const file = join(work, "staged.sqlite")
    await run(
      Effect.gen(function* () {
        const cache = yield* Cache.open(file, "read-write")
        const a = cache.stage("k1", "m", answer("one"))
        cache.stage("k2", "m", answer("two"))
        expect(rows(file)).toBe(0)
        expect(cache.get("k1")?.content).toBe("one")
        cache.commit()
        expect(rows(file)).toBe(2)
        expect(Either.isRight(a.result())).toBe(true)
        const c = cache.stage("k3", "m", answer("three"))
        expect(rows(file)).toBe(2)
        expect(Either.isRight(c.result())).toBe(true)
        expect(rows(file)).toBe(3)
        // What is still staged when the cache closes is committed.
        cache.stage("k4", "m", answer("four"))
      })
    )
    expect(rows(file)).toBe(4)
  })

  it("a commit that fails is each staged answer's LlmCacheError", async () => {
    const file = join(work, "failing.sqlite")
    await run(
      Effect.gen(function* () {
        const cache = yield* Cache.open(file, "read-write")
        dropTable(file)
        const a = cache.stage("k1", "m", answer("one"))
        const b = cache.stage("k2", "m", answer("two"))
        cache.commit()
        for (const r of [a.result(), b.result()]) {
          expect(Either.isLeft(r)).toBe(true)
          if (Either.isLeft(r)) expect(r.left).toMatchObject({ _tag: "LlmCacheError", operation: "write" })
        }
      })
    )
  })

  it("every answer a call returns is already in the file (another connection finds it)", async () => {
    const server = await TestServer.start({ latencyMs: 5 })
    const file = join(work, "calls.sqlite")
    try {
      const seen: Array<number> = []
      await run(
        Effect.gen(function* () {
          const models = yield* client({ m: { model: "x", endpoints: [server.baseUrl], concurrency: 16, timeout: "10s" } }, { cache: { path: file } })
          const model = yield* models.get("m")
          let done = 0
          yield* Effect.forEach(
            Array.from({ length: 200 }, (_, i) => i),
            (i) =>
              Effect.tap(model.complete(ask(`q${i}`)), () =>
                Effect.sync(() => {
                  done++
                  seen.push(rows(file) - done)
                })
              ),
            { concurrency: 200, discard: true }
          )
        })
      )
      expect(server.counts.chat).toBe(200)
      expect(seen).toHaveLength(200)
      // At each answer's return, the file held at least the answers returned so far.
      expect(Math.min(...seen)).toBeGreaterThanOrEqual(0)
      expect(rows(file)).toBe(200)
    } finally {
      await server.close()
    }
  })
  it("a receipt that waits has its turn's answers committed on the writer thread, then goes on; lookups find them meanwhile", async () => {
    const file = join(work, "writer.sqlite")
    const order: Array<string> = []
    await run(
      Effect.gen(function* () {
        const cache = yield* Cache.open(file, "read-write")
        const a = cache.stage("k1", "m", answer("one"))
        const b = cache.stage("k2", "m", answer("two"))
        const went = yield* Effect.async<number>((resume) => {
          let n = 0
          const go = (name: string) => () => {
            order.push(name)
            // Another connection already finds the answer the receipt stands for.
            expect(rows(file)).toBe(2)
            if (++n === 2) resume(Effect.succeed(n))
          }
          a.whenCommitted(go("a"))
          b.whenCommitted(go("b"))
          // Not at once: the commit runs at the end of the turn, off this thread.
          expect(order).toEqual([])
          expect(rows(file)).toBe(0)
          expect(cache.get("k2")?.content).toBe("two")
        })
        expect(went).toBe(2)
        expect(order).toEqual(["a", "b"])
        expect(Either.isRight(a.result())).toBe(true)
        // Committed already: at once.
        let now = false
        a.whenCommitted(() => {
          now = true
        })
        expect(now).toBe(true)
        expect(cache.get("k1")?.content).toBe("one")
        // Sent to the writer and not answered yet when the cache closes: committed before it does.
        const c = cache.stage("k3", "m", answer("three"))
        c.whenCommitted(() => order.push("c"))
        yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
        cache.stage("k4", "m", answer("four"))
      })
    )
    expect(rows(file)).toBe(4)
    expect(order).toEqual(["a", "b", "c"])
  })

  it("a commit on the writer thread that fails is each waiting receipt's LlmCacheError", async () => {
    const file = join(work, "writer-failing.sqlite")
    await run(
      Effect.gen(function* () {
        const cache = yield* Cache.open(file, "read-write")
        dropTable(file)
        const a = cache.stage("k1", "m", answer("one"))
        yield* committed(a)
        const r = a.result()
        expect(Either.isLeft(r)).toBe(true)
        if (Either.isLeft(r)) {
          expect(r.left).toMatchObject({ _tag: "LlmCacheError", operation: "write" })
          expect(r.left.message).toContain("no such table: responses")
        }
      })
    )
  })
  it("when the writer thread cannot commit (it could not open the file), the answers commit on the client's connection", async () => {
    const file = join(work, "writer-fallback.sqlite")
    await run(
      Effect.gen(function* () {
        const cache = yield* Cache.open(file, "read-write")
        // The client's connection keeps the file it opened; the writer opens a new, empty one
        // without the table, and gives up.
        rmSync(file)
        const a = cache.stage("k1", "m", answer("one"))
        yield* committed(a)
        expect(Either.isRight(a.result())).toBe(true)
        const b = cache.stage("k2", "m", answer("two"))
        yield* committed(b)
        expect(Either.isRight(b.result())).toBe(true)
        expect(cache.size()).toBe(2)
        expect(cache.get("k1")?.content).toBe("one")
      })
    )
  })
})

import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Redacted, Schema } from "effect"
import { spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { gunzipSync } from "node:zlib"
import type { Row } from "@synthline/core/Row"
import * as Sink from "@synthline/core/Sink"
import type { SinkCheckpoint, SinkWriter } from "@synthline/core/Sink"
import { Reference } from "@synthline/core/Pipeline"
import * as Registry from "@synthline/core/Registry"
import * as ReleasePlugin from "../src/ReleasePlugin.js"
import * as Encrypt from "../src/Encrypt.js"
import * as Release from "../src/Release.js"

const tmpRoot = join(import.meta.dirname, ".tmp")
mkdirSync(tmpRoot, { recursive: true })
const temp = (name: string): string => mkdtempSync(join(tmpRoot, `${name}-`))

const run = <A, E>(effect: Effect.Effect<A, E, NodeContext.NodeContext>) => effect.pipe(Effect.provide(NodeContext.layer))

/** LMSYS-shaped conversations, deterministic in `seed` (ids, a user turn and an answer). */
const conversations = (seed: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({
    conversation_id: createHash("md5").update(`${seed}:${i}`).digest("hex"),
    model: i % 3 === 0 ? "vicuna-13b" : "koala-13b",
    conversation: [
      { role: "user", content: `question ${seed}-${i}: ${"why ".repeat(i % 7)}?` },
      { role: "assistant", content: `answer ${i}` }
    ],
    turn: 1,
    language: i % 2 === 0 ? "English" : "Japanese",
    openai_moderation: [],
    redacted: false
  }))

/** Writes rows as parquet files `train-0000k.parquet` (200 rows each, row groups of 100) under `dir`, with core's parquet sink. */
const writeParquet = (dir: string, rows: ReadonlyArray<Row>) =>
  Effect.scoped(
    Effect.gen(function* () {
      const config = Schema.decodeUnknownSync(Sink.parquet.config)({ path: dir, shard_rows: 200, row_group_rows: 100 })
      const w = yield* Sink.parquet.open(config, { dir, prefix: "train" })
      yield* w.write(Chunk.fromIterable(rows))
      yield* w.finish
    })
  )

const keyOf = (dir: string) => Effect.map(Release.keyFromDir(dir), (k) => Redacted.value(k.passphrase))

const jsonl = (rows: ReadonlyArray<unknown>): string => rows.map((r) => `${JSON.stringify(r)}\n`).join("")

/** Runs the real gpg on a file; a throwaway home keeps the user's keyring out of it. */
const gpgDecrypt = (file: string, passphrase: string): { readonly status: number | null; readonly stdout: Buffer } => {
  const home = temp("gnupg")
  const r = spawnSync("gpg", ["--homedir", home, "--batch", "--quiet", "--passphrase", passphrase, "-d", file], { maxBuffer: 256 * 1024 * 1024 })
  rmSync(home, { recursive: true, force: true })
  return { status: r.status, stdout: r.stdout }
}

describe("Release key", () => {
  const base = temp("key")
  const records = conversations(5, 400)

  it.effect("is the same for parquet and JSON lines, shuffled and renamed copies; differs for other data", () =>
    run(
      Effect.gen(function* () {
        yield* writeParquet(join(base, "parquet/data"), records)
        expect(readdirSync(join(base, "parquet/data")).sort()).toEqual(["train-00000.parquet", "train-00001.parquet"])
        const key = yield* keyOf(join(base, "parquet"))
        expect(key).toMatch(/^[0-9a-f]{64}$/)

        // The same rows as JSON lines, in another order, split into differently named files (one gzipped).
        const shuffled = [...records].reverse()
        mkdirSync(join(base, "copy/nested"), { recursive: true })
        writeFileSync(join(base, "copy/zzz.jsonl"), jsonl(shuffled.slice(0, 123)))
        writeFileSync(join(base, "copy/nested/aaa.jsonl"), jsonl(shuffled.slice(123)))
        expect(yield* keyOf(join(base, "copy"))).toBe(key)

        // Renamed parquet files in another folder layout.
        mkdirSync(join(base, "renamed/x"), { recursive: true })
        for (const [i, f] of readdirSync(join(base, "parquet/data")).entries()) {
          copyFileSync(join(base, "parquet/data", f), join(base, "renamed/x", `other-${9 - i}.parquet`))
        }
        expect(yield* keyOf(join(base, "renamed"))).toBe(key)

        // One changed first user message, one row fewer, a duplicated row: each changes the key.
        const changed = records.map((r, i) =>
          i === 17 ? { ...r, conversation: [{ role: "user", content: `${r.conversation[0]?.content ?? ""}!` }, ...r.conversation.slice(1)] } : r
        )
        mkdirSync(join(base, "changed"))
        writeFileSync(join(base, "changed/a.jsonl"), jsonl(changed))
        mkdirSync(join(base, "fewer"))
        writeFileSync(join(base, "fewer/a.jsonl"), jsonl(records.slice(1)))
        mkdirSync(join(base, "dup"))
        writeFileSync(join(base, "dup/a.jsonl"), jsonl([...records, records[0]]))
        const others = [yield* keyOf(join(base, "changed")), yield* keyOf(join(base, "fewer")), yield* keyOf(join(base, "dup"))]
        expect(new Set([key, ...others]).size).toBe(4)

        // Only the id and the first user message count: answers and moderation do not.
        const answersChanged = records.map((r) => ({ ...r, model: "x", openai_moderation: [] }))
        mkdirSync(join(base, "answers"))
        writeFileSync(join(base, "answers/a.jsonl"), jsonl(answersChanged))
        expect(yield* keyOf(join(base, "answers"))).toBe(key)

        // The documented derivation, recomputed independently.
        let sum = 0n
        for (const r of records) sum += Release.rowDigest(r) ?? 0n
        expect(Release.keyOf(sum, records.length)).toBe(key)
      })
    ), 30_000)

  it.effect("fails with the folder named when there is no data", () =>
    run(
      Effect.gen(function* () {
        const empty = temp("empty")
        const error = yield* Effect.flip(Release.keyFromDir(empty))
        expect(error.message).toContain("no parquet or JSON lines files")
      })
    ))
})

describe("encrypted jsonl sink", () => {
  // The jsonl sink with the release plugin's option, as the registry builds it for a pipeline file.
  const jsonlSink = Sink.withOptions(Sink.jsonl, [Encrypt.option])
  const base = temp("enc")
  const source = join(base, "source")
  mkdirSync(source)
  const records = conversations(9, 60)
  writeFileSync(join(source, "train.jsonl"), jsonl(records))
  const config = Schema.decodeUnknownSync(jsonlSink.config)({
    path: "out",
    shard_rows: 25,
    encrypt: "source-key",
    source_key_from: source
  })
  const rows: ReadonlyArray<Row> = records

  const withWriter = <A>(dir: string, resume: SinkCheckpoint | undefined, use: (w: SinkWriter) => Effect.Effect<A, unknown>) =>
    Effect.scoped(Effect.flatMap(jsonlSink.open(config, { dir, prefix: "part", resume, baseDir: base }), use))

  const plainOf = (dir: string, key: string): string =>
    readdirSync(dir)
      .filter((f) => f.endsWith(".jsonl.gz.gpg"))
      .sort()
      .map((f) => {
        const r = gpgDecrypt(join(dir, f), key)
        expect(r.status).toBe(0)
        return gunzipSync(r.stdout).toString("utf8")
      })
      .join("")

  it.effect("writes *.jsonl.gz.gpg parts that the real gpg opens, and decryptFile round-trips", () =>
    run(
      Effect.gen(function* () {
        const dir = join(base, "whole")
        const files = yield* withWriter(dir, undefined, (w) =>
          Effect.gen(function* () {
            yield* w.write(Chunk.fromIterable(rows))
            return yield* w.finish
          })
        )
        expect(readdirSync(dir).sort()).toEqual(["part-00000.jsonl.gz.gpg", "part-00001.jsonl.gz.gpg", "part-00002.jsonl.gz.gpg"])
        expect(files.map((f) => [f.path, f.rows])).toEqual([
          ["part-00000.jsonl.gz.gpg", 25],
          ["part-00001.jsonl.gz.gpg", 25],
          ["part-00002.jsonl.gz.gpg", 10]
        ])
        const key = yield* keyOf(source)
        expect(plainOf(dir, key)).toBe(jsonl(records))
        expect(gpgDecrypt(join(dir, "part-00000.jsonl.gz.gpg"), "wrong").status).not.toBe(0)
        yield* Release.decryptFile(join(dir, "part-00001.jsonl.gz.gpg"), join(base, "p1.jsonl.gz"), Redacted.make(key))
        expect(gunzipSync(readFileSync(join(base, "p1.jsonl.gz"))).toString("utf8")).toBe(jsonl(records.slice(25, 50)))
        const wrong = yield* Effect.flip(
          Release.decryptFile(join(dir, "part-00001.jsonl.gz.gpg"), join(base, "wrong.jsonl.gz"), Redacted.make("0".repeat(64)))
        )
        expect(wrong.message).not.toContain(key)
        expect(existsSync(join(base, "wrong.jsonl.gz"))).toBe(false)
      })
    ), 30_000)

  // A crash after a checkpoint mid-part, once that part completed: as the plain part (renamed, not
  // yet encrypted), as plain part plus a half-written .gpg, or only as the encrypted part.
  for (const state of ["plain", "plain+partial-gpg", "gpg"] as const) {
    it.effect(`resumes after a crash with the completed part left as ${state}`, () =>
      run(
        Effect.gen(function* () {
          const dir = join(base, `crash-${state}`)
          const key = yield* keyOf(source)
          const checkpoint = yield* withWriter(dir, undefined, (w) =>
            Effect.gen(function* () {
              yield* w.write(Chunk.fromIterable(rows.slice(0, 35)))
              const cp = yield* w.commit
              yield* w.write(Chunk.fromIterable(rows.slice(35, 52))) // completes part 1, then the process dies
              return cp
            })
          )
          const gpg = join(dir, "part-00001.jsonl.gz.gpg")
          const plain = join(dir, "part-00001.jsonl.gz")
          expect(existsSync(gpg)).toBe(true)
          if (state !== "gpg") {
            yield* Release.decryptFile(gpg, plain, Redacted.make(key))
            if (state === "plain") rmSync(gpg)
            else writeFileSync(`${gpg}.partial`, readFileSync(gpg).subarray(0, 100))
            rmSync(gpg, { force: true })
          }
          yield* withWriter(dir, checkpoint, (w) =>
            Effect.gen(function* () {
              yield* w.write(Chunk.fromIterable(rows.slice(35)))
              return yield* w.finish
            })
          )
          expect(readdirSync(dir).sort()).toEqual(["part-00000.jsonl.gz.gpg", "part-00001.jsonl.gz.gpg", "part-00002.jsonl.gz.gpg"])
          const ids = (text: string) => text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l).conversation_id)
          expect(ids(plainOf(dir, key))).toEqual(records.map((r) => r.conversation_id))
          expect(plainOf(dir, key) === jsonl(records)).toBe(true)
        })
      ), 30_000)
  }
})

describe("release plugin", () => {
  it("tells the dataset card how to decrypt an output's .gpg parts, and says nothing of plain ones", () => {
    expect(ReleasePlugin.plugin.profilers).toEqual([Encrypt.card])
    const file = (path: string) => ({ path, rows: 1, bytes: 1, sha256: "" })
    const text = Encrypt.card.files?.([file("part-00000.jsonl.gz.gpg")])
    expect(text).toContain("OpenPGP-encrypted")
    expect(text).toContain("synthline release-key --source <dataset folder>")
    expect(text).toContain("synthline decrypt <file> --source <dataset folder>")
    expect(Encrypt.card.files?.([file("part-00000.jsonl.gz")])).toBeUndefined()
  })

  it.effect("adds encrypt and source_key_from to the sinks that take part encoders (jsonl), not to parquet", () =>
    Effect.gen(function* () {
      const registry = yield* Registry.fromPlugins([{ plugin: ReleasePlugin.plugin, specifier: "@synthline/release" }])
      const options = (type: string) => Reference.optionsOf(registry.sinks.get(type)!.config).map((o) => [o.name, o.type, o.default])
      expect(options("jsonl")).toEqual([
        ["path", "string", undefined],
        ["compression", '"gzip" | "none"', "gzip"],
        ["gzip_level", "integer", 6],
        ["shard_rows", "integer", Sink.defaultShardRows],
        ["encrypt", '"none" | "source-key"', "none"],
        ["source_key_from", "string", undefined]
      ])
      expect(options("parquet").map(([name]) => name)).not.toContain("encrypt")
      // Without the plugin, core's jsonl sink has no such option.
      expect(Reference.optionsOf(Sink.jsonl.config).map((o) => o.name)).not.toContain("encrypt")
    }))

  it.effect("encrypt: source-key outside a run needs source_key_from, and a folder without data stops the sink before it writes", () =>
    run(
      Effect.gen(function* () {
        const sink = Sink.withOptions(Sink.jsonl, [Encrypt.option])
        const dir = join(temp("refused"), "out")
        const config = Schema.decodeUnknownSync(sink.config)({ path: "out", encrypt: "source-key" })
        const outside = yield* Effect.flip(Effect.scoped(sink.open(config, { dir, prefix: "part" })))
        expect(outside.message).toContain("encrypt: source-key needs source_key_from (a dataset folder) outside a pipeline run")
        const empty = temp("no-data")
        const noData = Schema.decodeUnknownSync(sink.config)({ path: "out", encrypt: "source-key", source_key_from: empty })
        const error = yield* Effect.flip(Effect.scoped(sink.open(noData, { dir, prefix: "part" })))
        expect(error.message).toContain(`cannot derive the release key from ${empty}: `)
        expect(existsSync(dir)).toBe(false)
      })
    ))
})

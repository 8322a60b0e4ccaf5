import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import Module from "node:module"
import { delimiter, join, sep } from "node:path"
import * as Pipeline from "../src/Pipeline.js"
import * as Runner from "../src/Runner.js"

// A plugin's sink option, end to end through a pipeline file: `reverse: true` stores every
// finished part byte-reversed as `<part>.rev` (the way @synthline/release's `encrypt` stores `.gpg`).
mkdirSync(join(import.meta.dirname, ".tmp"), { recursive: true })
const dir = mkdtempSync(join(import.meta.dirname, ".tmp", "sink-options-"))
writeFileSync(
  join(dir, "reverse.ts"),
  `import { definePlugin } from "@synthline/core/Plugin"
import * as Sink from "@synthline/core/Sink"
import { Effect, Schema } from "effect"
import { readFileSync, writeFileSync } from "node:fs"

const reversed = (from: string, to: string) => Effect.sync(() => writeFileSync(to, Buffer.from(readFileSync(from)).reverse()))

export default definePlugin({
  name: "reverse",
  version: "1.0.0",
  stages: [],
  sinkOptions: [
    Sink.option({
      fields: { reverse: Schema.optional(Schema.Boolean) },
      encoder: (o) => Effect.succeed(o.reverse === true ? { suffix: "rev", encode: reversed, decode: reversed } : undefined)
    })
  ]
})
`
)
const rows = Array.from({ length: 30 }, (_, i) => ({ conversation_id: `c${i}`, conversation: [{ role: "user", content: `q${i}` }] }))
const jsonl = (rs: ReadonlyArray<unknown>) => rs.map((r) => `${JSON.stringify(r)}\n`).join("")
mkdirSync(join(dir, "in"))
writeFileSync(join(dir, "in/a.jsonl"), jsonl(rows))

const pipelineFile = (folder: string, name: string, sink: string, plugins = `plugins: ["./reverse.ts"]\n`): string => {
  const file = join(folder, `${name}.pipeline.yaml`)
  writeFileSync(file, `name: ${name}\n${plugins}source: { type: jsonl, path: in/*.jsonl, validate: none }\nstages: []\nsink: ${sink}\n`)
  return file
}

describe("sink options contributed by a plugin", () => {
  it.effect("join the sinks that take part encoders: parts go through the plugin's encoder and keep its suffix", () =>
    Effect.gen(function* () {
      const file = pipelineFile(dir, "rev", "{ type: jsonl, path: out, compression: none, shard_rows: 20, reverse: true }")
      const result = yield* Runner.run(yield* Pipeline.load(file), { workers: 1 })
      expect(readdirSync(join(dir, "out")).filter((f) => f.startsWith("part-")).sort()).toEqual(["part-00000.jsonl.rev", "part-00001.jsonl.rev"])
      expect(result.manifest.outputs.main.files.map((f) => [f.path, f.rows])).toEqual([["part-00000.jsonl.rev", 20], ["part-00001.jsonl.rev", 10]])
      const plain = ["part-00000.jsonl.rev", "part-00001.jsonl.rev"].map((f) => Buffer.from(readFileSync(join(dir, "out", f))).reverse().toString("utf8"))
      expect(plain.join("")).toBe(jsonl(rows))
      // The option is the sink's own in the fingerprint: turning it off is another pipeline.
      const off = yield* Pipeline.load(pipelineFile(dir, "rev-off", "{ type: jsonl, path: out, compression: none, shard_rows: 20, reverse: false }"))
      expect(off.fingerprint).not.toBe((yield* Pipeline.load(file)).fingerprint)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("are refused on a sink that takes no encoder, and unknown without the plugin, at the option's line", () =>
    Effect.gen(function* () {
      const parquet = yield* Effect.flip(Pipeline.load(pipelineFile(dir, "rev-parquet", "{ type: parquet, path: out-p, reverse: true }")))
      expect(parquet.message).toMatch(/rev-parquet\.pipeline\.yaml:5:\d+/)
      expect(parquet.message).toContain("reverse")
      const without = yield* Effect.flip(Pipeline.load(pipelineFile(dir, "rev-none", "{ type: jsonl, path: out-n, reverse: true }", "")))
      expect(without.message).toContain("reverse")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("encrypt: without @synthline/release installed is refused before any work, naming the package at the option", () =>
    Effect.gen(function* () {
      // Outside the repository, so nothing resolves the package from the pipeline's folder either;
      // and the running program is a script there too. pnpm's bin shims also put its
      // node_modules/.pnpm/node_modules on NODE_PATH, which links every workspace package
      // (@synthline/release included): Node's global lookup paths are read again without them.
      const outside = mkdtempSync(join(tmpdir(), "synthline-no-release-"))
      const program = process.argv[1]
      const nodePath = process.env.NODE_PATH
      const initPaths = (Module as unknown as { readonly _initPaths: () => void })._initPaths
      try {
        writeFileSync(join(outside, "program.js"), "")
        process.argv[1] = join(outside, "program.js")
        if (nodePath !== undefined) {
          process.env.NODE_PATH = nodePath.split(delimiter).filter((p) => !p.includes(`${sep}.pnpm${sep}`)).join(delimiter)
          initPaths()
        }
        mkdirSync(join(outside, "in"))
        writeFileSync(join(outside, "in/a.jsonl"), jsonl(rows))
        const file = pipelineFile(outside, "enc", "{ type: jsonl, path: out,\n  encrypt: source-key }", "")
        const error = yield* Effect.flip(Pipeline.load(file))
        expect(error.message).toContain("enc.pipeline.yaml:5:3")
        expect(error.message).toContain("sink option encrypt comes from the @synthline/release plugin, which is not installed")
        expect(readdirSync(outside).sort()).toEqual(["enc.pipeline.yaml", "in", "program.js"])
      } finally {
        if (program !== undefined) process.argv[1] = program
        if (nodePath !== undefined) {
          process.env.NODE_PATH = nodePath
          initPaths()
        }
        rmSync(outside, { recursive: true, force: true })
      }
    }).pipe(Effect.provide(NodeContext.layer)))
})

/**
 * `pnpm demo`: the main job on the bundled example. Generates LMSYS-Chat-1M-shaped sample
 * data if it is missing, runs examples/quickstart.pipeline.yaml through the real CLI, and
 * prints where the output and the manifest are. With SYNTHLINE_MODEL set to a GGUF model file,
 * it also answers a few instructions with that model embedded in-process
 * (examples/local-model.pipeline.yaml, @synthline/provider-llama-cpp).
 */
import { NodeContext } from "@effect/platform-node"
import { Cli } from "@synthline/cli"
import { Effect } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const data = join(root, "data/sample")
const rows = Number(process.env.SYNTHLINE_DEMO_ROWS ?? "20000")
const rel = (p: string) => relative(process.cwd(), p) || "."

const step = (argv: ReadonlyArray<string>) =>
  Cli.cli(argv).pipe(
    Effect.catchAll((e) =>
      Cli.report(e).pipe(Effect.flatMap((code) => Effect.sync(() => process.exit(code))))
    )
  )

const program = Effect.gen(function* () {
  if (!existsSync(join(data, "sample.json"))) {
    process.stderr.write(`generating ${rows} sample conversations into ${rel(data)} ...\n`)
    yield* step(["sample", "--rows", String(rows), "--shards", "2", "--seed", "42", "--out", data])
  } else {
    process.stderr.write(`using sample data in ${rel(data)} (delete it to regenerate)\n`)
  }
  const pipeline = join(root, "examples/quickstart.pipeline.yaml")
  process.stderr.write(`running ${rel(pipeline)} ...\n`)
  yield* step(["run", pipeline, "--fresh"])
  const manifestPath = join(root, "out/quickstart/manifest.json")
  const m = JSON.parse(readFileSync(manifestPath, "utf8"))
  const lines = [
    "",
    `synthline demo: ${m.source.rows_read} conversations read, ${m.outputs.main.rows} instructions written, ${m.rejects.count} rejected`,
    ...m.stages.map(
      (s: { id: string; rows_in: number; rows_out: number; dropped: Record<string, number>; routed: number }) =>
        `  ${s.id.padEnd(22)} ${String(s.rows_in).padStart(8)} → ${String(s.rows_out).padStart(8)}${
          Object.keys(s.dropped).length > 0 ? `  dropped ${JSON.stringify(s.dropped)}` : ""
        }${s.routed > 0 ? `  routed ${s.routed}` : ""}`
    ),
    `output:   ${rel(join(root, "out/quickstart"))}/ (${m.outputs.main.files.map((f: { path: string }) => f.path).join(", ")})`,
    `branch:   ${rel(join(root, "out/quickstart+blocked"))}/ (${m.outputs.branches.blocked.rows} rows)`,
    `manifest: ${rel(manifestPath)}`,
    "next: npx -y pnpm@10.34.9 synthline plan examples/quickstart.pipeline.yaml · npx -y pnpm@10.34.9 synthline stages · zcat out/quickstart/part-00000.jsonl.gz | head -1"
  ]
  process.stdout.write(`${lines.join("\n")}\n`)

  const model = process.env.SYNTHLINE_MODEL
  if (model === undefined || model === "") {
    process.stdout.write(
      "embedded model: skipped (the steps above need none); to answer a few instructions in-process, make one with `npx -y pnpm@10.34.9 --filter @synthline/provider-llama-cpp make-tiny-model $PWD/models/tiny.gguf` (or use any chat GGUF) and run `SYNTHLINE_MODEL=$PWD/models/tiny.gguf npx -y pnpm@10.34.9 demo`\n"
    )
    return
  }
  process.env.SYNTHLINE_MODEL = resolve(model)
  const local = join(root, "examples/local-model.pipeline.yaml")
  process.stderr.write(`running ${rel(local)} on ${rel(process.env.SYNTHLINE_MODEL)} ...\n`)
  yield* step(["run", local, "--fresh"])
  const localOut = join(root, "out/local-model")
  const lm = JSON.parse(readFileSync(join(localOut, "manifest.json"), "utf8"))
  const u = lm.model_usage.local
  process.stdout.write(
    `embedded model: ${lm.outputs.main.rows} answers in ${rel(localOut)}/ · ${u.completion_tokens} tokens generated, ${u.cache_hits} from the cache\n`
  )
})

Effect.runPromise(program.pipe(Effect.provide(NodeContext.layer))).catch((e) => {
  process.stderr.write(`demo failed: ${e instanceof Error ? e.message : String(e)}\n`)
  process.exit(1)
})

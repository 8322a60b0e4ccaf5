/**
 * The `synthline` command line. Thin by design: every command decodes its arguments and
 * calls into @synthline/core, then prints what core returned.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import type { CommandExecutor, FileSystem, Path, Terminal } from "@effect/platform"
import { Console, Effect, Either, Option, Redacted } from "effect"
import { exitCodeOf, RunError } from "@synthline/core/Errors"
import type { Plan, PlanIssue } from "@synthline/core/Pipeline"
import * as Progress from "@synthline/core/Progress"
import { createRequire } from "node:module"
import * as Help from "./Help.js"
import * as Estimate from "./Estimate.js"
import * as Report from "./Report.js"
import * as Submit from "./Submit.js"

// The rest of core (parquet, gzip, yaml, plugin loading) is imported when a command needs it,
// so `--help` and argument errors start fast.
const Pipeline = Effect.promise(() => import("@synthline/core/Pipeline"))
const Runner = Effect.promise(() => import("@synthline/core/Runner"))
const Registry = Effect.promise(() => import("@synthline/core/Registry"))
const Reference = Effect.promise(() => import("@synthline/core/Pipeline").then((m) => m.Reference))
const Manifest = Effect.promise(() => import("@synthline/core/Manifest"))
const Sample = Effect.promise(() => import("@synthline/sample/Sample"))
const Release = Effect.promise(() => import("@synthline/release/Release"))
const ReleasePlugin = Effect.promise(() => import("@synthline/release/ReleasePlugin"))
const NewPlugin = Effect.promise(() => import("./NewPlugin.js"))
const Head = Effect.promise(() => import("./Head.js"))

const pkg: { readonly version: string } = createRequire(import.meta.url)("../package.json")

/** The CLI's version. */
export const version: string = pkg.version

const file = Args.file({ name: "FILE", exists: "yes" }).pipe(Args.withDescription("Pipeline file (YAML or JSON)."))
const json = Options.boolean("json").pipe(Options.withDescription("Print JSON instead of text."))
const pluginOpt = Options.text("plugin").pipe(
  Options.repeated,
  Options.withDescription("Also load this plugin (npm name or path); repeatable.")
)

const usage = (reason: string): RunError => new RunError({ reason, exitCode: 2 })

const out = (text: string) => Effect.sync(() => void process.stdout.write(text.endsWith("\n") ? text : `${text}\n`))

/** `file:line:column: stage id: message`, the way pipeline-file errors read. */
const located = (file: string, i: PlanIssue): string =>
  `${file}${i.line !== undefined ? `:${i.line}:${i.column ?? 1}` : ""}: stage ${i.stage}: ${i.message}`

/** Prints the plan's warnings (a branch that skips a `pii/*` stage, ...) to stderr. */
const printWarnings = (file: string, checked: Plan) =>
  Effect.sync(() => {
    for (const w of checked.warnings) process.stderr.write(`warning: ${located(file, w)}\n`)
  })

/** Fails with exit code 2 when a stage requires a field nothing before it provides. */
const failUnmet = (file: string, checked: Plan) =>
  checked.issues.length === 0
    ? Effect.void
    : Effect.fail(new RunError({ reason: checked.issues.map((i) => located(file, i)).join("\nerror: "), exitCode: 2 }))

/**
 * Loads a pipeline file and checks its stage chain as `plan` does, before any work: warnings go
 * to stderr, an unmet requirement or a source path matching no file fails with exit code 2.
 */
const loadChecked = (file: string) =>
  Effect.gen(function* () {
    const P = yield* Pipeline
    const pipeline = yield* P.load(file)
    const checked = P.plan(pipeline)
    yield* printWarnings(file, checked)
    yield* failUnmet(file, checked)
    yield* P.checkInputs(pipeline)
    return { pipeline, checked }
  })

const run = Command.make(
  "run",
  {
    file,
    shard: Options.text("shard").pipe(
      Options.optional,
      Options.withDescription("Take shard i of n (i/n). Defaults to SLURM_ARRAY_TASK_ID/COUNT or JOB_COMPLETION_INDEX.")
    ),
    fresh: Options.boolean("fresh").pipe(Options.withDescription("Start over, ignoring completion markers in the sink folder (the old output is removed).")),
    maxErrors: Options.integer("max-errors").pipe(
      Options.withDefault(0),
      Options.withDescription("Rejected rows tolerated; past it the run stops (resumably) with exit code 1. Default 0.")
    ),
    bufferMb: Options.integer("buffer-mb").pipe(
      Options.optional,
      Options.withDescription(
        "Memory bound (MB) of each model stage's reorder buffer: rows in flight or waiting to leave in input order. Default 256."
      )
    ),
    workers: Options.integer("workers").pipe(
      Options.optional,
      Options.withDescription(
        "Worker threads that process whole work units (read, stages, encoding); 1 runs everything in one thread. Default: one per core when the run has 2+ units and 50,000+ rows left and its stages can use workers (no model stages)."
      )
    ),
    json
  },
  ({ file, shard, fresh, maxErrors, bufferMb, workers, json }) =>
    Effect.gen(function* () {
      const { pipeline: resolved, checked } = yield* loadChecked(file)
      const s = (yield* Runner).resolveShard(Option.getOrUndefined(shard), process.env)
      if (Either.isLeft(s)) return yield* usage(s.left)
      const write = (t: string) => void (json ? process.stdout : process.stderr).write(t)
      const shown = json ? Progress.json(write) : process.stderr.isTTY ? Progress.tty(write) : Progress.plain(write)
      // The last snapshot seen, for what Ctrl-C prints: the units committed and that a rerun resumes.
      let last: Progress.Snapshot | undefined
      const reporter: Progress.Reporter = {
        report: (e) => {
          if (e.type === "start")
            last = { unitsDone: e.unitsDone, units: e.units, rowsRead: 0, rowsWritten: 0, rejected: 0, elapsedMs: 0, stages: [] }
          else if (e.type === "progress" || e.type === "unit" || e.type === "finish") last = e.snapshot
          shown.report(e)
        }
      }
      // The plan's warnings are on stderr already; --json carries them as events too.
      if (json) for (const w of checked.warnings) reporter.report({ type: "warning", message: located(file, w) })
      const mb = Option.getOrUndefined(bufferMb)
      if (mb !== undefined && mb < 1) return yield* usage(`--buffer-mb must be at least 1, got ${mb}`)
      const bufferBytes = mb === undefined ? undefined : mb * 1024 * 1024
      const threads = Option.getOrUndefined(workers)
      if (threads !== undefined && threads < 1) return yield* usage(`--workers must be at least 1, got ${threads}`)
      yield* (yield* Runner).run(resolved, { shard: s.right, fresh, maxErrors, reporter, bufferBytes, workers: threads ?? "auto" }).pipe(
        Effect.onInterrupt(() =>
          Effect.sync(() => {
            if (last !== undefined) shown.report({ type: "interrupted", snapshot: last })
          })
        )
      )
    })
).pipe(Command.withDescription("Run a pipeline file; resumes where an interrupted run stopped."))

const validate = Command.make("validate", { file }, ({ file }) =>
  Effect.gen(function* () {
    const { pipeline: p } = yield* loadChecked(file)
    yield* out(`${file}: valid (${p.stages.length} ${p.stages.length === 1 ? "stage" : "stages"}, fingerprint ${p.fingerprint.slice(0, 12)})`)
  })
).pipe(
  Command.withDescription(
    "Check a pipeline file: syntax, size, plugins, stage ids, options, and that every field a stage requires is provided before it."
  )
)

const plan = Command.make("plan", { file, json }, ({ file, json }) =>
  Effect.gen(function* () {
    const p = yield* (yield* Pipeline).load(file)
    const checked = (yield* Pipeline).plan(p)
    yield* printWarnings(file, checked)
    if (json) {
      yield* out(JSON.stringify(checked, null, 2))
    } else {
      const lines = [
        `pipeline ${p.name} (seed ${p.seed}), fingerprint ${checked.fingerprint}`,
        `source   ${p.source.def.type}${checked.columns !== undefined ? ` (columns read, where the source is columnar: ${checked.columns.join(", ")})` : ""}`,
        ...checked.steps.map(
          (s, i) =>
            `${String(i + 1).padStart(2)}. ${s.instanceId.padEnd(28)} requires [${s.requires.join(", ")}] provides [${s.provides.join(", ")}]${s.route !== undefined ? ` route → ${s.route}` : ""}`
        ),
        `sink     ${p.sink.def.type} → ${p.sink.config.path}`,
        ...[...p.branches].map(([n, b]) => {
          const o = p.outputs?.get(n)
          if (o === undefined) return `branch   ${n}: ${b.def.type} → ${b.config.path}`
          return `output   ${n}: ${b.def.type} → ${b.config.path}${o.where !== undefined ? ` where ${o.where.text}` : ""}`
        })
      ]
      yield* out(lines.join("\n"))
    }
    yield* failUnmet(file, checked)
    yield* (yield* Pipeline).checkInputs(p)
  })
).pipe(
  Command.withDescription(
    "Show the stage chain with requires/provides checked, warnings (a branch that skips a pii stage), and the fingerprint."
  )
)

const registryFor = (file: Option.Option<string>, plugins: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    if (Option.isSome(file)) {
      const p = yield* (yield* Pipeline).load(file.value)
      const extra = yield* (yield* Registry).load(plugins, process.cwd())
      return yield* (yield* Registry).fromPlugins([...p.registry.plugins, ...extra.plugins])
    }
    return yield* (yield* Registry).load(plugins, process.cwd())
  })

const optionalFile = Args.file({ name: "FILE", exists: "yes" }).pipe(
  Args.withDescription("Pipeline file whose plugins to load."),
  Args.optional
)

const stages = Command.make("stages", { file: optionalFile, json, plugin: pluginOpt }, ({ file, json, plugin }) =>
  Effect.gen(function* () {
    const registry = yield* registryFor(file, plugin)
    const info = (yield* Reference).stages(registry)
    if (json) return yield* out(JSON.stringify(info, null, 2))
    if (Option.isNone(file) && plugin.length === 0)
      yield* Console.error(
        "hint: these are core's stages only; name a pipeline FILE or --plugin NAME to list plugins' stages too, e.g. synthline stages --plugin @synthline/plugin-pii"
      )
    const text = info
      .map((s) =>
        [
          `${s.id}${s.stateful ? " (stateful)" : ""}`,
          `  ${s.description}`,
          ...s.options.map(
            (o) =>
              `  ${o.name}: ${o.type}${o.constraints !== undefined ? ` (${o.constraints})` : ""}${o.required ? " (required)" : ""}${o.default !== undefined ? ` = ${JSON.stringify(o.default)}` : ""}${o.description !== undefined ? ` — ${o.description}` : ""}`
          )
        ].join("\n")
      )
      .join("\n\n")
    yield* out(text)
  })
).pipe(Command.withDescription("List every stage of the loaded plugins with its options, types, defaults and docs."))

const schema = Command.make("schema", { file: optionalFile, plugin: pluginOpt }, ({ file, plugin }) =>
  Effect.gen(function* () {
    // The CLI ships @synthline/release, whose `encrypt` option a pipeline file may use without listing it.
    const release = { plugin: (yield* ReleasePlugin).plugin, specifier: "@synthline/release" }
    const registry = yield* (yield* Registry).fromPlugins([...(yield* registryFor(file, plugin)).plugins, release])
    yield* out(JSON.stringify((yield* Reference).pipelineJsonSchema(registry), null, 2))
  })
).pipe(Command.withDescription("Print the JSON Schema of pipeline files (for YAML editors)."))

const merge = Command.make(
  "merge",
  { dirs: Args.directory({ name: "DIR", exists: "yes" }).pipe(Args.atLeast(1)) },
  ({ dirs }) =>
    Effect.gen(function* () {
      const merged = yield* (yield* Manifest).mergeDirs(dirs)
      const m = merged.manifest
      yield* out(
        `merged ${m.merged_from?.length ?? 0} shard manifests: ${m.source.rows_read} rows read, ${m.outputs.main.rows} written, ${m.rejects.count} rejected\nmanifest: ${merged.path}\ndataset card: ${merged.path.replace(/manifest\.json$/, "README.md")}`
      )
    })
).pipe(Command.withDescription("Join the manifests of the shards of a sharded run into manifest.json and write the dataset cards."))

const sample = Command.make(
  "sample",
  {
    rows: Options.integer("rows").pipe(Options.withDescription("Number of conversations (required).")),
    out: Options.directory("out").pipe(
      Options.withDescription("Output folder (required); gets data/train-*.parquet, pii_truth.jsonl and sample.json.")
    ),
    format: Options.choice("format", ["parquet", "jsonl"]).pipe(
      Options.withDefault("parquet" as const),
      Options.withDescription("File format of the data files. Default parquet.")
    ),
    shards: Options.integer("shards").pipe(Options.withDefault(1), Options.withDescription("Number of files. Default 1.")),
    seed: Options.integer("seed").pipe(Options.withDefault(0), Options.withDescription("Seed of the generator; the same seed gives the same bytes. Default 0.")),
    rowGroupRows: Options.integer("row-group-rows").pipe(
      Options.optional,
      Options.withDescription("Rows per parquet row group (and per write for jsonl). Default 10000.")
    ),
    nearDuplicates: Options.boolean("near-duplicates").pipe(
      Options.withDescription(
        "Plant near-duplicate families and benchmark-like prompts, with ground truth in near_duplicates_truth.jsonl and benchmark_truth.jsonl."
      )
    )
  },
  ({ rows, out: dir, format, shards, seed, rowGroupRows, nearDuplicates }) =>
    Effect.gen(function* () {
      if (rows < 1 || shards < 1) return yield* usage("--rows and --shards must be at least 1")
      const S = yield* Sample
      const progress = sampleProgress(rows)
      const summary = yield* S.generate({
        rows,
        out: dir,
        format,
        shards,
        seed,
        ...(Option.isSome(rowGroupRows) ? { rowGroupRows: rowGroupRows.value } : {}),
        ...(nearDuplicates ? { nearDuplicates } : {}),
        onProgress: progress.update
      })
      progress.end()
      const files = summary.files.length
      yield* out(
        [
          `wrote ${fmt(summary.rows)} conversations to ${dir} (${files} ${files === 1 ? "file" : "files"}, ${format}, seed ${seed})`,
          `  languages: ${Object.entries(summary.languages)
            .sort((a, b) => b[1] - a[1])
            .slice(0, 4)
            .map(([l, n]) => `${l} ${fmt(n)}`)
            .join(", ")}${Object.keys(summary.languages).length > 4 ? ", ..." : ""}`,
          `  flagged by moderation: ${fmt(summary.flaggedConversations)} · with personal data: ${fmt(summary.conversationsWithPii)} (${fmt(summary.piiSpans)} spans in pii_truth.jsonl)`,
          ...(summary.nearDuplicates !== undefined
            ? [`  near-duplicates: ${fmt(summary.nearDuplicates.duplicates)} planted · benchmark-like prompts: ${fmt(summary.nearDuplicates.benchmarkRows)}`]
            : []),
          `details: ${S.summaryFile} in ${dir}`
        ].join("\n")
      )
    })
).pipe(Command.withDescription("Generate LMSYS-Chat-1M-shaped sample data (exact schema and file layout)."))

const fmt = (n: number): string => n.toLocaleString("en-US")

/** Progress of `sample` on stderr: a redrawn line on a terminal, a line per 10% otherwise. */
const sampleProgress = (rows: number) => {
  const tty = process.stderr.isTTY === true
  let shown = -1
  let last = 0
  return {
    update: (done: number) => {
      const pct = Math.floor((done * 100) / rows)
      const now = Date.now()
      if (tty ? now - last < 200 && done < rows : Math.floor(pct / 10) === shown) return
      last = now
      shown = Math.floor(pct / 10)
      process.stderr.write(`${tty ? "\r\x1b[2K" : ""}sample: ${fmt(done)}/${fmt(rows)} conversations (${pct}%)${tty ? "" : "\n"}`)
    },
    end: () => void (tty && shown >= 0 ? process.stderr.write("\n") : undefined)
  }
}

const sourceDir = Options.directory("source", { exists: "yes" }).pipe(
  Options.withDescription("The original dataset folder (e.g. LMSYS-Chat-1M with data/train-*.parquet).")
)

const releaseKey = Command.make("release-key", { source: sourceDir }, ({ source }) =>
  Effect.gen(function* () {
    const key = yield* (yield* Release).keyFromDir(source)
    yield* Console.error(`release key derived from ${key.rows} rows${key.skipped > 0 ? ` (${key.skipped} undecodable rows skipped)` : ""}`)
    yield* out(Redacted.value(key.passphrase))
  })
).pipe(Command.withDescription("Print the release key derived from a source dataset's content (the gpg passphrase of encrypted outputs)."))

const decrypt = Command.make(
  "decrypt",
  {
    file: Args.file({ name: "FILE", exists: "yes" }).pipe(Args.withDescription("An encrypted part file (*.gpg).")),
    source: sourceDir,
    out: Options.file("out").pipe(Options.optional, Options.withDescription("Output file (default: FILE without .gpg)."))
  },
  ({ file, source, out: target }) =>
    Effect.gen(function* () {
      const done = yield* (yield* Release).decryptWithSource(file, source, Option.getOrUndefined(target))
      yield* out(`decrypted ${file} → ${done.out}`)
    })
).pipe(Command.withDescription("Decrypt a file written with encrypt: source-key, deriving the key from the source dataset."))

const head = Command.make(
  "head",
  {
    target: Args.path({ name: "DIR|FILE", exists: "yes" }).pipe(
      Args.withDescription("A sink folder (its part files in order), a dataset folder (data/*), or one .jsonl, .jsonl.gz, .parquet or .gpg file.")
    ),
    rows: Options.integer("rows").pipe(Options.withAlias("n"), Options.withDefault(5), Options.withDescription("Rows to show. Default 5.")),
    fields: Options.text("fields").pipe(
      Options.optional,
      Options.withDescription("Comma-separated fields to show, dotted paths allowed (conversation.0.content). Default: all.")
    ),
    source: Options.directory("source", { exists: "yes" }).pipe(
      Options.optional,
      Options.withDescription("The original dataset folder, whose content gives the key of .gpg files (as for decrypt).")
    ),
    width: Options.integer("width").pipe(Options.withDefault(200), Options.withDescription("Longest string shown before it is cut. Default 200.")),
    json
  },
  ({ target, rows, fields, source, width, json }) =>
    Effect.gen(function* () {
      const H = yield* Head
      if (width < 1) return yield* usage(`--width must be at least 1, got ${width}`)
      const found = yield* H.head(target, { rows, source: Option.getOrUndefined(source) })
      const names = Option.match(fields, { onNone: () => [], onSome: (f) => f.split(",").map((x) => x.trim()).filter((x) => x !== "") })
      if (json) return yield* out(found.map((r) => JSON.stringify(H.select(r.row, names), (_, v) => (typeof v === "bigint" ? v.toString() : v))).join("\n"))
      yield* out(found.length === 0 ? `${target}: no rows` : H.format(found, { fields: names, width, items: 5 }))
    })
).pipe(Command.withDescription("Print the first rows of a sink folder or a data file (jsonl, jsonl.gz, parquet, .gpg), pretty and cut short."))

const newPlugin = Command.make(
  "new-plugin",
  {
    name: Args.text({ name: "NAME" }).pipe(
      Args.withDescription("Plugin name (acme → package synthline-plugin-acme) or npm package name (@acme/synthline-plugin-x).")
    ),
    dir: Options.directory("dir").pipe(
      Options.optional,
      Options.withDescription("Folder to create the package in (default ./<package name without scope>); must be empty.")
    ),
    workspace: Options.boolean("workspace").pipe(
      Options.withDescription("Depend on @synthline/* as workspace:* (the folder must be a package folder of this clone's workspace; the default there).")
    ),
    npm: Options.boolean("npm").pipe(
      Options.withDescription("Depend on published @synthline/* version ranges (the default of an installed CLI; from a clone outside its workspace the default is tarballs packed from it).")
    )
  },
  ({ name, dir, workspace, npm }) =>
    Effect.gen(function* () {
      if (workspace && npm) return yield* usage("--workspace and --npm exclude each other")
      const NP = yield* NewPlugin
      const done = yield* NP.scaffold(name, {
        dir: Option.getOrUndefined(dir),
        deps: workspace ? "workspace" : npm ? "npm" : "auto",
        progress: (line) => void process.stderr.write(`${line}\n`)
      })
      yield* out(NP.summary(done))
    })
).pipe(Command.withDescription("Scaffold a plugin package: a stage with a config Schema, a test, a README, a changeset."))

/** The root command. */
export const command = Command.make("synthline").pipe(
  Command.withDescription("Turn LLM conversation logs into curated and synthetic instruction-tuning datasets."),
  Command.withSubcommands([run, validate, plan, stages, schema, merge, ...Submit.commands, Estimate.command, head, Report.command, sample, releaseKey, decrypt, newPlugin])
)

const runCommand = Command.run(command, { name: "synthline", version })

// Example command lines of the help pages, by command.
const examples: { readonly [command: string]: ReadonlyArray<string> } = {
  "": [
    "synthline sample --rows 10000 --out data/sample",
    "synthline validate examples/quickstart.pipeline.yaml",
    "synthline run examples/quickstart.pipeline.yaml",
    "synthline head out/quickstart -n 3 --fields conversation_id,language"
  ],
  run: ["synthline run pipeline.yaml", "synthline run --fresh --workers 4 pipeline.yaml", "synthline run --shard 0/4 --json pipeline.yaml"],
  validate: ["synthline validate pipeline.yaml"],
  plan: ["synthline plan pipeline.yaml", "synthline plan --json pipeline.yaml"],
  stages: ["synthline stages", "synthline stages pipeline.yaml", "synthline stages --plugin @synthline/plugin-pii --json"],
  schema: ["synthline schema pipeline.yaml > pipeline.schema.json"],
  merge: ["synthline merge out/ja"],
  estimate: ["synthline estimate pipeline.yaml", "synthline estimate --sample 500 --json pipeline.yaml", "synthline estimate --rows-total 1000000 pipeline.yaml"],
  sample: ["synthline sample --rows 10000 --out data/sample", "synthline sample --rows 100000 --shards 6 --format jsonl --out data/big"],
  "release-key": ["synthline release-key --source data/lmsys-chat-1m"],
  decrypt: ["synthline decrypt --source data/lmsys-chat-1m out/ja/part-00000.jsonl.gz.gpg"],
  "new-plugin": ["synthline new-plugin acme --dir plugins/acme"],
  head: [
    "synthline head out/ja",
    "synthline head out/ja/part-00000.jsonl.gz -n 2 --fields conversation_id,conversation.0.content",
    "synthline head out/ja-release --source data/lmsys-chat-1m"
  ]
}

const helpFooter = [
  "Shell completion: synthline --completions bash > ~/.local/share/bash-completion/completions/synthline",
  "  (also zsh, fish, sh). See synthline <COMMAND> --help for a command's options."
]

/** How help pages print: with colour or not, and the CLI's examples and footer. */
export const helpOptions = (color: boolean): Help.HelpOptions => ({ color, examples, footer: helpFooter })

/** Runs the CLI on the user's arguments (`argv` without node and the script). */
export const cli = (
  argv: ReadonlyArray<string>
): Effect.Effect<void, unknown, FileSystem.FileSystem | Path.Path | Terminal.Terminal | CommandExecutor.CommandExecutor> =>
  Effect.suspend(() => {
    const checked = Help.check(command, argv, helpOptions(Help.useColor(process.stdout.isTTY, process.env)))
    switch (checked._tag) {
      case "Help":
        return out(checked.text)
      case "Refused":
        return Effect.fail(usage(checked.message))
      case "Run":
        return runCommand(["node", "synthline", ...argv])
    }
  })

/** Prints an error the way users see it and returns the exit code. */
export const report = (error: unknown): Effect.Effect<number> =>
  Effect.gen(function* () {
    // @effect/cli has already printed usage errors and help.
    if (ValidationError.isValidationError(error)) return ValidationError.isHelpRequested(error) ? 0 : 2
    if (typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string") {
      const tagged = error as { readonly _tag: string; readonly message?: string; readonly exitCode?: number }
      yield* Console.error(`error: ${tagged.message ?? tagged._tag}`)
      return exitCodeOf(tagged)
    }
    yield* Console.error(`error: ${String(error)}`)
    return 1
  })

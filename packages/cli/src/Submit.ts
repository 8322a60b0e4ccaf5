/**
 * `synthline submit` (run a pipeline's shards as a Slurm job array or a Kubernetes Indexed Job,
 * with a merge job after them) and `synthline status` (what the shards in a sink folder have
 * done). The scripts and manifests come from Cluster, the status of a sink folder from Status.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Effect, Option } from "effect"
import { RunError } from "@synthline/core/Errors"
import type { PlanIssue } from "@synthline/core/Pipeline"

const Pipeline = Effect.promise(() => import("@synthline/core/Pipeline"))
const Cluster = Effect.promise(() => import("./Cluster.js"))
const Status = Effect.promise(() => import("./Status.js"))

const usage = (reason: string): RunError => new RunError({ reason, exitCode: 2 })

const out = (text: string) => Effect.sync(() => void process.stdout.write(text.endsWith("\n") ? text : `${text}\n`))
const warn = (text: string) => Effect.sync(() => void process.stderr.write(`warning: ${text}\n`))

const located = (file: string, i: PlanIssue): string =>
  `${file}${i.line !== undefined ? `:${i.line}:${i.column ?? 1}` : ""}: stage ${i.stage}: ${i.message}`

/** Loads the pipeline, checks its stage chain (as `run` does) and plans its work units. */
const prepare = (file: string) =>
  Effect.gen(function* () {
    const P = yield* Pipeline
    const pipeline = yield* P.load(file)
    const checked = P.plan(pipeline)
    for (const w of checked.warnings) yield* warn(located(file, w))
    if (checked.issues.length > 0) return yield* usage(checked.issues.map((i) => located(file, i)).join("\nerror: "))
    const units = yield* pipeline.source.def.plan(pipeline.source.config, { baseDir: pipeline.baseDir })
    const path = yield* Path.Path
    const sinkDir = path.resolve(pipeline.baseDir, pipeline.sink.config.path)
    return { pipeline, units: units.length, sinkDir, file: path.resolve(file) }
  })

const optText = (name: string, description: string) => Options.text(name).pipe(Options.optional, Options.withDescription(description))

const submit = Command.make(
  "submit",
  {
    file: Args.file({ name: "FILE", exists: "yes" }).pipe(Args.withDescription("Pipeline file (YAML or JSON).")),
    slurm: Options.boolean("slurm").pipe(Options.withDescription("Submit a Slurm job array (sbatch) and a merge job after it.")),
    k8s: Options.boolean("k8s").pipe(Options.withDescription("Print a Kubernetes Indexed Job and a merge Job (YAML) to apply with kubectl.")),
    shards: Options.integer("shards").pipe(Options.withDescription("Number of shards (array tasks / completions).")),
    parallel: Options.integer("parallel").pipe(
      Options.optional,
      Options.withDescription("At most this many shards at once (Slurm `--array=...%P`, Kubernetes parallelism).")
    ),
    partition: optText("partition", "Slurm partition."),
    time: optText("time", "Slurm time limit of each task (e.g. 4:00:00)."),
    gpus: optText("gpus", "GPUs per task (Slurm --gpus; Kubernetes nvidia.com/gpu)."),
    cpus: Options.integer("cpus").pipe(
      Options.optional,
      Options.withDescription("CPUs per task (Slurm --cpus-per-task, Kubernetes cpu request); each run uses that many workers.")
    ),
    mem: optText("mem", "Memory per task (Slurm --mem, e.g. 16G; Kubernetes memory, e.g. 16Gi)."),
    sbatchArg: Options.text("sbatch-arg").pipe(
      Options.repeated,
      Options.withDescription(`Passed to sbatch for both jobs, e.g. --sbatch-arg "--account=lab"; repeatable.`)
    ),
    dryRun: Options.boolean("dry-run").pipe(Options.withDescription("Print the scripts and sbatch commands instead of submitting.")),
    image: optText("image", "Kubernetes: container image with synthline installed."),
    claim: optText("claim", "Kubernetes: PersistentVolumeClaim holding this folder (pipeline file, data, sink)."),
    mount: Options.text("mount").pipe(
      Options.withDefault("/work"),
      Options.withDescription("Kubernetes: where the claim is mounted; the containers work there.")
    ),
    secret: Options.text("secret").pipe(
      Options.repeated,
      Options.withDescription("Kubernetes: a Secret whose keys become environment variables (API keys, endpoint URLs); repeatable.")
    ),
    namespace: optText("namespace", "Kubernetes namespace of the Jobs.")
  },
  (o) =>
    Effect.gen(function* () {
      if (o.slurm === o.k8s) return yield* usage("give exactly one of --slurm and --k8s")
      if (o.shards < 1) return yield* usage(`--shards must be at least 1, got ${o.shards}`)
      const parallel = Option.getOrUndefined(o.parallel)
      if (parallel !== undefined && parallel < 1) return yield* usage(`--parallel must be at least 1, got ${parallel}`)
      const cpus = Option.getOrUndefined(o.cpus)
      if (cpus !== undefined && cpus < 1) return yield* usage(`--cpus must be at least 1, got ${cpus}`)
      const bad = o.sbatchArg.find((a) => !a.startsWith("-"))
      if (bad !== undefined) return yield* usage(`--sbatch-arg ${bad}: expected an sbatch option such as --account=lab`)
      if (o.k8s && Option.isNone(o.image)) return yield* usage("--k8s needs --image: a container image with synthline installed")
      if (o.k8s && Option.isNone(o.claim)) return yield* usage("--k8s needs --claim: the PersistentVolumeClaim that holds this folder")
      const gpus = Option.getOrUndefined(o.gpus)
      if (o.k8s && gpus !== undefined && !/^\d+$/.test(gpus)) return yield* usage(`--gpus ${gpus}: Kubernetes wants a whole number of GPUs`)
      const p = yield* prepare(o.file)
      if (o.shards > p.units) {
        yield* warn(
          `--shards ${o.shards} but the source plans only ${p.units} work unit${p.units === 1 ? "" : "s"}: shards ${p.units}..${o.shards - 1} would have no work; use --shards ${Math.max(1, p.units)} (or a smaller unit_rows on the source for finer units)`
        )
      }
      return o.slurm ? yield* submitSlurm(o, p, parallel, cpus) : yield* printK8s(o, p, parallel, cpus)
    })
).pipe(
  Command.withDescription(
    "Run a pipeline's shards on a cluster: a Slurm job array plus a merge job (--slurm), or a Kubernetes Indexed Job plus a merge Job (--k8s). Submitting again resubmits only the shards not complete."
  )
)

interface Prepared {
  readonly pipeline: { readonly name: string; readonly fingerprint: string }
  readonly units: number
  readonly sinkDir: string
  readonly file: string
}

const submitSlurm = (
  o: {
    readonly shards: number
    readonly partition: Option.Option<string>
    readonly time: Option.Option<string>
    readonly gpus: Option.Option<string>
    readonly mem: Option.Option<string>
    readonly sbatchArg: ReadonlyArray<string>
    readonly dryRun: boolean
  },
  p: Prepared,
  parallel: number | undefined,
  cpus: number | undefined
) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const C = yield* Cluster
    const S = yield* Status
    const prior = yield* S.readSubmitRecord(p.sinkDir)
    if (prior !== null && prior.count !== o.shards) {
      return yield* usage(
        `${p.sinkDir} was submitted with --shards ${prior.count}; submit with --shards ${prior.count} to finish that run, or remove ${p.sinkDir} to start over with ${o.shards}`
      )
    }
    if (prior !== null && prior.fingerprint !== p.pipeline.fingerprint) {
      return yield* usage(
        `${p.sinkDir} holds a submitted run of a different pipeline (fingerprint ${prior.fingerprint.slice(0, 12)}, this one ${p.pipeline.fingerprint.slice(0, 12)}); choose another sink path or remove it`
      )
    }
    const exists = yield* fs.exists(p.sinkDir).pipe(Effect.orElseSucceed(() => false))
    // Shards of another count in the folder would make the merge fail after all the work.
    const names = exists ? yield* fs.readDirectory(p.sinkDir).pipe(Effect.orElseSucceed((): Array<string> => [])) : []
    const other = names.map((n) => /^manifest-\d{5}-of-(\d{5})\.json$/.exec(n)?.[1]).find((c) => c !== undefined && Number(c) !== o.shards)
    if (other !== undefined) {
      return yield* usage(
        `${p.sinkDir} holds shard manifests of a run with ${Number(other)} shards; submit with --shards ${Number(other)}, or remove them (or choose another sink path) to start over with ${o.shards}`
      )
    }
    const status = exists ? yield* S.read(p.sinkDir, { count: o.shards, fingerprint: p.pipeline.fingerprint }) : undefined
    const running = status?.shards.filter((s) => s.state === "running") ?? []
    for (const s of running) {
      yield* warn(`shard ${s.index}/${o.shards} is running (${s.holder ?? "holds its lock"}); not resubmitted`)
    }
    const todo = (status === undefined ? Array.from({ length: o.shards }, (_, i) => i) : S.incomplete(status)).filter(
      (i) => !running.some((s) => s.index === i)
    )
    if (todo.length === 0 && running.length === 0 && status?.merged === true) {
      return yield* out(`all ${o.shards} shards of ${p.sinkDir} are complete and merged; nothing to submit`)
    }
    const scripts = C.slurmScripts({
      name: p.pipeline.name,
      fingerprint: p.pipeline.fingerprint,
      file: p.file,
      sinkDir: p.sinkDir,
      cwd: process.cwd(),
      shards: o.shards,
      entry: C.currentEntry(),
      partition: Option.getOrUndefined(o.partition),
      time: Option.getOrUndefined(o.time),
      gpus: Option.getOrUndefined(o.gpus),
      cpus,
      mem: Option.getOrUndefined(o.mem),
      sbatchArgs: o.sbatchArg
    })
    const commands = C.sbatchCommands(scripts, todo, parallel)
    // With shards still running elsewhere, the merge would fail: it waits for the resubmitted ones only.
    const mergeNow = running.length === 0
    if (o.dryRun) {
      return yield* out(
        [
          `# ${scripts.arrayPath}`,
          scripts.array,
          `# ${scripts.mergePath}`,
          scripts.merge,
          "# would run:",
          ...(todo.length > 0 ? [commands.array.join(" ")] : []),
          ...(mergeNow ? [commands.merge(todo.length > 0 ? "<array job id>" : undefined).join(" ")] : [])
        ].join("\n")
      )
    }
    const dir = C.slurmDir(p.sinkDir)
    const write = (file: string, text: string) =>
      fs.writeFileString(file, text, { mode: 0o755 }).pipe(Effect.mapError((e) => new RunError({ reason: `cannot write ${file}: ${e.message}`, exitCode: 1 })))
    yield* fs.makeDirectory(dir, { recursive: true }).pipe(Effect.mapError((e) => new RunError({ reason: `cannot create ${dir}: ${e.message}`, exitCode: 1 })))
    yield* write(scripts.arrayPath, scripts.array)
    yield* write(scripts.mergePath, scripts.merge)
    const arrayJob = todo.length > 0 ? yield* C.sbatch(commands.array) : undefined
    const mergeJob = mergeNow ? yield* C.sbatch(commands.merge(arrayJob)) : undefined
    const record = {
      version: 1 as const,
      name: p.pipeline.name,
      fingerprint: p.pipeline.fingerprint,
      count: o.shards,
      submissions: [
        ...(prior?.submissions ?? []),
        {
          engine: "slurm" as const,
          at: new Date().toISOString(),
          shards: todo,
          ...(arrayJob !== undefined ? { array_job: arrayJob } : {}),
          ...(mergeJob !== undefined ? { merge_job: mergeJob } : {})
        }
      ]
    }
    yield* write(S.submitFile(p.sinkDir), `${JSON.stringify(record, null, 2)}\n`)
    const jobs = [arrayJob, mergeJob].filter((j) => j !== undefined)
    const skipped = o.shards - todo.length - running.length
    yield* out(
      [
        arrayJob !== undefined
          ? `submitted shards ${C.arraySpec(todo)} of ${o.shards} as Slurm array job ${arrayJob}${parallel !== undefined ? ` (at most ${parallel} at a time)` : ""}${skipped > 0 ? `; ${skipped} complete shard${skipped === 1 ? "" : "s"} not resubmitted` : ""}`
          : `all ${o.shards} shards are complete`,
        mergeJob !== undefined
          ? `submitted merge job ${mergeJob}${arrayJob !== undefined ? ` (runs after ${arrayJob} succeeds)` : ""}`
          : "no merge job: submit again once the running shards are done",
        `scripts: ${scripts.arrayPath}, ${scripts.mergePath}; logs in ${dir}`,
        `watch: squeue -j ${jobs.join(",")}`,
        `progress: synthline status ${p.sinkDir}`
      ].join("\n")
    )
  })

const printK8s = (
  o: {
    readonly shards: number
    readonly gpus: Option.Option<string>
    readonly mem: Option.Option<string>
    readonly image: Option.Option<string>
    readonly claim: Option.Option<string>
    readonly mount: string
    readonly secret: ReadonlyArray<string>
    readonly namespace: Option.Option<string>
  },
  p: Prepared,
  parallel: number | undefined,
  cpus: number | undefined
) =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    if (Option.isNone(o.image) || Option.isNone(o.claim)) return yield* usage("--k8s needs --image and --claim")
    const gpus = Option.getOrUndefined(o.gpus)
    const cwd = process.cwd()
    const rel = (what: string, abs: string) => {
      const r = path.relative(cwd, abs)
      return r.startsWith("..") || path.isAbsolute(r)
        ? Effect.fail(usage(`${what} ${abs} is outside ${cwd}, the folder the volume holds; run submit from a folder that contains it`))
        : Effect.succeed(r === "" ? "." : r)
    }
    const C = yield* Cluster
    const jobs = C.k8sJobs({
      name: p.pipeline.name,
      fingerprint: p.pipeline.fingerprint,
      file: yield* rel("the pipeline file", p.file),
      sinkDir: yield* rel("the sink folder", p.sinkDir),
      shards: o.shards,
      parallel,
      image: o.image.value,
      claim: o.claim.value,
      mountPath: o.mount,
      cpus,
      mem: Option.getOrUndefined(o.mem),
      gpus: gpus === undefined ? undefined : Number(gpus),
      envSecrets: o.secret,
      namespace: Option.getOrUndefined(o.namespace)
    })
    yield* out(C.k8sYaml(jobs, { name: p.pipeline.name, shards: o.shards }))
  })

/** `synthline status DIR`. */
const status = Command.make(
  "status",
  {
    dir: Args.directory({ name: "DIR", exists: "yes" }).pipe(Args.withDescription("A sink folder.")),
    json: Options.boolean("json").pipe(Options.withDescription("Machine-readable JSON output."))
  },
  ({ dir, json }) =>
    Effect.gen(function* () {
      const S = yield* Status
      const st = yield* S.read(dir)
      yield* out(json ? JSON.stringify(st, null, 2) : S.format(st))
    })
).pipe(
  Command.withDescription(
    "Show which shards of a sink folder are complete, running (with the age of their last commit) or failed, the rows done, and whether they were merged. Reads only the folder, whatever ran the shards."
  )
)

/** The commands of this module. */
export const commands = [submit, status] as const

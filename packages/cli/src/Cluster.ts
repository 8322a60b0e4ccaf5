/**
 * Cluster submission: the Slurm job-array and merge scripts and the Kubernetes Indexed Job and
 * merge Job that run a pipeline's shards on a cluster (`synthline submit`). Each task runs the
 * same `synthline run FILE --shard i/n` a user would type, with the command line of the
 * synthline that submitted it, so the tasks run the same code (from sources or installed).
 */
import { Effect } from "effect"
import { execFile } from "node:child_process"
import { RunError } from "@synthline/core/Errors"
import * as Yaml from "yaml"

/** How a task starts synthline: the program and its leading arguments. */
export type Entry = ReadonlyArray<string>

/**
 * The command line of the running synthline: node, its own flags (`--import tsx
 * --conditions=@synthline/source` when run from sources) and the CLI script. Run this way, an
 * array task runs exactly the synthline that submitted it.
 */
export const currentEntry = (
  proc: { readonly execPath: string; readonly execArgv: ReadonlyArray<string>; readonly argv: ReadonlyArray<string> } = process
): Entry => [proc.execPath, ...proc.execArgv, ...(proc.argv[1] === undefined ? [] : [proc.argv[1]])]

/** A word quoted for bash (single quotes unless it is plainly safe). */
export const shellQuote = (word: string): string => (/^[A-Za-z0-9_./:=@%+,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`)

/** `0-3`, `1,3,5-7`: Slurm's array index list for these indices, with `%max` when given. */
export const arraySpec = (indices: ReadonlyArray<number>, max?: number): string => {
  const sorted = [...new Set(indices)].sort((a, b) => a - b)
  const parts: Array<string> = []
  let i = 0
  while (i < sorted.length) {
    let j = i
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`)
    i = j + 1
  }
  return `${parts.join(",")}${max !== undefined ? `%${max}` : ""}`
}

/** What the Slurm jobs need to know. */
export interface SlurmOptions {
  /** Pipeline name (job names). */
  readonly name: string
  readonly fingerprint: string
  /** The pipeline file, absolute. */
  readonly file: string
  /** The sink folder, absolute. */
  readonly sinkDir: string
  /** Folder the tasks run in (the submitter's). */
  readonly cwd: string
  readonly shards: number
  readonly entry: Entry
  readonly partition?: string | undefined
  readonly time?: string | undefined
  readonly gpus?: string | undefined
  readonly cpus?: number | undefined
  readonly mem?: string | undefined
  /** Passed through to sbatch, for both jobs (`--account=x`, `--qos=y`). */
  readonly sbatchArgs?: ReadonlyArray<string> | undefined
  /** Extra arguments for each `synthline run`. */
  readonly runArgs?: ReadonlyArray<string> | undefined
}

/** The folder of the scripts and Slurm logs inside the sink's `_state/`. */
export const slurmDir = (sinkDir: string): string => `${sinkDir}/_state/slurm`

/** The two scripts `submit --slurm` writes: the array (one task per shard) and the merge. */
export interface SlurmScripts {
  readonly arrayPath: string
  readonly array: string
  readonly mergePath: string
  readonly merge: string
}

const directive = (flag: string, value: string | number | undefined): ReadonlyArray<string> =>
  value === undefined ? [] : [`#SBATCH --${flag}=${value}`]

/** The array and merge scripts. */
export const slurmScripts = (o: SlurmOptions): SlurmScripts => {
  const dir = slurmDir(o.sinkDir)
  const jobName = `synthline-${o.name}`.replace(/[^A-Za-z0-9_.-]/g, "-")
  const common = [
    ...directive("partition", o.partition),
    ...directive("time", o.time),
    `#SBATCH --chdir=${o.cwd}`,
    ...(o.sbatchArgs ?? []).map((a) => `#SBATCH ${a}`)
  ]
  const run = [...o.entry, "run", o.file, ...(o.cpus !== undefined ? ["--workers", String(o.cpus)] : []), ...(o.runArgs ?? [])]
  const array = [
    "#!/bin/bash",
    `# Written by synthline submit --slurm: one array task per shard of pipeline ${o.name}`,
    `# (fingerprint ${o.fingerprint.slice(0, 12)}); task i runs shard i/${o.shards}.`,
    `#SBATCH --job-name=${jobName}`,
    `#SBATCH --output=${dir}/%A_%a.out`,
    ...directive("cpus-per-task", o.cpus),
    ...directive("mem", o.mem),
    ...directive("gpus", o.gpus),
    ...common,
    "set -euo pipefail",
    `# The shard index, for per-shard paths in the pipeline file: cache: { path: "cache-\${SYNTHLINE_SHARD:-0}.sqlite" }`,
    `export SYNTHLINE_SHARD="\${SLURM_ARRAY_TASK_ID}"`,
    // The task id is the shard index; the count is fixed (a resubmission of some indices keeps it).
    `exec ${run.map(shellQuote).join(" ")} --shard "\${SLURM_ARRAY_TASK_ID}/${o.shards}"`,
    ""
  ].join("\n")
  const merge = [
    "#!/bin/bash",
    `# Written by synthline submit --slurm: joins the ${o.shards} shard manifests of pipeline ${o.name}`,
    "# and writes the dataset cards, once every array task has succeeded.",
    `#SBATCH --job-name=${jobName}-merge`,
    `#SBATCH --output=${dir}/merge-%j.out`,
    "#SBATCH --cpus-per-task=1",
    ...common,
    "set -euo pipefail",
    `exec ${[...o.entry, "merge", o.sinkDir].map(shellQuote).join(" ")}`,
    ""
  ].join("\n")
  return { arrayPath: `${dir}/array.sbatch`, array, mergePath: `${dir}/merge.sbatch`, merge }
}

/** The sbatch command lines for the array (over `indices`) and the merge after it (`<array>` stands for its job id). */
export const sbatchCommands = (
  scripts: SlurmScripts,
  indices: ReadonlyArray<number>,
  parallel?: number
): { readonly array: ReadonlyArray<string>; readonly merge: (arrayJob: string | undefined) => ReadonlyArray<string> } => ({
  array: ["sbatch", "--parsable", `--array=${arraySpec(indices, parallel)}`, scripts.arrayPath],
  merge: (arrayJob) => [
    "sbatch",
    "--parsable",
    ...(arrayJob === undefined ? [] : [`--dependency=afterok:${arrayJob}`, "--kill-on-invalid-dep=yes"]),
    scripts.mergePath
  ]
})

/** Runs sbatch and returns the job id it printed (`--parsable`: `id` or `id;cluster`). */
export const sbatch = (argv: ReadonlyArray<string>): Effect.Effect<string, RunError> =>
  Effect.async<string, RunError>((resume) => {
    execFile(argv[0]!, argv.slice(1), { encoding: "utf8" }, (error, stdout, stderr) => {
      if (error !== null) {
        const why =
          "code" in error && error.code === "ENOENT"
            ? "sbatch was not found on PATH (is this a Slurm login node?)"
            : `${stderr.trim() || error.message}`
        return resume(Effect.fail(new RunError({ reason: `${argv.join(" ")} failed: ${why}`, exitCode: 1 })))
      }
      const id = stdout.trim().split(";")[0] ?? ""
      if (!/^\d+$/.test(id)) {
        return resume(Effect.fail(new RunError({ reason: `${argv.join(" ")} printed no job id: ${stdout.trim()}`, exitCode: 1 })))
      }
      resume(Effect.succeed(id))
    })
  })

// ---- Kubernetes

/** What the Kubernetes Jobs need to know. */
export interface K8sOptions {
  readonly name: string
  readonly fingerprint: string
  /** The pipeline file, relative to the folder the volume holds (the container's working directory). */
  readonly file: string
  /** The sink folder, relative to the same folder. */
  readonly sinkDir: string
  readonly shards: number
  readonly parallel?: number | undefined
  readonly image: string
  /** PersistentVolumeClaim holding the working folder (pipeline file, data, sink). */
  readonly claim: string
  /** Where the volume is mounted; the containers work there. */
  readonly mountPath: string
  readonly cpus?: number | undefined
  readonly mem?: string | undefined
  readonly gpus?: number | undefined
  /** Secrets whose keys become environment variables (API keys, endpoint URLs). */
  readonly envSecrets?: ReadonlyArray<string> | undefined
  readonly namespace?: string | undefined
}

/** A Kubernetes object name (DNS-1123 label) from a pipeline name. */
export const k8sName = (name: string): string =>
  `synthline-${name}`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-+/g, "-")
    .slice(0, 52)
    .replace(/-+$/, "")

/** A Kubernetes object, as JSON. */
export type K8sObject = { readonly [key: string]: unknown }

/**
 * The Indexed Job that runs the shards (`JOB_COMPLETION_INDEX` picks the shard,
 * `SYNTHLINE_SHARD_COUNT` the count) and the merge Job, which waits in an init container for
 * every shard manifest and then runs `synthline merge`.
 */
export const k8sJobs = (o: K8sOptions): { readonly job: K8sObject; readonly merge: K8sObject } => {
  const name = k8sName(o.name)
  const labels = { "app.kubernetes.io/name": "synthline", "app.kubernetes.io/instance": name }
  const metadata = (n: string) => ({ name: n, ...(o.namespace !== undefined ? { namespace: o.namespace } : {}), labels })
  const volumes = [{ name: "work", persistentVolumeClaim: { claimName: o.claim } }]
  const volumeMounts = [{ name: "work", mountPath: o.mountPath }]
  const envFrom = (o.envSecrets ?? []).map((s) => ({ secretRef: { name: s } }))
  const requests: { [k: string]: string } = {}
  if (o.cpus !== undefined) requests.cpu = String(o.cpus)
  if (o.mem !== undefined) requests.memory = o.mem
  const limits: { [k: string]: string } = {}
  if (o.gpus !== undefined) limits["nvidia.com/gpu"] = String(o.gpus)
  if (o.mem !== undefined) limits.memory = o.mem
  const resources = {
    ...(Object.keys(requests).length > 0 ? { requests } : {}),
    ...(Object.keys(limits).length > 0 ? { limits } : {})
  }
  const job: K8sObject = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { ...metadata(name), annotations: { "synthline.dev/fingerprint": o.fingerprint } },
    spec: {
      completionMode: "Indexed",
      completions: o.shards,
      parallelism: o.parallel ?? o.shards,
      backoffLimitPerIndex: 3,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: "Never",
          containers: [
            {
              name: "synthline",
              image: o.image,
              workingDir: o.mountPath,
              command: ["synthline", "run", o.file, ...(o.cpus !== undefined ? ["--workers", String(o.cpus)] : [])],
              env: [
                { name: "SYNTHLINE_SHARD_COUNT", value: String(o.shards) },
                // The shard index, for per-shard paths in the pipeline file (`${SYNTHLINE_SHARD:-0}`).
                {
                  name: "SYNTHLINE_SHARD",
                  valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } }
                }
              ],
              ...(envFrom.length > 0 ? { envFrom } : {}),
              ...(Object.keys(resources).length > 0 ? { resources } : {}),
              volumeMounts
            }
          ],
          volumes
        }
      }
    }
  }
  const count = String(o.shards).padStart(5, "0")
  const wait = `until [ "$(ls ${o.sinkDir}/manifest-*-of-${count}.json 2>/dev/null | wc -l)" -ge ${o.shards} ]; do sleep 15; done`
  const merge: K8sObject = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: metadata(`${name}-merge`),
    spec: {
      backoffLimit: 3,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: "Never",
          initContainers: [
            { name: "wait-for-shards", image: o.image, workingDir: o.mountPath, command: ["sh", "-c", wait], volumeMounts }
          ],
          containers: [
            { name: "merge", image: o.image, workingDir: o.mountPath, command: ["synthline", "merge", o.sinkDir], volumeMounts }
          ],
          volumes
        }
      }
    }
  }
  return { job, merge }
}

/** The two Jobs as one YAML stream for `kubectl apply -f`, with a header saying how to watch them. */
export const k8sYaml = (
  jobs: { readonly job: K8sObject; readonly merge: K8sObject },
  about: { readonly name: string; readonly shards: number }
): string => {
  const name = k8sName(about.name)
  return [
    `# synthline submit --k8s: ${about.shards} shards of pipeline ${about.name} as an Indexed Job, then a merge Job`,
    "# that waits for every shard manifest. Apply with: kubectl apply -f <this file>",
    `# watch: kubectl get job ${name} ${name}-merge; progress: synthline status <sink folder> on the volume`,
    Yaml.stringify(jobs.job).trimEnd(),
    "---",
    Yaml.stringify(jobs.merge).trimEnd(),
    ""
  ].join("\n")
}

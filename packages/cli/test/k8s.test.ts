/**
 * `synthline submit --k8s`: the Indexed Job and the merge Job it prints are valid against the
 * Kubernetes batch/v1 Job schema (vendored from the official OpenAPI spec, checked strictly: an
 * unknown field is an error, as with `kubectl apply --validate=strict`), and the pods' commands,
 * run here with the environment Kubernetes gives them, produce the unsharded run's rows.
 * No Kubernetes cluster runs here.
 */
import { beforeAll, describe, expect, it } from "@effect/vitest"
import { Ajv } from "ajv"
import { spawn } from "node:child_process"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { parseAllDocuments } from "yaml"
import { cliArgs, gzipParts, readParts, synthline, tempDir } from "./support.js"

/** Every object schema that lists its properties rejects others (strict field validation). */
const strict = (schema: unknown): unknown => {
  if (Array.isArray(schema)) return schema.map(strict)
  if (typeof schema !== "object" || schema === null) return schema
  const out: { [key: string]: unknown } = {}
  for (const [k, v] of Object.entries(schema)) out[k] = strict(v)
  if ("properties" in out && !("additionalProperties" in out)) out.additionalProperties = false
  return out
}

const spec: unknown = JSON.parse(readFileSync(join(import.meta.dirname, "fixtures/k8s-batch-v1-job.openapi.json"), "utf8"))
const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false })
ajv.addSchema(strict(spec) as object, "k8s")
const validateJob = ajv.getSchema("k8s#/components/schemas/io.k8s.api.batch.v1.Job")
if (validateJob === undefined) throw new Error("the vendored schema has no io.k8s.api.batch.v1.Job")

const errorsOf = (doc: unknown): Array<string> =>
  validateJob(doc) ? [] : (validateJob.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`)

const work = tempDir("k8s")
const pipelineFile = (name: string) => {
  const file = join(work, `${name}.pipeline.yaml`)
  writeFileSync(
    file,
    `name: k8s-${name}
seed: 9
source: { type: parquet, path: "data/data/train-*.parquet", unit_rows: 200 }
stages:
  - use: core/select
    languages: [English]
  - use: core/first-turn
sink: { type: jsonl, path: out/${name}, compression: gzip }
`
  )
  return file
}

interface Container {
  readonly name: string
  readonly image: string
  readonly command: Array<string>
  readonly workingDir: string
  readonly env?: Array<{ name: string; value?: string; valueFrom?: unknown }>
  readonly envFrom?: Array<{ secretRef: { name: string } }>
  readonly resources?: { requests?: { [k: string]: string }; limits?: { [k: string]: string } }
  readonly volumeMounts: Array<{ name: string; mountPath: string }>
}
interface Job {
  readonly apiVersion: string
  readonly kind: string
  readonly metadata: { readonly name: string }
  readonly spec: {
    readonly completionMode?: string
    readonly completions?: number
    readonly parallelism?: number
    readonly template: {
      readonly spec: {
        readonly restartPolicy: string
        readonly containers: Array<Container>
        readonly initContainers?: Array<Container>
        readonly volumes: Array<{ name: string; persistentVolumeClaim: { claimName: string } }>
      }
    }
  }
}

const k8s = ["--k8s", "--image", "registry.example/synthline:0.1.0", "--claim", "synthline-data"]

/** Runs a container's command here: `synthline` is this checkout's CLI, the folder is the volume. */
const runContainer = (c: Container, env: Record<string, string>): Promise<{ code: number | null; out: string }> => {
  const [cmd, argv] = c.command[0] === "synthline" ? cliArgs(c.command.slice(1)) : [c.command[0]!, c.command.slice(1)]
  const child = spawn(cmd, argv, { cwd: work, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
  let out = ""
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d))
  child.stderr.setEncoding("utf8").on("data", (d: string) => (out += d))
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, out })))
}

describe("synthline submit --k8s", () => {
  beforeAll(async () => {
    const made = await synthline(["sample", "--rows", "1200", "--shards", "2", "--seed", "8", "--out", join(work, "data")])
    expect(made.code, made.stderr).toBe(0)
  }, 120_000)

  it("prints an Indexed Job and a merge Job that the Kubernetes Job schema accepts", async () => {
    const file = pipelineFile("schema")
    const res = await synthline([
      "submit",
      file,
      ...k8s,
      "--shards",
      "3",
      "--parallel",
      "2",
      "--cpus",
      "2",
      "--mem",
      "8Gi",
      "--gpus",
      "1",
      "--secret",
      "llm-endpoints",
      "--namespace",
      "data"
    ])
    expect(res.code, res.stderr).toBe(0)
    expect(res.stdout).toContain("kubectl apply -f")
    const docs = parseAllDocuments(res.stdout).map((d) => d.toJS() as Job)
    expect(docs).toHaveLength(2)
    for (const doc of docs) {
      expect(errorsOf(doc)).toEqual([])
      expect([doc.apiVersion, doc.kind]).toEqual(["batch/v1", "Job"])
    }
    const [job, merge] = docs as [Job, Job]
    expect(job.metadata.name).toBe("synthline-k8s-schema")
    expect(job.spec).toMatchObject({ completionMode: "Indexed", completions: 3, parallelism: 2 })
    const pod = job.spec.template.spec
    expect(pod.restartPolicy).toBe("Never")
    expect(pod.volumes).toEqual([{ name: "work", persistentVolumeClaim: { claimName: "synthline-data" } }])
    const c = pod.containers[0]!
    expect(c.image).toBe("registry.example/synthline:0.1.0")
    expect(c.workingDir).toBe("/work")
    expect(c.volumeMounts).toEqual([{ name: "work", mountPath: "/work" }])
    expect(c.command.slice(0, 2)).toEqual(["synthline", "run"])
    expect(c.env).toEqual([
      { name: "SYNTHLINE_SHARD_COUNT", value: "3" },
      { name: "SYNTHLINE_SHARD", valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } }
    ])
    expect(c.envFrom).toEqual([{ secretRef: { name: "llm-endpoints" } }])
    expect(c.resources).toEqual({ requests: { cpu: "2", memory: "8Gi" }, limits: { "nvidia.com/gpu": "1", memory: "8Gi" } })
    expect(merge.metadata.name).toBe("synthline-k8s-schema-merge")
    expect(merge.spec.template.spec.containers[0]!.command.slice(0, 2)).toEqual(["synthline", "merge"])
    expect(merge.spec.template.spec.initContainers?.[0]?.command[0]).toBe("sh")
  })

  it("the schema check fails a Job with an unknown field or a container without a name", async () => {
    const res = await synthline(["submit", pipelineFile("negative"), ...k8s, "--shards", "2"])
    expect(res.code, res.stderr).toBe(0)
    const job = parseAllDocuments(res.stdout)[0]!.toJS() as Job & { spec: { [k: string]: unknown } }
    expect(errorsOf(job)).toEqual([])
    const misspelled = { ...job, spec: { ...job.spec, completionsMode: "Indexed" } }
    expect(errorsOf(misspelled).join("\n")).toContain("must NOT have additional properties")
    const { name: _dropped, ...nameless } = job.spec.template.spec.containers[0]!
    const noName = { ...job, spec: { ...job.spec, template: { spec: { ...job.spec.template.spec, containers: [nameless] } } } }
    expect(errorsOf(noName).join("\n")).toContain("must have required property 'name'")
  })

  it("refuses a Job it cannot build, before anything", async () => {
    const file = pipelineFile("refuse")
    const noImage = await synthline(["submit", file, "--k8s", "--claim", "x", "--shards", "2"])
    expect(noImage.code).toBe(2)
    expect(noImage.stderr).toContain("--k8s needs --image")
    const both = await synthline(["submit", file, "--k8s", "--slurm", "--shards", "2"])
    expect(both.code).toBe(2)
    expect(both.stderr).toContain("give exactly one of --slurm and --k8s")
  })

  it("warns when there are more shards than work units, and --slurm --dry-run prints the scripts without writing or submitting", async () => {
    const file = pipelineFile("many")
    const many = await synthline(["submit", file, ...k8s, "--shards", "20"])
    expect(many.code, many.stderr).toBe(0)
    expect(many.stderr).toContain("--shards 20 but the source plans only 6 work units: shards 6..19 would have no work; use --shards 6")
    const dry = await synthline(["submit", file, "--slurm", "--shards", "6", "--parallel", "3", "--partition", "cpu", "--time", "1:00:00", "--mem", "4G", "--sbatch-arg", "--account=lab", "--dry-run"])
    expect(dry.code, dry.stderr).toBe(0)
    const sink = join(work, "out/many")
    expect(dry.stdout).toContain(`# ${sink}/_state/slurm/array.sbatch`)
    for (const line of ["#SBATCH --partition=cpu", "#SBATCH --time=1:00:00", "#SBATCH --mem=4G", "#SBATCH --account=lab", `#SBATCH --output=${sink}/_state/slurm/%A_%a.out`]) {
      expect(dry.stdout).toContain(line)
    }
    expect(dry.stdout).toContain(`sbatch --parsable --array=0-5%3 ${sink}/_state/slurm/array.sbatch`)
    expect(dry.stdout).toContain(`sbatch --parsable --dependency=afterok:<array job id> --kill-on-invalid-dep=yes ${sink}/_state/slurm/merge.sbatch`)
    expect(existsSync(sink)).toBe(false)
  })

  it("its pods' commands, with JOB_COMPLETION_INDEX and the Job's env, give the unsharded run's rows once merged", async () => {
    const whole = await synthline(["run", pipelineFile("whole")])
    expect(whole.code, whole.stderr).toBe(0)
    const file = pipelineFile("pods")
    // From the volume's folder, as `kubectl apply` users would run it.
    const [cmd, argv] = cliArgs(["submit", file, ...k8s, "--shards", "3"])
    const printed = await new Promise<string>((resolve) => {
      const child = spawn(cmd, argv, { cwd: work, stdio: ["ignore", "pipe", "inherit"] })
      let out = ""
      child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d))
      child.on("close", () => resolve(out))
    })
    const [job, merge] = parseAllDocuments(printed).map((d) => d.toJS() as Job) as [Job, Job]
    const c = job.spec.template.spec.containers[0]!
    expect(c.command).toEqual(["synthline", "run", "pods.pipeline.yaml"])
    // Kubernetes sets JOB_COMPLETION_INDEX, and SYNTHLINE_SHARD from the same annotation.
    const env = Object.fromEntries((c.env ?? []).flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value]])))
    for (let i = 0; i < (job.spec.completions ?? 0); i++) {
      const pod = await runContainer(c, { ...env, JOB_COMPLETION_INDEX: String(i), SYNTHLINE_SHARD: String(i) })
      expect(pod.code, pod.out).toBe(0)
    }
    const mergePod = merge.spec.template.spec
    const waited = await runContainer(mergePod.initContainers![0]!, {})
    expect(waited.code, waited.out).toBe(0)
    const merged = await runContainer(mergePod.containers[0]!, {})
    expect(merged.code, merged.out).toBe(0)
    expect(merged.out).toContain("merged 3 shard manifests")
    const rows = (dir: string) =>
      readParts(join(work, dir), gzipParts)
        .map((r) => JSON.stringify(r))
        .sort()
    expect(rows("out/pods")).toEqual(rows("out/whole"))
    const manifest: { merged_from: Array<string>; status: string } = JSON.parse(readFileSync(join(work, "out/pods/manifest.json"), "utf8"))
    expect(manifest.status).toBe("complete")
    expect(manifest.merged_from).toHaveLength(3)
  })
})

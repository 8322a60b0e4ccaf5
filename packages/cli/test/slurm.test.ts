/**
 * `synthline submit --slurm` on a real one-node Slurm cluster (Debian's slurm-wlm and munge,
 * installed when missing) started on localhost by this file: the job array and the merge job
 * produce the unsharded run's rows with a complete merged manifest and card; a cancelled array
 * task leaves its shard pending in `synthline status`, and submitting again resubmits only it.
 * Skipped, saying why, only where Slurm cannot be installed.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process"
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { cpus, hostname, tmpdir, totalmem } from "node:os"
import { join } from "node:path"
import type { Manifest } from "@synthline/core/Manifest"
import type { SubmitRecord } from "../src/Status.js"
import { gzipParts, readParts, repoRoot, synthline, tempDir } from "./support.js"

const tools = ["munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo"]
const sbin = (t: string) => [`/usr/sbin/${t}`, `/usr/bin/${t}`].find((p) => existsSync(p))
const missing = () => tools.filter((t) => sbin(t) === undefined)

/** Installs slurm-wlm and munge with apt-get when they are missing; the reason when that cannot be done. */
const ensureSlurm = (): string | undefined => {
  if (missing().length === 0) return undefined
  if (process.getuid?.() !== 0 || !existsSync("/usr/bin/apt-get")) {
    return `${missing().join(", ")} not installed and apt-get cannot be used here (not root or no apt-get)`
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" }
  const install = () => spawnSync("apt-get", ["install", "-y", "slurm-wlm", "munge"], { env, stdio: "ignore", timeout: 600_000 })
  if (install().status !== 0) {
    spawnSync("apt-get", ["update"], { env, stdio: "ignore", timeout: 300_000 })
    install()
  }
  return missing().length === 0 ? undefined : `apt-get could not install slurm-wlm and munge (${missing().join(", ")} missing)`
}

const cannot = ensureSlurm()
if (cannot !== undefined) console.warn(`skipping the Slurm tests: ${cannot}`)

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A one-node Slurm cluster on localhost with its own munged; state and logs in a temp folder. */
class Cluster {
  readonly dir = mkdtempSync(join(tmpdir(), "synthline-slurm-"))
  readonly conf = join(this.dir, "slurm.conf")
  readonly env: Record<string, string> = { SLURM_CONF: this.conf }
  private readonly daemons: Array<ChildProcess> = []

  async start(): Promise<void> {
    const d = this.dir
    const munge = join(d, "munge")
    for (const sub of ["munge", "state", "spool", "log"]) mkdirSync(join(d, sub))
    // munged wants its socket folder reachable by all and its key readable by it alone.
    chmodSync(d, 0o755)
    chmodSync(munge, 0o755)
    writeFileSync(join(munge, "munge.key"), Buffer.alloc(1024, 7).map((_, i) => (i * 7919 + 13) % 256), { mode: 0o600 })
    const socket = join(munge, "munge.socket")
    const [ctldPort, dPort] = [await freePort(), await freePort()]
    const host = hostname()
    const memoryMb = Math.floor((totalmem() / 1024 / 1024) * 0.8)
    writeFileSync(
      this.conf,
      [
        "ClusterName=synthline-test",
        `SlurmctldHost=${host}(127.0.0.1)`,
        `SlurmctldPort=${ctldPort}`,
        `SlurmdPort=${dPort}`,
        "SlurmUser=root",
        "SlurmdUser=root",
        "AuthType=auth/munge",
        `AuthInfo=socket=${socket}`,
        "CredType=cred/munge",
        `StateSaveLocation=${d}/state`,
        `SlurmdSpoolDir=${d}/spool`,
        `SlurmctldPidFile=${d}/slurmctld.pid`,
        `SlurmdPidFile=${d}/slurmd.pid`,
        `SlurmctldLogFile=${d}/log/slurmctld.log`,
        `SlurmdLogFile=${d}/log/slurmd.log`,
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_CPU",
        "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none",
        "JobCompType=jobcomp/none",
        "MpiDefault=none",
        "ReturnToService=2",
        "SchedulerType=sched/backfill",
        `NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus().length} RealMemory=${memoryMb} State=UNKNOWN`,
        "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
        ""
      ].join("\n")
    )
    const daemon = (tool: string, args: ReadonlyArray<string>) => {
      const child = spawn(sbin(tool)!, args, { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...this.env } })
      let err = ""
      child.stderr?.setEncoding("utf8").on("data", (t: string) => (err = (err + t).slice(-4000)))
      child.on("exit", (code) => {
        if (code !== null && code !== 0) console.warn(`${tool} exited with ${code}: ${err}`)
      })
      this.daemons.push(child)
    }
    daemon("munged", [
      "-F",
      `--socket=${socket}`,
      `--key-file=${join(munge, "munge.key")}`,
      `--pid-file=${join(munge, "munged.pid")}`,
      `--seed-file=${join(munge, "seed")}`,
      `--log-file=${d}/log/munged.log`
    ])
    for (let i = 0; i < 100 && !existsSync(socket); i++) await sleep(100)
    daemon("slurmctld", ["-D", "-f", this.conf])
    daemon("slurmd", ["-D", "-f", this.conf, "-N", host])
    for (let i = 0; i < 120; i++) {
      const state = spawnSync(sbin("sinfo")!, ["-h", "-o", "%t"], { env: { ...process.env, ...this.env }, encoding: "utf8" }).stdout
      if (/^idle|^mix|^alloc/m.test(state.trim())) return
      await sleep(500)
    }
    throw new Error(`the test Slurm cluster did not come up; logs in ${d}/log`)
  }

  /** Job ids still in the queue. */
  queue(): Array<string> {
    const out = execFileSync(sbin("squeue")!, ["-h", "-o", "%i"], { env: { ...process.env, ...this.env }, encoding: "utf8" })
    return out.split("\n").filter((l) => l.trim() !== "")
  }

  async drain(limitMs = 300_000): Promise<void> {
    const until = Date.now() + limitMs
    while (this.queue().length > 0) {
      if (Date.now() > until) throw new Error(`Slurm queue did not empty: ${this.queue().join(", ")}`)
      await sleep(500)
    }
  }

  scancel(job: string): void {
    execFileSync(sbin("scancel")!, [job], { env: { ...process.env, ...this.env } })
  }

  async stop(): Promise<void> {
    for (const child of this.daemons.reverse()) {
      if (child.exitCode !== null) continue
      const gone = new Promise<void>((r) => child.once("exit", () => r()))
      child.kill("SIGTERM")
      await Promise.race([gone, sleep(10_000).then(() => void child.kill("SIGKILL"))])
    }
    rmSync(this.dir, { recursive: true, force: true })
  }
}

const work = tempDir("slurm")
const pipelineFile = (name: string) => {
  const file = join(work, `${name}.pipeline.yaml`)
  writeFileSync(
    file,
    `name: slurm-${name}
seed: 5
source: { type: parquet, path: "data/data/train-*.parquet", unit_rows: 250 }
stages:
  - use: core/select
    languages: [English, Japanese]
  - use: core/first-turn
  - use: core/fields
    keep: [conversation_id, language, conversation]
sink: { type: jsonl, path: out/${name}, compression: gzip }
`
  )
  return file
}

/** Rows of a sink folder, in a fixed order (shards interleave units, so compare as a set). */
const rowsOf = (dir: string): Array<string> =>
  readParts(dir, gzipParts)
    .map((r) => JSON.stringify(r))
    .sort()

const readManifest = (file: string): Manifest => JSON.parse(readFileSync(file, "utf8"))

describe.skipIf(cannot !== undefined)("synthline submit --slurm on a real Slurm", () => {
  const cluster = new Cluster()
  let whole: Array<string> = []

  beforeAll(async () => {
    await cluster.start()
    const made = await synthline(["sample", "--rows", "2000", "--shards", "2", "--seed", "4", "--out", join(work, "data")])
    expect(made.code, made.stderr).toBe(0)
    const ran = await synthline(["run", pipelineFile("whole")])
    expect(ran.code, ran.stderr).toBe(0)
    whole = rowsOf(join(work, "out/whole"))
    expect(whole.length).toBeGreaterThan(1000)
  }, 600_000)

  afterAll(async () => {
    await cluster.stop()
  }, 60_000)

  it("runs 4 shards as an array, merges them after, and equals the unsharded run", async () => {
    const file = pipelineFile("four")
    const sink = join(work, "out/four")
    const sub = await synthline(["submit", file, "--slurm", "--shards", "4", "--cpus", "1"], cluster.env)
    expect(sub.code, sub.stderr).toBe(0)
    const [, arrayJob] = /as Slurm array job (\d+)/.exec(sub.stdout) ?? []
    const [, mergeJob] = /submitted merge job (\d+) \(runs after (\d+) succeeds\)/.exec(sub.stdout) ?? []
    expect(arrayJob, sub.stdout).toBeDefined()
    expect(mergeJob, sub.stdout).toBeDefined()
    expect(sub.stdout).toContain(`submitted shards 0-3 of 4 as Slurm array job ${arrayJob}`)
    expect(sub.stdout).toContain(`watch: squeue -j ${arrayJob},${mergeJob}`)
    expect(sub.stdout).toContain(`progress: synthline status ${sink}`)
    // The array script runs the CLI entry that submitted it: this node, from sources through tsx.
    const script = readFileSync(join(sink, "_state/slurm/array.sbatch"), "utf8")
    expect(script).toContain(`exec ${process.execPath} --import tsx --conditions=@synthline/source ${join(repoRoot, "packages/cli/src/bin.ts")} run ${file} --workers 1 --shard "\${SLURM_ARRAY_TASK_ID}/4"`)
    expect(script).toContain("#SBATCH --cpus-per-task=1")
    expect(script).toContain(`export SYNTHLINE_SHARD="\${SLURM_ARRAY_TASK_ID}"`)

    await cluster.drain()
    for (let i = 0; i < 4; i++) expect(existsSync(join(sink, `_state/slurm/${arrayJob}_${i}.out`))).toBe(true)
    expect(readFileSync(join(sink, `_state/slurm/merge-${mergeJob}.out`), "utf8")).toContain("merged 4 shard manifests")
    expect(rowsOf(sink)).toEqual(whole)
    const merged = readManifest(join(sink, "manifest.json"))
    const single = readManifest(join(work, "out/whole/manifest.json"))
    expect(merged.status).toBe("complete")
    expect(merged.shard).toBeNull()
    expect(merged.merged_from).toHaveLength(4)
    expect(merged.source.rows_read).toBe(single.source.rows_read)
    expect(merged.outputs.main.rows).toBe(whole.length)
    expect(merged.outputs.main.files).toHaveLength(4)
    const card = readFileSync(join(sink, "README.md"), "utf8")
    expect(card).toContain(`num_examples: ${whole.length}`)
    expect(card).toContain(`${whole.length} rows in 4 files`)

    const st = await synthline(["status", sink, "--json"])
    expect(st.code, st.stderr).toBe(0)
    const status = JSON.parse(st.stdout)
    expect(status).toMatchObject({ count: 4, complete: 4, running: 0, failed: 0, pending: 0, merged: true, rows_written: whole.length })
    const again = await synthline(["submit", file, "--slurm", "--shards", "4"], cluster.env)
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toContain(`all 4 shards of ${sink} are complete and merged; nothing to submit`)
  }, 600_000)

  it("resubmits only the shard whose array task was cancelled", async () => {
    const file = pipelineFile("resubmit")
    const sink = join(work, "out/resubmit")
    // One task at a time, so task 3 is still pending when it is cancelled.
    const sub = await synthline(["submit", file, "--slurm", "--shards", "4", "--parallel", "1"], cluster.env)
    expect(sub.code, sub.stderr).toBe(0)
    const [, arrayJob] = /as Slurm array job (\d+) \(at most 1 at a time\)/.exec(sub.stdout) ?? []
    expect(arrayJob, sub.stdout).toBeDefined()
    cluster.scancel(`${arrayJob}_3`)
    // The merge job can never run now (afterok of a cancelled task): Slurm removes it.
    await cluster.drain()
    expect(existsSync(join(sink, "manifest.json"))).toBe(false)

    const table = await synthline(["status", sink])
    expect(table.code, table.stderr).toBe(0)
    expect(table.stdout).toMatch(/^3\/4\s+pending\s+0\/\?/m)
    expect(table.stdout).toMatch(/^0\/4\s+complete\s+2\/2/m)
    expect(table.stdout).toContain("3/4 complete, 0 running, 0 failed, 1 pending")
    expect(table.stdout).toContain("not merged")

    const again = await synthline(["submit", file, "--slurm", "--shards", "4"], cluster.env)
    expect(again.code, again.stderr).toBe(0)
    const [, second] = /submitted shards 3 of 4 as Slurm array job (\d+); 3 complete shards not resubmitted/.exec(again.stdout) ?? []
    expect(second, again.stdout).toBeDefined()
    await cluster.drain()
    const logs = readdirSync(join(sink, "_state/slurm")).filter((f) => f.startsWith(`${second}_`))
    expect(logs).toEqual([`${second}_3.out`])
    const record: SubmitRecord = JSON.parse(readFileSync(join(sink, "_state/submit.json"), "utf8"))
    expect(record.submissions.map((s) => s.shards)).toEqual([[0, 1, 2, 3], [3]])
    expect(rowsOf(sink)).toEqual(whole)
    expect(readManifest(join(sink, "manifest.json")).merged_from).toHaveLength(4)
    const st = JSON.parse((await synthline(["status", sink, "--json"])).stdout)
    expect(st).toMatchObject({ complete: 4, merged: true })
  }, 600_000)
})

describe("the command line of an array task", () => {
  it("is the synthline that submitted: from sources through tsx, or an installed bin", async () => {
    const Cluster = await import("../src/Cluster.js")
    const fromSources = Cluster.currentEntry({
      execPath: "/usr/bin/node",
      execArgv: ["--import", "tsx", "--conditions=@synthline/source"],
      argv: ["/usr/bin/node", "/repo/packages/cli/src/bin.ts", "submit"]
    })
    expect(fromSources).toEqual(["/usr/bin/node", "--import", "tsx", "--conditions=@synthline/source", "/repo/packages/cli/src/bin.ts"])
    const installed = Cluster.currentEntry({
      execPath: "/opt/node 20/bin/node",
      execArgv: [],
      argv: ["/opt/node 20/bin/node", "/usr/lib/node_modules/@synthline/cli/bin/synthline.js", "submit"]
    })
    const scripts = Cluster.slurmScripts({
      name: "demo",
      fingerprint: "f".repeat(64),
      file: "/data/p.yaml",
      sinkDir: "/data/out",
      cwd: "/data",
      shards: 8,
      entry: installed
    })
    expect(scripts.array).toContain(
      `exec '/opt/node 20/bin/node' /usr/lib/node_modules/@synthline/cli/bin/synthline.js run /data/p.yaml --shard "\${SLURM_ARRAY_TASK_ID}/8"`
    )
    expect(scripts.merge).toContain("exec '/opt/node 20/bin/node' /usr/lib/node_modules/@synthline/cli/bin/synthline.js merge /data/out")
    expect(Cluster.arraySpec([0, 1, 2, 3], 2)).toBe("0-3%2")
    expect(Cluster.arraySpec([5, 1, 3, 2])).toBe("1-3,5")
  })
})

/** Test support: runs the real CLI from source as a separate process. */
import { type ChildProcess, spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs"
import { join, relative } from "node:path"
import { gunzipSync } from "node:zlib"

export const repoRoot = join(import.meta.dirname, "../../..")
const bin = join(repoRoot, "packages/cli/src/bin.ts")

/** The command line that runs the CLI from source in one node process (so kill -9 hits it). */
export const cliArgs = (args: ReadonlyArray<string>): [string, Array<string>] => [
  process.execPath,
  ["--import", "tsx", "--conditions=@synthline/source", bin, ...args]
]

/** What a finished CLI process printed and returned. */
export interface CliResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs the CLI to completion (asynchronously, so the test worker stays responsive). */
export const synthline = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<CliResult> => {
  const [cmd, argv] = cliArgs(args)
  const child = spawn(cmd, argv, { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
  let stdout = ""
  let stderr = ""
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d))
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })))
}

/** Starts the CLI and returns the process. */
export const start = (args: ReadonlyArray<string>): ChildProcess => {
  const [cmd, argv] = cliArgs(args)
  return spawn(cmd, argv, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] })
}

/**
 * Runs the CLI with `args` and kills it with SIGKILL once `markers` (a `_state/.../units`
 * folder) holds `units` completion markers — mid-way through the next unit — or once it ends
 * by itself; resolves when the process is gone.
 */
export const killAfterUnits = async (args: ReadonlyArray<string>, markers: string, units: number): Promise<void> => {
  const child = start(args)
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()))
  await new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      const n = existsSync(markers) ? readdirSync(markers).filter((f) => f.endsWith(".json")).length : 0
      if (n >= units || child.exitCode !== null) {
        clearInterval(poll)
        child.kill("SIGKILL")
        resolve()
      }
    }, 5)
  })
  await exited
}

/** A temporary folder inside the repo (so local plugins resolve workspace packages). */
export const tempDir = (name: string): string => {
  mkdirSync(join(import.meta.dirname, ".tmp"), { recursive: true })
  return mkdtempSync(join(import.meta.dirname, ".tmp", `${name}-`))
}

/** Every file under `dir` (relative path → sha256), skipping `_state`. */
export const tree = (dir: string, skip: (rel: string) => boolean = (r) => r.startsWith("_state") || r.startsWith("manifest")): Record<string, string> => {
  const out: Record<string, string> = {}
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name)
      const rel = relative(dir, p)
      if (skip(rel)) continue
      if (statSync(p).isDirectory()) walk(p)
      else out[rel] = createHash("sha256").update(readFileSync(p)).digest("hex")
    }
  }
  walk(dir)
  return out
}

/** Part files of a jsonl sink, plain or gzip. */
export const jsonlParts = /^part-.*\.jsonl(\.gz)?$/
/** Part files of a gzip jsonl sink. */
export const gzipParts = /^part-.*\.jsonl\.gz$/

/** Every row of the files in `dir` whose names match `pattern`, in file name order (`.gz` files are gunzipped). */
export const readParts = <T = { [key: string]: unknown }>(dir: string, pattern: RegExp = jsonlParts): Array<T> =>
  readdirSync(dir)
    .filter((f) => pattern.test(f))
    .sort()
    .flatMap((f) => {
      const bytes = readFileSync(join(dir, f))
      return (f.endsWith(".gz") ? gunzipSync(bytes) : bytes)
        .toString("utf8")
        .split("\n")
        .filter((l) => l !== "")
        .map((l): T => JSON.parse(l))
    })

/**
 * Runs a command as a separate process and measures its wall time and peak RSS as the
 * operating system accounts for it.
 *
 * Peak RSS: when GNU time is installed (`/usr/bin/time`, Debian package `time`) the child is
 * started through `/usr/bin/time -f %M -o FILE`, which reports the kernel's `ru_maxrss` of
 * the waited child (wait4 rusage, in KB) — exact, no sampling. Otherwise the harness polls
 * `/proc/<pid>/status` every 20 ms and keeps the largest `VmHWM` (the kernel's own
 * high-water mark, so a short spike between two polls is still seen by the next poll; only
 * growth in the last < 20 ms before exit can be missed).
 */
import { spawn, spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

export interface ChildResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly wallMs: number
  /** Peak resident set size in bytes, 0 when it could not be measured. */
  readonly peakRssBytes: number
  /** User + system CPU time of the child in ms (GNU time only), else null. */
  readonly cpuMs: number | null
  readonly rssMethod: RssMethod
  readonly stdout: string
  readonly stderr: string
}

export type RssMethod = "gnu-time" | "proc-vmhwm"

let cachedMethod: RssMethod | undefined

/** Which RSS method this machine supports (GNU time when it works, else /proc polling). */
export const rssMethod = (): RssMethod => {
  if (cachedMethod) return cachedMethod
  let m: RssMethod = "proc-vmhwm"
  if (process.env.SYNTHLINE_BENCH_RSS !== "proc" && existsSync("/usr/bin/time")) {
    const r = spawnSync("/usr/bin/time", ["-f", "%M", "true"], { encoding: "utf8" })
    if (r.status === 0 && /^\d+\s*$/.test(r.stderr.trim().split("\n").pop() ?? "")) m = "gnu-time"
  }
  cachedMethod = m
  return m
}

const readHwmKb = (pid: number): number => {
  try {
    const s = readFileSync(`/proc/${pid}/status`, "utf8")
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(s)
    return m ? Number(m[1]) : 0
  } catch {
    return 0
  }
}

/** Runs `command args` in `cwd`, returning exit status, wall time and peak RSS. */
export const runChild = (
  command: string,
  args: ReadonlyArray<string>,
  opts: { readonly cwd: string; readonly env?: NodeJS.ProcessEnv }
): Promise<ChildResult> => {
  const method = rssMethod()
  let tmp: string | undefined
  let file = command
  let argv = [...args]
  if (method === "gnu-time") {
    tmp = mkdtempSync(join(tmpdir(), "synthline-bench-"))
    file = "/usr/bin/time"
    argv = ["-f", "%M %U %S", "-o", join(tmp, "rss"), command, ...args]
  }
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const child = spawn(file, argv, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] })
    const out: Array<Buffer> = []
    const err: Array<Buffer> = []
    child.stdout.on("data", (b: Buffer) => out.push(b))
    child.stderr.on("data", (b: Buffer) => err.push(b))
    let hwmKb = 0
    const poll =
      method === "proc-vmhwm" && child.pid !== undefined
        ? setInterval(() => {
            hwmKb = Math.max(hwmKb, readHwmKb(child.pid!))
          }, 20)
        : undefined
    if (poll && child.pid !== undefined) hwmKb = readHwmKb(child.pid)
    child.on("error", (e) => {
      if (poll) clearInterval(poll)
      if (tmp) rmSync(tmp, { recursive: true, force: true })
      reject(e)
    })
    child.on("close", (code, signal) => {
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6
      if (poll) clearInterval(poll)
      let kb = hwmKb
      let cpuMs: number | null = null
      if (tmp) {
        try {
          const lines = readFileSync(join(tmp, "rss"), "utf8").trim().split("\n")
          // GNU time prepends "Command exited with non-zero status N" on failure.
          const [rss, user, sys] = (lines[lines.length - 1] ?? "").split(" ").map(Number)
          kb = rss || 0
          cpuMs = user !== undefined && sys !== undefined && Number.isFinite(user + sys) ? (user + sys) * 1000 : null
        } catch {
          kb = 0
        }
        rmSync(tmp, { recursive: true, force: true })
      }
      resolve({
        code,
        signal,
        wallMs,
        peakRssBytes: kb * 1024,
        cpuMs,
        rssMethod: method,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8")
      })
    })
  })
}

import { describe, expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { join } from "node:path"

const root = join(import.meta.dirname, "..")

/** Runs the eval script (as `pnpm --filter @synthline/plugin-pii eval` does) on a small input. */
const evalRun = (args: ReadonlyArray<string>): Promise<{ code: number | null; stdout: string; stderr: string }> => {
  const child = spawn(process.execPath, ["--import", "tsx", "--conditions=@synthline/source", join(root, "eval/run.ts"), ...args], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d))
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })))
}

describe("eval", () => {
  it("prints precision/recall/F1 per type and MB/s for this package and the three npm libraries, side by side", async () => {
    const r = await evalRun(["--rows", "30", "--seed", "3"])
    expect(r.code, r.stderr).toBe(0)
    const out = r.stdout
    for (const name of ["@synthline/plugin-pii", "openredaction", "redact-pii", "@redactpii/node"]) expect(out).toContain(name)
    expect(out).toContain("## sample ground truth (Sample.rows(3, 30)")
    expect(out).toContain("## labelled set from format specifications")
    expect(out).toMatch(/^type\s+truth\s+@synthline\/plugin-pii\s+openredaction\s+redact-pii\s+@redactpii\/node/m)
    // Every type of the labelled set has a row with four P R F1 cells (or "unavailable").
    const labelled = out.slice(out.indexOf("## labelled set"))
    for (const type of ["EMAIL", "PHONE", "IP_ADDRESS", "CREDIT_CARD", "IBAN", "US_SSN", "URL", "API_KEY", "CRYPTO", "MAC_ADDRESS", "JP_MY_NUMBER", "UK_NHS"]) {
      expect(labelled).toMatch(new RegExp(`^${type}\\s+\\d+\\s+1\\.000 1\\.000 1\\.000`, "m"))
    }
    expect(out).toMatch(/^macro F1\s+1\.000/m)
    expect(out).toMatch(/^MB\/s/m)
  })
})

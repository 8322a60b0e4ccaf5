/**
 * `pnpm bench [--rows N] [--runs N] [--only NAME] ...` — see bench/README.md.
 * Prints the results table to stdout (progress to stderr) and writes bench/results/*.json.
 * Exits 1 when a benchmark is broken (e.g. reads no rows); budget misses are reported in the
 * table (ok = FAIL) and in the JSON (`ok: false`) but do not change the exit status.
 */
import { runBench } from "./src/harness.js"
import { type BenchOptions, HelpRequested, parseArgs, renderTable, usage } from "./src/lib.js"

const main = async () => {
  let options: BenchOptions
  try {
    options = parseArgs(process.argv.slice(2))
  } catch (e) {
    if (e instanceof HelpRequested) {
      process.stdout.write(`${usage}\n`)
      return 0
    }
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n${usage}\n`)
    return 64
  }
  const report = await runBench(options)
  process.stdout.write(`\n${renderTable(report.results)}\n`)
  for (const s of report.skipped) process.stdout.write(`skipped ${s.name}: ${s.reason}\n`)
  for (const e of report.errors) process.stdout.write(`BROKEN ${e.name}: ${e.error}\n`)
  process.stdout.write(
    `\nrows ${options.rows.toLocaleString("en-US")} · runs ${options.runs} (median) · RSS via ${report.rss_method} · ${report.machine.cpus} CPUs · node ${report.machine.node}\n`
  )
  if (options.write) process.stdout.write("results: bench/results/latest.json\n")
  if (report.errors.length > 0) return 1
  const short = report.results.filter((r) => !r.ok)
  if (short.length > 0) {
    process.stdout.write(`${short.length} figure(s) outside budget: ${short.map((r) => r.name).join(", ")}\n`)
  }
  return 0
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
    process.exit(1)
  }
)

/**
 * Pure pieces of the bench harness: argument parsing, medians, result validation and the
 * table rendering. No IO here, so the tests can import them directly.
 */

/** Options of one bench invocation. */
export interface BenchOptions {
  /** Sample conversations generated for the data-bound benchmarks. */
  readonly rows: number
  /** Repetitions per benchmark; the figure is their median. */
  readonly runs: number
  /** Seed of `synthline sample`. */
  readonly seed: number
  /** Only run the benchmarks with these names (all when empty). */
  readonly only: ReadonlyArray<string>
  /** Skip the DuckDB baseline. */
  readonly noBaseline: boolean
  /** Write results under bench/results (default true). */
  readonly write: boolean
}

export const defaultOptions: BenchOptions = {
  rows: 1_000_000,
  runs: 3,
  seed: 42,
  only: [],
  noBaseline: false,
  write: true
}

const positiveInt = (flag: string, value: string | undefined): number => {
  const n = Number(value?.replace(/[_,]/g, ""))
  if (value === undefined || !Number.isInteger(n) || n <= 0) {
    throw new Error(`${flag} needs a positive integer, got ${value ?? "nothing"}`)
  }
  return n
}

/** Parses `--rows N --runs N --seed S --only NAME[,NAME] --no-baseline --no-write`. */
export const parseArgs = (argv: ReadonlyArray<string>): BenchOptions => {
  let o: BenchOptions = { ...defaultOptions }
  const only: Array<string> = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    const [flag, inline] = a.startsWith("--") && a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined]
    const value = () => inline ?? argv[++i]
    switch (flag) {
      case "--":
        break
      case "--rows":
        o = { ...o, rows: positiveInt(flag, value()) }
        break
      case "--runs":
        o = { ...o, runs: positiveInt(flag, value()) }
        break
      case "--seed":
        o = { ...o, seed: positiveInt(flag, value()) }
        break
      case "--only": {
        const v = value()
        if (!v) throw new Error("--only needs a benchmark name")
        only.push(...v.split(",").filter((s) => s.length > 0))
        break
      }
      case "--no-baseline":
        o = { ...o, noBaseline: true }
        break
      case "--no-write":
        o = { ...o, write: false }
        break
      case "--help":
      case "-h":
        throw new HelpRequested()
      default:
        throw new Error(`unknown argument ${a}`)
    }
  }
  return { ...o, only }
}

export class HelpRequested extends Error {
  constructor() {
    super("help")
  }
}

export const usage = `pnpm bench [--rows N] [--runs N] [--seed S] [--only NAME[,NAME]] [--no-baseline] [--no-write]
  --rows N       sample conversations for the data benchmarks (default 1,000,000)
  --runs N       repetitions per benchmark, figure = median (default 3)
  --seed S       seed of the sample data (default 42)
  --only NAME    run only these benchmarks (offline-core, offline-core-scaling, offline-workers, offline-pii,
                 pii-throughput, cli-startup, llm-saturation, llm-occupancy, parquet-range, long-options, near-dedup, decontaminate)
  --no-baseline  skip the DuckDB baseline
  --no-write     do not write bench/results/*.json`

/** Median of a non-empty list (mean of the two middle values for even lengths). */
export const median = (xs: ReadonlyArray<number>): number => {
  if (xs.length === 0) throw new Error("median of an empty list")
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** The parts of a synthline run manifest the bench relies on. */
export interface ManifestLike {
  readonly status?: string
  readonly source?: { readonly rows_read?: number }
  readonly outputs?: { readonly main?: { readonly rows?: number } }
}

/** What a validated manifest says. */
export interface ManifestFacts {
  readonly rowsRead: number
  readonly rowsWritten: number
}

/**
 * Checks that a run did real work: status complete, rows read > 0 (and equal to the expected
 * count when given), rows written > 0. A benchmark that reads nothing measures nothing, so it
 * must fail loudly instead of reporting a huge throughput.
 */
export const validateManifest = (m: ManifestLike, expectedRows?: number): ManifestFacts => {
  if (m.status !== "complete") throw new Error(`run not complete: status ${String(m.status)}`)
  const rowsRead = m.source?.rows_read
  if (typeof rowsRead !== "number" || !Number.isFinite(rowsRead) || rowsRead <= 0) {
    throw new Error(`run read no rows (source.rows_read = ${String(rowsRead)})`)
  }
  if (expectedRows !== undefined && rowsRead !== expectedRows) {
    throw new Error(`run read ${rowsRead} rows, expected ${expectedRows}`)
  }
  const rowsWritten = m.outputs?.main?.rows
  if (typeof rowsWritten !== "number" || rowsWritten <= 0) {
    throw new Error(`run wrote no rows (outputs.main.rows = ${String(rowsWritten)})`)
  }
  return { rowsRead, rowsWritten }
}

/** A budget: the figure must be at least / at most `value`. */
export interface Budget {
  readonly op: ">=" | "<="
  readonly value: number
}

export const meets = (figure: number, b: Budget): boolean => (b.op === ">=" ? figure >= b.value : figure <= b.value)

/** One line of the results table. */
export interface ResultRow {
  /** e.g. `offline-core throughput`. */
  readonly name: string
  readonly unit: string
  readonly figure: number
  readonly budget: Budget | null
  /** The same measure for the baseline, when there is one. */
  readonly baseline: number | null
  /** ours / baseline, oriented so that > 1 means we are better (throughput) — see README. */
  readonly ratio: number | null
  readonly ok: boolean
  /** Raw samples and extra facts (per-run walls, rows, ...). */
  readonly detail?: Record<string, unknown>
}

/** Builds a row, computing ok from the budget. */
export const row = (r: Omit<ResultRow, "ok"> & { readonly ok?: boolean }): ResultRow => ({
  ...r,
  ok: r.ok ?? (r.budget === null ? true : meets(r.figure, r.budget))
})

const fmtNum = (n: number): string => {
  if (!Number.isFinite(n)) return String(n)
  const abs = Math.abs(n)
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 })
}

export const formatValue = (n: number | null, unit: string): string => (n === null ? "-" : `${fmtNum(n)} ${unit}`.trim())

export const formatBudget = (b: Budget | null, unit: string): string => (b === null ? "-" : `${b.op} ${formatValue(b.value, unit)}`)

/** Renders rows as a plain-text table: name | figure | budget | baseline | ratio | ok. */
export const renderTable = (rows: ReadonlyArray<ResultRow>): string => {
  const header = ["name", "figure", "budget", "baseline", "ratio", "ok"]
  const cells = rows.map((r) => [
    r.name,
    formatValue(r.figure, r.unit),
    formatBudget(r.budget, r.unit),
    formatValue(r.baseline, r.unit),
    r.ratio === null ? "-" : `${fmtNum(r.ratio)}x`,
    r.ok ? "ok" : "FAIL"
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  const line = (c: ReadonlyArray<string>) => c.map((s, i) => (i === 0 ? s.padEnd(widths[i]!) : s.padStart(widths[i]!))).join(" | ")
  return [line(header), widths.map((w) => "-".repeat(w)).join("-|-"), ...cells.map(line)].join("\n")
}

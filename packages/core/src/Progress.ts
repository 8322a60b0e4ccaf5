/**
 * Progress reporting for runs: a live display on a terminal (rows/s, ETA, per-stage counts),
 * plain lines for pipes and logs, or JSON events (`--json`) for machines.
 */

/** Per-stage counters as they stand. */
export interface StageProgress {
  readonly id: string
  readonly rowsIn: number
  readonly rowsOut: number
  /** Rows dropped, by reason. */
  readonly dropped?: { readonly [reason: string]: number } | undefined
  /** Rows routed to the branch `route`, by reason. */
  readonly routed?: { readonly [reason: string]: number } | undefined
  readonly route?: string | undefined
  readonly rejected?: number | undefined
  /** The stage's own counters (`redacted:EMAIL`, ...). */
  readonly counts?: { readonly [name: string]: number } | undefined
}

/** A snapshot of a running run. */
export interface Snapshot {
  readonly unitsDone: number
  readonly units: number
  readonly rowsRead: number
  /** Rows the source holds in all, when the metadata tells (parquet). */
  readonly rowsTotal?: number | undefined
  readonly rowsWritten: number
  readonly rejected: number
  /** Rows lost with units the source could not read (`rows` null when unknown), and where. */
  readonly lost?: { readonly rows: number | null; readonly where: string } | undefined
  readonly elapsedMs: number
  /**
   * Time since the first unit could start: after the stages were made (a stage's first pass
   * over the dataset, say). Rows/s and ETA count from there.
   */
  readonly unitsElapsedMs?: number | undefined
  /** Rows read and units done by earlier runs this one resumes (rows/s and ETA count only this run's). */
  readonly rowsReadBefore?: number | undefined
  readonly unitsDoneBefore?: number | undefined
  readonly stages: ReadonlyArray<StageProgress>
}

/** Something that happened in a run. */
export type RunEvent =
  | {
      readonly type: "start"
      readonly name: string
      readonly units: number
      readonly unitsDone: number
      readonly resumed: boolean
      readonly shard: string
      readonly fingerprint: string
    }
  | { readonly type: "progress"; readonly snapshot: Snapshot }
  | { readonly type: "unit"; readonly unit: string; readonly snapshot: Snapshot }
  | { readonly type: "warning"; readonly message: string }
  /** How far a long step of a stage's own has come (`done`: its last line). */
  | { readonly type: "stage"; readonly stage: string; readonly message: string; readonly done: boolean }
  /** The run was interrupted (Ctrl-C): committed units stay, a rerun resumes after them. */
  | { readonly type: "interrupted"; readonly snapshot: Snapshot }
  | {
      readonly type: "finish"
      readonly status: "complete" | "stopped" | "already-complete"
      readonly snapshot: Snapshot
      readonly manifest: string
      readonly output: string
      /** The branch folders and the rows each received (routed rows, outputs), when there are any. */
      readonly branches?: ReadonlyArray<{ readonly name: string; readonly path: string; readonly rows: number }> | undefined
    }

/** Receives run events; `progress` events may come often, so reporters throttle. */
export interface Reporter {
  readonly report: (event: RunEvent) => void
}

/** A reporter that says nothing. */
export const silent: Reporter = { report: () => {} }

const fmt = (n: number): string => n.toLocaleString("en-US")

const plural = (n: number, one: string, many = `${one}s`): string => `${fmt(n)} ${n === 1 ? one : many}`

/** Time the units have had: since they could start, or since the run started. */
const unitsMs = (s: Snapshot): number => s.unitsElapsedMs ?? s.elapsedMs

/** Rows per second read by this run (rows read before a resume do not count). */
const rate = (s: Snapshot): number =>
  unitsMs(s) > 0 ? (Math.max(0, s.rowsRead - (s.rowsReadBefore ?? 0)) * 1000) / unitsMs(s) : 0

const eta = (s: Snapshot): string => {
  const r = rate(s)
  const total = s.rowsTotal
  if (total !== undefined && total > 0 && r > 0) {
    const secs = Math.max(0, (total - s.rowsRead) / r)
    return secs < 90 ? `${Math.round(secs)}s` : `${Math.round(secs / 60)}m`
  }
  const doneHere = s.unitsDone - (s.unitsDoneBefore ?? 0)
  if (doneHere > 0 && s.units > s.unitsDone) {
    const secs = ((unitsMs(s) / doneHere) * (s.units - s.unitsDone)) / 1000
    return secs < 90 ? `${Math.round(secs)}s` : `${Math.round(secs / 60)}m`
  }
  return "?"
}

const line = (s: Snapshot, withEta = true): string =>
  `units ${s.unitsDone}/${s.units} · read ${fmt(s.rowsRead)}${s.rowsTotal !== undefined ? `/${fmt(s.rowsTotal)}` : ""} · written ${fmt(s.rowsWritten)} · ${fmt(Math.round(rate(s)))} rows/s${withEta ? ` · ETA ${eta(s)}` : ""}${s.rejected > 0 ? ` · rejected ${fmt(s.rejected)}` : ""}${s.lost !== undefined ? ` · lost ${s.lost.rows === null ? "an unknown number of" : fmt(s.lost.rows)} rows in ${s.lost.where}` : ""}`

/** `a 3, b 2, c 1` for the largest counts (the rest summed as `other`). */
const reasons = (counts: { readonly [k: string]: number }, strip = ""): string => {
  const sorted = Object.entries(counts).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
  const shown = sorted.slice(0, 4).map(([k, n]) => `${k.startsWith(strip) ? k.slice(strip.length) : k} ${fmt(n)}`)
  const rest = sorted.slice(4).reduce((n, [, v]) => n + v, 0)
  return [...shown, ...(rest > 0 ? [`other ${fmt(rest)}`] : [])].join(", ")
}

const total = (counts: { readonly [k: string]: number } | undefined): number => Object.values(counts ?? {}).reduce((a, b) => a + b, 0)

/** What a stage did besides passing rows on: drops and routes with their reasons, rejects, its own counts. */
const stageDetail = (st: StageProgress): string => {
  const parts: Array<string> = []
  const dropped = total(st.dropped)
  if (dropped > 0) parts.push(`dropped ${fmt(dropped)} (${reasons(st.dropped ?? {})})`)
  const routed = total(st.routed)
  if (routed > 0) parts.push(`routed ${fmt(routed)} → ${st.route ?? "branch"} (${reasons(st.routed ?? {})})`)
  if ((st.rejected ?? 0) > 0) parts.push(`rejected ${fmt(st.rejected ?? 0)}`)
  // Counters named `group:key` are summed per group: `redacted 12 (EMAIL 7, PHONE 5)`.
  const groups = new Map<string, { [k: string]: number }>()
  for (const [name, n] of Object.entries(st.counts ?? {})) {
    const at = name.indexOf(":")
    const group = at < 0 ? name : name.slice(0, at)
    const g = groups.get(group) ?? {}
    g[at < 0 ? "" : name.slice(at + 1)] = n
    groups.set(group, g)
  }
  for (const [group, g] of groups) {
    const keyed = Object.fromEntries(Object.entries(g).filter(([k]) => k !== ""))
    parts.push(`${group} ${fmt(total(g))}${Object.keys(keyed).length > 0 ? ` (${reasons(keyed)})` : ""}`)
  }
  return parts.length > 0 ? `  ${parts.join(" · ")}` : ""
}

const stageLine = (st: StageProgress): string =>
  `  ${st.id.padEnd(24)} in ${fmt(st.rowsIn).padStart(10)}  out ${fmt(st.rowsOut).padStart(10)}${stageDetail(st)}`

const finishText = (e: Extract<RunEvent, { type: "finish" }>): string =>
  e.status === "already-complete"
    ? `already complete: nothing to do (use --fresh to run again)\noutput:   ${e.output}\nmanifest: ${e.manifest}`
    : `${e.status === "complete" ? "done" : "stopped"}: ${line(e.snapshot, false)} in ${(e.snapshot.elapsedMs / 1000).toFixed(1)}s\n` +
      e.snapshot.stages.map(stageLine).join("\n") +
      `\noutput:   ${e.output}` +
      (e.branches ?? []).map((b) => `\nbranch ${b.name}: ${b.path} (${plural(b.rows, "row")})`).join("") +
      `\nmanifest: ${e.manifest}`

const interruptedText = (s: Snapshot): string =>
  `interrupted: ${plural(s.unitsDone, "work unit")} of ${fmt(s.units)} committed (${fmt(s.rowsWritten)} rows written); run the same command again to resume after them`

const startText = (e: Extract<RunEvent, { type: "start" }>): string =>
  `run ${e.name} (${e.shard}): ${plural(e.units, "work unit")}${e.resumed ? `, resuming after ${fmt(e.unitsDone)} done` : ""}`

/** Plain lines: one every `intervalMs` and one per finished unit. For pipes and logs. */
export const plain = (write: (text: string) => void, intervalMs = 5000): Reporter => {
  let last = 0
  return {
    report: (e) => {
      switch (e.type) {
        case "start":
          write(`${startText(e)}, fingerprint ${e.fingerprint.slice(0, 12)}\n`)
          return
        case "progress": {
          const now = Date.now()
          if (now - last >= intervalMs) {
            last = now
            write(`${line(e.snapshot)}\n`)
          }
          return
        }
        case "unit":
          write(`unit ${e.unit} done · ${line(e.snapshot)}\n`)
          return
        case "stage": {
          const now = Date.now()
          if (e.done || now - last >= intervalMs) {
            last = now
            write(`${e.stage}: ${e.message}\n`)
          }
          return
        }
        case "warning":
          write(`warning: ${e.message}\n`)
          return
        case "interrupted":
          write(`${interruptedText(e.snapshot)}\n`)
          return
        case "finish":
          write(`${finishText(e)}\n`)
      }
    }
  }
}

/** A live, redrawn status block for terminals. */
export const tty = (write: (text: string) => void, intervalMs = 200): Reporter => {
  let last = 0
  let drawn = 0
  const draw = (s: Snapshot): void => {
    const rows = [line(s), ...s.stages.map(stageLine)]
    const up = drawn > 0 ? `\x1b[${drawn}F` : ""
    write(`${up}${rows.map((r) => `\x1b[2K${r}`).join("\n")}\n`)
    drawn = rows.length
  }
  return {
    report: (e) => {
      switch (e.type) {
        case "start":
          write(`${startText(e)}\n`)
          return
        case "progress":
        case "unit": {
          const now = Date.now()
          if (e.type === "unit" || now - last >= intervalMs) {
            last = now
            draw(e.snapshot)
          }
          return
        }
        case "stage": {
          // One live line per step, redrawn in place; its last line stays.
          const now = Date.now()
          if (!e.done && now - last < intervalMs) return
          last = now
          if (drawn > 0) write(`\x1b[${drawn}F\x1b[J`)
          write(`${e.stage}: ${e.message}\n`)
          drawn = e.done ? 0 : 1
          return
        }
        case "warning":
          drawn = 0
          write(`warning: ${e.message}\n`)
          return
        case "interrupted":
        case "finish":
          if (drawn > 0) write(`\x1b[${drawn}F\x1b[J`)
          drawn = 0
          write(`${e.type === "finish" ? finishText(e) : interruptedText(e.snapshot)}\n`)
      }
    }
  }
}

/** One JSON object per line per event (progress throttled to `intervalMs`). */
export const json = (write: (text: string) => void, intervalMs = 1000): Reporter => {
  let last = 0
  return {
    report: (e) => {
      if (e.type === "progress" || (e.type === "stage" && !e.done)) {
        const now = Date.now()
        if (now - last < intervalMs) return
        last = now
      }
      write(`${JSON.stringify({ ...e, time: new Date().toISOString() })}\n`)
    }
  }
}

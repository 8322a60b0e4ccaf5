/**
 * Progress reporting for runs: a live display on a terminal (rows/s, ETA, per-stage counts),
 * plain lines for pipes and logs, or JSON events (`--json`) for machines.
 */

/** Per-stage counters as they stand. */
export interface StageProgress {
  readonly id: string
  readonly rowsIn: number
  readonly rowsOut: number
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
  | {
      readonly type: "finish"
      readonly status: "complete" | "stopped" | "already-complete"
      readonly snapshot: Snapshot
      readonly manifest: string
      readonly output: string
    }

/** Receives run events; `progress` events may come often, so reporters throttle. */
export interface Reporter {
  readonly report: (event: RunEvent) => void
}

/** A reporter that says nothing. */
export const silent: Reporter = { report: () => {} }

const fmt = (n: number): string => n.toLocaleString("en-US")

const rate = (s: Snapshot): number => (s.elapsedMs > 0 ? (s.rowsRead * 1000) / s.elapsedMs : 0)

const eta = (s: Snapshot): string => {
  const r = rate(s)
  const total = s.rowsTotal
  if (total !== undefined && total > 0 && r > 0) {
    const secs = Math.max(0, (total - s.rowsRead) / r)
    return secs < 90 ? `${Math.round(secs)}s` : `${Math.round(secs / 60)}m`
  }
  if (s.unitsDone > 0 && s.units > s.unitsDone) {
    const secs = ((s.elapsedMs / s.unitsDone) * (s.units - s.unitsDone)) / 1000
    return secs < 90 ? `${Math.round(secs)}s` : `${Math.round(secs / 60)}m`
  }
  return "?"
}

const line = (s: Snapshot): string =>
  `units ${s.unitsDone}/${s.units} · read ${fmt(s.rowsRead)}${s.rowsTotal !== undefined ? `/${fmt(s.rowsTotal)}` : ""} · written ${fmt(s.rowsWritten)} · ${fmt(Math.round(rate(s)))} rows/s · ETA ${eta(s)}${s.rejected > 0 ? ` · rejected ${fmt(s.rejected)}` : ""}${s.lost !== undefined ? ` · lost ${s.lost.rows === null ? "an unknown number of" : fmt(s.lost.rows)} rows in ${s.lost.where}` : ""}`

const finishText = (e: Extract<RunEvent, { type: "finish" }>): string =>
  e.status === "already-complete"
    ? `already complete: nothing to do (use --fresh to run again)\noutput:   ${e.output}\nmanifest: ${e.manifest}`
    : `${e.status === "complete" ? "done" : "stopped"}: ${line(e.snapshot)} in ${(e.snapshot.elapsedMs / 1000).toFixed(1)}s\n` +
      e.snapshot.stages.map((st) => `  ${st.id.padEnd(24)} in ${fmt(st.rowsIn).padStart(10)}  out ${fmt(st.rowsOut).padStart(10)}`).join("\n") +
      `\noutput:   ${e.output}\nmanifest: ${e.manifest}`

/** Plain lines: one every `intervalMs` and one per finished unit. For pipes and logs. */
export const plain = (write: (text: string) => void, intervalMs = 5000): Reporter => {
  let last = 0
  return {
    report: (e) => {
      switch (e.type) {
        case "start":
          write(
            `run ${e.name} (${e.shard}): ${e.units} work units${e.resumed ? `, resuming after ${e.unitsDone} done` : ""}, fingerprint ${e.fingerprint.slice(0, 12)}\n`
          )
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
        case "warning":
          write(`warning: ${e.message}\n`)
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
    const rows = [
      line(s),
      ...s.stages.map((st) => `  ${st.id.padEnd(24)} in ${fmt(st.rowsIn).padStart(10)}  out ${fmt(st.rowsOut).padStart(10)}`)
    ]
    const up = drawn > 0 ? `\x1b[${drawn}F` : ""
    write(`${up}${rows.map((r) => `\x1b[2K${r}`).join("\n")}\n`)
    drawn = rows.length
  }
  return {
    report: (e) => {
      switch (e.type) {
        case "start":
          write(
            `run ${e.name} (${e.shard}): ${e.units} work units${e.resumed ? `, resuming after ${e.unitsDone} done` : ""}\n`
          )
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
        case "warning":
          drawn = 0
          write(`warning: ${e.message}\n`)
          return
        case "finish":
          if (drawn > 0) write(`\x1b[${drawn}F\x1b[J`)
          drawn = 0
          write(`${finishText(e)}\n`)
      }
    }
  }
}

/** One JSON object per line per event (progress throttled to `intervalMs`). */
export const json = (write: (text: string) => void, intervalMs = 1000): Reporter => {
  let last = 0
  return {
    report: (e) => {
      if (e.type === "progress") {
        const now = Date.now()
        if (now - last < intervalMs) return
        last = now
      }
      write(`${JSON.stringify({ ...e, time: new Date().toISOString() })}\n`)
    }
  }
}

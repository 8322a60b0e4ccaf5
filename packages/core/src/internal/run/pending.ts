/**
 * Units in flight: what each unit not yet committed has contributed so far (its delta), and,
 * per stage, the unit whose rows the stage received last.
 *
 * Units overlap: the source reads unit k+1 while stages still work on unit k's last rows (a
 * model stage keeps its slots full across the boundary). Every row carries its unit, so
 * counters, rejects, routed rows and journal entries are kept per unit and committed in unit
 * order once the sink has seen the last of a unit's rows: a resumed run sees exactly the units
 * it committed, whatever was in flight when it stopped.
 */
import type * as Progress from "../../Progress.js"
import { type Row, unitOf } from "../../Row.js"
import { emptyDelta, type UnitDelta } from "../exec/delta.js"
import { lostSummary, type RunStats } from "./stats.js"

/** The deltas of the units not yet committed, and where each stage is. */
export class Pending {
  private readonly deltas = new Map<number, UnitDelta>()
  /** The unit whose rows each stage received last (for journal entries and untagged rows). */
  readonly stageUnit: Array<number>

  constructor(
    private readonly stages: number,
    first: number
  ) {
    this.stageUnit = Array.from({ length: stages }, () => first)
  }

  /** Unit `seq`'s delta (made on first use). */
  of(seq: number): UnitDelta {
    let d = this.deltas.get(seq)
    if (d === undefined) {
      d = emptyDelta(this.stages)
      this.deltas.set(seq, d)
    }
    return d
  }

  /** Unit `seq`'s delta, forgotten here (it is being committed). */
  take(seq: number): UnitDelta {
    const d = this.of(seq)
    this.deltas.delete(seq)
    return d
  }

  /** The unit a row at stage `i` belongs to. */
  unitAt(row: Row, i: number): number {
    return unitOf(row) ?? this.stageUnit[i]!
  }

  /** Every delta not yet committed. */
  values(): IterableIterator<UnitDelta> {
    return this.deltas.values()
  }
}

/** The run as the progress display sees it: committed stats plus what the units in flight added. */
export const snapshot = (
  stats: RunStats,
  pending: Pending,
  run: {
    readonly units: number
    readonly rowsTotal: number | undefined
    readonly started: number
    /** When the first unit could start (the stages made): rows/s and ETA count from then. */
    readonly unitsStarted?: number | undefined
    /** Each stage's `route:` branch, by stage index. */
    readonly routes?: ReadonlyArray<string | undefined> | undefined
    /** The main sink's `where:` text: its selection shows as a last step that drops the rows it leaves out. */
    readonly sinkWhere?: string | undefined
    /** What the run had done when it started (a resumed run's earlier units). */
    readonly before?: { readonly rowsRead: number; readonly unitsDone: number } | undefined
  }
): Progress.Snapshot => {
  let rowsRead = stats.rows_read
  let rowsWritten = stats.rows_written
  let rejected = stats.rejected
  let sinkDropped = stats.sink_dropped?.where ?? 0
  const lost = [...(stats.lost ?? [])]
  const stages = stats.stages.map((s) => ({
    id: s.id,
    rowsIn: s.rows_in,
    rowsOut: s.rows_out,
    dropped: { ...s.dropped },
    routed: { ...s.routed_reasons },
    rejected: s.rejected,
    counts: { ...s.counts }
  }))
  const add = (into: { [k: string]: number }, from: { readonly [k: string]: number } | undefined): void => {
    for (const [k, n] of Object.entries(from ?? {})) into[k] = (into[k] ?? 0) + n
  }
  for (const d of pending.values()) {
    rowsRead += d.rows_read
    rowsWritten += d.rows_written
    rejected += d.rejected
    sinkDropped += d.sink_dropped
    lost.push(...d.lost)
    for (const [i, st] of d.stages.entries()) {
      const to = stages[i]!
      to.rowsIn += st.rows_in
      to.rowsOut += st.rows_out
      to.rejected += st.rejected
      add(to.dropped, st.dropped)
      add(to.routed, st.routed_reasons)
      add(to.counts, st.counts)
    }
  }
  return {
    unitsDone: stats.units_done,
    units: run.units,
    rowsRead,
    rowsTotal: run.rowsTotal,
    rowsWritten,
    rejected,
    ...(lost.length > 0 ? { lost: lostSummary(lost) } : {}),
    elapsedMs: Date.now() - run.started,
    ...(run.unitsStarted !== undefined ? { unitsElapsedMs: Date.now() - run.unitsStarted } : {}),
    ...(run.before !== undefined ? { rowsReadBefore: run.before.rowsRead, unitsDoneBefore: run.before.unitsDone } : {}),
    stages: [
      ...stages.map((st, i) => ({ ...st, route: run.routes?.[i] })),
      ...(run.sinkWhere === undefined
        ? []
        : [{ id: "sink where", rowsIn: rowsWritten + sinkDropped, rowsOut: rowsWritten, dropped: sinkDropped > 0 ? { where: sinkDropped } : {} }])
    ]
  }
}

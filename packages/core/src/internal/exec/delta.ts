/**
 * What one work unit adds to a run until it commits: counters, rejects, routed rows and journal
 * entries. Made where the unit's rows are processed (the runner's thread or a worker) and
 * merged into the run's stats when the unit commits, in unit order.
 */
import { type Origin, origin, type Row } from "../../Row.js"
import type { LostRows, SourceReject } from "../../Source.js"

/** A line of `rejects/*.jsonl`. */
export interface RejectRecord {
  readonly stage: string
  readonly error: string
  readonly source: Origin | null
  readonly unit: string
  readonly row: unknown
  /** For a unit the source could not read: the rows lost with it, and where. */
  readonly lost?: LostRows
}

/** Rows lost with a unit the source could not read: where, how many, and why. */
export interface LostUnit extends LostRows {
  readonly unit: string
  readonly error: string
}

/** Per-stage counters of one unit. */
export interface StageDelta {
  rows_in: number
  rows_out: number
  dropped: { [reason: string]: number }
  routed: number
  /** Rows routed to the stage's branch by the reason the stage gave (absent when none were). */
  routed_reasons?: { [reason: string]: number }
  rejected: number
  /** Counters the stage keeps with `count` (absent when it kept none). */
  counts?: { [name: string]: number }
}

/** What one work unit adds to the run's counters, rejects, routed rows and journals until it commits. */
export interface UnitDelta {
  rows_read: number
  source_rejected: number
  rows_written: number
  /** Rows that reached the end of the pipeline and that the main sink's `where:` left out. */
  sink_dropped: number
  rejected: number
  stages: Array<StageDelta>
  /** Rejects in a fixed order: the source's first, then each stage's, each in row order. */
  rejects: Array<Array<RejectRecord>>
  /** Rows each stage routed to its branch, in row order. */
  routes: Array<Array<Row>>
  /** Journal entries each stage appended. */
  journals: Array<Array<string>>
  /** Units the source could not read. */
  lost: Array<LostUnit>
}

/** The delta of a unit nothing has happened to yet. */
export const emptyDelta = (stages: number): UnitDelta => ({
  rows_read: 0,
  source_rejected: 0,
  rows_written: 0,
  sink_dropped: 0,
  rejected: 0,
  stages: Array.from({ length: stages }, () => ({ rows_in: 0, rows_out: 0, dropped: {}, routed: 0, rejected: 0 })),
  rejects: Array.from({ length: stages + 1 }, () => []),
  routes: Array.from({ length: stages }, () => []),
  journals: Array.from({ length: stages }, () => []),
  lost: []
})

/** Records a row stage `i` dropped: routed to the stage's branch when it has one, else counted by reason. */
export const stageDrop = (d: UnitDelta, i: number, route: string | undefined, row: Row, reason: string): void => {
  const st = d.stages[i]!
  if (route !== undefined) {
    st.routed++
    st.routed_reasons ??= {}
    st.routed_reasons[reason] = (st.routed_reasons[reason] ?? 0) + 1
    d.routes[i]!.push(row)
  } else st.dropped[reason] = (st.dropped[reason] ?? 0) + 1
}

/** Adds `n` to stage `i`'s counter `name` (a stage's own counts, such as values redacted by type). */
export const stageCount = (d: UnitDelta, i: number, name: string, n = 1): void => {
  const st = d.stages[i]!
  st.counts ??= {}
  st.counts[name] = (st.counts[name] ?? 0) + n
}

const addCounts = (into: { [key: string]: number }, from: { readonly [key: string]: number }): void => {
  for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n
}

/** Records a row stage `i` (instance `stage`) rejected, for the rejects of unit `unit`. */
export const stageReject = (d: UnitDelta, i: number, stage: string, unit: string, row: Row, error: string): void => {
  d.stages[i]!.rejected++
  d.rejected++
  d.rejects[i + 1]!.push({ stage, error, source: origin(row) ?? null, unit, row })
}

/** Records a row (or a whole unit) the source could not read into the unit's delta. */
export const sourceReject = (d: UnitDelta, unit: string, r: SourceReject): void => {
  d.source_rejected++
  d.rejected++
  d.rejects[0]!.push({ stage: "source", error: r.error, source: r.origin, unit, row: r.raw, ...(r.lost === undefined ? {} : { lost: r.lost }) })
  if (r.lost !== undefined) d.lost.push({ ...r.lost, unit, error: r.error })
}

/** Adds per-stage counters (`from`) into `into`, stage by stage. */
export const addStageCounts = (into: ReadonlyArray<StageDelta>, from: ReadonlyArray<StageDelta>): void => {
  for (const [i, st] of from.entries()) {
    const to = into[i]!
    to.rows_in += st.rows_in
    to.rows_out += st.rows_out
    to.routed += st.routed
    to.rejected += st.rejected
    addCounts(to.dropped, st.dropped)
    if (st.routed_reasons !== undefined) {
      to.routed_reasons ??= {}
      addCounts(to.routed_reasons, st.routed_reasons)
    }
    if (st.counts !== undefined) {
      to.counts ??= {}
      addCounts(to.counts, st.counts)
    }
  }
}

/** Adds what a worker counted for a unit to the unit's delta (which holds the journal entries its decisions made here). */
export const absorbDelta = (into: UnitDelta, d: UnitDelta): void => {
  into.rows_read += d.rows_read
  into.source_rejected += d.source_rejected
  into.rows_written += d.rows_written
  into.sink_dropped += d.sink_dropped
  into.rejected += d.rejected
  addStageCounts(into.stages, d.stages)
  for (const [i, records] of d.rejects.entries()) into.rejects[i]!.push(...records)
  into.lost.push(...d.lost)
  for (const [i, rows] of d.routes.entries()) into.routes[i]!.push(...rows)
}

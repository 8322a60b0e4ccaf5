/**
 * What a run counts and reports: the cumulative stats kept in completion markers, and the shape
 * of the manifest built from them. The runner, `Manifest` and `DatasetCard` all import these
 * from here, so none of them imports another's types (no import cycle).
 */
import type { StageUse } from "../../Pipeline.js"
import * as Profile from "../profile.js"
import type { OutputFile } from "../../Sink.js"
import { addStageCounts, type LostUnit, type UnitDelta } from "../exec/delta.js"

export type { LostUnit, RejectRecord } from "../exec/delta.js"

/** The cumulative per-stage counters stored in markers and manifests. */
export interface StageStats {
  readonly id: string
  readonly use: string
  rows_in: number
  rows_out: number
  dropped: { [reason: string]: number }
  routed: number
  /** Routed rows by the reason the stage gave (`moderation:harassment`); absent when none were routed. */
  routed_reasons?: { [reason: string]: number }
  rejected: number
  /** The stage's own counters (`pii/redact`: `redacted:EMAIL`, ...); absent when it keeps none. */
  counts?: { [name: string]: number }
}

/** Cumulative counters of a run (deterministic: equal for a resumed and an uninterrupted run). */
export interface RunStats {
  units_done: number
  rows_read: number
  source_rejected: number
  rows_written: number
  /** Rows the main sink's `where:` left out, by reason (`where`); absent when it has none. */
  sink_dropped?: { [reason: string]: number }
  branch_rows: { [branch: string]: number }
  rejected: number
  stages: Array<StageStats>
  /** What the rows written to the main sink and to each branch look like (for dataset cards). */
  profiles: { main: Profile.Profile; branches: { [branch: string]: Profile.Profile } }
  /** Units (or parts) the source could not read, with the rows lost in each (absent in markers of older runs). */
  lost?: Array<LostUnit>
}

/** Rows and files of one sink. */
export interface SinkOutput {
  readonly path: string
  readonly type: string
  readonly rows: number
  readonly files: ReadonlyArray<OutputFile>
  /** What the rows look like: fields with shapes, languages, each plugin profiler's state (dataset cards use it). */
  readonly profile?: Profile.Profile
  /**
   * For an output at the end of the pipeline (`outputs:`): its `where:` selection, or `null`
   * when it takes every row; absent for the main sink and for branches that stages route to.
   */
  readonly where?: string | null
  /** For the main sink with a `where:` selection: the rows it left out, as drops by reason (`where`). */
  readonly dropped?: { readonly [reason: string]: number }
}

/** The manifest written as `manifest.json` (or `manifest-0000i-of-0000n.json` per shard). */
export interface Manifest {
  readonly synthline: string
  readonly name: string
  readonly pipeline_file: string | null
  readonly fingerprint: string
  readonly seed: number
  readonly plugins: ReadonlyArray<{ readonly name: string; readonly version: string; readonly specifier: string }>
  readonly shard: { readonly index: number; readonly count: number } | null
  readonly status: "complete" | "stopped"
  readonly resumed: boolean
  readonly timings: { readonly started_at: string; readonly finished_at: string; readonly wall_ms: number }
  readonly source: {
    readonly type: string
    readonly units: number
    readonly rows_read: number
    readonly rejected: number
    /** Rows lost with units that could not be read (`null`: some unit's size is unknown); they count against --max-errors. */
    readonly rows_lost?: number | null
    /** Each unit that could not be read: file, row group, row range, rows lost and why. */
    readonly lost?: ReadonlyArray<LostUnit>
  }
  readonly stages: ReadonlyArray<StageStats>
  readonly rejects: { readonly count: number; readonly path: string; readonly files: ReadonlyArray<OutputFile> }
  readonly outputs: { readonly main: SinkOutput; readonly branches: { readonly [name: string]: SinkOutput } }
  /** Model usage per model, filled by plugins that call models. */
  readonly model_usage: { readonly [model: string]: unknown }
  /** For merged manifests: the shard manifests it joins. */
  readonly merged_from?: ReadonlyArray<string>
}

/** The stats of a run that has committed nothing yet. */
export const emptyStats = (stages: ReadonlyArray<StageUse>, branches: ReadonlyArray<string>): RunStats => ({
  units_done: 0,
  rows_read: 0,
  source_rejected: 0,
  rows_written: 0,
  branch_rows: Object.fromEntries([...branches].map((b) => [b, 0])),
  rejected: 0,
  lost: [],
  profiles: { main: Profile.empty(), branches: Object.fromEntries([...branches].map((b) => [b, Profile.empty()])) },
  stages: stages.map((s) => ({
    id: s.instanceId,
    use: s.stage.id,
    rows_in: 0,
    rows_out: 0,
    dropped: {},
    routed: 0,
    rejected: 0
  }))
})

/** Adds a committed unit's counters to the run's. */
export const mergeDelta = (stats: RunStats, d: UnitDelta): void => {
  stats.rows_read += d.rows_read
  stats.source_rejected += d.source_rejected
  stats.rows_written += d.rows_written
  if (d.sink_dropped > 0) stats.sink_dropped = { where: (stats.sink_dropped?.where ?? 0) + d.sink_dropped }
  stats.rejected += d.rejected
  if (d.lost.length > 0) stats.lost = [...(stats.lost ?? []), ...d.lost]
  addStageCounts(stats.stages, d.stages)
}

/**
 * What counts against `--max-errors`: every rejected row, and every row lost with a unit that
 * could not be read (a lost unit is one reject record but all its rows); `Infinity` when a unit
 * of unknown size was lost.
 */
export const errorCount = (stats: Pick<RunStats, "rejected" | "lost">): number => {
  let n = stats.rejected
  for (const l of stats.lost ?? []) n += (l.rows ?? Number.POSITIVE_INFINITY) - 1
  return n
}

/** Rows lost in all (`null` when some lost unit's size is unknown), and where, in words. */
export const lostSummary = (lost: ReadonlyArray<LostUnit>): { readonly rows: number | null; readonly where: string } => {
  let rows: number | null = 0
  for (const l of lost) rows = rows === null || l.rows === null ? null : rows + l.rows
  const place = (l: LostUnit): string =>
    l.row_group === undefined ? l.file : `${l.file} row group ${l.row_group} (rows ${l.row_start}-${l.row_end})`
  const shown = lost.slice(0, 3).map(place).join(", ")
  return { rows, where: lost.length > 3 ? `${shown} and ${lost.length - 3} more` : shown }
}

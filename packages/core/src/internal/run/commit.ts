/**
 * The committer: takes the units the executor produces, in unit order. The main sink's
 * selection (`sink: { where: ... }`) of the rows that reach the end is written as they come (and
 * each output's selection of them); when a unit is complete, its delta goes to the outlets (rejects, routes,
 * drops), then every sink commits, then the checkpoint appends the journals and writes the
 * marker that makes the unit done. Past `--max-errors` it stops committing and says why.
 */
import { Chunk, Effect } from "effect"
import type { RunError, SinkError } from "../../Errors.js"
import type { ResolvedPipeline } from "../../Pipeline.js"
import * as Profile from "../profile.js"
import type * as Progress from "../../Progress.js"
import type { CollectingUsage } from "../../Plugin.js"
import type { Row } from "../../Row.js"
import type * as Secrets from "../secrets.js"
import * as Where from "../where.js"
import { absorbDelta } from "../exec/delta.js"
import type { UnitDone } from "../exec/protocol.js"
import type { Checkpoint } from "./checkpoint.js"
import { type Outlets, writeCollected } from "./outlets.js"
import type { Pending } from "./pending.js"
import { errorCount, lostSummary, type RunStats } from "./stats.js"

/** Commits units in order; see the module comment. */
export interface Committer {
  /** The unit to commit next (every unit before it is committed). */
  readonly next: () => number
  /** Writes main-sink rows of unit `seq` (the next to commit) as they come. */
  readonly rows: (rows: Array<Row>, seq: number) => Effect.Effect<void, SinkError>
  /** Takes a unit a worker thread processed (units arrive in order) and commits it; false when the run must stop. */
  readonly unit: (r: UnitDone) => Effect.Effect<boolean, RunError | SinkError>
  /** Commits every unit before `upTo`; false when the run must stop (too many rejects). */
  readonly commitBefore: (upTo: number) => Effect.Effect<boolean, RunError | SinkError>
  /** Why the run stopped early, if it did. */
  readonly stopped: () => string | undefined
}

/** What {@link make} commits into. */
export interface CommitOptions {
  readonly pipeline: ResolvedPipeline
  readonly unitIds: ReadonlyArray<string>
  readonly stats: RunStats
  readonly pending: Pending
  readonly outlets: Outlets
  readonly checkpoint: Checkpoint
  readonly usage: CollectingUsage
  readonly scrub: Secrets.Scrubber
  readonly reporter: Progress.Reporter
  readonly snapshot: () => Progress.Snapshot
  readonly maxErrors: number
  readonly sinkDir: string
}

/** The committer of a run whose first `checkpoint.unitsDone` units are committed. */
export const make = (o: CommitOptions): Committer => {
  const { stats, pending, outlets, maxErrors } = o
  const { writer, observe } = outlets.main
  let next = o.checkpoint.unitsDone
  let stopped: string | undefined

  const commitBefore = (upTo: number) =>
    Effect.gen(function* () {
      for (; next < upTo; next++) {
        yield* commitUnit(o, next)
        const errors = errorCount(stats)
        if (errors > maxErrors) {
          stopped = stopReason(errors, stats, maxErrors, o.sinkDir)
          return false
        }
      }
      return true
    })

  return {
    next: () => next,
    rows: (rows, seq) =>
      Effect.gen(function* () {
        const chunk = Chunk.unsafeFromArray(rows)
        const where = o.pipeline.sinkSelection?.where
        const main = where === undefined ? chunk : Chunk.filter(chunk, (row) => Where.matches(where, row))
        const d = pending.of(seq)
        d.sink_dropped += chunk.length - main.length
        if (main.length > 0) yield* writer.write(main)
        d.rows_written += main.length
        observe(main)
        yield* outlets.outputs.write(chunk)
      }),
    unit: (r) =>
      Effect.gen(function* () {
        absorbDelta(pending.of(r.seq), r.delta)
        yield* writeCollected(writer, o.pipeline.sink.def.type, r.main)
        Profile.absorb(stats.profiles.main, r.main.profile, o.pipeline.registry.profilers)
        yield* outlets.outputs.take(r.outputs)
        return yield* commitBefore(r.seq + 1)
      }),
    commitBefore,
    stopped: () => stopped
  }
}

/** Commits unit `seq`: its delta to the outlets, every sink, then journals and marker. */
const commitUnit = (o: CommitOptions, seq: number): Effect.Effect<void, RunError | SinkError> =>
  Effect.gen(function* () {
    const { outlets, stats } = o
    const d = o.pending.take(seq)
    yield* outlets.rejects.write(d)
    yield* outlets.routes.write(d)
    yield* outlets.drops.write(d)
    outlets.outputs.settle()
    // Commit: sinks, then journals, then the marker that makes the unit done.
    const main = yield* outlets.main.writer.commit
    const rejects = yield* outlets.rejects.commit
    const branches = yield* outlets.routes.commit
    yield* outlets.drops.commit
    stats.units_done = seq + 1
    yield* o.checkpoint.commit(
      {
        seq,
        unit: o.unitIds[seq]!,
        stats,
        sinks: { main, rejects, branches },
        journals: d.journals,
        usage: () => o.scrub.record(o.usage.snapshot())
      },
      o.pipeline.stages
    )
    o.reporter.report({ type: "unit", unit: o.unitIds[seq]!, snapshot: o.snapshot() })
  })

/** Why the run stops after this many errors. */
const stopReason = (errors: number, stats: RunStats, maxErrors: number, sinkDir: string): string => {
  const lost = lostSummary(stats.lost ?? [])
  return lost.rows === null
    ? `rows of unknown number were lost (${lost.where}: the file cannot be read), which --max-errors cannot allow; see ${sinkDir}/rejects/ (repair or remove the file, then rerun)`
    : `${errors} rows rejected${lost.rows > 0 ? ` or lost (${lost.rows} lost with unreadable units: ${lost.where})` : ""}, more than --max-errors ${maxErrors}; see ${sinkDir}/rejects/ (a rerun with a higher --max-errors resumes from here)`
}

/**
 * The stages of a run in the runner's own thread: each made with a context whose callbacks
 * (drop, reject, journal, decide) write into the delta of the unit the row belongs to, its
 * journal recovered from the checkpoint, and its central decider (if it has one) opened on it.
 */
import { type Context, Effect, type Scope } from "effect"
import { type RunError, StageError } from "../../Errors.js"
import type { ResolvedPipeline, StageUse } from "../../Pipeline.js"
import type { Row } from "../../Row.js"
import { stageCount, stageDrop, stageReject } from "../exec/delta.js"
import type { Decider, StageContext, Transform } from "../../Stage.js"
import * as Central from "../exec/central.js"
import type { Checkpoint } from "./checkpoint.js"
import type { Pending } from "./pending.js"
import type * as Progress from "../../Progress.js"

/** The made stages: transforms in pipeline order, and the deciders by stage index. */
export interface Stages {
  readonly transforms: ReadonlyArray<Transform<Row, Row>>
  readonly deciders: ReadonlyMap<number, Decider<unknown, unknown>>
}

/** Makes every stage of the pipeline (with the plugin services it needs). */
export const make = (
  pipeline: ResolvedPipeline,
  checkpoint: Checkpoint,
  pending: Pending,
  unitIds: ReadonlyArray<string>,
  services: Context.Context<never>,
  reporter: Progress.Reporter
): Effect.Effect<Stages, RunError | StageError, Scope.Scope> =>
  Effect.gen(function* () {
    const transforms: Array<Transform<Row, Row>> = []
    const deciders = new Map<number, Decider<unknown, unknown>>()
    for (const [i, use] of pipeline.stages.entries()) {
      const recovered = yield* checkpoint.recover(i, use)
      const decider = use.stage.central === undefined ? undefined : yield* use.stage.central.open(use.config, recovered, use.instanceId)
      if (decider !== undefined) deciders.set(i, decider)
      const ctx = context(pipeline, i, use, { pending, unitIds, recovered, decider, reporter })
      transforms.push(yield* use.stage.make(use.config, ctx).pipe(Effect.provide(services), Effect.mapError(located(pipeline, use))))
    }
    return { transforms, deciders }
  })

/** A StageError by its tag and fields: a plugin may bring its own copy of core's error classes. */
const isStageError = (e: unknown): e is StageError =>
  typeof e === "object" && e !== null && "_tag" in e && e._tag === "StageError" && "stage" in e && "reason" in e

/**
 * A stage that cannot be made (its prelude failed: an unknown model, say) is named with where it
 * is declared in the pipeline file, as a pipeline-file error would be.
 */
const located =
  (pipeline: ResolvedPipeline, use: StageUse) =>
  <E>(e: E): E | StageError =>
    isStageError(e) && e.at === undefined && pipeline.file !== undefined && use.line !== undefined
      ? new StageError({ stage: e.stage, reason: e.reason, at: `${pipeline.file}:${use.line}:${use.column ?? 1}` })
      : e

/** Stage `i`'s context: its drops, rejects, journal entries and decisions go to the delta of their row's unit. */
const context = (
  pipeline: ResolvedPipeline,
  i: number,
  use: StageUse,
  at: {
    readonly pending: Pending
    readonly unitIds: ReadonlyArray<string>
    readonly recovered: ReadonlyArray<string>
    readonly decider: Decider<unknown, unknown> | undefined
    readonly reporter: Progress.Reporter
  }
): StageContext => {
  const { pending, decider } = at
  const journal = (entry: string): void => void pending.of(pending.stageUnit[i]!).journals[i]!.push(entry)
  return {
    stageId: use.instanceId,
    seed: pipeline.seed,
    baseDir: pipeline.baseDir,
    drop: (row, reason) => stageDrop(pending.of(pending.unitAt(row, i)), i, use.route, row, reason),
    count: (row, name, n) => stageCount(pending.of(pending.unitAt(row, i)), i, name, n),
    reject: (row, error) => {
      const seq = pending.unitAt(row, i)
      stageReject(pending.of(seq), i, use.instanceId, at.unitIds[seq] ?? "", row, error)
    },
    journal: { recovered: at.recovered, append: journal },
    progress: (message, done = false) => at.reporter.report({ type: "stage", stage: use.instanceId, message, done }),
    source: pipeline.source,
    decide: decider === undefined ? undefined : Central.localDecide(decider, use.instanceId, journal)
  }
}

/**
 * The end of a run: the outlets complete their files, the manifest is built from the stats,
 * and the run's observers are told, in order: the dataset cards (for a complete, unsharded run),
 * then the manifest file, which marks the run complete (a crash in between redoes both).
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Effect } from "effect"
import * as DatasetCard from "../../Card.js"
import { RunError, type SinkError } from "../../Errors.js"
import * as Manifest from "../../Manifest.js"
import type { ResolvedPipeline } from "../../Pipeline.js"
import type * as Secrets from "../secrets.js"
import type * as Shard from "../../Shard.js"
import type { OutputFile } from "../../Sink.js"
import { writeAtomic } from "./checkpoint.js"
import type { Outlets } from "./outlets.js"
import type { RunStats } from "./stats.js"

/** A run that has ended, as its observers see it. */
export interface Finished {
  readonly pipeline: ResolvedPipeline
  readonly shard: Shard.Shard
  readonly status: "complete" | "stopped"
  readonly sinkDir: string
  readonly manifestPath: string
  readonly manifest: Manifest.Manifest
  /** `manifest` as written (scrubbed, pretty JSON). */
  readonly manifestText: string
  readonly secrets: ReadonlyArray<string>
}

/** Something told when a run ends. */
export interface Observer {
  readonly finished: (run: Finished) => Effect.Effect<void, RunError, FileSystem.FileSystem | Path.Path>
}

/** Writes the dataset cards of a complete whole run (a sharded run gets them from `synthline merge`). */
export const datasetCards = (path: Path.Path): Observer => ({
  finished: (run) => {
    if (run.status !== "complete" || run.shard.count !== 1) return Effect.void
    const { pipeline } = run
    return DatasetCard.writeAll(run.manifest, {
      pipelineFile: pipeline.file,
      secrets: run.secrets,
      profilers: pipeline.registry.profilers,
      dirs: {
        main: run.sinkDir,
        branches: Object.fromEntries(
          [...pipeline.branches].map(([name, b]) => [name, path.resolve(pipeline.baseDir, b.config.path)])
        )
      }
    }).pipe(Effect.mapError((e) => new RunError({ reason: e.message, exitCode: 1 })))
  }
})

/**
 * Removes the dataset cards an earlier, complete run left in the output folders (main and
 * branches) when a new run starts there (after `--fresh`, say): a card describes a complete run,
 * and the new partial files are not that. Only cards synthline wrote are removed.
 */
export const removeStaleCards = (
  pipeline: ResolvedPipeline,
  sinkDir: string
): Effect.Effect<void, never, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const dirs = [sinkDir, ...[...pipeline.branches.values()].map((b) => path.resolve(pipeline.baseDir, b.config.path))]
    for (const dir of dirs) {
      const card = path.join(dir, DatasetCard.fileName)
      const text = yield* fs.readFileString(card).pipe(Effect.orElseSucceed(() => ""))
      if (text.includes("Written by synthline ")) yield* fs.remove(card).pipe(Effect.ignore)
    }
  })

/** Writes `manifest.json` (or the shard's manifest), atomically. */
export const manifestFile = (fs: FileSystem.FileSystem): Observer => ({
  finished: (run) => writeAtomic(fs, run.manifestPath, run.manifestText)
})

/** What {@link finish} needs besides the outlets. */
export interface FinishOptions {
  readonly pipeline: ResolvedPipeline
  readonly shard: Shard.Shard
  /** Why the run stopped early; undefined when every unit committed. */
  readonly stopped: string | undefined
  readonly started: number
  readonly resumed: boolean
  readonly unitsTotal: number
  readonly stats: RunStats
  readonly sinkDir: string
  readonly manifestPath: string
  readonly modelUsage: () => { readonly [model: string]: unknown }
  readonly scrub: Secrets.Scrubber
  readonly observers: ReadonlyArray<Observer>
}

/** Completes the files (when every unit committed), builds the manifest and tells the observers. */
export const finish = (
  outlets: Outlets,
  o: FinishOptions
): Effect.Effect<Finished, RunError | SinkError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const complete = o.stopped === undefined
    const finishedAt = new Date().toISOString()
    const mainFiles: ReadonlyArray<OutputFile> = complete ? yield* outlets.main.writer.finish : []
    const rejectFiles: ReadonlyArray<OutputFile> = complete ? yield* outlets.rejects.finish : []
    const branchFiles = complete ? yield* outlets.routes.finish : {}
    yield* outlets.drops.finish
    const made = Manifest.make({
      pipeline: o.pipeline,
      shard: o.shard,
      status: complete ? "complete" : "stopped",
      startedAt: new Date(o.started).toISOString(),
      finishedAt,
      wallMs: Date.now() - o.started,
      resumed: o.resumed,
      unitsTotal: o.unitsTotal,
      stats: o.stats,
      sinkDir: o.sinkDir,
      mainFiles,
      rejectFiles,
      branchFiles,
      modelUsage: o.scrub.record(o.modelUsage())
    })
    const manifestText = `${o.scrub.text(JSON.stringify(made, null, 2))}\n`
    const manifest: Manifest.Manifest = o.scrub.secrets.length === 0 ? made : JSON.parse(manifestText)
    const run: Finished = {
      pipeline: o.pipeline,
      shard: o.shard,
      status: complete ? "complete" : "stopped",
      sinkDir: o.sinkDir,
      manifestPath: o.manifestPath,
      manifest,
      manifestText,
      secrets: o.scrub.secrets
    }
    for (const observer of o.observers) yield* observer.finished(run)
    return run
  })

/**
 * Run manifests: what a run read, did and wrote — fingerprint, plugin versions, seed,
 * per-stage counts with drop reasons, rejects, timings, model usage and every output file
 * with its sha256 and profile — and the merge of the manifests of a sharded run (profiles
 * joined by the profilers of the run's plugins, loaded again for the merge).
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Effect } from "effect"
import { dirname } from "node:path"
import * as CorePlugin from "./internal/corePlugin.js"
import * as DatasetCard from "./Card.js"
import { RunError } from "./Errors.js"
import * as Lock from "./internal/io/lock.js"
import type { ResolvedPipeline } from "./Pipeline.js"
import * as Profile from "./internal/profile.js"
import * as Registry from "./Registry.js"
import type { Manifest, RunStats, SinkOutput, StageStats } from "./internal/run/stats.js"
import type * as Shard from "./Shard.js"
import type { OutputFile } from "./Sink.js"
import { isRecord as isObject } from "./Row.js"

export type {
  /** The manifest written as `manifest.json` (or `manifest-0000i-of-0000n.json` per shard). */
  Manifest,
  /** Rows and files of one sink. */
  SinkOutput
} from "./internal/run/stats.js"

/** Inputs of {@link make}. */
export interface MakeInput {
  readonly pipeline: ResolvedPipeline
  readonly shard: Shard.Shard
  readonly status: "complete" | "stopped"
  readonly startedAt: string
  readonly finishedAt: string
  readonly wallMs: number
  readonly resumed: boolean
  readonly unitsTotal: number
  readonly stats: RunStats
  readonly sinkDir: string
  readonly mainFiles: ReadonlyArray<OutputFile>
  readonly rejectFiles: ReadonlyArray<OutputFile>
  readonly branchFiles: { readonly [name: string]: ReadonlyArray<OutputFile> }
  readonly modelUsage?: { readonly [model: string]: unknown }
}

/** Builds a manifest from a run's results. */
export const make = (input: MakeInput): Manifest => {
  const { pipeline, stats } = input
  const profiling = Profile.profiling(pipeline)
  const branches: { [name: string]: SinkOutput } = {}
  for (const [name, b] of pipeline.branches) {
    branches[name] = {
      path: b.config.path,
      type: b.def.type,
      rows: stats.branch_rows[name] ?? 0,
      files: input.branchFiles[name] ?? [],
      profile: Profile.finalize(stats.profiles.branches[name] ?? Profile.empty(), profiling)
    }
    const output = pipeline.outputs?.get(name)
    if (output !== undefined) branches[name] = { ...branches[name]!, where: output.where?.text ?? null }
  }
  return {
    synthline: CorePlugin.version,
    name: pipeline.name,
    pipeline_file: pipeline.file ?? null,
    fingerprint: pipeline.fingerprint,
    seed: pipeline.seed,
    plugins: pipeline.registry.plugins.map((p) => ({
      name: p.plugin.packageName ?? p.plugin.name,
      version: p.plugin.version,
      specifier: p.specifier
    })),
    shard: input.shard.count === 1 ? null : { index: input.shard.index, count: input.shard.count },
    status: input.status,
    resumed: input.resumed,
    timings: { started_at: input.startedAt, finished_at: input.finishedAt, wall_ms: input.wallMs },
    source: {
      type: pipeline.source.def.type,
      units: input.unitsTotal,
      rows_read: stats.rows_read,
      rejected: stats.source_rejected,
      rows_lost: (stats.lost ?? []).reduce<number | null>((n, l) => (n === null || l.rows === null ? null : n + l.rows), 0),
      lost: stats.lost ?? []
    },
    stages: stats.stages,
    rejects: { count: stats.rejected, path: "rejects", files: input.rejectFiles },
    outputs: {
      main: {
        path: pipeline.sink.config.path,
        type: pipeline.sink.def.type,
        rows: stats.rows_written,
        ...(pipeline.sinkSelection?.where !== undefined ? { where: pipeline.sinkSelection.where.text, dropped: { where: stats.sink_dropped?.where ?? 0 } } : {}),
        files: input.mainFiles,
        profile: Profile.finalize(stats.profiles.main, profiling)
      },
      branches
    },
    model_usage: input.modelUsage ?? {}
  }
}

/** Adds usage reports key by key: numbers are summed, objects merged the same way, anything else kept from `a`. */
const sumUsage = (a: unknown, b: unknown): { [key: string]: unknown } => {
  const out: { [key: string]: unknown } = {}
  const ao = isObject(a) ? a : {}
  const bo = isObject(b) ? b : {}
  for (const key of new Set([...Object.keys(ao), ...Object.keys(bo)])) {
    const x = ao[key]
    const y = bo[key]
    if (typeof x === "number" && typeof y === "number") out[key] = x + y
    else if (isObject(x) && isObject(y)) out[key] = sumUsage(x, y)
    else out[key] = x ?? y
  }
  return out
}

const sumStages = (a: ReadonlyArray<StageStats>, b: ReadonlyArray<StageStats>): Array<StageStats> =>
  a.map((s, i) => {
    const o = b[i]!
    const sum = (a: { readonly [k: string]: number } | undefined, b: { readonly [k: string]: number } | undefined) => {
      const out: { [k: string]: number } = { ...a }
      for (const [k, v] of Object.entries(b ?? {})) out[k] = (out[k] ?? 0) + v
      return out
    }
    const routedReasons = s.routed_reasons === undefined && o.routed_reasons === undefined ? undefined : sum(s.routed_reasons, o.routed_reasons)
    const counts = s.counts === undefined && o.counts === undefined ? undefined : sum(s.counts, o.counts)
    return {
      id: s.id,
      use: s.use,
      rows_in: s.rows_in + o.rows_in,
      rows_out: s.rows_out + o.rows_out,
      dropped: sum(s.dropped, o.dropped),
      routed: s.routed + o.routed,
      ...(routedReasons !== undefined ? { routed_reasons: routedReasons } : {}),
      rejected: s.rejected + o.rejected,
      ...(counts !== undefined ? { counts } : {})
    }
  })

const sumOutputs = (a: SinkOutput, b: SinkOutput, profilers: ReadonlyArray<Profile.AnyProfiler>): SinkOutput => ({
  ...a,
  rows: a.rows + b.rows,
  ...(a.dropped !== undefined ? { dropped: { where: (a.dropped.where ?? 0) + (b.dropped?.where ?? 0) } } : {}),
  files: [...a.files, ...b.files].sort((x, y) => x.path.localeCompare(y.path)),
  ...(a.profile !== undefined && b.profile !== undefined ? { profile: Profile.merge(a.profile, b.profile, profilers) } : {})
})

/**
 * Joins the manifests of the shards of one run into one; fails if they are of different
 * pipelines or incomplete. The profiles are joined by `profilers` (those of the run's plugins);
 * the state of a profiler not given adds up number by number ({@link Profile.sumCounts}).
 */
export const merge = (
  manifests: ReadonlyArray<{ readonly file: string; readonly manifest: Manifest }>,
  profilers: ReadonlyArray<Profile.AnyProfiler> = []
): Effect.Effect<Manifest, RunError> =>
  Effect.gen(function* () {
    const first = manifests[0]
    if (first === undefined) return yield* new RunError({ reason: "no shard manifests found to merge", exitCode: 2 })
    const base = first.manifest
    const count = base.shard?.count ?? 1
    const seen = new Set<number>()
    for (const { file, manifest } of manifests) {
      if (manifest.fingerprint !== base.fingerprint) {
        return yield* new RunError({ reason: `${file} is a run of a different pipeline (fingerprint ${manifest.fingerprint.slice(0, 12)})`, exitCode: 1 })
      }
      if (manifest.status !== "complete") {
        return yield* new RunError({ reason: `${file}: shard did not complete (status ${manifest.status})`, exitCode: 1 })
      }
      if ((manifest.shard?.count ?? 1) !== count) {
        return yield* new RunError({ reason: `${file}: shard count ${manifest.shard?.count ?? 1} differs from ${count}`, exitCode: 1 })
      }
      const index = manifest.shard?.index ?? 0
      if (seen.has(index)) return yield* new RunError({ reason: `${file}: shard ${index} appears twice`, exitCode: 1 })
      seen.add(index)
    }
    const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !seen.has(i))
    if (missing.length > 0) {
      return yield* new RunError({ reason: `missing shard manifests for shard(s) ${missing.join(", ")} of ${count}`, exitCode: 1 })
    }
    const sorted = [...manifests].sort((x, y) => (x.manifest.shard?.index ?? 0) - (y.manifest.shard?.index ?? 0))
    return sorted.slice(1).reduce<Manifest>(
      (acc, { manifest: m }) => ({
        ...acc,
        resumed: acc.resumed || m.resumed,
        timings: {
          started_at: acc.timings.started_at < m.timings.started_at ? acc.timings.started_at : m.timings.started_at,
          finished_at: acc.timings.finished_at > m.timings.finished_at ? acc.timings.finished_at : m.timings.finished_at,
          wall_ms: Math.max(acc.timings.wall_ms, m.timings.wall_ms)
        },
        source: {
          ...acc.source,
          units: acc.source.units + m.source.units,
          rows_read: acc.source.rows_read + m.source.rows_read,
          rejected: acc.source.rejected + m.source.rejected,
          rows_lost:
            acc.source.rows_lost === null || m.source.rows_lost === null
              ? null
              : (acc.source.rows_lost ?? 0) + (m.source.rows_lost ?? 0),
          lost: [...(acc.source.lost ?? []), ...(m.source.lost ?? [])]
        },
        stages: sumStages(acc.stages, m.stages),
        model_usage: sumUsage(acc.model_usage, m.model_usage),
        rejects: {
          ...acc.rejects,
          count: acc.rejects.count + m.rejects.count,
          files: [...acc.rejects.files, ...m.rejects.files].sort((x, y) => x.path.localeCompare(y.path))
        },
        outputs: {
          main: sumOutputs(acc.outputs.main, m.outputs.main, profilers),
          branches: Object.fromEntries(
            Object.entries(acc.outputs.branches).map(([k, v]) => {
              const other = m.outputs.branches[k]
              return [k, other === undefined ? v : sumOutputs(v, other, profilers)]
            })
          )
        }
      }),
      { ...base, shard: null, merged_from: sorted.map((s) => s.file) }
    )
  })

/**
 * The plugins a manifest's run loaded (those listed in its pipeline file; the plugins they
 * depend on come with them), for their profilers; relative paths resolve against the pipeline
 * file's folder.
 */
const pluginsOf = (manifest: Manifest | undefined): Effect.Effect<Registry.Registry, RunError> => {
  const listed = (manifest?.plugins ?? []).map((p) => p.specifier).filter((s) => s !== "builtin" && !s.includes(" → "))
  const base = manifest?.pipeline_file == null ? process.cwd() : dirname(manifest.pipeline_file)
  return Registry.load(listed, base).pipe(
    Effect.mapError((e) => new RunError({ reason: `cannot load the plugins of the run to join its profiles: ${e.message}`, exitCode: 1 }))
  )
}

/**
 * Reads every shard manifest (`manifest-*-of-*.json`) in the given folders, merges them and
 * writes `manifest.json` into the first folder. Returns the merged manifest and its path.
 */
export const mergeDirs = (
  dirs: ReadonlyArray<string>
): Effect.Effect<{ readonly manifest: Manifest; readonly path: string }, RunError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    // It writes into the first folder: not while a run writes there (nor another merge).
    const lockDir = path.join(dirs[0]!, "_state")
    yield* Lock.acquire(path.join(lockDir, "merge.lock"), "synthline merge", dirs[0]!, () => {})
    yield* Lock.refuseIfHeld(yield* Lock.liveLocks(lockDir, (name) => name !== "merge.lock"), dirs[0]!)
    const found: Array<{ file: string; manifest: Manifest }> = []
    for (const dir of dirs) {
      const names = yield* fs
        .readDirectory(dir)
        .pipe(Effect.mapError((e) => new RunError({ reason: `cannot read ${dir}: ${e.message}`, exitCode: 2 })))
      for (const name of names.filter((n) => /^manifest-\d+-of-\d+\.json$/.test(n)).sort()) {
        const file = path.join(dir, name)
        const text = yield* fs
          .readFileString(file)
          .pipe(Effect.mapError((e) => new RunError({ reason: `cannot read ${file}: ${e.message}`, exitCode: 1 })))
        const manifest = yield* Effect.try({
          try: (): Manifest => JSON.parse(text),
          catch: () => new RunError({ reason: `${file} is not valid JSON`, exitCode: 1 })
        })
        found.push({ file, manifest })
      }
    }
    const registry = yield* pluginsOf(found[0]?.manifest)
    const manifest = yield* merge(found, registry.profilers)
    const out = path.join(dirs[0]!, "manifest.json")
    yield* fs
      .writeFileString(out, `${JSON.stringify(manifest, null, 2)}\n`)
      .pipe(Effect.mapError((e) => new RunError({ reason: `cannot write ${out}: ${e.message}`, exitCode: 1 })))
    // Dataset cards of the joined output; branch folders are found relative to the pipeline file.
    const base = manifest.pipeline_file === null ? undefined : path.dirname(manifest.pipeline_file)
    yield* DatasetCard.writeAll(manifest, {
      pipelineFile: manifest.pipeline_file ?? undefined,
      profilers: registry.profilers,
      dirs: {
        main: dirs[0]!,
        branches:
          base === undefined
            ? {}
            : Object.fromEntries(Object.entries(manifest.outputs.branches).map(([k, b]) => [k, path.resolve(base, b.path)]))
      }
    }).pipe(Effect.mapError((e) => new RunError({ reason: e.message, exitCode: 1 })))
    return { manifest, path: out }
  }).pipe(Effect.scoped)

/**
 * Status of a sink folder: which shards of a (sharded) run are complete, running, failed or not
 * started, the rows each has done, and whether the shard manifests were merged. It reads only the
 * sink folder — manifests, `_state/` (run state, completion markers, lock files) and the record
 * `synthline submit` leaves there — so it works for any engine that ran the shards (Slurm,
 * Kubernetes, a shell loop).
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Effect, Either, Option, ParseResult, Schema } from "effect"
import { RunError } from "@synthline/core/Errors"
import * as Runner from "@synthline/core/Runner"
import type * as Shard from "@synthline/core/Shard"

/** What a shard is doing, as far as its files tell. */
export type ShardState = "complete" | "running" | "failed" | "pending"

/** The status of one shard. */
export interface ShardStatus {
  readonly index: number
  readonly count: number
  readonly state: ShardState
  /** Why it is in that state, in words (`manifest says stopped`, `no lock and no manifest`, ...). */
  readonly detail: string
  /** Planned work units of the shard (from its run state), when it has started. */
  readonly units: number | null
  readonly units_done: number
  readonly rows_read: number
  readonly rows_written: number
  /** Seconds since the shard last committed a unit (or started), when it has state. */
  readonly last_commit_age_s: number | null
  /** Who holds the shard's lock while it runs: `pid@host`. */
  readonly holder: string | null
  readonly fingerprint: string | null
}

/** A submission recorded by `synthline submit` in `_state/submit.json`. */
export interface Submission {
  readonly engine: "slurm" | "k8s"
  readonly at: string
  readonly shards: ReadonlyArray<number>
  /** Slurm: the array job and the merge job. */
  readonly array_job?: string | undefined
  readonly merge_job?: string | undefined
}

/** What `_state/submit.json` holds. */
export interface SubmitRecord {
  readonly version: 1
  readonly name: string
  readonly fingerprint: string
  readonly count: number
  readonly submissions: ReadonlyArray<Submission>
}

/** The status of a sink folder. */
export interface SinkStatus {
  readonly dir: string
  /** Shard count (1 for an unsharded run); 0 when nothing has run into the folder. */
  readonly count: number
  readonly shards: ReadonlyArray<ShardStatus>
  readonly complete: number
  readonly running: number
  readonly failed: number
  readonly pending: number
  readonly rows_read: number
  readonly rows_written: number
  /** Whether `manifest.json` is there and joins this run's shards (always the run's own manifest unsharded). */
  readonly merged: boolean
  readonly submit: SubmitRecord | null
}

// ---- what is read (only the fields status needs; the files hold more)

const ManifestHead = Schema.Struct({
  fingerprint: Schema.String,
  status: Schema.String,
  source: Schema.Struct({ units: Schema.Number, rows_read: Schema.Number }),
  outputs: Schema.Struct({ main: Schema.Struct({ rows: Schema.Number }) }),
  merged_from: Schema.optional(Schema.NullOr(Schema.Array(Schema.String)))
})
type ManifestHead = typeof ManifestHead.Type

const RunStateHead = Schema.Struct({ fingerprint: Schema.String, units: Schema.Array(Schema.String) })

const MarkerHead = Schema.Struct({
  seq: Schema.Number,
  stats: Schema.Struct({ units_done: Schema.Number, rows_read: Schema.Number, rows_written: Schema.Number })
})

const SubmissionSchema = Schema.Struct({
  engine: Schema.Literal("slurm", "k8s"),
  at: Schema.String,
  shards: Schema.Array(Schema.Number),
  array_job: Schema.optional(Schema.String),
  merge_job: Schema.optional(Schema.String)
})

/** The Schema of `_state/submit.json`. */
export const SubmitRecordSchema: Schema.Schema<SubmitRecord> = Schema.Struct({
  version: Schema.Literal(1),
  name: Schema.String,
  fingerprint: Schema.String,
  count: Schema.Int.pipe(Schema.positive()),
  submissions: Schema.Array(SubmissionSchema)
})

/** The file `synthline submit` records its submissions in. */
export const submitFile = (sinkDir: string): string => `${sinkDir}/_state/submit.json`

const shardName = /^part-(\d{5})-of-(\d{5})$/
const shardManifest = /^manifest-(\d{5})-of-(\d{5})\.json$/

/** Reads and decodes a JSON file; undefined when absent; exit 2 naming the file when it is not what it should be. */
const readJson = <A, I>(
  fs: FileSystem.FileSystem,
  file: string,
  schema: Schema.Schema<A, I>,
  what: string
): Effect.Effect<A | undefined, RunError> =>
  Effect.gen(function* () {
    const text = yield* fs.readFileString(file).pipe(
      Effect.map(Option.some),
      Effect.catchIf(
        (e) => e._tag === "SystemError" && e.reason === "NotFound",
        () => Effect.succeed(Option.none<string>())
      ),
      Effect.mapError((e) => new RunError({ reason: `cannot read ${file}: ${e.message}`, exitCode: 2 }))
    )
    if (Option.isNone(text)) return undefined
    const refuse = (why: string) => new RunError({ reason: `${file} is not ${what} (${why})`, exitCode: 2 })
    const json = yield* Effect.try({ try: (): unknown => JSON.parse(text.value), catch: () => refuse("not valid JSON") })
    const decoded = Schema.decodeUnknownEither(schema)(json)
    if (Either.isLeft(decoded)) return yield* refuse(ParseResult.TreeFormatter.formatErrorSync(decoded.left))
    return decoded.right
  })

/** Reads `_state/submit.json`, if `synthline submit` wrote one. */
export const readSubmitRecord = (sinkDir: string): Effect.Effect<SubmitRecord | null, RunError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    return (yield* readJson(fs, submitFile(sinkDir), SubmitRecordSchema, "a synthline submit record")) ?? null
  })

/** The shard counts the folder's shard state and manifests are of (several when runs of different counts wrote there). */
const countsIn = (stateNames: ReadonlyArray<string>, names: ReadonlyArray<string>): ReadonlyArray<number> => {
  const counts = new Set<number>()
  for (const n of stateNames) {
    const m = shardName.exec(n)
    if (m !== null) counts.add(Number(m[2]))
  }
  for (const n of names) {
    const m = shardManifest.exec(n)
    if (m !== null) counts.add(Number(m[2]))
  }
  return [...counts].sort((a, b) => a - b)
}

/**
 * The status of the sink folder `dir`. `count` says how many shards to expect (otherwise: the
 * count `synthline submit` recorded, else the one the folder's files are of); `fingerprint`
 * counts shards of another pipeline as not complete.
 */
export const read = (
  dir: string,
  options: { readonly count?: number | undefined; readonly fingerprint?: string | undefined; readonly now?: number | undefined } = {}
): Effect.Effect<SinkStatus, RunError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const sinkDir = path.resolve(dir)
    const now = options.now ?? Date.now()
    const names = yield* fs.readDirectory(sinkDir).pipe(
      Effect.mapError((e) => new RunError({ reason: `cannot read ${sinkDir}: ${e.message}`, exitCode: 2 }))
    )
    const stateNames = yield* fs.readDirectory(`${sinkDir}/_state`).pipe(Effect.orElseSucceed((): Array<string> => []))
    const submit = yield* readSubmitRecord(sinkDir)
    const found = countsIn(stateNames, names)
    const unsharded = stateNames.includes("run") || (found.length === 0 && names.includes("manifest.json"))
    const count = options.count ?? submit?.count ?? found.at(-1) ?? (unsharded ? 1 : 0)
    if (options.count === undefined && submit === null && found.length > 1) {
      return yield* new RunError({
        reason: `${sinkDir} holds shards of runs with different shard counts (${found.join(", ")}); remove the old ones or use another sink path`,
        exitCode: 2
      })
    }
    const fingerprint = options.fingerprint ?? submit?.fingerprint
    const shards: Array<ShardStatus> = []
    for (let index = 0; index < count; index++) {
      shards.push(yield* shardStatus(fs, sinkDir, { index, count }, fingerprint, now))
    }
    const top = yield* readJson(fs, `${sinkDir}/manifest.json`, ManifestHead, "a synthline manifest")
    const fp = fingerprint ?? shards.find((s) => s.fingerprint !== null)?.fingerprint ?? undefined
    const merged =
      top !== undefined &&
      top.status === "complete" &&
      (fp === undefined || top.fingerprint === fp) &&
      (count === 1 || (top.merged_from?.length ?? 0) === count)
    const tally = (s: ShardState) => shards.filter((x) => x.state === s).length
    return {
      dir: sinkDir,
      count,
      shards,
      complete: tally("complete"),
      running: tally("running"),
      failed: tally("failed"),
      pending: tally("pending"),
      rows_read: shards.reduce((n, s) => n + s.rows_read, 0),
      rows_written: shards.reduce((n, s) => n + s.rows_written, 0),
      merged,
      submit
    }
  })

const shardStatus = (
  fs: FileSystem.FileSystem,
  sinkDir: string,
  shard: Shard.Shard,
  fingerprint: string | undefined,
  now: number
): Effect.Effect<ShardStatus, RunError> =>
  Effect.gen(function* () {
    const state = Runner.stateDir(sinkDir, shard)
    const manifestPath = Runner.manifestFile(sinkDir, shard)
    const manifest: ManifestHead | undefined = yield* readJson(fs, manifestPath, ManifestHead, "a synthline manifest")
    const run = yield* readJson(fs, `${state}/run.json`, RunStateHead, "the run state of a synthline run")
    const markers = (yield* fs.readDirectory(`${state}/units`).pipe(Effect.orElseSucceed((): Array<string> => [])))
      .filter((n) => /^\d{6}\.json$/.test(n))
      .sort()
    const last = markers.at(-1)
    const marker =
      last === undefined ? undefined : yield* readJson(fs, `${state}/units/${last}`, MarkerHead, "a completion marker of a synthline run")
    const stamp = last !== undefined ? `${state}/units/${last}` : run !== undefined ? `${state}/run.json` : undefined
    const mtime =
      stamp === undefined
        ? undefined
        : yield* fs.stat(stamp).pipe(
            Effect.map((s) => Option.getOrUndefined(s.mtime)?.getTime()),
            Effect.orElseSucceed(() => undefined)
          )
    const held = yield* Runner.liveRun(sinkDir, shard)
    const base = {
      index: shard.index,
      count: shard.count,
      units: run?.units.length ?? null,
      last_commit_age_s: mtime === undefined ? null : Math.max(0, Math.round((now - mtime) / 1000)),
      holder: held?.holder ?? null,
      fingerprint: manifest?.fingerprint ?? run?.fingerprint ?? null
    }
    const ours = (fp: string) => fingerprint === undefined || fp === fingerprint
    if (manifest !== undefined && manifest.status === "complete" && ours(manifest.fingerprint)) {
      return {
        ...base,
        state: "complete",
        detail: "manifest complete",
        units_done: manifest.source.units,
        rows_read: manifest.source.rows_read,
        rows_written: manifest.outputs.main.rows
      }
    }
    const progress = {
      units_done: marker === undefined ? 0 : marker.seq + 1,
      rows_read: marker?.stats.rows_read ?? 0,
      rows_written: marker?.stats.rows_written ?? 0
    }
    if (held !== undefined) return { ...base, ...progress, state: "running", detail: "holds its lock" }
    if (manifest !== undefined && !ours(manifest.fingerprint)) {
      return { ...base, ...progress, state: "failed", detail: `manifest of another pipeline (${manifest.fingerprint.slice(0, 12)})` }
    }
    if (manifest !== undefined) return { ...base, ...progress, state: "failed", detail: `manifest says ${manifest.status}` }
    if (run !== undefined) return { ...base, ...progress, state: "failed", detail: "stopped before completing (no lock, no manifest)" }
    return { ...base, ...progress, state: "pending", detail: "not started" }
  })

/** The shards that still need a run: every one not complete. */
export const incomplete = (status: SinkStatus): ReadonlyArray<number> =>
  status.shards.filter((s) => s.state !== "complete").map((s) => s.index)

const age = (s: number | null): string =>
  s === null ? "-" : s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`

/** The status as a table for people. */
export const format = (status: SinkStatus): string => {
  if (status.count === 0) return `${status.dir}: no run has written here yet`
  const head = ["shard", "state", "units", "rows read", "rows written", "last commit", "detail"]
  const rows = status.shards.map((s) => [
    status.count === 1 ? "whole" : `${s.index}/${s.count}`,
    s.state,
    `${s.units_done}/${s.units ?? "?"}`,
    String(s.rows_read),
    String(s.rows_written),
    age(s.last_commit_age_s),
    s.holder === null ? s.detail : `${s.detail} (${s.holder})`
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (r: ReadonlyArray<string>) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd()
  const summary = [
    `${status.complete}/${status.count} complete`,
    `${status.running} running`,
    `${status.failed} failed`,
    `${status.pending} pending`,
    `${status.rows_read} rows read`,
    `${status.rows_written} written`,
    status.merged ? "merged" : "not merged"
  ].join(", ")
  return [`${status.dir}`, line(head), ...rows.map(line), summary].join("\n")
}

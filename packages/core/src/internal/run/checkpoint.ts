/**
 * Checkpoint: what a run keeps under `<sink>/_state/<shard>/` so that a rerun resumes where it
 * stopped — `run.json` (the pipeline fingerprint and the planned units), one completion marker
 * per committed unit (`units/000042.json`: cumulative stats, sink checkpoints, journal lengths,
 * model usage) and one journal per stage (`journal-000003.log`, appended and fsynced before the
 * marker that counts its bytes). It decides how a run starts (fresh, resume, already complete,
 * or refuse) and reads every state file back with Schema: a corrupt or foreign file stops the
 * run with a message naming it (exit code 2) instead of being trusted.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import { Effect, Either, ParseResult, Schema } from "effect"
import { errorText, RunError } from "../../Errors.js"
import type { StageUse } from "../../Pipeline.js"
import type * as Profile from "../profile.js"
import type * as Secrets from "../secrets.js"
import type { SinkCheckpoint } from "../../Sink.js"
import type { LostUnit, Manifest, RunStats, StageStats } from "./stats.js"

/** A completion marker: everything a rerun needs to continue after unit `seq`. */
export interface Marker {
  readonly version: 1
  readonly seq: number
  readonly unit: string
  readonly stats: RunStats
  readonly sinks: {
    readonly main: SinkCheckpoint
    readonly rejects: SinkCheckpoint
    readonly branches: { readonly [name: string]: SinkCheckpoint }
  }
  readonly journals: { readonly [instanceId: string]: number }
  /** Cumulative `model_usage` at this commit. */
  readonly usage?: { readonly [key: string]: unknown }
}

/** `run.json`: which pipeline wrote this state, over which units. */
export interface RunState {
  readonly fingerprint: string
  readonly units: ReadonlyArray<string>
}

// ---- Schemas of the state files (the types above, checked field by field)

const Counts = Schema.Record({ key: Schema.String, value: Schema.Number })

const ShapeSchema: Schema.Schema<Profile.Shape> = Schema.Union(
  Schema.Struct({ t: Schema.Literal("null", "bool", "int", "float", "string", "mixed") }),
  Schema.Struct({ t: Schema.Literal("list"), of: Schema.suspend(() => ShapeSchema) }),
  Schema.Struct({ t: Schema.Literal("struct"), fields: Schema.Record({ key: Schema.String, value: Schema.suspend(() => ShapeSchema) }) })
)

/** Core's fields, and each profiler's state (plain JSON) under its key, kept as written. */
const ProfileSchema: Schema.Schema<Profile.Profile> = Schema.Struct(
  {
    rows: Schema.Number,
    fields: Schema.mutable(Schema.Array(Schema.String)),
    shapes: Schema.Record({ key: Schema.String, value: ShapeSchema }),
    languages: Counts
  },
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
)

const StageStatsSchema: Schema.Schema<StageStats> = Schema.Struct({
  id: Schema.String,
  use: Schema.String,
  rows_in: Schema.Number,
  rows_out: Schema.Number,
  dropped: Counts,
  routed: Schema.Number,
  routed_reasons: Schema.optionalWith(Counts, { exact: true }),
  rejected: Schema.Number,
  counts: Schema.optionalWith(Counts, { exact: true })
})

const exact = { exact: true } as const

const LostUnitSchema: Schema.Schema<LostUnit> = Schema.Struct({
  file: Schema.String,
  row_group: Schema.optionalWith(Schema.Number, exact),
  row_start: Schema.optionalWith(Schema.Number, exact),
  row_end: Schema.optionalWith(Schema.Number, exact),
  rows: Schema.NullOr(Schema.Number),
  unit: Schema.String,
  error: Schema.String
})

const RunStatsSchema: Schema.Schema<RunStats> = Schema.Struct({
  units_done: Schema.Number,
  rows_read: Schema.Number,
  source_rejected: Schema.Number,
  rows_written: Schema.Number,
  sink_dropped: Schema.optionalWith(Counts, exact),
  branch_rows: Counts,
  rejected: Schema.Number,
  stages: Schema.mutable(Schema.Array(StageStatsSchema)),
  profiles: Schema.Struct({ main: ProfileSchema, branches: Schema.Record({ key: Schema.String, value: ProfileSchema }) }),
  lost: Schema.optionalWith(Schema.mutable(Schema.Array(LostUnitSchema)), exact)
})

const MarkerSchema: Schema.Schema<Marker> = Schema.Struct({
  version: Schema.Literal(1),
  seq: Schema.Int.pipe(Schema.nonNegative()),
  unit: Schema.String,
  stats: RunStatsSchema,
  sinks: Schema.Struct({
    main: Schema.Unknown,
    rejects: Schema.Unknown,
    branches: Schema.Record({ key: Schema.String, value: Schema.Unknown })
  }),
  journals: Schema.Record({ key: Schema.String, value: Schema.Int.pipe(Schema.nonNegative()) }),
  usage: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Unknown }), exact)
})

const RunStateSchema: Schema.Schema<RunState> = Schema.Struct({
  fingerprint: Schema.String,
  units: Schema.Array(Schema.String)
})

/** Only what deciding "already complete" reads of a manifest. */
const ManifestHead = Schema.Struct({ fingerprint: Schema.String, status: Schema.String })

// ---- files

const pad = (n: number): string => String(n).padStart(6, "0")

const fail = (reason: string, exitCode: 1 | 2 = 1): RunError => new RunError({ reason, exitCode })

const fsError =
  (what: string) =>
  (e: { readonly message: string }): RunError =>
    fail(`${what}: ${e.message}`)

/** The journal file of stage `i`. */
const journalFile = (state: string, i: number): string => `${state}/journal-${pad(i)}.log`

/** Writes a file under a temporary name and renames it into place. */
export const writeAtomic = (fs: FileSystem.FileSystem, file: string, text: string): Effect.Effect<void, RunError> =>
  Effect.gen(function* () {
    const tmp = `${file}.tmp`
    yield* fs.writeFileString(tmp, text)
    yield* fs.rename(tmp, file)
  }).pipe(Effect.mapError(fsError(`cannot write ${file}`)))

/** Appends text to a file and fsyncs it; returns the bytes appended. */
const appendDurable = (file: string, text: string): Effect.Effect<number, RunError> =>
  Effect.tryPromise({
    try: async () => {
      const { open } = await import("node:fs/promises")
      const bytes = Buffer.from(text, "utf8")
      const handle = await open(file, "a")
      try {
        await handle.write(bytes)
        await handle.sync()
      } finally {
        await handle.close()
      }
      return bytes.length
    },
    catch: (e) => fail(`cannot write ${file}: ${errorText(e)}`)
  })

/** Truncates a journal to its committed length and returns its entries. */
const recoverJournal = (
  fs: FileSystem.FileSystem,
  file: string,
  committed: number
): Effect.Effect<ReadonlyArray<string>, RunError> =>
  Effect.gen(function* () {
    if (committed === 0) {
      yield* fs.remove(file).pipe(Effect.ignore)
      return []
    }
    yield* fs.truncate(file, BigInt(committed)).pipe(Effect.mapError(fsError(`cannot recover ${file}`)))
    const text = yield* fs.readFileString(file).pipe(Effect.mapError(fsError(`cannot recover ${file}`)))
    return text.slice(0, -1).split("\n")
  })

/** A file's text, or undefined when there is none. */
const readText = (fs: FileSystem.FileSystem, file: string): Effect.Effect<string | undefined, RunError> =>
  fs.readFileString(file).pipe(
    Effect.catchIf(
      (e) => e._tag === "SystemError" && e.reason === "NotFound",
      () => Effect.succeed(undefined)
    ),
    Effect.mapError(fsError(`cannot read ${file}`))
  )

/** A state file decoded with its Schema; undefined when absent; a RunError (exit 2) naming the file when it is not what it should be. */
const readState = <A>(
  fs: FileSystem.FileSystem,
  file: string,
  schema: Schema.Schema<A>,
  what: string
): Effect.Effect<A | undefined, RunError> =>
  Effect.gen(function* () {
    const text = yield* readText(fs, file)
    if (text === undefined) return undefined
    const refuse = (why: string) => fail(`${file} is not ${what} (${why}); use --fresh to start over`, 2)
    const json = yield* Effect.try({ try: (): unknown => JSON.parse(text), catch: () => refuse("not valid JSON") })
    // The original key order and any other keys are kept: what a marker holds is written back as it was read.
    const decoded = Schema.decodeUnknownEither(schema, { onExcessProperty: "preserve", propertyOrder: "original" })(json)
    if (Either.isLeft(decoded)) return yield* refuse(ParseResult.TreeFormatter.formatErrorSync(decoded.left))
    return decoded.right
  })

/** The manifest of a complete run of this pipeline in `file`, if there is one (anything else there is redone). */
const completeManifest = (
  fs: FileSystem.FileSystem,
  file: string,
  fingerprint: string
): Effect.Effect<Manifest | undefined, RunError> =>
  Effect.gen(function* () {
    const text = yield* readText(fs, file).pipe(Effect.orElseSucceed(() => undefined))
    if (text === undefined) return undefined
    const manifest = yield* Effect.try((): Manifest => JSON.parse(text)).pipe(Effect.orElseSucceed(() => undefined))
    const head = Schema.decodeUnknownOption(ManifestHead)(manifest)
    return head._tag === "Some" && head.value.fingerprint === fingerprint && head.value.status === "complete" ? manifest : undefined
  })

// ---- the resume decision

/** Where a run's state lives and what it is about to run. */
export interface OpenOptions {
  readonly fs: FileSystem.FileSystem
  /** The shard's state folder (`Runner.stateDir`). */
  readonly state: string
  readonly manifestPath: string
  readonly sinkDir: string
  readonly fingerprint: string
  readonly unitIds: ReadonlyArray<string>
  /** Forget previous state and output of this shard. */
  readonly fresh: boolean
  readonly scrub: Secrets.Scrubber
}

/** How a run starts: nothing left to do, or from the last committed unit (none on a fresh start). */
export type Decision =
  | { readonly _tag: "AlreadyComplete"; readonly manifest: Manifest }
  | { readonly _tag: "Start"; readonly checkpoint: Checkpoint }

/**
 * Decides how a run starts and prepares its state folder. Refuses (exit 2) state of another
 * pipeline, of other work units, or that cannot be decoded.
 */
export const open = (o: OpenOptions): Effect.Effect<Decision, RunError> =>
  Effect.gen(function* () {
    const { fs, state } = o
    if (o.fresh) {
      yield* fs.remove(state, { recursive: true }).pipe(Effect.ignore)
      yield* fs.remove(o.manifestPath).pipe(Effect.ignore)
    }
    const previous = yield* readState(fs, `${state}/run.json`, RunStateSchema, "the run state of a synthline run")
    if (previous !== undefined) {
      yield* sameRun(previous, o)
      const manifest = yield* completeManifest(fs, o.manifestPath, o.fingerprint)
      if (manifest !== undefined) return { _tag: "AlreadyComplete", manifest }
    }
    yield* fs.makeDirectory(`${state}/units`, { recursive: true }).pipe(Effect.mapError(fsError(`cannot create ${state}`)))
    yield* fs.remove(o.manifestPath).pipe(Effect.ignore)
    const names = yield* fs.readDirectory(`${state}/units`).pipe(Effect.orElseSucceed(() => []))
    const marker = yield* lastMarker(fs, state, names, o.unitIds)
    yield* writeAtomic(fs, `${state}/run.json`, JSON.stringify({ fingerprint: o.fingerprint, units: o.unitIds }))
    // Markers past the one we resume from cannot exist (they are written in order), but clean anyway.
    for (const n of names) {
      if (n.endsWith(".tmp")) yield* fs.remove(`${state}/units/${n}`).pipe(Effect.ignore)
    }
    return { _tag: "Start", checkpoint: make(o, marker) }
  })

/** Refuses state written by another pipeline or over other work units. */
const sameRun = (previous: RunState, o: OpenOptions): Effect.Effect<void, RunError> => {
  if (previous.fingerprint !== o.fingerprint) {
    return fail(
      `${o.sinkDir} holds a run of a different pipeline (fingerprint ${previous.fingerprint.slice(0, 12)}, this one ${o.fingerprint.slice(0, 12)}); use --fresh to start over or choose another sink path`,
      2
    )
  }
  if (JSON.stringify(previous.units) !== JSON.stringify(o.unitIds)) {
    return fail(`the input changed since the interrupted run in ${o.sinkDir} (different work units); use --fresh to start over`, 2)
  }
  return Effect.void
}

/** The last completion marker, in processing order. */
const lastMarker = (
  fs: FileSystem.FileSystem,
  state: string,
  names: ReadonlyArray<string>,
  unitIds: ReadonlyArray<string>
): Effect.Effect<Marker | undefined, RunError> =>
  Effect.gen(function* () {
    const last = names.filter((n) => /^\d{6}\.json$/.test(n)).sort().pop()
    if (last === undefined) return undefined
    const marker = yield* readState(fs, `${state}/units/${last}`, MarkerSchema, "a completion marker of a synthline run")
    if (marker !== undefined && unitIds[marker.seq] !== marker.unit) {
      return yield* fail(`completion marker ${last} does not match the planned units; use --fresh`, 2)
    }
    return marker
  })

// ---- committing units

/** What one unit's commit records, besides the journal entries. */
export interface UnitCommit {
  readonly seq: number
  readonly unit: string
  readonly stats: RunStats
  readonly sinks: Marker["sinks"]
  /** Each stage's journal entries of the unit. */
  readonly journals: ReadonlyArray<ReadonlyArray<string>>
  /** Cumulative model usage, read once the journals are durable. */
  readonly usage: () => { readonly [key: string]: unknown }
}

/** The state of a run in progress: where it resumes from, its journals, and the commit of each unit. */
export interface Checkpoint {
  /** The marker of the last committed unit; undefined on a fresh start. */
  readonly marker: Marker | undefined
  /** Units committed before this process started. */
  readonly unitsDone: number
  /** Stage `i`'s journal cut back to its committed length, as entries. */
  readonly recover: (i: number, use: StageUse) => Effect.Effect<ReadonlyArray<string>, RunError>
  /** Appends the unit's journal entries (fsynced), then writes its marker, which makes the unit done. */
  readonly commit: (unit: UnitCommit, stages: ReadonlyArray<StageUse>) => Effect.Effect<void, RunError>
}

const make = (o: OpenOptions, marker: Marker | undefined): Checkpoint => {
  const { fs, state, scrub } = o
  const bytes = new Map<string, number>(Object.entries(marker?.journals ?? {}))
  return {
    marker,
    unitsDone: marker === undefined ? 0 : marker.seq + 1,
    recover: (i, use) => recoverJournal(fs, journalFile(state, i), marker?.journals[use.instanceId] ?? 0),
    commit: (u, stages) =>
      Effect.gen(function* () {
        const journals: { [id: string]: number } = {}
        for (const [i, use] of stages.entries()) {
          const entries = u.journals[i]!
          let n = bytes.get(use.instanceId) ?? 0
          if (entries.length > 0) {
            n += yield* appendDurable(journalFile(state, i), `${entries.join("\n")}\n`)
            bytes.set(use.instanceId, n)
          }
          journals[use.instanceId] = n
        }
        const m: Marker = { version: 1, seq: u.seq, unit: u.unit, stats: u.stats, sinks: u.sinks, journals, usage: u.usage() }
        yield* writeAtomic(fs, `${state}/units/${pad(u.seq)}.json`, scrub.text(JSON.stringify(m)))
      })
  }
}

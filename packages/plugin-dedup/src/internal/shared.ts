/**
 * Helpers shared by the dedup stages: dotted field paths, the dataset option, and the first
 * pass over a whole dataset (the pipeline's own source, or one named by the stage).
 */
import type { FileSystem, Path } from "@effect/platform"
import { StageError } from "@synthline/core/Errors"
import type { Row } from "@synthline/core/Row"
import type { SourceDefinition, WorkUnit } from "@synthline/core/Source"
import * as Source from "@synthline/core/Source"
import { doc, type StageContext } from "@synthline/core/Stage"
import { Chunk, Effect, Schema, Stream } from "effect"

/** The first segment of a dotted path (what a stage `requires`). */
export const top = (path: string): string => path.split(".")[0]!

/** A dotted field path such as `conversation.0.content`. */
export const FieldPath = Schema.String.pipe(Schema.pattern(/^[^.]+(\.[^.]+)*$/))

/** A top-level field name. */
export const FieldName = Schema.String.pipe(
  Schema.filter((s) => (s.length > 0 && !s.includes(".")) || `expected a top-level field name, got ${JSON.stringify(s)}`, {
    jsonSchema: { pattern: "^[^.]+$" }
  })
)

/** A dataset read by a first pass: a core source type and its files. */
export const DatasetRef = Schema.Struct({
  type: Schema.Literal("jsonl", "parquet").pipe(doc("Source type of the dataset.")),
  path: Source.InputPaths.pipe(doc("Files or globs of the dataset, relative to the pipeline file's folder."))
})

/** A dataset read by a first pass, decoded. */
export type DatasetRef = typeof DatasetRef.Type

/** The dataset a first pass reads: a source definition, its decoded config, and a name for errors. */
export interface Dataset {
  // biome-ignore lint/suspicious/noExplicitAny: any source's config
  readonly def: SourceDefinition<any>
  readonly config: unknown
  readonly name: string
}

/**
 * The dataset of a first pass: `from` when set, else the pipeline's own source, planned whole
 * (a shard of a sharded run reads every unit too, so every shard sees the same dataset).
 */
export const datasetOf = (ctx: StageContext, from: DatasetRef | undefined, what: string): Effect.Effect<Dataset, StageError> => {
  if (from?.type === "jsonl") {
    const config = Schema.decodeUnknownSync(Source.jsonl.config)({ path: from.path, validate: "none" })
    return Effect.succeed({ def: Source.jsonl, config, name: what })
  }
  if (from?.type === "parquet") {
    const config = Schema.decodeUnknownSync(Source.parquet.config)({ path: from.path, validate: "none" })
    return Effect.succeed({ def: Source.parquet, config, name: what })
  }
  if (ctx.source !== undefined) return Effect.succeed({ def: ctx.source.def, config: ctx.source.config, name: `source ${ctx.source.def.type}` })
  return Effect.fail(
    new StageError({
      stage: ctx.stageId,
      reason: `${what} is unset and there is no pipeline source to read here (outside a pipeline run): set ${what}`
    })
  )
}

/** The work units of a first pass's dataset, in plan order. */
export const planDataset = (
  ctx: StageContext,
  dataset: Dataset,
  columns: ReadonlyArray<string>
): Effect.Effect<ReadonlyArray<WorkUnit>, StageError, FileSystem.FileSystem | Path.Path> =>
  dataset.def
    .plan(dataset.config, { baseDir: ctx.baseDir, columns })
    .pipe(Effect.mapError((e) => new StageError({ stage: ctx.stageId, reason: `${dataset.name}: ${e.message}` })))

/**
 * Reads `units` of a first pass's dataset in order, each chunk of rows given to `each`, and
 * `unitDone` after each unit. Rows the source cannot decode are skipped here (the pipeline
 * rejects them in its own pass).
 */
export const readUnits = (
  ctx: StageContext,
  dataset: Dataset,
  units: ReadonlyArray<WorkUnit>,
  columns: ReadonlyArray<string>,
  each: (rows: ReadonlyArray<Row>) => void,
  unitDone: () => void = () => undefined
): Effect.Effect<void, StageError, FileSystem.FileSystem | Path.Path> => {
  const io = { reject: () => undefined }
  const env = { baseDir: ctx.baseDir, columns }
  return Effect.forEach(
    units,
    (unit) =>
      dataset.def.read(unit, dataset.config, io, env).pipe(
        Stream.runForEachChunk((c) => Effect.sync(() => each(Chunk.toReadonlyArray(c)))),
        Effect.tap(() => Effect.sync(unitDone)),
        Effect.mapError((e: { readonly message: string }) => new StageError({ stage: ctx.stageId, reason: `${dataset.name}: ${e.message}` }))
      ),
    { discard: true }
  )
}

/**
 * The first pass: every unit of a dataset (see {@link datasetOf}), in plan order, each chunk of
 * rows given to `each`.
 */
export const firstPass = (
  ctx: StageContext,
  from: DatasetRef | undefined,
  columns: ReadonlyArray<string>,
  what: string,
  each: (rows: ReadonlyArray<Row>) => void
): Effect.Effect<void, StageError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const dataset = yield* datasetOf(ctx, from, what)
    const units = yield* planDataset(ctx, dataset, columns)
    yield* readUnits(ctx, dataset, units, columns, each)
  })

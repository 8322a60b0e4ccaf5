/**
 * Helpers shared by the dedup stages: dotted field paths, the dataset option, and the first
 * pass over a whole dataset (the pipeline's own source, or one named by the stage).
 */
import type { FileSystem, Path } from "@effect/platform"
import { StageError } from "@synthline/core/Errors"
import type { Row } from "@synthline/core/Row"
import type { SourceDefinition, SourceEnv } from "@synthline/core/Source"
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

/**
 * The first pass: every unit of a dataset, in plan order, each chunk of rows given to `each`.
 * The dataset is `from` when set, else the pipeline's own source, planned whole (a shard of a
 * sharded run reads every unit too, so every shard sees the same dataset). Rows the source
 * cannot decode are skipped here (the pipeline rejects them in its own pass).
 */
export const firstPass = (
  ctx: StageContext,
  from: DatasetRef | undefined,
  columns: ReadonlyArray<string>,
  what: string,
  each: (rows: ReadonlyArray<Row>) => void
): Effect.Effect<void, StageError, FileSystem.FileSystem | Path.Path> => {
  const io = { reject: () => undefined }
  const all = <C>(source: SourceDefinition<C>, sc: C, env: SourceEnv, name: string) => {
    const fail = (e: { readonly message: string }) => new StageError({ stage: ctx.stageId, reason: `${name}: ${e.message}` })
    return Effect.gen(function* () {
      const units = yield* source.plan(sc, env).pipe(Effect.mapError(fail))
      for (const unit of units) {
        yield* source.read(unit, sc, io, env).pipe(
          Stream.runForEachChunk((c) => Effect.sync(() => each(Chunk.toReadonlyArray(c)))),
          Effect.mapError(fail)
        )
      }
    })
  }
  const env = { baseDir: ctx.baseDir, columns }
  if (from?.type === "jsonl") {
    const sc = Schema.decodeUnknownSync(Source.jsonl.config)({ path: from.path, validate: "none" })
    return all(Source.jsonl, sc, env, what)
  }
  if (from?.type === "parquet") {
    const sc = Schema.decodeUnknownSync(Source.parquet.config)({ path: from.path, validate: "none" })
    return all(Source.parquet, sc, env, what)
  }
  if (ctx.source !== undefined) return all(ctx.source.def, ctx.source.config, env, `source ${ctx.source.def.type}`)
  return Effect.fail(
    new StageError({
      stage: ctx.stageId,
      reason: `${what} is unset and there is no pipeline source to read here (outside a pipeline run): set ${what}`
    })
  )
}

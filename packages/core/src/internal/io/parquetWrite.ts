/**
 * Converting a parquet sink's spool (the part's rows as JSON lines) into a parquet file with
 * hyparquet-writer: a first pass over the spool infers the schema, a second writes one row group
 * of `rowGroupRows` rows at a time (snappy), so memory stays bounded by one row group.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { Effect, Stream } from "effect"
import { ByteWriter, ParquetWriter } from "hyparquet-writer"
import { errorText, SinkError } from "../../Errors.js"
import { isRecord } from "../../Row.js"
import { type LineEvent, LineSplitter } from "./lines.js"
import { columnValues, type InferredSchema, SchemaBuilder } from "./parquetSchema.js"

type JsonRow = { readonly [key: string]: unknown }

/** Streams the rows of a spool, a chunk of rows at a time. */
const spoolRows = (
  spool: string,
  onRows: (rows: ReadonlyArray<JsonRow>) => Effect.Effect<void, SinkError>
): Effect.Effect<void, SinkError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const splitter = new LineSplitter(Number.MAX_SAFE_INTEGER)
    const events: Array<LineEvent> = []
    const parse = (): Effect.Effect<void, SinkError> => {
      const rows: Array<JsonRow> = []
      for (const ev of events) {
        if (ev._tag !== "Text") return Effect.fail(new SinkError({ path: spool, reason: `unreadable spool line ${ev.line}` }))
        let value: unknown
        try {
          value = JSON.parse(ev.text)
        } catch (e) {
          return Effect.fail(new SinkError({ path: spool, reason: `spool line ${ev.line}: ${errorText(e)}` }))
        }
        if (!isRecord(value)) return Effect.fail(new SinkError({ path: spool, reason: `spool line ${ev.line} is not an object` }))
        rows.push(value)
      }
      events.length = 0
      return rows.length === 0 ? Effect.void : onRows(rows)
    }
    yield* fs.stream(spool, { chunkSize: 1024 * 1024 }).pipe(
      Stream.mapError((e) => new SinkError({ path: spool, reason: e.message })),
      Stream.runForEach((chunk) =>
        Effect.suspend(() => {
          splitter.push(chunk, events)
          return parse()
        })
      )
    )
    splitter.end(events)
    yield* parse()
  })

/** Writes the rows of `spool` as a parquet file at `target` (created or overwritten) and fsyncs it. */
export const spoolToParquet = (
  spool: string,
  target: string,
  rowGroupRows: number
): Effect.Effect<void, SinkError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const builder = new SchemaBuilder()
    yield* spoolRows(spool, (rows) =>
      Effect.sync(() => {
        for (const r of rows) builder.add(r)
      })
    )
    const inferred: InferredSchema | undefined = builder.build()
    if (inferred === undefined) {
      return yield* new SinkError({ path: target, reason: "rows have no fields; a parquet file needs at least one column" })
    }
    const file = yield* fs.open(target, { flag: "w" }).pipe(Effect.mapError((e) => new SinkError({ path: target, reason: e.message })))
    const bytes = new ByteWriter(1 << 20)
    const pq = yield* Effect.try({
      try: () => new ParquetWriter({ writer: bytes, schema: inferred.schema, createdBy: "synthline" }),
      catch: (e) => new SinkError({ path: target, reason: `cannot start parquet file: ${errorText(e)}` })
    })
    const drain = Effect.suspend(() => {
      const out = bytes.getBytes().slice()
      bytes.index = 0
      return file.writeAll(out)
    }).pipe(Effect.mapError((e) => new SinkError({ path: target, reason: e.message })))
    const writeGroup = (rows: ReadonlyArray<JsonRow>) =>
      Effect.try({
        try: () => {
          pq.write({
            columnData: inferred.columns.map(([name, plan]) => ({ name, data: columnValues(name, plan, rows) })),
            rowGroupSize: rows.length
          })
        },
        catch: (e) => new SinkError({ path: target, reason: `cannot encode parquet row group: ${errorText(e)}` })
      }).pipe(Effect.zipRight(drain))
    let batch: Array<JsonRow> = []
    yield* spoolRows(spool, (rows) =>
      Effect.gen(function* () {
        for (const r of rows) {
          batch.push(r)
          if (batch.length === rowGroupRows) {
            const full = batch
            batch = []
            yield* writeGroup(full)
          }
        }
      })
    )
    if (batch.length > 0) yield* writeGroup(batch)
    yield* Effect.try({
      try: () => pq.finish(),
      catch: (e) => new SinkError({ path: target, reason: `cannot finish parquet file: ${errorText(e)}` })
    })
    yield* drain
    yield* file.sync.pipe(Effect.mapError((e) => new SinkError({ path: target, reason: e.message })))
  }).pipe(Effect.scoped)

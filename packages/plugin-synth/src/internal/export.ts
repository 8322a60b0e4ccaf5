/**
 * The writer of the export sinks (`sft`, `dpo`): core's `jsonl` sink (part files, gzip, rotation,
 * temporary names, commit checkpoints, byte-identical resume, a plugin's part encoder) with each
 * row turned into the sink's record before it is written; rows without a record are left out.
 */
import { SinkError } from "@synthline/core/Errors"
import type { Row } from "@synthline/core/Row"
import * as Sink from "@synthline/core/Sink"
import { Chunk, Effect } from "effect"

/** Opens the jsonl writer of an export sink whose records `records` makes. */
export const openRecords = (
  type: string,
  config: Sink.JsonlConfig,
  options: Sink.SinkOpenOptions,
  records: (row: Row) => Row | undefined | string
) =>
  Effect.map(
    Sink.jsonl.open(
      {
        path: config.path,
        compression: config.compression,
        gzip_level: config.gzip_level,
        shard_rows: config.shard_rows
      },
      // Released exports are encrypted like the dataset: the encoder of `encrypt:` is in `options`.
      options
    ),
    (writer): Sink.SinkWriter => ({
      ...writer,
      write: (rows) =>
        Effect.suspend(() => {
          const out: Array<Row> = []
          for (const row of rows) {
            const r = records(row)
            if (typeof r === "string") {
              const id = typeof row.conversation_id === "string" ? ` (conversation_id ${row.conversation_id})` : ""
              return Effect.fail(new SinkError({ path: options.dir, reason: `${type} sink: ${r}${id}` }))
            }
            if (r !== undefined) out.push(r)
          }
          return out.length === 0 ? Effect.void : writer.write(Chunk.unsafeFromArray(out))
        })
    })
  )

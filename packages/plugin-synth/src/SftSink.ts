/**
 * The `sft` sink: supervised fine-tuning files, one `{"messages":[{"role":"user",...},
 * {"role":"assistant",...}]}` object per line. It is core's `jsonl` sink (part files, gzip,
 * rotation every `shard_rows`, temporary names, commit checkpoints, byte-identical resume) with
 * each row turned into its messages before it is written. The user turn comes from `user`
 * (default `translated_conversation.0.content`), the answer from `assistant` (default
 * `best_response.content`, written by `synth/select-best`); with `multiturn`, rows holding a
 * `synthesized_multiturn_conversation` write that conversation instead. `encrypt: source-key`
 * (with `source_key_from`) encrypts finished parts with the release key, as the `jsonl` sink does.
 */
import { SinkError } from "@synthline/core/Errors"
import type { Row } from "@synthline/core/Row"
import * as Sink from "@synthline/core/Sink"
import * as Sinks from "@synthline/core/Sinks"
import { Chunk, Effect, Schema } from "effect"
import { doc, stringAt } from "./internal/shared.js"

const sftFields = {
  ...Sinks.JsonlConfig.fields,
  compression: Schema.optionalWith(
    Schema.Literal("gzip", "none").annotations(doc("gzip writes .jsonl.gz parts; none (the default here) writes .jsonl.")),
    { default: () => "none" as const }),
  user: Schema.optionalWith(Schema.String.annotations(doc("Dotted path of the user turn.")), {
    default: () => "translated_conversation.0.content"
  }),
  assistant: Schema.optionalWith(Schema.String.annotations(doc("Dotted path of the assistant turn.")), {
    default: () => "best_response.content"
  }),
  system: Schema.optional(Schema.String.annotations(doc("A system message put first in every conversation."))),
  multiturn: Schema.optionalWith(
    Schema.Boolean.annotations(doc("Write synthesized_multiturn_conversation instead when a row has one.")),
    { default: () => false }
  )
}

/**
 * Options of the `sft` sink: core `jsonl` options (compression default `none`; `encrypt`,
 * `source_key_from`) plus `user`, `assistant`, `system`, `multiturn`.
 */
export const SftConfig: Schema.Struct<typeof sftFields> = Schema.Struct(sftFields)

/** Decoded options of the `sft` sink. */
export type SftConfig = typeof SftConfig.Type

const isMessages = Schema.is(Schema.Array(Schema.Struct({ role: Schema.String, content: Schema.String })))

/** The `{ messages }` object of a row, or a string saying what is missing. */
export const toMessages = (row: Row, config: SftConfig): { readonly messages: ReadonlyArray<{ role: string; content: string }> } | string => {
  const head = config.system !== undefined ? [{ role: "system", content: config.system }] : []
  const multi = row.synthesized_multiturn_conversation
  if (config.multiturn && isMessages(multi)) return { messages: [...head, ...multi] }
  const user = stringAt(row, config.user)
  if (user === undefined) return `field ${config.user} is not a string`
  const assistant = stringAt(row, config.assistant)
  if (assistant === undefined) return `field ${config.assistant} is not a string`
  return { messages: [...head, { role: "user", content: user }, { role: "assistant", content: assistant }] }
}

/** The `sft` sink. */
export const sft: Sink.SinkDefinition<SftConfig> = Sink.make<SftConfig>({
  type: "sft",
  description: 'SFT JSON lines: {"messages":[user, assistant]} per row (from select-best), rotated and resumable like jsonl',
  config: SftConfig,
  open: (config, options) =>
    Effect.map(
      Sinks.jsonl.open(
        {
          path: config.path,
          compression: config.compression,
          gzip_level: config.gzip_level,
          shard_rows: config.shard_rows,
          // Released SFT files are encrypted like the dataset: `encrypt: source-key`.
          ...(config.encrypt !== undefined ? { encrypt: config.encrypt } : {}),
          ...(config.source_key_from !== undefined ? { source_key_from: config.source_key_from } : {})
        },
        options
      ),
      (writer): Sink.SinkWriter => ({
        ...writer,
        write: (rows) =>
          Effect.suspend(() => {
            const out: Array<Row> = []
            for (const row of rows) {
              const m = toMessages(row, config)
              if (typeof m === "string") {
                return Effect.fail(new SinkError({ path: options.dir, reason: `sft sink: ${m}` }))
              }
              out.push(m)
            }
            return writer.write(Chunk.unsafeFromArray(out))
          })
      })
    )
})

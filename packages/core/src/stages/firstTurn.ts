/** `core/first-turn`: keeps the first user message (and, if asked, its answer) with the matching moderation entries. */
import { Effect, Schema } from "effect"
import { doc, make, mapChunks } from "../internal/stage.js"
import { isRecord as isObj, type Row } from "../Row.js"
import type { Stage } from "../Stage.js"
import { isArray, rejectField } from "./shared.js"

const FirstTurnConfigSchema = Schema.Struct({
  with_answer: Schema.optionalWith(
    Schema.Boolean.pipe(doc("Also keep the assistant answer that immediately follows the first user message.")),
    { exact: true, default: () => false }
  )
})

/** Options of `core/first-turn`, decoded. */
export type FirstTurnConfig = typeof FirstTurnConfigSchema.Type
/** Options of `core/first-turn`, as written in a pipeline file. */
export type FirstTurnOptions = typeof FirstTurnConfigSchema.Encoded

/**
 * `core/first-turn`: cuts `conversation` down to its first user message (plus, with
 * `with_answer`, the assistant message right after it when there is one), keeps
 * `openai_moderation` aligned with the kept messages and sets `turn` to 1. Rows without a
 * user message are dropped (`no-user-turn`).
 */
export const firstTurn: Stage<FirstTurnConfig, Row, Row, never, FirstTurnOptions> = make({
  id: "core/first-turn",
  description: "Keep only the first user message (and optionally its answer) of each conversation.",
  config: FirstTurnConfigSchema,
  requires: ["conversation"],
  // Trimmed to the kept messages, and checked against them, when the row has it.
  reads: ["openai_moderation"],
  provides: ["conversation", "openai_moderation", "turn"],
  make: (config, ctx) =>
    Effect.succeed(
      mapChunks<Row, Row>((row) => {
        const conversation = row.conversation
        if (!isArray(conversation)) {
          return rejectField(ctx, row, "conversation", "an array of {role, content} messages")
        }
        let user = -1
        for (let i = 0; i < conversation.length; i++) {
          const m = conversation[i]
          if (!isObj(m) || typeof m.role !== "string") {
            return rejectField(ctx, row, `conversation.${i}`, "a {role, content} message")
          }
          if (m.role === "user") {
            user = i
            break
          }
        }
        if (user < 0) return void ctx.drop(row, "no-user-turn")
        let answer = -1
        if (config.with_answer && user + 1 < conversation.length) {
          const m = conversation[user + 1]
          if (!isObj(m) || typeof m.role !== "string") {
            return rejectField(ctx, row, `conversation.${user + 1}`, "a {role, content} message")
          }
          if (m.role === "assistant") answer = user + 1
        }
        const kept = answer >= 0 ? [conversation[user], conversation[answer]] : [conversation[user]]
        const moderation = row.openai_moderation
        if (moderation === undefined || moderation === null) return { ...row, conversation: kept, turn: 1 }
        if (!isArray(moderation)) return rejectField(ctx, row, "openai_moderation", "an array")
        if (moderation.length !== conversation.length) {
          ctx.reject(
            row,
            `field \`openai_moderation\` has ${moderation.length} entries but \`conversation\` has ${conversation.length} messages; expected one entry per message`
          )
          return undefined
        }
        return {
          ...row,
          conversation: kept,
          openai_moderation: answer >= 0 ? [moderation[user], moderation[answer]] : [moderation[user]],
          turn: 1
        }
      })
    )
})

/**
 * `synth/multiturn`: `synthesized_multiturn_conversation` — from the first exchange (the
 * instruction and the chosen answer, default `best_response.content`), a model writes a
 * plausible second user turn, answers it, and a judge scores the second answer 1–10 (score read
 * as in `synth/judge`). The four-message conversation is kept when the score is at least
 * `min_score` (default 9); otherwise, or when a call fails or a turn is cut off, the field is
 * null (the row itself is kept).
 */
import type { Row } from "@synthline/core/Row"
import { doc, make, type Stage } from "@synthline/core/Stage"
import type { Message } from "@synthline/llm/Chat"
import type { Model, Models } from "@synthline/llm/Models"
import * as ModelStage from "@synthline/llm/ModelStage"
import * as Seed from "@synthline/llm/Seed"
import * as Template from "@synthline/llm/Template"
import { Effect, Schema } from "effect"
import { MultiturnConversation } from "./Fields.js"
import { keyOf, type Rejected, stringAt, top } from "./internal/shared.js"
import { parseScore } from "./Judge.js"

/** The shipped prompt that writes the second user turn. */
export const defaultFollowUpPrompt: string = `Here is the start of a conversation between a user and an AI assistant.

[User]
{{instruction}}

[Assistant]
{{response}}

Write the user's next message: a natural follow-up question or request that builds on the assistant's answer, in the same language as the user's first message. Output only that message.`

/** The shipped prompt that judges the second answer (1–10, `[[x]]`). */
export const defaultMultiturnJudgePrompt: string = `Below is a two-turn conversation between a user and an AI assistant.

[User]
{{instruction}}

[Assistant]
{{response}}

[User]
{{follow_up}}

[Assistant]
{{answer}}

Evaluate the assistant's second answer: does it follow up coherently on the conversation, is it helpful, correct and in the user's language? Explain briefly, then rate it from 1 to 10 strictly in this format: "[[rating]]".`

const MultiturnConfigSchema = Schema.Struct({
  model: Schema.String.pipe(doc("Model (from models) that writes the second user turn and its answer.")),
  judge_model: Schema.optional(Schema.String.pipe(doc("Judge model (default: model)."))),
  instruction: Schema.optionalWith(Schema.String.pipe(doc("Dotted path of the first user instruction.")), { default: () => "translated_conversation.0.content" }),
  response: Schema.optionalWith(Schema.String.pipe(doc("Dotted path of the first answer.")), {
    default: () => "best_response.content"
  }),
  output: Schema.optionalWith(Schema.String.pipe(doc("Field that receives the four messages, or null when the judge scored below min_score.")), { default: () => "synthesized_multiturn_conversation" }),
  min_score: Schema.optionalWith(Schema.Number.pipe(doc("Keep the conversation when the judge's score is at least this.")), {
    default: () => 9
  }),
  follow_up_prompt: Schema.optionalWith(
    Schema.String.pipe(doc("Prompt that asks model for the second user turn, with {{instruction}} and {{response}}.")),
    { default: () => defaultFollowUpPrompt }),
  judge_prompt: Schema.optionalWith(
    Schema.String.pipe(doc("Prompt that asks judge_model to rate the second answer 1–10 as [[rating]], with {{instruction}}, {{response}}, {{follow_up}} and {{answer}}.")),
    { default: () => defaultMultiturnJudgePrompt }),
  temperature: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 2), doc("Sampling temperature of the second turn and its answer.")), { default: () => 0.6 }),
  top_p: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 1), doc("Nucleus sampling mass.")), { default: () => 1.0 }),
  max_tokens: Schema.optionalWith(Schema.Int.pipe(Schema.positive(), doc("Most tokens in one answer.")), { default: () => 4096 })
})

/** Options of `synth/multiturn`. */
export type MultiturnConfig = typeof MultiturnConfigSchema.Type

/** `synth/multiturn` */
export const multiturn: Stage<MultiturnConfig, Row, Row, Models, typeof MultiturnConfigSchema.Encoded> = make({
  id: "synth/multiturn",
  description: "Synthesizes a second user turn and its answer, judged 1–10, kept at or above min_score (synthesized_multiturn_conversation).",
  config: MultiturnConfigSchema,
  requires: (c) => [top(c.instruction), top(c.response)],
  provides: (c) => [c.output],
  fields: (c) => ({ [c.output]: MultiturnConversation }),
  make: (config, ctx) =>
    ModelStage.make(ctx, [config.model, config.judge_model ?? config.model], ([model, judgeModel]) => {
      const followUp = Template.parse(config.follow_up_prompt)
      const judgePrompt = Template.parse(config.judge_prompt)
      const render = (t: Template.Template, fill: { [k: string]: string }): string => {
        const r = t.render(fill)
        return "text" in r ? r.text : t.source
      }

      const one = (row: Row): Effect.Effect<Row | Rejected> => {
        const instruction = stringAt(row, config.instruction)
        const response = stringAt(row, config.response)
        const none: Row = { ...row, [config.output]: null }
        if (instruction === undefined || response === undefined || instruction.trim() === "") return Effect.succeed(none)
        const key = keyOf(row, instruction)
        const ask = (m: Model, messages: ReadonlyArray<Message>, i: number, temperature: number) =>
          m
            .complete(
              { messages, temperature, top_p: config.top_p, max_tokens: config.max_tokens, seed: Seed.forRequest(ctx.seed, ctx.stageId, key, i) },
              { sampleIndex: i }
            )
            .pipe(Effect.flatMap((c) => (c.finish_reason === "length" || c.content.trim() === "" ? Effect.fail("cut") : Effect.succeed(c.content.trim()))))
        return Effect.gen(function* () {
          const follow = yield* ask(model, [{ role: "user", content: render(followUp, { instruction, response }) }], 0, config.temperature)
          const conversation: ReadonlyArray<Message> = [
            { role: "user", content: instruction },
            { role: "assistant", content: response },
            { role: "user", content: follow }
          ]
          const answer = yield* ask(model, conversation, 1, config.temperature)
          const judgement = yield* ask(
            judgeModel,
            [{ role: "user", content: render(judgePrompt, { instruction, response, follow_up: follow, answer }) }],
            2,
            0
          )
          const score = parseScore(judgement)
          return score >= config.min_score ? { ...row, [config.output]: [...conversation, { role: "assistant", content: answer }] } : none
        }).pipe(Effect.catchAll(() => Effect.succeed(none)))
      }
      return one
    })
})

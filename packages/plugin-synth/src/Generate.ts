/**
 * `synth/generate`: asks a model from the `models` section for `n` answers to each row's
 * instruction (default `translated_conversation.0.content`) and writes them to
 * `synthesized_assistant_responses` (`[{ role: "assistant", content }]`) with the model's name
 * in `synthesis_model`. Defaults follow the published recipe: temperature 0.6, top_p 1.0,
 * max_tokens 4096. An answer that failed after retries (or was cut off, unless `on_length:
 * keep`) is left out, so a row may hold fewer than `n`; a row with none goes to rejects. Rows
 * flagged empty or duplicate (by earlier stages) are passed through without a call. The
 * completion tokens of each kept answer go to the side field `synthesized_response_token_lengths`
 * for `synth/judge`'s `response_token_length`; the judge removes it. With `on_length: keep`, each
 * kept answer's `finish_reason` goes to the side field `synthesized_response_finish_reasons`
 * (for `synth/check-answers`' `truncated` check; the judge removes it too). A model with
 * `choices_per_request: k` gets the `n` answers in requests of `k` choices each (`n` in the body)
 * instead of `n` requests; its per-answer token counts are shares of each request's total.
 */
import type { Row } from "@synthline/core/Row"
import { doc, make, type Stage } from "@synthline/core/Stage"
import type { ChatRequest, Message } from "@synthline/llm/Chat"
import { reasonOf } from "@synthline/llm/Complete"
import type { Models } from "@synthline/llm/Models"
import * as ModelStage from "@synthline/llm/ModelStage"
import * as Seed from "@synthline/llm/Seed"
import { Either, Schema } from "effect"
import { finishReasonsField, SynthesizedAssistantResponses, tokenLengthsField } from "./Fields.js"
import { extraOption, keyOf, Rejected, seedOption, stringAt, top } from "./internal/shared.js"

const GenerateConfigSchema = Schema.Struct({
  model: Schema.String.pipe(doc("A model name from the models section.")),
  n: Schema.optionalWith(
    Schema.Int.pipe(
      Schema.between(1, 64),
      doc("Answers per instruction: n requests, or n / choices_per_request when the model sets choices_per_request (one request asks for several).")
    ),
    {
    default: () => 1
  }),
  instruction: Schema.optionalWith(Schema.String.pipe(doc("Dotted path of the instruction text.")), {
    default: () => "translated_conversation.0.content"
  }),
  system: Schema.optional(Schema.String.pipe(doc("System prompt sent before the instruction."))),
  skip_if: Schema.optionalWith(
    Schema.Array(Schema.String).pipe(
      doc("Fields that, when truthy (true or a non-empty string), mean no generation: the row passes with an empty list.")
    ),
    { default: () => ["empty_user_instruction_ja", "duplicate_user_instruction_ja"] }
  ),
  output: Schema.optionalWith(Schema.String.pipe(doc("Field the answers are written to.")), {
    default: () => "synthesized_assistant_responses"
  }),
  model_field: Schema.optionalWith(Schema.String.pipe(doc("Field that records the model name.")), {
    default: () => "synthesis_model"
  }),
  temperature: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 2), doc("Sampling temperature (the recipe: 0.6).")), { default: () => 0.6 }),
  top_p: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 1), doc("Nucleus sampling mass (the recipe: 1.0).")), { default: () => 1.0 }),
  max_tokens: Schema.optionalWith(Schema.Int.pipe(Schema.positive(), doc("Most tokens in one answer (the recipe: 4096).")), { default: () => 4096 }),
  on_length: Schema.optionalWith(
    Schema.Literal("drop-answer", "keep").pipe(doc("An answer cut off by max_tokens: leave it out, or keep it.")),
    { default: () => "drop-answer" as const }
  ),
  seed: seedOption,
  extra: extraOption("Extra request body fields for this stage (merged over the model's extra_body), e.g. { top_k: 64 }.")
})

/** Options of `synth/generate`. */
export type GenerateConfig = typeof GenerateConfigSchema.Type

/** True when a flag field holds `true` or a non-empty string. */
export const isFlagged = (row: Row, fields: ReadonlyArray<string>): boolean =>
  fields.some((f) => {
    const v = row[f]
    return v === true || (typeof v === "string" && v !== "")
  })

/** `synth/generate` */
export const generate: Stage<GenerateConfig, Row, Row, Models, typeof GenerateConfigSchema.Encoded> = make({
  id: "synth/generate",
  description: "n answers per instruction from a model (temperature 0.6, top_p 1.0, max_tokens 4096 by default); failed answers left out.",
  config: GenerateConfigSchema,
  requires: (c) => [top(c.instruction)],
  provides: (c) => (c.on_length === "keep" ? [c.output, c.model_field, tokenLengthsField, finishReasonsField] : [c.output, c.model_field, tokenLengthsField]),
  fields: (c) => ({ [c.output]: SynthesizedAssistantResponses, [c.model_field]: Schema.String }),
  make: (config, ctx) =>
    ModelStage.make(ctx, [config.model], ([model]) => {
      const keepLength = config.on_length === "keep"
      const indices = Array.from({ length: config.n }, (_, i) => i)
      const one = (row: Row): ModelStage.Pending => {
        if (isFlagged(row, config.skip_if)) {
          const skipped = { ...row, [config.output]: [], [config.model_field]: model.model, [tokenLengthsField]: [] }
          return keepLength ? { ...skipped, [finishReasonsField]: [] } : skipped
        }
        const text = stringAt(row, config.instruction)
        if (text === undefined) return new Rejected(row, `field ${config.instruction} is not a string`)
        const messages: Array<Message> = []
        if (config.system !== undefined) messages.push({ role: "system", content: config.system })
        messages.push({ role: "user", content: text })
        const base: ChatRequest = {
          messages,
          temperature: config.temperature,
          top_p: config.top_p,
          max_tokens: config.max_tokens,
          extra: config.extra
        }
        const key = keyOf(row, text)
        const seedOf = config.seed ? (i: number) => Seed.forRequest(ctx.seed, ctx.stageId, key, i) : undefined
        // With the model's choices_per_request, several answers come from one request (n).
        const asked =
          model.choicesPerRequest > 1 && config.n > 1
            ? model.prepareChoices(base, indices, seedOf)
            : ModelStage.ask(
                model,
                indices.map((i) => ({ request: seedOf !== undefined ? { ...base, seed: seedOf(i) } : base, options: { sampleIndex: i } }))
              )
        return ModelStage.map(asked, (answers): Row | Rejected => {
          const kept: Array<{ readonly content: string; readonly tokens: number; readonly finish: string | null }> = []
          let error: string | undefined
          for (const a of answers) {
            if (Either.isLeft(a)) error ??= reasonOf(a.left)
            else if (a.right.finish_reason === "length" && config.on_length === "drop-answer") error ??= "an answer was cut off at max_tokens"
            else kept.push({ content: a.right.content, tokens: a.right.usage.completion_tokens, finish: a.right.finish_reason })
          }
          if (kept.length === 0) return new Rejected(row, error ?? "no answer")
          const out = {
            ...row,
            [config.output]: kept.map((r) => ({ role: "assistant", content: r.content })),
            [config.model_field]: model.model,
            [tokenLengthsField]: kept.map((r) => r.tokens)
          }
          return keepLength ? { ...out, [finishReasonsField]: kept.map((r) => r.finish) } : out
        })
      }
      return one
    })
})

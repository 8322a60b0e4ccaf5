/**
 * `llm/complete`: renders a prompt template (system + user, `{{field.path}}` placeholders from
 * the row), asks a model from the `models` section, and writes the answer text (or the parsed
 * JSON, with `json`/`json_schema`) to a named field; `n` samples per row. Rows whose call fails
 * after retries, whose template misses a field, or whose answer is cut off or unparsable go to
 * rejects with the reason. Output order equals input order, so reruns are byte-identical.
 */
import type { Row } from "@synthline/core/Row"
import { doc, make, type Stage } from "@synthline/core/Stage"
import { Either, Schema } from "effect"
import { type Completion, type Message, preview } from "./Chat.js"
import type { LlmRequestError } from "./Errors.js"
import type { Models } from "./Models.js"
import * as ModelStage from "./ModelStage.js"
import * as Seed from "./Seed.js"
import * as Template from "./Template.js"

/** Sampling options shared by the stages that call models. */
export const SamplingFields = {
  temperature: Schema.optional(Schema.Number.pipe(Schema.between(0, 2), doc("Sampling temperature (server default when unset)."))),
  top_p: Schema.optional(Schema.Number.pipe(Schema.between(0, 1), doc("Nucleus sampling mass."))),
  max_tokens: Schema.optional(Schema.Int.pipe(Schema.positive(), doc("Most tokens in one answer."))),
  stop: Schema.optional(Schema.Array(Schema.String).pipe(doc("Stop sequences."))),
  seed: Schema.optionalWith(
    Schema.Boolean.pipe(doc("Send a per-request seed derived from (pipeline seed, stage id, conversation_id, sample index).")),
    { default: () => true }
  ),
  extra: Schema.optionalWith(
    Schema.Record({ key: Schema.String, value: Schema.Unknown }).pipe(doc("Extra request body fields for this stage (merged over the model's extra_body).")),
    { default: () => ({}) }
  )
}

const CompleteConfigSchema = Schema.Struct({
  model: Schema.String.pipe(doc("A model name from the models section.")),
  system: Schema.optional(Schema.String.pipe(doc("System prompt template."))),
  user: Schema.String.pipe(doc("User prompt template, with {{field.path}} placeholders from the row.")),
  output: Schema.optionalWith(Schema.String.pipe(doc("Field the answer is written to.")), {
    default: () => "completion"
  }),
  n: Schema.optionalWith(
    Schema.Int.pipe(Schema.between(1, 64), doc("Answers per row; with n > 1 the field holds a list of the answers that succeeded.")),
    { default: () => 1 }
  ),
  json: Schema.optionalWith(Schema.Boolean.pipe(doc("Ask for a JSON object (response_format json_object) and store it parsed.")), {
    default: () => false
  }),
  json_schema: Schema.optional(
    Schema.Record({ key: Schema.String, value: Schema.Unknown }).pipe(
      doc("Ask for JSON following this JSON Schema (response_format json_schema, strict) and store it parsed.")
    )
  ),
  on_length: Schema.optionalWith(
    Schema.Literal("reject", "keep").pipe(doc("An answer cut off by max_tokens (finish_reason length): reject the row, or keep the text.")),
    { default: () => "reject" as const }
  ),
  ...SamplingFields
})

/** Options of `llm/complete`. */
export type CompleteConfig = typeof CompleteConfigSchema.Type

/** One sample's answer as the stage keeps it, or why not. */
type SampleResult = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: string }

/** The `response_format` a config asks for, if any. */
const responseFormat = (config: CompleteConfig): unknown =>
  config.json_schema !== undefined
    ? { type: "json_schema", json_schema: { name: "output", schema: config.json_schema, strict: true } }
    : config.json
      ? { type: "json_object" }
      : undefined

/** The conversation id a row's seed derives from (`conversation_id`, else the rendered prompt). */
export const rowKey = (row: Row, messages: ReadonlyArray<Message>): string =>
  typeof row.conversation_id === "string" ? row.conversation_id : JSON.stringify(messages)

/** The reason a failed call gives in rejects. */
export const reasonOf = (e: LlmRequestError): string => e.message

/** `llm/complete` */
export const complete: Stage<CompleteConfig, Row, Row, Models, typeof CompleteConfigSchema.Encoded> = make({
  id: "llm/complete",
  description:
    "Fills a prompt template from each row, asks a model from the models section, and writes the answer (text or parsed JSON) to a field; n samples per row.",
  config: CompleteConfigSchema,
  requires: (c) => [...new Set([...(c.system !== undefined ? Template.parse(c.system).fields : []), ...Template.parse(c.user).fields])],
  // Besides the templates' fields, only conversation_id (for seeds and cache keys), which every run reads.
  reads: [],
  provides: (c) => [c.output],
  make: (config, ctx) =>
    ModelStage.make(ctx, [config.model], ([model]) => {
      const system = config.system !== undefined ? Template.parse(config.system) : undefined
      const user = Template.parse(config.user)
      const format = responseFormat(config)
      const parseJson = format !== undefined

      // One sample's answer, judged by the stage's rules.
      const judge = (answer: Completion): SampleResult => {
        if (answer.finish_reason === "length" && config.on_length === "reject") {
          return { ok: false, error: `the answer was cut off at max_tokens (finish_reason length): ${preview(answer.content)}` }
        }
        if (!parseJson) return { ok: true, value: answer.content }
        try {
          return { ok: true, value: JSON.parse(answer.content) }
        } catch {
          return { ok: false, error: `the answer is not JSON: ${preview(answer.content)}` }
        }
      }

      // One row: its n requests (answered synchronously when all are cached), the answers judged
      // by the stage's rules; the row leaves in input order (ModelStage), so reruns are byte-identical.
      const one = (row: Row): ModelStage.Pending => {
        const messages: Array<Message> = []
        if (system !== undefined) {
          const r = system.render(row)
          if ("missing" in r) return new ModelStage.Reject(row, `system template field ${r.missing} is missing`)
          messages.push({ role: "system", content: r.text })
        }
        const u = user.render(row)
        if ("missing" in u) return new ModelStage.Reject(row, `user template field ${u.missing} is missing`)
        messages.push({ role: "user", content: u.text })
        const key = rowKey(row, messages)
        const asks: Array<ModelStage.Ask> = []
        for (let i = 0; i < config.n; i++) {
          asks.push({
            request: {
              messages,
              temperature: config.temperature,
              top_p: config.top_p,
              max_tokens: config.max_tokens,
              stop: config.stop,
              response_format: format,
              extra: config.extra,
              seed: config.seed ? Seed.forRequest(ctx.seed, ctx.stageId, key, i) : undefined
            },
            options: { sampleIndex: i }
          })
        }
        return ModelStage.map(ModelStage.ask(model, asks), (answers): ModelStage.Outcome => {
          const ok: Array<unknown> = []
          let error: string | undefined
          for (const a of answers) {
            const s = Either.isRight(a) ? judge(a.right) : { ok: false as const, error: reasonOf(a.left) }
            if (s.ok) ok.push(s.value)
            else error ??= s.error
          }
          if (ok.length === 0) return new ModelStage.Reject(row, error ?? "no answer")
          return { ...row, [config.output]: config.n === 1 ? ok[0] : ok }
        })
      }
      return one
    })
})

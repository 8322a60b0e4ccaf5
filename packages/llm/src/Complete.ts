/**
 * `llm/complete`: renders a prompt template (system + user, `{{field.path}}` placeholders from
 * the row), asks a model from the `models` section, and writes the answer text (or the parsed
 * JSON, with `json`/`json_schema`) to a named field; `n` samples per row. Rows whose call fails
 * after retries, whose template misses a field, or whose answer is cut off or unparsable go to
 * rejects with the reason. Output order equals input order, so reruns are byte-identical.
 */
import { StageError } from "@synthline/core/Errors"
import type { Row } from "@synthline/core/Row"
import { make, type Stage } from "@synthline/core/Stage"
import { Chunk, Effect, Schema, Stream } from "effect"
import { type ChatRequest, type Completion, type Message, preview } from "./Chat.js"
import type { LlmRequestError } from "./Errors.js"
import { type Model, Models } from "./Models.js"
import * as Seed from "./Seed.js"
import * as Template from "./Template.js"

type Obj = { readonly [key: string]: unknown }

const doc = (description: string, extra: Obj = {}): { readonly jsonSchema: Obj } => ({
  jsonSchema: { description, ...extra }
})

/** Sampling options shared by the stages that call models. */
export const SamplingFields = {
  temperature: Schema.optional(Schema.Number.pipe(Schema.between(0, 2)).annotations(doc("Sampling temperature (server default when unset)."))),
  top_p: Schema.optional(Schema.Number.pipe(Schema.between(0, 1)).annotations(doc("Nucleus sampling mass."))),
  max_tokens: Schema.optional(Schema.Int.pipe(Schema.positive()).annotations(doc("Most tokens in one answer."))),
  stop: Schema.optional(Schema.Array(Schema.String).annotations(doc("Stop sequences."))),
  seed: Schema.optionalWith(
    Schema.Boolean.annotations(doc("Send a per-request seed derived from (pipeline seed, stage id, conversation_id, sample index).")),
    { default: () => true }
  ),
  extra: Schema.optionalWith(
    Schema.Record({ key: Schema.String, value: Schema.Unknown }).annotations(doc("Extra request body fields for this stage (merged over the model's extra_body).")),
    { default: () => ({}) }
  )
}

const CompleteConfigSchema = Schema.Struct({
  model: Schema.String.annotations(doc("A model name from the models section.")),
  system: Schema.optional(Schema.String.annotations(doc("System prompt template."))),
  user: Schema.String.annotations(doc("User prompt template, with {{field.path}} placeholders from the row.")),
  output: Schema.optionalWith(Schema.String.annotations(doc("Field the answer is written to.")), {
    default: () => "completion"
  }),
  n: Schema.optionalWith(
    Schema.Int.pipe(Schema.between(1, 64)).annotations(doc("Answers per row; with n > 1 the field holds a list of the answers that succeeded.")),
    { default: () => 1 }
  ),
  json: Schema.optionalWith(Schema.Boolean.annotations(doc("Ask for a JSON object (response_format json_object) and store it parsed.")), {
    default: () => false
  }),
  json_schema: Schema.optional(
    Schema.Record({ key: Schema.String, value: Schema.Unknown }).annotations(
      doc("Ask for JSON following this JSON Schema (response_format json_schema, strict) and store it parsed.")
    )
  ),
  on_length: Schema.optionalWith(
    Schema.Literal("reject", "keep").annotations(doc("An answer cut off by max_tokens (finish_reason length): reject the row, or keep the text.")),
    { default: () => "reject" as const }
  ),
  ...SamplingFields
})

/** Options of `llm/complete`. */
export type CompleteConfig = typeof CompleteConfigSchema.Type

/** Why one sample failed. */
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

/**
 * How many rows a model stage takes at once: chunks of about capacity ÷ n rows (so one chunk
 * can fill every request slot), four chunks in flight, so the server stays busy while one
 * chunk waits for its slowest answer or a retry. Memory stays bounded by 4 chunks of rows.
 */
export const windowOf = (capacity: number, n: number): { readonly rowsPerChunk: number; readonly chunksInFlight: number } => ({
  rowsPerChunk: Math.max(16, Math.min(2048, Math.ceil(capacity / n))),
  chunksInFlight: 4
})

/** The reason a failed call gives in rejects. */
export const reasonOf = (e: LlmRequestError): string => e.message

/** `llm/complete` */
export const complete: Stage<CompleteConfig, Row, Row, Models, typeof CompleteConfigSchema.Encoded> = make({
  id: "llm/complete",
  description:
    "Fills a prompt template from each row, asks a model from the models section, and writes the answer (text or parsed JSON) to a field; n samples per row.",
  config: CompleteConfigSchema,
  requires: (c) => [...new Set([...(c.system !== undefined ? Template.parse(c.system).fields : []), ...Template.parse(c.user).fields])],
  provides: (c) => [c.output],
  make: (config, ctx) =>
    Effect.gen(function* () {
      const models = yield* Models
      const model: Model = yield* models
        .get(config.model)
        .pipe(Effect.mapError((e) => new StageError({ stage: ctx.stageId, reason: e.message })))
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

      // A chunk of rows: cached answers are taken synchronously, the others requested
      // concurrently (the client's balancer bounds what is in flight); rows and rejects come
      // out in input order, so a rerun's output and rejects are byte-identical.
      const processChunk = (chunk: Chunk.Chunk<Row>): Effect.Effect<Chunk.Chunk<Row>> => {
        const rows = Chunk.toReadonlyArray(chunk)
        const results: Array<Array<SampleResult | undefined> | string> = []
        const pending: Array<Effect.Effect<void>> = []
        for (const row of rows) {
          const messages: Array<Message> = []
          if (system !== undefined) {
            const r = system.render(row)
            if ("missing" in r) {
              results.push(`system template field ${r.missing} is missing`)
              continue
            }
            messages.push({ role: "system", content: r.text })
          }
          const u = user.render(row)
          if ("missing" in u) {
            results.push(`user template field ${u.missing} is missing`)
            continue
          }
          messages.push({ role: "user", content: u.text })
          const key = rowKey(row, messages)
          const samples: Array<SampleResult | undefined> = new Array(config.n)
          results.push(samples)
          for (let i = 0; i < config.n; i++) {
            const request: ChatRequest = {
              messages,
              temperature: config.temperature,
              top_p: config.top_p,
              max_tokens: config.max_tokens,
              stop: config.stop,
              response_format: format,
              extra: config.extra,
              seed: config.seed ? Seed.forRequest(ctx.seed, ctx.stageId, key, i) : undefined
            }
            const answer = model.prepare(request, { sampleIndex: i })
            if (!Effect.isEffect(answer)) samples[i] = judge(answer)
            else {
              pending.push(
                answer.pipe(
                  Effect.match({
                    onSuccess: (a) => {
                      samples[i] = judge(a)
                    },
                    onFailure: (e) => {
                      samples[i] = { ok: false, error: reasonOf(e) }
                    }
                  })
                )
              )
            }
          }
        }
        const assemble = (): Chunk.Chunk<Row> => {
          const out: Array<Row> = []
          for (let k = 0; k < rows.length; k++) {
            const row = rows[k]!
            const r = results[k]!
            if (typeof r === "string") {
              ctx.reject(row, `${ctx.stageId}: ${r}`)
              continue
            }
            const ok: Array<unknown> = []
            let error: string | undefined
            for (const s of r) {
              if (s?.ok === true) ok.push(s.value)
              else error ??= s?.error ?? "no answer"
            }
            if (ok.length === 0) ctx.reject(row, `${ctx.stageId}: ${error ?? "no answer"}`)
            else out.push({ ...row, [config.output]: config.n === 1 ? ok[0] : ok })
          }
          return Chunk.unsafeFromArray(out)
        }
        return pending.length === 0
          ? Effect.sync(assemble)
          : Effect.all(pending, { concurrency: "unbounded", discard: true }).pipe(Effect.map(assemble))
      }

      const { rowsPerChunk, chunksInFlight } = windowOf(model.capacity, config.n)
      return (rows) =>
        rows.pipe(
          Stream.rechunk(rowsPerChunk),
          Stream.chunks,
          Stream.mapEffect(processChunk, { concurrency: chunksInFlight }),
          Stream.flattenChunks
        )
    })
})

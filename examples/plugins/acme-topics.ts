/**
 * A team plugin whose stage calls a model: ACME's topic labeller. It asks a model from the
 * pipeline's `models` section to file each first user instruction under one of the team's
 * topics, and writes the topic into a field. The model client — endpoints, concurrency, rate
 * limits, retries, the response cache, usage in the manifest — is @synthline/llm's, which the
 * plugin lists in its `dependencies`. Loaded from a pipeline file as a local `.ts` file:
 *
 *   plugins: ["./plugins/acme-topics.ts"]
 *   models:
 *     small: { model: Qwen/Qwen2.5-7B-Instruct, endpoints: ["${VLLM_URL}/v1"] }
 *   stages:
 *     - use: acme-topics/label
 *       model: small
 *       topics: [coding, math, writing]
 */
import { definePlugin, Stage } from "@synthline/core"
import llm from "@synthline/llm"
import * as ModelStage from "@synthline/llm/ModelStage"
import * as Seed from "@synthline/llm/Seed"
import { Either, Schema } from "effect"

const LabelConfig = Schema.Struct({
  model: Schema.String.pipe(Stage.doc("A model name from the models section.")),
  topics: Schema.Array(Schema.String).pipe(Schema.minItems(1), Stage.doc("The topics an instruction may get.")),
  other: Schema.optionalWith(Schema.String.pipe(Stage.doc("Topic of instructions that fit none of topics.")), { default: () => "other" }),
  output: Schema.optionalWith(Schema.String.pipe(Stage.doc("Field that receives the topic.")), { default: () => "acme_topic" })
})

/** A row as this stage reads it: an LMSYS-Chat-1M row after `core/first-turn`. */
interface Row {
  readonly conversation_id?: unknown
  readonly conversation?: unknown
  readonly [field: string]: unknown
}

/** The first user message, or undefined. */
const instructionOf = (row: Row): string | undefined => {
  const first: unknown = Array.isArray(row.conversation) ? row.conversation[0] : undefined
  return typeof first === "object" && first !== null && "content" in first && typeof first.content === "string" ? first.content : undefined
}

/** The topic an answer names: the first listed topic it contains, else `other`. */
export const topicOf = (answer: string, topics: ReadonlyArray<string>, other: string): string =>
  topics.find((t) => answer.toLowerCase().includes(t.toLowerCase())) ?? other

/** `acme-topics/label`: one short model call per row, answers from the cache on a rerun. */
export const label = Stage.make({
  id: "acme-topics/label",
  description: "Labels each first user instruction with one of the team's topics, asked of a model from the models section.",
  config: LabelConfig,
  requires: ["conversation"],
  provides: (config) => [config.output],
  make: (config, ctx) =>
    // The helper looks the model up in the Models service of @synthline/llm (a dependency of
    // this plugin): an unknown model name fails the stage before any row is read. Rows are then
    // admitted while the model has free slots, finish in any order and leave in input order
    // (rejects too), so a rerun writes the same bytes.
    ModelStage.make(ctx, [config.model], ([model]) => {
      const system = `Answer with exactly one word: the topic of the user's message, one of ${config.topics.join(", ")}, or ${config.other}.`

      // One row's outcome: the labelled row, or a reject with the reason. `ModelStage.ask`
      // answers from the cache synchronously when it can; otherwise the call is balanced,
      // limited, retried and cached by the model client.
      const one = (row: Row): ModelStage.Pending => {
        const text = instructionOf(row)
        if (text === undefined) return new ModelStage.Reject(row, "the row has no first user message")
        const id = typeof row.conversation_id === "string" ? row.conversation_id : text
        const request = {
          messages: [
            { role: "system", content: system },
            { role: "user", content: text }
          ],
          temperature: 0,
          max_tokens: 8,
          // The same row gets the same seed, hence the same cache key, in every run.
          seed: Seed.forRequest(ctx.seed, ctx.stageId, id, 0)
        }
        return ModelStage.map(ModelStage.ask(model, [{ request }]), ([answer]): ModelStage.Outcome =>
          answer !== undefined && Either.isRight(answer)
            ? { ...row, [config.output]: topicOf(answer.right.content, config.topics, config.other) }
            : new ModelStage.Reject(row, answer !== undefined && Either.isLeft(answer) ? answer.left.message : "no answer")
        )
      }
      return one
    })
})

/** The plugin: stage ids start with its name; @synthline/llm brings the models and cache sections. */
export default definePlugin({ name: "acme-topics", version: "1.0.0", stages: [label], dependencies: [llm] })

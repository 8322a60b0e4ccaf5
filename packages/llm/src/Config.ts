/**
 * The `models` and `cache` sections of a pipeline file: models are declared once, at the top
 * level, and stages refer to them by name. Secrets are `Redacted`; `OPENAI_BASE_URL` and
 * `OPENAI_API_KEY` fill a model that names no endpoints or key.
 */
import { doc } from "@synthline/core/Stage"
import { Duration, ParseResult, Redacted, Schema } from "effect"

const succeed = ParseResult.succeed
const fail = (ast: Schema.Schema.AnyNoContext["ast"], actual: unknown, message: string) =>
  ParseResult.fail(new ParseResult.Type(ast, actual, message))

/** A duration written as `120s`, `500ms`, `2m` or a number of seconds. */
export const DurationFromInput: Schema.Schema<Duration.Duration, string | number> = Schema.transformOrFail(
  Schema.Union(Schema.String, Schema.Number),
  Schema.DurationFromSelf,
  {
    strict: true,
    decode: (input, _, ast) => {
      if (typeof input === "number") {
        return input > 0 ? succeed(Duration.seconds(input)) : fail(ast, input, "must be positive")
      }
      const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(input)
      if (m === null) return fail(ast, input, `expected a duration like 120s, 500ms or 2m, got ${JSON.stringify(input)}`)
      const n = Number(m[1])
      const unit = m[2] ?? "s"
      const ms = unit === "ms" ? n : unit === "s" ? n * 1000 : unit === "m" ? n * 60_000 : n * 3_600_000
      return ms > 0 ? succeed(Duration.millis(ms)) : fail(ast, input, "must be positive")
    },
    // The shortest exact form, as a pipeline file would write it: 120s, 500ms.
    encode: (d) => {
      const ms = Duration.toMillis(d)
      return succeed(ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`)
    }
  }
)

const PositiveInt = Schema.Int.pipe(Schema.positive())

/** How a model in `mode: batch` groups and follows its batches. */
export const BatchOptions = Schema.Struct({
  max_requests: Schema.optionalWith(
    Schema.Int.pipe(Schema.between(1, 100_000), doc("Most requests in one batch (OpenAI allows 50,000 per batch file, Anthropic 100,000 per Message Batch).")),
    { default: () => 50_000 }
  ),
  max_bytes: Schema.optionalWith(
    Schema.Int.pipe(
      Schema.between(1024, 256 * 1024 * 1024),
      doc("Most bytes in one batch (OpenAI allows 200 MB per batch file, Anthropic 256 MB per Message Batch).")
    ),
    { default: () => 100 * 1024 * 1024 }
  ),
  window: Schema.optionalWith(
    DurationFromInput.pipe(doc("How long requests are collected before a batch that is not full is submitted.")),
    { default: () => Duration.seconds(5) }
  ),
  poll_interval: Schema.optionalWith(DurationFromInput.pipe(doc("Time between two status checks of a submitted batch.")), {
    default: () => Duration.seconds(30)
  }),
  completion_window: Schema.optionalWith(Schema.String.pipe(doc("The batch's completion window, as the provider spells it.")), {
    default: () => "24h"
  }),
  max_attempts: Schema.optionalWith(
    Schema.Int.pipe(
      Schema.between(1, 20),
      doc("Batches one request may go through: an expired, failed or missing item is resubmitted (alone, not its whole batch) until then.")
    ),
    { default: () => 3 }
  )
}).annotations({ identifier: "BatchOptions", description: "Grouping and polling of a model in batch mode." })

/** How a model in `mode: batch` groups and follows its batches. */
export type BatchOptions = typeof BatchOptions.Type

const NonNegative = Schema.Number.pipe(Schema.nonNegative())

/** What a model costs, for the cost ledger of the manifest (USD). */
export const Price = Schema.Struct({
  input: Schema.optional(NonNegative.pipe(doc("USD per 1M prompt tokens."))),
  output: Schema.optional(NonNegative.pipe(doc("USD per 1M completion tokens."))),
  cached_input: Schema.optional(
    NonNegative.pipe(
      doc("USD per 1M prompt tokens the provider served from its prompt cache (`prompt_tokens_details.cached_tokens`). Default: `input`.")
    )
  ),
  batch_discount: Schema.optionalWith(
    Schema.Number.pipe(Schema.between(0, 1), doc("Share of the token price taken off in batch mode (OpenAI: 0.5).")),
    { default: () => 0.5 }
  ),
  per_hour: Schema.optional(
    NonNegative.pipe(doc("USD per hour of a self-hosted endpoint, counted while the model has requests in flight."))
  )
}).annotations({ identifier: "Price", description: "Prices of a model: per 1M tokens, or per hour of a self-hosted endpoint." })

/** What a model costs, for the cost ledger of the manifest (USD). */
export type Price = typeof Price.Type

/** What a service billed per character costs (DeepL), for the cost ledger of the manifest (USD). */
export const CharacterPrice = Schema.Struct({
  per_1m_characters: NonNegative.pipe(doc("USD per 1M characters sent (DeepL API Pro: 25)."))
}).annotations({ identifier: "CharacterPrice", description: "Price of a service billed per character of the texts sent (DeepL)." })

/** What a service billed per character costs (DeepL). */
export type CharacterPrice = typeof CharacterPrice.Type

/** A spending limit on the cost ledger (needs a `price` on the models it covers). */
export const Budget = Schema.Struct({
  usd: Schema.Number.pipe(
    Schema.positive(),
    doc("Most USD the ledger may reach; the run stops (exit 1, resumable) before a request that would pass it.")
  )
}).annotations({ identifier: "Budget", description: "A spending limit: the run stops before the cost ledger would pass it." })

/** A spending limit on the cost ledger. */
export type Budget = typeof Budget.Type

/** One model: where it is served and how hard it may be driven. */
export const ModelConfig = Schema.Struct({
  provider: Schema.optionalWith(
    Schema.String.pipe(
      doc("Who serves the model: `openai` (any OpenAI-compatible /v1/chat/completions server), `anthropic` (the Anthropic Messages API) or a provider plugin's name.")
    ),
    { default: () => "openai" }
  ),
  model: Schema.optional(
    Schema.String.pipe(
      doc("The model name sent in each request, e.g. google/gemma-3-27b-it. Default: `path` if given, else the model's name in `models`.")
    )
  ),
  endpoints: Schema.optionalWith(
    Schema.Array(Schema.String).pipe(
      doc("Base URLs with /v1 included; requests are balanced over them. Default: $OPENAI_BASE_URL (anthropic: $ANTHROPIC_BASE_URL, else https://api.anthropic.com/v1).")
    ),
    { default: () => [] }
  ),
  api_key: Schema.optional(
    Schema.Redacted(Schema.String).pipe(doc("Bearer token (anthropic: the x-api-key). Default: $OPENAI_API_KEY (anthropic: $ANTHROPIC_API_KEY). Never logged."))
  ),
  concurrency: Schema.optionalWith(PositiveInt.pipe(doc("Requests in flight per endpoint.")), {
    default: () => 32
  }),
  http_thread: Schema.optionalWith(
    Schema.Union(Schema.Literal("auto"), Schema.Boolean).pipe(
      doc("Sockets on a thread of their own (openai provider, mode online), which keeps each endpoint at `concurrency` requests on the wire while the stage's thread is busy; `auto`: when the model has 256 slots or more (endpoints × concurrency).")
    ),
    { default: () => "auto" as const }
  ),
  requests_per_minute: Schema.optional(PositiveInt.pipe(doc("Request rate limit for the model (all endpoints)."))),
  tokens_per_minute: Schema.optional(
    PositiveInt.pipe(doc("Token rate limit (prompt + completion) for the model, estimated before each request and corrected from `usage`."))
  ),
  timeout: Schema.optionalWith(DurationFromInput.pipe(doc("Time limit of one request, e.g. 120s.")), {
    default: () => Duration.seconds(120)
  }),
  max_retries: Schema.optionalWith(
    Schema.Int.pipe(Schema.between(0, 100), doc("Retries of one request after 429, 5xx, timeouts and broken connections.")),
    { default: () => 8 }
  ),
  retry_base: Schema.optionalWith(DurationFromInput.pipe(doc("First backoff delay; doubled per retry, jittered.")), {
    default: () => Duration.millis(500)
  }),
  retry_max: Schema.optionalWith(DurationFromInput.pipe(doc("Longest backoff delay (also caps Retry-After).")), {
    default: () => Duration.seconds(60)
  }),
  failure_threshold: Schema.optionalWith(
    PositiveInt.pipe(doc("Consecutive failures after which an endpoint is cooled down and probed again later.")),
    { default: () => 5 }
  ),
  cooldown: Schema.optionalWith(DurationFromInput.pipe(doc("First cool-down of a failing endpoint; doubled while it keeps failing.")), {
    default: () => Duration.seconds(5)
  }),
  call_timeout: Schema.optionalWith(
    DurationFromInput.pipe(
      doc("Longest time one call may take, its retries and every wait included (rate limits, back-off, an endpoint cooling down). Past it the row goes to rejects with the endpoint's last error.")
    ),
    { default: () => Duration.minutes(10) }
  ),
  down_limit: Schema.optionalWith(
    DurationFromInput.pipe(
      doc("How long every endpoint of the model may keep failing, none answering, before the run stops (resumably, exit 1) with the endpoints' last error.")
    ),
    { default: () => Duration.minutes(5) }
  ),
  extra_body: Schema.optionalWith(
    Schema.Record({ key: Schema.String, value: Schema.Unknown }).pipe(
      doc("Fields added to every request body (vLLM's top_k, repetition_penalty, guided_json, ...).")
    ),
    { default: () => ({}) }
  ),
  mode: Schema.optionalWith(
    Schema.Literal("online", "batch").pipe(
      doc("How chat calls are sent: `online` (one HTTP request each) or `batch` (grouped into the provider's Batch API: /v1/files + /v1/batches, or Anthropic's /v1/messages/batches; usually half price, answers within the completion window). The cache key does not depend on it.")
    ),
    { default: () => "online" as const }
  ),
  batch: Schema.optionalWith(
    BatchOptions.pipe(doc("With mode batch: how requests are grouped into batch files and how batches are followed.")),
    { default: () => Schema.decodeSync(BatchOptions)({}) }
  ),
  choices_per_request: Schema.optionalWith(
    Schema.Int.pipe(
      Schema.between(1, 128),
      doc("Answers asked for in one chat request (`n` in the body; vLLM and OpenAI honour it): a stage that wants several answers to one prompt (`synth/generate`'s `n`) sends one request per this many, so the prompt is billed and prefilled once. openai provider, mode online only.")
    ),
    { default: () => 1 }
  ),
  price: Schema.optional(
    Price.pipe(doc("Prices for the cost ledger in the manifest: USD per 1M tokens, or per hour of a self-hosted endpoint."))
  ),
  budget: Schema.optional(
    Budget.pipe(doc("Most USD this model may cost; the run stops (exit 1, resumable) before a request that would pass it. Needs price."))
  ),
  path: Schema.optional(Schema.String.pipe(doc("Model file, for embedded providers (e.g. llama-cpp)."))),
  options: Schema.optionalWith(
    Schema.Record({ key: Schema.String, value: Schema.Unknown }).pipe(doc("Provider-specific options.")),
    { default: () => ({}) }
  )
}).pipe(
  // A check at validate time, at the option's line: the Anthropic Messages API and a batch item give one answer each.
  Schema.filter((m) =>
    m.choices_per_request > 1 && m.provider === "anthropic"
      ? {
          path: ["choices_per_request"],
          message:
            "choices_per_request needs an OpenAI-compatible server (provider openai): the Anthropic Messages API has no n and answers one choice per request; remove it (or set 1)"
        }
      : m.choices_per_request > 1 && m.provider !== "openai"
        ? {
            path: ["choices_per_request"],
            message: `choices_per_request needs the openai provider (an OpenAI-compatible server that honours n), not ${JSON.stringify(m.provider)}; remove it (or set 1)`
          }
      : m.choices_per_request > 1 && m.mode === "batch"
        ? {
            path: ["choices_per_request"],
            message: "choices_per_request works with mode online only (each batch item is answered once); remove it or use mode online"
          }
        : undefined
  )
).annotations({ identifier: "ModelConfig", description: "A model declared once and referred to by name from stages." })

/** One model: where it is served and how hard it may be driven. */
export type ModelConfig = typeof ModelConfig.Type

/** The `models` section: model name → its config. */
export const ModelsSection = Schema.Record({ key: Schema.String, value: ModelConfig }).annotations({
  description: "Models, declared once and referred to by name from stages (`model: judge`)."
})

/** The `models` section: model name → its config. */
export type ModelsSection = typeof ModelsSection.Type

/** How the response cache is used. */
export const CacheMode = Schema.Literal("read-write", "read-only", "off")
/** How the response cache is used. */
export type CacheMode = typeof CacheMode.Type

/** The default cache location, relative to the pipeline file's folder. */
export const defaultCachePath = ".synthline/cache.sqlite"

/** The `cache` section. */
export const CacheSection = Schema.Struct({
  path: Schema.optionalWith(Schema.String.pipe(doc("SQLite file of cached answers, relative to the pipeline file.")), {
    default: () => defaultCachePath
  }),
  mode: Schema.optionalWith(CacheMode.pipe(doc("read-write (default), read-only or off.")), {
    default: () => "read-write" as const
  })
}).annotations({ description: "The persistent response cache: a rerun or resume sends no request whose answer is cached." })

/** The `cache` section. */
export type CacheSection = typeof CacheSection.Type

/** The part of a model's config that changes answers (enters the pipeline fingerprint): not endpoints, keys or limits. */
export const fingerprintOfModels = (models: ModelsSection): unknown =>
  Object.fromEntries(
    Object.entries(models).map(([name, m]) => [
      name,
      { provider: m.provider, model: m.model ?? null, extra_body: m.extra_body, ...(m.path !== undefined ? { path: m.path } : {}) }
    ])
  )

/** A model config with the environment fallbacks applied. */
export interface ResolvedModel extends Omit<ModelConfig, "model"> {
  readonly name: string
  /** The model name sent in requests and keying the cache (`model`, else `path`, else `name`). */
  readonly model: string
}

/**
 * Applies `OPENAI_BASE_URL` / `OPENAI_API_KEY` to a model that names no endpoints or key; with
 * `provider: anthropic`, `ANTHROPIC_BASE_URL` (default https://api.anthropic.com/v1) and `ANTHROPIC_API_KEY`.
 */
export const resolveModel = (
  name: string,
  config: ModelConfig,
  env: { readonly [key: string]: string | undefined }
): ResolvedModel => {
  const anthropic = config.provider === "anthropic"
  const base = anthropic ? env.ANTHROPIC_BASE_URL || "https://api.anthropic.com/v1" : env.OPENAI_BASE_URL
  const key = anthropic ? env.ANTHROPIC_API_KEY : env.OPENAI_API_KEY
  return {
    ...config,
    name,
    model: config.model ?? config.path ?? name,
    endpoints: config.endpoints.length > 0 ? config.endpoints : base !== undefined && base !== "" ? [base] : [],
    api_key: config.api_key ?? (key !== undefined && key !== "" ? Redacted.make(key) : undefined)
  }
}

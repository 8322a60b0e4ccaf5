/**
 * The model client, an Effect service: `Models.get(name)` gives a {@link Model} whose
 * `complete` answers a chat request (and `request` any other JSON route, e.g. `/moderations`)
 * from the response cache or from the model's endpoints,
 * within its rate limits and concurrency, retrying 429 (honouring `Retry-After`), 5xx,
 * timeouts, broken connections and unparsable answers with jittered exponential backoff, and
 * counting everything into the run manifest's `model_usage`.
 */
import { RunError } from "@synthline/core/Errors"
import { RunContext, type UsageRegistry } from "@synthline/core/Plugin"
import type { Rowwise } from "@synthline/core/Stage"
import { Context, Duration, Effect, type Either, Layer, Schema, Scope } from "effect"
import { isAbsolute, join, resolve } from "node:path"
import * as Cache from "./Cache.js"
import type { ChatRequest, Completion } from "./Chat.js"
import {
  Budget,
  type Budget as BudgetConfig,
  CacheSection,
  type CacheSection as CacheConfig,
  ModelsSection,
  type ModelsSection as ModelsConfig,
  type ResolvedModel,
  resolveModel
} from "./Config.js"
import { LlmBudgetError, LlmConfigError, type LlmRequestError } from "./Errors.js"
import { Admission, openBalancer } from "./internal/model/admission.js"
import { Attempts } from "./internal/model/attempts.js"
import { BatchMode } from "./internal/model/batch.js"
import { BudgetGate, type Spending } from "./internal/model/budget.js"
import { ChatCalls } from "./internal/model/chat.js"
import { DownWatch, EndpointFailures } from "./internal/model/health.js"
import { Pacing } from "./internal/model/pacing.js"
import { RouteCalls } from "./internal/model/route.js"
import * as Provider from "./Provider.js"
import * as Usage from "./Usage.js"

/** Per-call options. */
export interface CallOptions {
  /** Which of several answers to the same request this is (part of the cache key). Default 0. */
  readonly sampleIndex?: number
}

/** Options of {@link Model.request}. */
export interface RequestOptions<A> {
  /** Which of several answers to the same request this is (part of the cache key). Default 0. */
  readonly sampleIndex?: number
  /**
   * Decodes the answer's JSON; a `Left` (the reason) makes the answer a `bad_response`, retried
   * like a garbled chat answer and never cached.
   */
  readonly parse: (json: unknown) => Either.Either<A, string>
}

/** A decoded answer to {@link Model.request}. */
export interface RouteAnswer<A> {
  readonly value: A
  /** Token counts from the answer's `usage`, when it has one (zeros otherwise). */
  readonly usage: Completion["usage"]
  /** True when it came from the response cache (no request was made). */
  readonly cached: boolean
}

/** A model, ready to be called. */
export interface Model {
  /** Its name in the `models` section. */
  readonly name: string
  /** The model name sent in requests. */
  readonly model: string
  /** Requests it takes at once over all its endpoints: the concurrency a stage should use. */
  readonly capacity: number
  /** Answers a chat request (from the cache when it can). */
  readonly complete: (request: ChatRequest, options?: CallOptions) => Effect.Effect<Completion, LlmRequestError>
  /**
   * The cached answer, synchronously, when there is one; otherwise the Effect that requests it.
   * Stages use it to answer cached rows without one fiber per row (a cached rerun is CPU-bound).
   */
  readonly prepare: (
    request: ChatRequest,
    options?: CallOptions
  ) => Completion | Effect.Effect<Completion, LlmRequestError>
  /**
   * POSTs a JSON body to another route of the model's endpoints (`/moderations`: `<base>/moderations`)
   * through the same cache, limits, balancing, retries and usage as `complete`; the model's
   * `extra_body` is merged under the body. Fails with `bad_request` when the provider has no HTTP route.
   */
  readonly request: <A>(route: string, body: object, options: RequestOptions<A>) => Effect.Effect<RouteAnswer<A>, LlmRequestError>
  /** Answers it asks for in one chat request (`choices_per_request`; 1: one request per answer). */
  readonly choicesPerRequest: number
  /**
   * Several answers to one request, the answers of sample indices `sampleIndices`, asked
   * `choicesPerRequest` at a time in one chat request each (`n` in the body): the prompt is
   * billed once per request instead of once per answer. Cached answers come from the cache (all
   * cached: synchronously). Each answer is stored under the key of the one-answer request that
   * gives it: without a seed, the same key `prepare` uses for its sample index (switching
   * `choices_per_request` re-asks nothing); with `seedOf` (the seed `prepare` would send for a
   * sample index), a request's choice j is sampled with the seed of its first sample index + j
   * (vLLM's semantics for `seed` with `n`), so it is keyed by that seed: the first answer of each
   * request is `prepare`'s, the others are asked again after a switch. Token counts of one
   * request are shared out over its answers (the prompt evenly, the completion tokens by answer
   * length): the server reports only their sums.
   */
  readonly prepareChoices: (
    request: ChatRequest,
    sampleIndices: ReadonlyArray<number>,
    seedOf?: ((sampleIndex: number) => number) | undefined
  ) => ReadonlyArray<Either.Either<Completion, LlmRequestError>> | Effect.Effect<ReadonlyArray<Either.Either<Completion, LlmRequestError>>>
  /** Its usage counters so far. */
  readonly usage: () => Usage.ModelUsage
  /**
   * How busy it is, for request-level admission (`Stage.Rowwise` of `@synthline/core`): requests accepted
   * but not yet on an endpoint slot (rate limits, back-off, every slot taken) and its capacity.
   */
  readonly load: Rowwise.Gate
}

/** The model client service. */
export interface ModelsService {
  /** The model declared under `name`; fails with the names that exist. */
  readonly get: (name: string) => Effect.Effect<Model, LlmConfigError>
  /** Names declared in the `models` section. */
  readonly names: ReadonlyArray<string>
  /** The pipeline's `budget`, which callers billed outside the chat models (DeepL in `synth/translate`) count against too. */
  readonly budget: SharedBudget
}

/**
 * The pipeline's `budget.usd` as a ledger that is not a chat model's (DeepL's characters) joins it:
 * the models' budget checks count what it spent, and it checks its own requests against it.
 */
export interface SharedBudget {
  /** `budget.usd`, when the pipeline sets one. */
  readonly usd: number | undefined
  /**
   * Counts another ledger against the budget: `spent` (USD so far, what its requests in flight
   * will cost included) and `inFlight` (its requests in flight, whose cost may still change).
   */
  readonly join: (spent: () => number, inFlight: () => number) => void
  /** The budget error when `nextUsd` more would take every ledger together past `budget.usd`; undefined when it fits. */
  readonly exceeded: (nextUsd: number) => LlmBudgetError | undefined
  /** Requests in flight over every ledger: a request that does not fit waits while there are any (they may cost less than reserved). */
  readonly inFlight: () => number
}

/** The model client service. */
export class Models extends Context.Tag("@synthline/llm/Models")<Models, ModelsService>() {}

/** Options of {@link make}. */
export interface MakeOptions {
  readonly models: ModelsConfig
  /** The `cache` section; default: read-write at `.synthline/cache.sqlite`. */
  readonly cache?: CacheConfig | undefined
  /** Folder a relative cache path resolves against. */
  readonly baseDir: string
  /** Where `OPENAI_BASE_URL` / `OPENAI_API_KEY` come from (default `process.env`). */
  readonly env?: { readonly [key: string]: string | undefined }
  /** Where usage is reported (default: nowhere). */
  readonly usage?: UsageRegistry
  /**
   * The run's state folder: each model keeps a log of the requests it sends there, so a resumed
   * run counts those a kill cut off (default: none, counters live in memory only).
   */
  readonly stateDir?: string | undefined
  /** Where notices go (an endpoint cooling down): the run's progress reporter (default: nowhere). */
  readonly warn?: ((message: string) => void) | undefined
  /** Masks the run's secrets in what the client writes (endpoint names: a key may sit in a URL's path). */
  readonly scrub?: ((text: string) => string) | undefined
  /** The pipeline's `budget` section: a limit on the cost ledger of every model together. */
  readonly budget?: BudgetConfig | undefined
  /** The run's response cache, shared with other callers (default: one of its own from `cache`). */
  readonly responses?: Cache.ResponsesService | undefined
  /** Providers besides the built-in `openai` (a run's: those its plugins contribute). */
  readonly providers?: ReadonlyArray<Provider.Definition> | undefined
}

/** A response cache of the client's own, from its `cache` option. */
const responsesOf = (options: MakeOptions): Effect.Effect<Cache.ResponsesService, never, Scope.Scope> => {
  const config = options.cache ?? Schema.decodeSync(CacheSection)({})
  return Cache.responses(isAbsolute(config.path) ? config.path : resolve(options.baseDir, config.path), config.mode)
}

/** The pipeline's budget over the ledgers of `spending`: the models' and those that {@link SharedBudget.join} it. */
const sharedBudget = (spending: Spending): SharedBudget => ({
  usd: spending.budgetUsd,
  join: (spent, inFlight) => void spending.models.push({ spent, reserved: inFlight }),
  exceeded: (nextUsd) => {
    const all = spending.budgetUsd
    if (all === undefined) return undefined
    const spent = spending.models.reduce((sum, m) => sum + m.spent(), 0)
    return spent + nextUsd > all
      ? new LlmBudgetError({ whose: "the pipeline", setting: "budget.usd", budgetUsd: all, spentUsd: spent, nextUsd })
      : undefined
  },
  inFlight: () => spending.models.reduce((sum, m) => sum + m.reserved(), 0)
})

/** What a client opens its models with. */
interface Client {
  readonly options: MakeOptions
  /** The client's scope: transports and models are closed with it. */
  readonly scope: Scope.Scope
  readonly env: { readonly [key: string]: string | undefined }
  readonly openCache: Effect.Effect<Cache.ResponseCache, LlmConfigError>
  readonly providers: ReadonlyArray<Provider.Definition>
  /** Names declared in the `models` section. */
  readonly names: ReadonlyArray<string>
  readonly spending: Spending
}

/** The model declared under `name`, resolved, and its provider's factory; a config error when it cannot be made. */
const resolveDeclared = (
  client: Client,
  name: string
): Effect.Effect<{ readonly resolved: ResolvedModel; readonly factory: Provider.ProviderFactory }, LlmConfigError> =>
  Effect.gen(function* () {
    const { names, providers } = client
    const config = client.options.models[name]
    if (config === undefined) {
      return yield* new LlmConfigError({
        reason:
          names.length === 0
            ? `no model named ${JSON.stringify(name)}: the pipeline file has no models section (models: { ${name}: { model: ..., endpoints: [...] } })`
            : `no model named ${JSON.stringify(name)} in the models section (declared: ${names.join(", ")})`
      })
    }
    const resolved = resolveModel(name, config, client.env)
    if (resolved.mode === "batch" && resolved.provider !== "openai" && resolved.provider !== "anthropic") {
      return yield* new LlmConfigError({
        reason: `model ${name}: mode batch needs the openai provider (an OpenAI-compatible /v1/files and /v1/batches API) or the anthropic one (Message Batches), not ${JSON.stringify(resolved.provider)}`
      })
    }
    if (resolved.mode === "batch" && resolved.provider === "openai" && resolved.batch.max_requests > 50_000) {
      return yield* new LlmConfigError({
        reason: `model ${name}: batch.max_requests ${resolved.batch.max_requests} is more than an OpenAI batch file holds (50,000)`
      })
    }
    const factory = providers.find((p) => p.name === resolved.provider)?.make
    if (factory === undefined) {
      return yield* new LlmConfigError({
        reason: `model ${name}: unknown provider ${JSON.stringify(resolved.provider)} (available: ${providers.map((p) => p.name).join(", ")}; a provider package must be listed in plugins)`
      })
    }
    return { resolved, factory }
  })

/** Opens the model declared under `name`: its transport, the response cache, its usage log; closed with the client's scope. */
const openModel = (client: Client, name: string): Effect.Effect<Model, LlmConfigError> =>
  Effect.gen(function* () {
    const { options, scope, spending } = client
    const { resolved, factory } = yield* resolveDeclared(client, name)
    // The model is made after its transport: rate-limit headers reach it through this.
    let rateLimits: ((headers: { readonly [name: string]: string }) => void) | undefined
    const opened = yield* Scope.extend(
      factory(resolved, { baseDir: options.baseDir, rateLimits: (h) => rateLimits?.(h), warn: options.warn }),
      scope
    )
    const scrub = options.scrub
    const transport =
      scrub === undefined ? opened : { ...opened, endpoints: opened.endpoints.map((e) => ({ ...e, id: scrub(e.id) })) }
    const c = yield* client.openCache
    const log = (usage: Usage.ModelUsage, endpoints: ReadonlyArray<string>) =>
      options.stateDir === undefined
        ? Usage.noWireLog
        : Usage.openWireLog(join(options.stateDir, `llm-usage-${encodeURIComponent(name)}.log`), usage, endpoints)
    const journal =
      options.stateDir === undefined ? undefined : join(options.stateDir, `llm-batches-${encodeURIComponent(name)}.jsonl`)
    if ((resolved.budget !== undefined || spending.budgetUsd !== undefined) && resolved.price === undefined) {
      return yield* new LlmConfigError({
        reason: `model ${name}: a budget needs a price to count against (models.${name}.price: { input: …, output: … } in USD per 1M tokens, or per_hour)`
      })
    }
    const model = makeModel(resolved, transport, c, options.usage, log, options.warn ?? (() => undefined), journal, spending)
    rateLimits = model.rateLimits
    yield* Scope.addFinalizer(scope, Effect.sync(() => model.close()))
    return model
  })

/** Makes the client. Models and the cache are opened on first use and closed with the scope. */
export const make = (options: MakeOptions): Effect.Effect<ModelsService, never, Scope.Scope> =>
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    const env = options.env ?? process.env
    const openCache = (options.responses ?? (yield* responsesOf(options))).open
    const providers = Provider.fromList(options.providers ?? [])
    const made = new Map<string, Model>()
    const names = Object.keys(options.models)
    const spending: Spending = { budgetUsd: options.budget?.usd, models: [] }
    const client: Client = { options, scope, env, openCache, providers, names, spending }
    return {
      names,
      budget: sharedBudget(spending),
      get: (name) =>
        Effect.gen(function* () {
          const existing = made.get(name)
          if (existing !== undefined) return existing
          const model = yield* openModel(client, name)
          made.set(name, model)
          return model
        })
    }
  })

/** A model as its client holds it: besides the {@link Model}, how to close it and where its transport's rate-limit headers go. */
type OpenModel = Model & { readonly close: () => void; readonly rateLimits: (headers: { readonly [name: string]: string }) => void }

/** A model's usage counters; with a registry, registered there (the report carries the cost ledger with a price) and recovered from it. */
const registeredUsage = (config: ResolvedModel, endpointIds: ReadonlyArray<string>, registry: UsageRegistry | undefined): Usage.ModelUsage => {
  let usage = Usage.make(config.model, endpointIds, undefined)
  if (registry !== undefined) {
    // With a price, the report carries the cost ledger, computed from the counters each time.
    const price = config.price
    const recovered = registry.register(
      config.name,
      price === undefined ? () => usage : () => ({ ...usage, cost: Usage.cost(usage, price, config.mode === "batch") })
    )
    usage = Usage.make(config.model, endpointIds, recovered)
  }
  return usage
}

/**
 * Builds one model's runtime from its parts (`internal/model/`): usage and its wire log, endpoint
 * health and balancing, admission to slots, rate-limit pacing, the attempt loop, batch mode, the
 * budget gate, and the chat and route calls on top.
 */
const makeModel = (
  config: ResolvedModel,
  transport: Provider.Transport,
  cache: Cache.ResponseCache,
  registry: UsageRegistry | undefined,
  openLog: (usage: Usage.ModelUsage, endpoints: ReadonlyArray<string>) => Usage.WireLog,
  warn: (message: string) => void,
  batchJournal?: string | undefined,
  spending: Spending = { budgetUsd: undefined, models: [] }
): OpenModel => {
  const endpointIds = transport.endpoints.map((e) => e.id)
  const usage = registeredUsage(config, endpointIds, registry)
  // Requests, answers and failed attempts are logged as they happen (replayed on resume).
  const wire = openLog(usage, endpointIds)
  const failures = new EndpointFailures(endpointIds)
  const balancer = openBalancer(config, transport, failures, warn)
  const pacing = new Pacing(config)
  // In batch mode a call waits in a batch, not on a slot: the stage may have a batch file's worth out.
  const capacity =
    config.mode === "batch" ? config.batch.max_requests : transport.endpoints.reduce((n, e) => n + e.capacity, 0)
  const admission = new Admission(balancer, usage, wire, endpointIds, capacity)
  const watch = new DownWatch(config.name, Duration.toMillis(config.down_limit), failures, admission, balancer)
  const attempts = new Attempts(config, usage, wire, admission, pacing, failures, watch)
  const batch = config.mode === "batch" ? new BatchMode(config, batchJournal, usage, wire, cache, endpointIds, warn) : undefined
  const budget = new BudgetGate(config, usage, admission, spending)
  const chat = new ChatCalls(config, transport, cache, usage, wire, attempts, budget, batch)
  const route = new RouteCalls(config, transport, cache, usage, attempts)
  return {
    name: config.name,
    model: config.model,
    capacity,
    complete: chat.complete,
    prepare: chat.prepare,
    request: route.request,
    choicesPerRequest: chat.choicesPerRequest,
    prepareChoices: chat.prepareChoices,
    usage: () => usage,
    load: admission.load,
    rateLimits: pacing.rateLimits,
    close: () => {
      watch.close()
      balancer.close()
      batch?.close()
      wire.close()
    }
  }
}


const isModels = Schema.is(ModelsSection)
const isCache = Schema.is(CacheSection)
const isBudget = Schema.is(Budget)

/**
 * The client for a run: models from the pipeline file's sections, usage into the manifest, answers
 * in the run's one response cache (`Cache.layer`, shared with the other callers of the run).
 */
export const layer: Layer.Layer<Models, RunError, RunContext> = Layer.scoped(
  Models,
  Effect.gen(function* () {
    const run = yield* RunContext
    const responses = yield* Cache.Responses
    const models = run.sections.models
    const cache = run.sections.cache
    const budget = run.sections.budget
    if (models !== undefined && !isModels(models)) {
      return yield* new RunError({ reason: "the models section was not decoded by @synthline/llm", exitCode: 2 })
    }
    return yield* make({
      models: models ?? {},
      cache: cache !== undefined && isCache(cache) ? cache : undefined,
      baseDir: run.baseDir,
      budget: budget !== undefined && isBudget(budget) ? budget : undefined,
      usage: run.usage,
      stateDir: run.stateDir,
      warn: run.warn,
      scrub: run.scrub,
      responses,
      providers: Provider.fromPlugins(run.plugins ?? [])
    })
  })
).pipe(Layer.provide(Cache.layer))

/** A client over the given models (for tests and code pipelines), with its own usage registry. */
export const layerWith = (options: MakeOptions): Layer.Layer<Models> => Layer.scoped(Models, make(options))

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
import { Context, Duration, Effect, Either, Layer, Schedule, Schema, Scope } from "effect"
import { isAbsolute, join, resolve } from "node:path"
import * as Batch from "./Batch.js"
import * as Cache from "./Cache.js"
import { type ChatRequest, type Completion, body, estimateTokens, preview } from "./Chat.js"
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
import { isRetryable, LlmBudgetError, type LlmCacheError, LlmConfigError, LlmRequestError, LlmUnavailableError } from "./Errors.js"
import { Balancer, type Outcome, type Slot } from "./internal/balancer.js"
import { TokenBucket } from "./internal/bucket.js"
import { HeaderLimits, parse as parseLimits } from "./internal/limits.js"
import * as Provider from "./Provider.js"
import * as Retry from "./Retry.js"
import * as Usage from "./Usage.js"
import { isRecord as isObject } from "@synthline/core/Row"

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

const tokenCount = (u: unknown): number => (typeof u === "number" && Number.isFinite(u) && u >= 0 ? u : 0)

/** Token counts of a non-chat answer: its `usage` (`prompt_tokens`/`input_tokens`, `completion_tokens`), else zeros. */
const usageOf = (text: string): Completion["usage"] => {
  try {
    const j: unknown = JSON.parse(text)
    const u = isObject(j) ? j.usage : undefined
    if (!isObject(u)) return { prompt_tokens: 0, completion_tokens: 0 }
    return { prompt_tokens: tokenCount(u.prompt_tokens ?? u.input_tokens), completion_tokens: tokenCount(u.completion_tokens) }
  } catch {
    return { prompt_tokens: 0, completion_tokens: 0 }
  }
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

/** What the models of one client have spent, for the pipeline's budget. */
interface Spending {
  readonly budgetUsd: number | undefined
  /** Each model's cost so far (answers paid for) plus what its requests in flight will cost, estimated; and how many are in flight. */
  readonly models: Array<{ readonly spent: () => number; readonly reserved: () => number }>
}

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
    const budget: SharedBudget = {
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
    }
    return {
      names,
      budget,
      get: (name) =>
        Effect.gen(function* () {
          const existing = made.get(name)
          if (existing !== undefined) return existing
          const config = options.models[name]
          if (config === undefined) {
            return yield* new LlmConfigError({
              reason:
                names.length === 0
                  ? `no model named ${JSON.stringify(name)}: the pipeline file has no models section (models: { ${name}: { model: ..., endpoints: [...] } })`
                  : `no model named ${JSON.stringify(name)} in the models section (declared: ${names.join(", ")})`
            })
          }
          const resolved = resolveModel(name, config, env)
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
          // The model is made after its transport: rate-limit headers reach it through this.
          let rateLimits: ((headers: { readonly [name: string]: string }) => void) | undefined
          const opened = yield* Scope.extend(
            factory(resolved, { baseDir: options.baseDir, rateLimits: (h) => rateLimits?.(h) }),
            scope
          )
          const scrub = options.scrub
          const transport =
            scrub === undefined ? opened : { ...opened, endpoints: opened.endpoints.map((e) => ({ ...e, id: scrub(e.id) })) }
          const c = yield* openCache
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
          made.set(name, model)
          return model
        })
    }
  })

/** An attempt's result with the endpoint slot it used. */
type Attempted<A> =
  | { readonly slot: Slot; readonly ok: true; readonly value: A }
  | { readonly slot: Slot; readonly ok: false; readonly failure: Provider.AttemptFailure }

// Fibers waiting on answers resume after the I/O that delivered them, in small batches: the
// first batch on a timer (after undici's check-phase turn that writes the requests just started
// on the freed connections), the next ones each after another turn of the event loop. A burst
// of answers thus turns into a burst of new requests first, and the work on the answers never
// holds the thread long enough to delay the answers arriving next.
const resumeQueue: Array<() => void> = []
let resumeHead = 0
const resumeBatch = 32
// Response caches holding answers the I/O callbacks staged (`send`): each commits them in one
// transaction before any of their fibers resumes, so no caller sees an answer not yet committed.
const stagedCaches = new Set<Cache.ResponseCache>()
const flushResumes = (): void => {
  if (stagedCaches.size > 0) {
    for (const c of stagedCaches) c.commit()
    stagedCaches.clear()
  }
  const end = Math.min(resumeQueue.length, resumeHead + resumeBatch)
  while (resumeHead < end) resumeQueue[resumeHead++]!()
  if (resumeHead < resumeQueue.length) setImmediate(flushResumes)
  else {
    resumeQueue.length = 0
    resumeHead = 0
  }
}
const afterIo = (f: () => void): void => {
  if (resumeQueue.push(f) === 1) setTimeout(flushResumes, 0)
}

const sleep = (ms: number): Effect.Effect<void> => (ms <= 0 ? Effect.void : Effect.sleep(Duration.millis(ms)))

const makeModel = (
  config: ResolvedModel,
  transport: Provider.Transport,
  cache: Cache.ResponseCache,
  registry: UsageRegistry | undefined,
  openLog: (usage: Usage.ModelUsage, endpoints: ReadonlyArray<string>) => Usage.WireLog,
  warn: (message: string) => void,
  batchJournal?: string | undefined,
  spending: Spending = { budgetUsd: undefined, models: [] }
): Model & { readonly close: () => void; readonly rateLimits: (headers: { readonly [name: string]: string }) => void } => {
  const endpointIds = transport.endpoints.map((e) => e.id)
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
  // Requests, answers and failed attempts are logged as they happen (replayed on resume).
  const wire = openLog(usage, endpointIds)
  // The last failed attempt on each endpoint, and when: what a call that never got a slot
  // reports, and how the client tells that every endpoint is down.
  const lastFailure: Array<Provider.AttemptFailure | undefined> = endpointIds.map(() => undefined)
  const failedAt: Array<number> = endpointIds.map(() => 0)
  const describeFailure = (index: number, f: Provider.AttemptFailure): string =>
    `${endpointIds[index]}: ${f.kind}${f.status !== undefined ? ` ${f.status}` : ""}: ${f.detail}`
  const balancer = new Balancer(
    transport.endpoints.map((e) => e.capacity),
    config.failure_threshold,
    Duration.toMillis(config.cooldown),
    Math.max(Duration.toMillis(config.cooldown), 300_000),
    Date.now,
    (slot, until) => {
      const f = lastFailure[slot.index]
      warn(
        `model ${config.name}: endpoint ${endpointIds[slot.index]} is cooling down until ${new Date(until).toISOString()} after ${slot.failures} failures in a row${f !== undefined ? ` (last: ${f.kind}${f.status !== undefined ? ` ${f.status}` : ""}: ${f.detail})` : ""}; its calls wait for another endpoint or its next probe`
      )
    }
  )
  // Requests are paced smoothly (a burst of two seconds' worth); tokens may burst ten seconds'
  // worth, so one request's estimate (which counts max_tokens) fits and the correction from
  // `usage` takes effect.
  let rpm =
    config.requests_per_minute !== undefined
      ? new TokenBucket(config.requests_per_minute, Math.max(1, config.requests_per_minute / 30))
      : undefined
  let tpm =
    config.tokens_per_minute !== undefined
      ? new TokenBucket(config.tokens_per_minute, Math.max(1, config.tokens_per_minute / 6))
      : undefined
  // What the provider's headers say: the buckets follow its limits (the configured ones stay the
  // ceiling), and requests are held back once what it says remains is used up.
  const announced = new HeaderLimits()
  const rateLimits = (headers: { readonly [name: string]: string }): void => {
    const a = parseLimits(headers)
    if (a === undefined) return
    announced.update(a)
    const r = a.requests
    if (r?.limit !== undefined) {
      rpm ??= new TokenBucket(r.limit, Math.max(1, r.limit / 30))
      rpm.adapt(r.limit, r.remaining, config.requests_per_minute)
    }
    const k = a.tokens
    if (k?.limit !== undefined) {
      tpm ??= new TokenBucket(k.limit, Math.max(1, k.limit / 6))
      tpm.adapt(k.limit, k.remaining, config.tokens_per_minute)
    }
  }
  const timeoutMs = Duration.toMillis(config.timeout)
  const callTimeoutMs = Duration.toMillis(config.call_timeout)
  const downLimitMs = Duration.toMillis(config.down_limit)
  // In batch mode a call waits in a batch, not on a slot: the stage may have a batch file's worth out.
  const capacity =
    config.mode === "batch" ? config.batch.max_requests : transport.endpoints.reduce((n, e) => n + e.capacity, 0)

  const outcomeOf = (failure: Provider.AttemptFailure | undefined): Outcome =>
    failure === undefined ? "ok" : failure.kind === "rate_limited" || !isRetryable(failure.kind) ? "neutral" : "failed"

  // Requests accepted and not on a slot yet, and who wants to hear when slots free up.
  let backlog = 0
  const listeners = new Set<() => void>()
  const notify = (): void => {
    for (const l of listeners) l()
  }
  let inFlight = 0
  // Time with requests in flight (what an hourly price is charged for).
  let busySince = 0
  const release = (slot: Slot, outcome: Outcome): void => {
    inFlight--
    if (inFlight === 0) usage.busy_ms += Date.now() - busySince
    balancer.release(slot, outcome)
    notify()
  }

  // Every endpoint down: since `streakStart` no attempt succeeded and every endpoint failed.
  // Past `down_limit`, with calls still waiting, the model is given up (the run stops, resumably).
  let down: LlmUnavailableError | undefined
  let streakStart: number | undefined
  let downTimer: ReturnType<typeof setTimeout> | undefined
  const armDownCheck = (ms: number): void => {
    if (downTimer === undefined) downTimer = setTimeout(checkDown, Math.max(1, ms))
  }
  const checkDown = (): void => {
    downTimer = undefined
    if (streakStart === undefined || down !== undefined) return
    const t = Date.now()
    const since = streakStart
    if (t - since < downLimitMs) {
      armDownCheck(since + downLimitMs - t)
      return
    }
    const allFailed = failedAt.every((at) => at >= since)
    if (!allFailed || backlog + inFlight === 0) {
      armDownCheck(Math.min(downLimitMs, 1000))
      return
    }
    let last = 0
    for (let i = 1; i < failedAt.length; i++) if (failedAt[i]! > failedAt[last]!) last = i
    const f = lastFailure[last]
    down = new LlmUnavailableError({
      model: config.name,
      endpoints: endpointIds,
      downMs: t - since,
      lastError: f !== undefined ? describeFailure(last, f) : "(none)"
    })
    balancer.fail()
    notify()
  }
  /** Keeps each endpoint's last failure and the model's failing streak up to date. */
  const observe = (index: number, failure: Provider.AttemptFailure | undefined): void => {
    if (failure === undefined) {
      streakStart = undefined
      return
    }
    lastFailure[index] = failure
    if (outcomeOf(failure) !== "failed") return
    const t = Date.now()
    failedAt[index] = t
    if (streakStart === undefined) {
      streakStart = t
      armDownCheck(downLimitMs)
    }
  }
  const load: Rowwise.Gate = {
    backlog: () => backlog,
    capacity,
    subscribe: (listener) => {
      listeners.add(listener)
      return () => void listeners.delete(listener)
    }
  }

  /** A call's place in the backlog: counted from its first attempt until it holds a slot, again while it backs off. */
  const queueEntry = () => {
    let queued = false
    return {
      enter: (): void => {
        if (!queued) {
          queued = true
          backlog++
        }
      },
      leave: (): void => {
        if (queued) {
          queued = false
          backlog--
          notify()
        }
      }
    }
  }
  type QueueEntry = ReturnType<typeof queueEntry>

  const taken = (slot: Slot, entry: QueueEntry): void => {
    entry.leave()
    if (inFlight === 0) busySince = Date.now()
    inFlight++
    usage.requests++
    usage.endpoints[endpointIds[slot.index]!]!.requests++
    wire.request(slot.index)
  }

  /** One attempt through the transport's Effect form: an endpoint slot, the attempt, the slot back. */
  const attemptOnSlot = <A>(
    attempt: (index: number, timeoutMs: number) => Effect.Effect<A, Provider.AttemptFailure>,
    entry: QueueEntry,
    deadline: number
  ): Effect.Effect<Attempted<A> | undefined> =>
    Effect.gen(function* () {
      const slot = yield* balancer.acquireWithin(deadline - Date.now())
      if (slot === undefined) return undefined
      taken(slot, entry)
      const result = yield* attempt(slot.index, Math.max(1, Math.min(timeoutMs, deadline - Date.now()))).pipe(
        Effect.either,
        Effect.onInterrupt(() => Effect.sync(() => release(slot, "neutral")))
      )
      const r: Attempted<A> = result._tag === "Right" ? { slot, ok: true, value: result.right } : { slot, ok: false, failure: result.left }
      observe(slot.index, r.ok ? undefined : r.failure)
      release(slot, outcomeOf(r.ok ? undefined : r.failure))
      return r
    })

  /**
   * One attempt through the transport's callback form. The request starts inside the callback
   * that frees its slot, and the slot is given back (starting the next waiting request) inside
   * the callback that ends it; the fiber hears of the result only after the I/O phase, so a
   * burst of answers turns into a burst of new requests before any answer is processed.
   */
  const startOnSlot = (
    start: NonNullable<Provider.Transport["start"]>,
    payload: object,
    entry: QueueEntry,
    deadline: number,
    stage?: (answer: Omit<Completion, "cached">) => void
  ): Effect.Effect<Attempted<Omit<Completion, "cached">> | undefined> =>
    Effect.async<Attempted<Omit<Completion, "cached">> | undefined>((resume) => {
      let slot: Slot | undefined
      let cancel: (() => void) | undefined
      const withdraw = balancer.submit(
        (s) => {
          slot = s
          taken(s, entry)
          cancel = start(s.index, payload, Math.max(1, Math.min(timeoutMs, deadline - Date.now())), (result) => {
            cancel = undefined
            const r: Attempted<Omit<Completion, "cached">> = Provider.isFailure(result)
              ? { slot: s, ok: false, failure: result }
              : { slot: s, ok: true, value: result }
            observe(s.index, r.ok ? undefined : r.failure)
            release(s, outcomeOf(r.ok ? undefined : r.failure))
            if (r.ok && stage !== undefined) stage(r.value)
            afterIo(() => resume(Effect.succeed(r)))
          })
        },
        { afterMs: deadline - Date.now(), run: () => resume(Effect.succeed(undefined)) }
      )
      return Effect.sync(() => {
        if (slot === undefined) withdraw()
        else if (cancel !== undefined) {
          cancel()
          cancel = undefined
          release(slot, "neutral")
        }
      })
    })

  /** How a call's retries are spaced: the model's retry schedule (`Retry.ofModel`). */
  const retries = Retry.ofModel<Provider.AttemptFailure>(config)

  /** The failure of a call that ran out of `call_timeout`: its own last error, else its endpoints' latest. */
  const outOfTime = (n: number, own: { readonly index: number; readonly failure: Provider.AttemptFailure } | undefined) => {
    let index = own?.index ?? 0
    if (own === undefined) for (let i = 1; i < failedAt.length; i++) if (failedAt[i]! > failedAt[index]!) index = i
    const f = own?.failure ?? lastFailure[index]
    const kind = f?.kind ?? "timeout"
    Usage.bump(usage.failures, kind)
    return new LlmRequestError({
      model: config.name,
      endpoint: endpointIds[index]!,
      kind,
      status: f?.status,
      detail: `${f?.detail ?? "no endpoint took the request"} (gave up at call_timeout ${Duration.format(config.call_timeout)}, retries and waits included)`,
      attempts: n
    })
  }

  /**
   * The attempt loop every call shares: rate limits, an endpoint slot from the balancer, the
   * transport's attempt, usage, retries on the {@link retries} schedule for retryable failures,
   * all within `call_timeout`; a model found down stops it.
   */
  const attempts = <A extends { readonly usage: Completion["usage"] }>(
    estimate: number,
    attempt: (entry: QueueEntry, deadline: number) => Effect.Effect<Attempted<A> | undefined>,
    onSuccess: (answer: A) => Either.Either<void, LlmCacheError> | undefined
  ): Effect.Effect<A, LlmRequestError> => {
    const entry = queueEntry()
    return Effect.gen(function* () {
      const deadline = Date.now() + callTimeoutMs
      let driver: Schedule.ScheduleDriver<unknown, Provider.AttemptFailure> | undefined
      let last: { readonly index: number; readonly failure: Provider.AttemptFailure } | undefined
      for (let n = 1; ; n++) {
        if (down !== undefined) return yield* Effect.die(down)
        if (Date.now() >= deadline) return yield* outOfTime(n - 1, last)
        entry.enter()
        if (rpm !== undefined) yield* sleep(rpm.reserve(1))
        if (tpm !== undefined) yield* sleep(tpm.reserve(estimate))
        for (let wait = announced.take(estimate); wait > 0; wait = announced.take(estimate)) yield* sleep(wait)
        if (n > 1) {
          usage.retries++
          wire.retry()
        }
        const r = yield* attempt(entry, deadline)
        if (r === undefined) {
          // No slot before the deadline, or the model was given up while this call waited.
          if (tpm !== undefined) tpm.refund(estimate)
          if (down !== undefined) return yield* Effect.die(down)
          return yield* outOfTime(n - 1, last)
        }
        const ep = usage.endpoints[endpointIds[r.slot.index]!]!
        if (r.ok) {
          const answer = r.value
          const tokens = answer.usage.prompt_tokens + answer.usage.completion_tokens
          if (tpm !== undefined && tokens > 0) tpm.refund(estimate - tokens)
          usage.completions++
          usage.prompt_tokens += answer.usage.prompt_tokens
          usage.completion_tokens += answer.usage.completion_tokens
          usage.cached_prompt_tokens += answer.usage.cached_tokens ?? 0
          ep.prompt_tokens += answer.usage.prompt_tokens
          ep.completion_tokens += answer.usage.completion_tokens
          wire.answer(r.slot.index, answer.usage.prompt_tokens, answer.usage.completion_tokens)
          // Committed to the cache before anyone sees it: a kill from here on never asks it again.
          const stored = onSuccess(answer)
          if (stored !== undefined && Either.isLeft(stored)) return yield* Effect.die(stored.left)
          return answer
        }
        const failure = r.failure
        last = { index: r.slot.index, failure }
        if (tpm !== undefined) tpm.refund(estimate)
        Usage.bump(usage.errors, failure.kind)
        Usage.bump(ep.errors, failure.kind)
        wire.error(r.slot.index, failure.kind)
        driver ??= yield* Schedule.driver(retries)
        entry.enter()
        // The schedule sleeps the delay; it is done when the failure is not retryable or no retry is left.
        const again = yield* Effect.either(driver.next(failure))
        if (Either.isLeft(again)) {
          Usage.bump(usage.failures, failure.kind)
          return yield* new LlmRequestError({
            model: config.name,
            endpoint: endpointIds[r.slot.index]!,
            kind: failure.kind,
            status: failure.status,
            detail: failure.detail,
            attempts: n,
            retryAfterMs: failure.retryAfterMs
          })
        }
      }
    }).pipe(Effect.ensuring(Effect.sync(entry.leave)))
  }

  // Batch mode: the answers of a batch are counted and cached as they are taken in, also those of
  // a killed run's batches that no call of this run waits for (yet).
  let storeError: LlmCacheError | undefined
  const batcher =
    config.mode !== "batch"
      ? undefined
      : Batch.make(config, batchJournal, {
          sent: (n) => {
            usage.requests += n
            usage.endpoints[endpointIds[0]!]!.requests += n
            for (let i = 0; i < n; i++) wire.request(0)
          },
          answered: (key, answer) => {
            const ep = usage.endpoints[endpointIds[0]!]!
            usage.completions++
            usage.prompt_tokens += answer.usage.prompt_tokens
            usage.completion_tokens += answer.usage.completion_tokens
            usage.batch_prompt_tokens += answer.usage.prompt_tokens
            usage.batch_completion_tokens += answer.usage.completion_tokens
            ep.prompt_tokens += answer.usage.prompt_tokens
            ep.completion_tokens += answer.usage.completion_tokens
            wire.answer(0, answer.usage.prompt_tokens, answer.usage.completion_tokens)
            if (answer.finish_reason === "length") usage.truncated++
            const stored = cache.store(key, config.model, answer)
            if (Either.isLeft(stored)) storeError ??= stored.left
          },
          failed: (kind) => {
            Usage.bump(usage.errors, kind)
            Usage.bump(usage.endpoints[endpointIds[0]!]!.errors, kind)
            wire.error(0, kind)
          },
          retried: (n) => {
            usage.retries += n
            for (let i = 0; i < n; i++) wire.retry()
          },
          gaveUp: (kind) => Usage.bump(usage.failures, kind),
          progress: warn
        }, endpointIds[0])

  // Budgets: before a request goes out, the cost so far plus what the requests in flight and this
  // one will cost (estimated: prompt characters ÷ 4, or the average prompt so far when larger, and
  // max_tokens, or the average answer so far) must stay within the model's and the pipeline's.
  const price = config.price
  let reservedUsd = 0
  let reservations = 0
  const spentUsd = (): number => {
    if (price === undefined) return reservedUsd
    // An hourly price counts the time in flight up to now, not only up to the last idle moment.
    const open = price.per_hour !== undefined && inFlight > 0 ? Date.now() - busySince : 0
    return Usage.cost(open > 0 ? { ...usage, busy_ms: usage.busy_ms + open } : usage, price, config.mode === "batch").usd + reservedUsd
  }
  spending.models.push({ spent: spentUsd, reserved: () => reservations })
  const estimateUsd = (request: ChatRequest, choices = 1): number => {
    if (price === undefined) return 0
    let chars = 0
    for (const m of request.messages) chars += m.content.length + 8
    const n = usage.completions
    const prompt = Math.max(Math.ceil(chars / 4), n > 0 ? usage.prompt_tokens / n : 0)
    const completion = (request.max_tokens ?? (n > 0 ? usage.completion_tokens / n : 512)) * choices
    const full = (prompt * (price.input ?? 0) + completion * (price.output ?? 0)) / 1e6
    return config.mode === "batch" ? full * (1 - price.batch_discount) : full
  }
  const budgeted = config.budget !== undefined || spending.budgetUsd !== undefined
  /** Reserves a request's estimated cost, or the budget error when it would pass a budget. */
  const reserve = (request: ChatRequest, choices: number): LlmBudgetError | number => {
    const next = estimateUsd(request, choices)
    const own = config.budget?.usd
    if (own !== undefined) {
      const spent = spentUsd()
      if (spent + next > own) {
        return new LlmBudgetError({ whose: `model ${config.name}`, setting: `models.${config.name}.budget.usd`, budgetUsd: own, spentUsd: spent, nextUsd: next })
      }
    }
    const all = spending.budgetUsd
    if (all !== undefined) {
      const spent = spending.models.reduce((sum, m) => sum + m.spent(), 0)
      if (spent + next > all) return new LlmBudgetError({ whose: "the pipeline", setting: "budget.usd", budgetUsd: all, spentUsd: spent, nextUsd: next })
    }
    reservedUsd += next
    reservations++
    return next
  }
  const withBudget = <A>(request: ChatRequest, call: Effect.Effect<A, LlmRequestError>, choices = 1): Effect.Effect<A, LlmRequestError> => {
    if (!budgeted) return call
    // A request that would pass a budget waits while others are in flight (their answers may cost
    // less than estimated); with none left in flight, the run stops.
    const admit: Effect.Effect<number> = Effect.suspend(() => {
      const r = reserve(request, choices)
      if (typeof r === "number") return Effect.succeed(r)
      const pending = spending.budgetUsd !== undefined ? spending.models.reduce((sum, m) => sum + m.reserved(), 0) : reservations
      return pending > 0 ? Effect.zipRight(sleep(20), admit) : Effect.die(r)
    })
    return Effect.flatMap(admit, (r) =>
      Effect.ensuring(
        call,
        Effect.sync(() => {
          // Counted, so that float residue never leaves a phantom reservation.
          reservations--
          reservedUsd = reservations === 0 ? 0 : Math.max(0, reservedUsd - r)
        })
      )
    )
  }

  const prepare = (request: ChatRequest, options?: CallOptions): Completion | Effect.Effect<Completion, LlmRequestError> => {
    usage.calls++
    const sampleIndex = options?.sampleIndex ?? 0
    // Batch mode keys its items by the cache key, with or without a cache.
    const key =
      cache.mode === "off" && batcher === undefined ? "" : Cache.key(config.model, request, config.extra_body, sampleIndex)
    if (key !== "") {
      const hit = cache.lookup(key)
      if (Either.isLeft(hit)) return Effect.die(hit.left)
      if (hit.right !== undefined) {
        usage.cache_hits++
        usage.cache_hit_prompt_tokens += hit.right.usage.prompt_tokens
        usage.cache_hit_completion_tokens += hit.right.usage.completion_tokens
        return { ...hit.right, cached: true }
      }
    }
    return withBudget(request, send(request, key))
  }

  const complete = (request: ChatRequest, options?: CallOptions): Effect.Effect<Completion, LlmRequestError> =>
    Effect.suspend(() => {
      const r = prepare(request, options)
      return Effect.isEffect(r) ? r : Effect.succeed(r)
    })

  const choicesPerRequest = config.mode === "batch" ? 1 : Math.max(1, config.choices_per_request ?? 1)
  type Answered = Either.Either<Completion, LlmRequestError>
  const prepareChoices = (
    request: ChatRequest,
    sampleIndices: ReadonlyArray<number>,
    seedOf?: ((sampleIndex: number) => number) | undefined
  ): ReadonlyArray<Answered> | Effect.Effect<ReadonlyArray<Answered>> => {
    const all: Array<Answered> = new Array(sampleIndices.length)
    const later: Array<Effect.Effect<void>> = []
    for (let g = 0; g < sampleIndices.length; g += choicesPerRequest) {
      const end = Math.min(sampleIndices.length, g + choicesPerRequest)
      const seed = seedOf?.(sampleIndices[g]!)
      // Choice j of this group's requests: the one-answer request that gives the same answer.
      const single = (pos: number): ChatRequest => (seed === undefined ? request : { ...request, seed: seed + (pos - g) })
      const keys: Array<string> = []
      const missing: Array<number> = []
      for (let pos = g; pos < end; pos++) {
        usage.calls++
        const key = cache.mode === "off" ? "" : Cache.key(config.model, single(pos), config.extra_body, sampleIndices[pos]!)
        keys[pos] = key
        const hit = key === "" ? Either.right(undefined) : cache.lookup(key)
        if (Either.isLeft(hit)) return Effect.die(hit.left)
        if (hit.right !== undefined) {
          usage.cache_hits++
          usage.cache_hit_prompt_tokens += hit.right.usage.prompt_tokens
          usage.cache_hit_completion_tokens += hit.right.usage.completion_tokens
          all[pos] = Either.right({ ...hit.right, cached: true })
        } else missing.push(pos)
      }
      if (missing.length === 0) continue
      const fill = (positions: ReadonlyArray<number>, call: Effect.Effect<ReadonlyArray<Completion>, LlmRequestError>) =>
        later.push(
          Effect.either(call).pipe(
            Effect.tap((r) =>
              Effect.sync(() => {
                for (const [i, pos] of positions.entries()) {
                  if (Either.isLeft(r)) all[pos] = Either.left(r.left)
                  else if (all[pos] === undefined) all[pos] = Either.right(r.right[i]!)
                }
              })
            )
          )
        )
      if (missing.length === 1) {
        const pos = missing[0]!
        fill(missing, Effect.map(withBudget(single(pos), send(single(pos), keys[pos]!)), (a) => [a]))
      } else if (seed === undefined) {
        // Unseeded choices are interchangeable: as many as are missing, one per missing index.
        fill(missing, withBudget(request, sendChoices(request, missing.map((pos) => keys[pos]!)), missing.length))
      } else {
        // Seeded: choice j has seed + j, so the request spans the first to the last missing one.
        const first = missing[0]!
        const last = missing[missing.length - 1]!
        const span = Array.from({ length: last - first + 1 }, (_, i) => first + i)
        const wanted = span.map((pos) => (all[pos] === undefined ? keys[pos]! : undefined))
        fill(span, withBudget(single(first), sendChoices(single(first), wanted), span.length))
      }
    }
    if (later.length === 0) return all
    return Effect.as(later.length === 1 ? later[0]! : Effect.all(later, { concurrency: "unbounded", discard: true }), all)
  }

  /**
   * One chat request for `keys.length` answers (`n`); each answer is counted and stored under its
   * key (`undefined`: an answer not wanted, already cached). Fewer choices than asked for is a
   * `bad_response` (retried): a server that ignores `n` answers with one.
   */
  const sendChoices = (request: ChatRequest, keys: ReadonlyArray<string | undefined>): Effect.Effect<ReadonlyArray<Completion>, LlmRequestError> => {
    const count = keys.length
    const payload = { ...body(config.model, request, config.extra_body), n: count }
    const start = transport.start
    const checked = (r: Attempted<Omit<Completion, "cached">> | undefined): Attempted<Omit<Completion, "cached">> | undefined =>
      r === undefined || !r.ok || (r.value.choices?.length ?? 1) === count
        ? r
        : {
            slot: r.slot,
            ok: false,
            failure: {
              kind: "bad_response",
              detail: `asked for ${count} choices (n: ${count}, choices_per_request) and got ${r.value.choices?.length ?? 1}: does the server honour n?`
            }
          }
    let answers: ReadonlyArray<Completion> = []
    return attempts(
      estimateTokens(request) + (count - 1) * (request.max_tokens ?? 512),
      start !== undefined
        ? (entry, deadline) => Effect.map(startOnSlot(start, payload, entry, deadline), checked)
        : (entry, deadline) => Effect.map(attemptOnSlot((index, ms) => transport.send(index, payload, ms), entry, deadline), checked),
      (answer) => {
        answers = Usage.splitChoices(answer)
        // `attempts` counted one answer and the request's tokens; the other answers add no tokens.
        for (let i = 1; i < count; i++) {
          usage.completions++
          wire.choice()
        }
        for (const [i, a] of answers.entries()) {
          const key = keys[i]
          if (a.finish_reason === "length" && key !== undefined) usage.truncated++
          if (key !== undefined && key !== "") {
            const stored = cache.store(key, config.model, a)
            if (Either.isLeft(stored)) return stored
          }
        }
        return undefined
      }
    ).pipe(Effect.map(() => answers))
  }

  const send = (request: ChatRequest, key: string): Effect.Effect<Completion, LlmRequestError> => {
    const payload = body(config.model, request, config.extra_body)
    if (batcher !== undefined) {
      return batcher.call(payload, key).pipe(
        Effect.flatMap((answer) => (storeError !== undefined ? Effect.die(storeError) : Effect.succeed({ ...answer, cached: false })))
      )
    }
    const start = transport.start
    // Through the callback form the answer is staged in the cache as it arrives and committed
    // with the others of its turn before this fiber resumes (flushResumes); else stored here.
    let staged: Cache.Staged | undefined
    const stage =
      key === ""
        ? undefined
        : (answer: Omit<Completion, "cached">): void => {
            staged = cache.stage(key, config.model, answer)
            stagedCaches.add(cache)
          }
    return attempts(
      estimateTokens(request),
      start !== undefined
        ? (entry, deadline) => startOnSlot(start, payload, entry, deadline, stage)
        : (entry, deadline) => attemptOnSlot((index, ms) => transport.send(index, payload, ms), entry, deadline),
      (answer) => {
        if (answer.finish_reason === "length") usage.truncated++
        if (key === "") return undefined
        const receipt = staged
        staged = undefined
        return receipt !== undefined ? receipt.result() : cache.store(key, config.model, answer)
      }
    ).pipe(Effect.map((answer) => ({ ...answer, cached: false })))
  }

  const request = <A>(route: string, payload: object, options: RequestOptions<A>): Effect.Effect<RouteAnswer<A>, LlmRequestError> =>
    Effect.suspend((): Effect.Effect<RouteAnswer<A>, LlmRequestError> => {
      usage.calls++
      const post = transport.post
      if (post === undefined) {
        Usage.bump(usage.failures, "bad_request")
        return Effect.fail(
          new LlmRequestError({
            model: config.name,
            endpoint: endpointIds[0] ?? "(none)",
            kind: "bad_request",
            detail: `provider ${config.provider} cannot send requests to ${route}`,
            attempts: 0
          })
        )
      }
      const full: object = { ...config.extra_body, ...payload }
      const key = cache.mode === "off" ? "" : Cache.routeKey(config.model, route, full, options.sampleIndex ?? 0)
      const decode = (text: string): Either.Either<A, string> => {
        let json: unknown
        try {
          json = JSON.parse(text)
        } catch {
          return Either.left(`the server's answer is not JSON: ${preview(text)}`)
        }
        return options.parse(json)
      }
      if (key !== "") {
        const found = cache.lookup(key)
        if (Either.isLeft(found)) return Effect.die(found.left)
        const hit = found.right
        // A cached answer decoded once; one the parser now refuses (changed code) is asked again.
        const value = hit !== undefined ? decode(hit.content) : undefined
        if (hit !== undefined && value !== undefined && Either.isRight(value)) {
          usage.cache_hits++
          usage.cache_hit_prompt_tokens += hit.usage.prompt_tokens
          usage.cache_hit_completion_tokens += hit.usage.completion_tokens
          return Effect.succeed({ value: value.right, usage: hit.usage, cached: true })
        }
      }
      return attempts(
        Math.ceil(JSON.stringify(full).length / 4),
        (entry, deadline) =>
          attemptOnSlot((index, ms) =>
          post(index, route, full, ms).pipe(
            Effect.flatMap((raw): Effect.Effect<{ readonly text: string; readonly value: A; readonly usage: Completion["usage"] }, Provider.AttemptFailure> => {
              const value = decode(raw.text)
              return Either.isLeft(value)
                ? Effect.fail({ kind: "bad_response", detail: value.left })
                : Effect.succeed({ text: raw.text, value: value.right, usage: usageOf(raw.text) })
            })
          ), entry, deadline),
        (answer) => (key !== "" ? cache.store(key, config.model, { content: answer.text, finish_reason: null, usage: answer.usage }) : undefined)
      ).pipe(Effect.map((answer) => ({ value: answer.value, usage: answer.usage, cached: false })))
    })
  return {
    name: config.name,
    model: config.model,
    capacity,
    complete,
    prepare,
    request,
    choicesPerRequest,
    prepareChoices,
    usage: () => usage,
    load,
    rateLimits,
    close: () => {
      if (downTimer !== undefined) clearTimeout(downTimer)
      downTimer = undefined
      balancer.close()
      batcher?.close()
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

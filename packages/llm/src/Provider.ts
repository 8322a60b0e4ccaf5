/**
 * Providers: how a model's requests reach it. `openai` (built in) speaks the OpenAI-compatible
 * `POST /v1/chat/completions` over HTTP to every endpoint of the model, `anthropic` (built in)
 * the Anthropic Messages API `POST /v1/messages`; other packages (an
 * embedded llama.cpp, say) contribute their own through their plugin,
 * `definePlugin({ providers: [Provider.define(name, factory, info)] })`, under a name used as
 * `provider:` in `models`. Nothing is registered globally: the model client of a run gets the
 * providers of the run's plugins ({@link fromPlugins}).
 * A transport may also `post` to other routes of the same endpoints (`/moderations`).
 * The client around a transport (cache, limits, retries, balancing, usage) is the same for all.
 */
import type { Plugin } from "@synthline/core/Plugin"
import { Effect, Redacted, type Schema, type Scope } from "effect"
import { type Completion, parseResponse, preview } from "./Chat.js"
import type { ResolvedModel } from "./Config.js"
import { type FailureKind, LlmConfigError } from "./Errors.js"
import { begin, type HttpTarget, retryAfterMs, target } from "./internal/http.js"
import { aheadOf, HttpThread, type Sender, threadedSender } from "./internal/httpThread.js"
import * as anthropic from "./internal/anthropic.js"

/** A failed attempt, before retries are decided. */
export interface AttemptFailure {
  readonly kind: FailureKind
  readonly detail: string
  readonly status?: number | undefined
  readonly retryAfterMs?: number | undefined
}

/** One endpoint of a transport. */
export interface TransportEndpoint {
  /** How the endpoint is named in errors and usage (a base URL without credentials or query). */
  readonly id: string
  /** Requests it takes at once. */
  readonly capacity: number
}

/** Where a model's requests go. */
export interface Transport {
  readonly endpoints: ReadonlyArray<TransportEndpoint>
  /** Sends a request body (see `Chat.body`) to endpoint `index`. */
  readonly send: (
    index: number,
    body: object,
    timeoutMs: number
  ) => Effect.Effect<Omit<Completion, "cached">, AttemptFailure>
  /**
   * Optional callback form of `send`: starts the request now and calls `ended` exactly once, from
   * the I/O callback that completes it, unless the returned cancel function runs first. The client
   * uses it to hand a freed endpoint slot to the next waiting request before doing anything else
   * with the answer, so a fleet with fixed latency stays saturated (DESIGN §5).
   */
  readonly start?: (
    index: number,
    body: object,
    timeoutMs: number,
    ended: (result: Omit<Completion, "cached"> | AttemptFailure) => void
  ) => () => void
  /**
   * Sends a JSON body to another route of endpoint `index` (e.g. `/moderations`, next to
   * `/chat/completions` under the base URL) and returns the 2xx answer's text; non-2xx answers
   * fail as `send` classifies them. Optional: transports that only chat leave it out.
   */
  readonly post?: (
    index: number,
    route: string,
    body: object,
    timeoutMs: number
  ) => Effect.Effect<RawAnswer, AttemptFailure>
}

/** The body of a 2xx answer to {@link Transport.post}. */
export interface RawAnswer {
  readonly text: string
}

/** Makes the transport of a model; resources are released with the scope. */
export type ProviderFactory = (
  model: ResolvedModel,
  context: ProviderContext
) => Effect.Effect<Transport, LlmConfigError, Scope.Scope>

/** What a provider factory is given besides the model. */
export interface ProviderContext {
  readonly baseDir: string
  /**
   * Where an HTTP transport reports the rate-limit headers of each answer (`x-ratelimit-*`,
   * `anthropic-ratelimit-*`, names lower-cased), so the client slows down before a 429.
   */
  readonly rateLimits?: ((headers: { readonly [name: string]: string }) => void) | undefined
  /** Where a transport's notices go (the run's progress reporter): e.g. that its HTTP thread stopped. */
  readonly warn?: ((message: string) => void) | undefined
}

/** What a provider tells the reference about itself (`synthline`'s docs list every provider). */
export interface ProviderInfo {
  /** One or two sentences: what serves the model. */
  readonly description: string
  /** The npm package that registers it. */
  readonly packageName?: string | undefined
  /** The Schema of a model's `options` for this provider. */
  // biome-ignore lint/suspicious/noExplicitAny: any options Schema
  readonly options?: Schema.Schema<any, any> | undefined
}

/** A provider as a plugin contributes it (`definePlugin({ providers: [...] })`). */
export interface Definition {
  /** The name pipeline files use as `provider:` in `models`. */
  readonly name: string
  /** Makes the transport of a model. */
  readonly make: ProviderFactory
  /** What the reference shows of it. */
  readonly info: ProviderInfo
}

/** A provider for a plugin's `providers` list. */
export const define = (name: string, make: ProviderFactory, info: ProviderInfo = { description: "" }): Definition => ({ name, make, info })

/** Whether what a plugin lists under `providers` is a provider of this package's shape. */
export const isDefinition = (u: { readonly name: string }): u is Definition =>
  "make" in u && typeof u.make === "function" && "info" in u && typeof u.info === "object" && u.info !== null

/**
 * The providers a set of plugins contributes (each plugin's `providers`, in load order), after the
 * built-in `openai`; a later one of the same name replaces an earlier one.
 */
export const fromPlugins = (plugins: ReadonlyArray<Plugin>): ReadonlyArray<Definition> =>
  fromList(plugins.flatMap((plugin) => (plugin.providers ?? []).filter(isDefinition)))

/** Every provider of a list, with its info, for the reference (the built-in `openai` first). */
export const described = (
  providers: ReadonlyArray<Definition> = [builtin]
): ReadonlyArray<{ readonly name: string; readonly info: ProviderInfo }> => fromList(providers).map(({ name, info }) => ({ name, info }))

/** A list of providers with the built-in `openai` first and each name once. */
export const fromList = (providers: ReadonlyArray<Definition>): ReadonlyArray<Definition> => {
  const byName = new Map<string, Definition>([
    ["openai", builtin],
    ["anthropic", anthropicBuiltin]
  ])
  for (const p of providers) byName.set(p.name, p)
  return [...byName.values()]
}

/** A base URL as shown in errors and usage: no user, password or query string. */
export const displayUrl = (url: string): string => {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, "")}`
  } catch {
    return "(invalid URL)"
  }
}

const isHttpUrl = (url: string): boolean => {
  try {
    const u = new URL(url)
    return u.protocol === "http:" || u.protocol === "https:"
  } catch {
    return false
  }
}

const contextOverflow =
  /context length|context_length|maximum context|context window|too many tokens|prompt is too long|exceeds the (?:model|maximum)|input is too long/i

/** The message an error body carries (`error.message`, `message`, `detail`), else a preview of it. */
const serverMessage = (text: string): string => {
  try {
    const j: unknown = JSON.parse(text)
    if (typeof j === "object" && j !== null) {
      const o = j as { readonly [key: string]: unknown }
      const e = o.error
      if (typeof e === "object" && e !== null && typeof (e as { message?: unknown }).message === "string") {
        return preview((e as { message: string }).message)
      }
      if (typeof e === "string") return preview(e)
      if (typeof o.message === "string") return preview(o.message)
      if (typeof o.detail === "string") return preview(o.detail)
    }
  } catch {
    // not JSON: fall through
  }
  return preview(text)
}

/** Fails with the model named when one of its endpoints is not an http(s) base URL. */
const checkEndpoints = (model: ResolvedModel): Effect.Effect<void, LlmConfigError> =>
  Effect.gen(function* () {
    for (const url of model.endpoints) {
      if (!isHttpUrl(url)) {
        return yield* new LlmConfigError({
          reason: `model ${model.name}: endpoint ${JSON.stringify(displayUrl(url))} is not an http(s) base URL`
        })
      }
    }
  })

/**
 * One HTTP target per endpoint of `model` for `path` (a connection pool each, closed with the
 * scope); an endpoint that is not an http(s) base URL fails with the model named.
 */
export const endpointTargets = (model: ResolvedModel, path: string): Effect.Effect<Array<HttpTarget>, LlmConfigError, Scope.Scope> =>
  Effect.gen(function* () {
    yield* checkEndpoints(model)
    const targets: Array<HttpTarget> = []
    for (const url of model.endpoints) {
      const t = target(url, path, model.concurrency)
      yield* Effect.addFinalizer(() => Effect.promise(() => t.close()).pipe(Effect.ignore))
      targets.push(t)
    }
    return targets
  })

/** Classifies an HTTP answer into a completion or a failed attempt. */
export const classify = (
  status: number,
  text: string,
  retryAfter: string | undefined
): Omit<Completion, "cached"> | AttemptFailure => {
  if (status >= 200 && status < 300) {
    const parsed = parseResponse(text)
    return typeof parsed === "string" ? { kind: "bad_response", detail: parsed, status } : parsed
  }
  return classifyError(status, text, retryAfter)
}

/** Classifies a non-2xx HTTP answer into a failed attempt (any route). */
export const classifyError = (status: number, text: string, retryAfter: string | undefined): AttemptFailure => {
  const detail = serverMessage(text)
  if (status === 429) return { kind: "rate_limited", detail, status, retryAfterMs: retryAfterMs(retryAfter) }
  if (status === 408) return { kind: "timeout", detail, status }
  if (status >= 500) return { kind: "server_error", detail, status, retryAfterMs: retryAfterMs(retryAfter) }
  if (status === 401 || status === 403) return { kind: "unauthorized", detail, status }
  if (contextOverflow.test(text)) return { kind: "context_overflow", detail, status }
  return { kind: "bad_request", detail, status }
}

/** Whether what a transport gave back is a failed attempt. */
export const isFailure = (u: Omit<Completion, "cached"> | AttemptFailure): u is AttemptFailure => "kind" in u

/** Whether a model's requests go through an {@link HttpThread}: `http_thread`, or with `auto` a model of 256 slots or more. */
export const usesHttpThread = (model: ResolvedModel): boolean =>
  model.mode === "online" &&
  (model.http_thread === "auto" ? model.endpoints.length * model.concurrency >= 256 : model.http_thread)

/**
 * How the openai provider's requests leave: from this thread, on a connection pool per endpoint,
 * or through the model's {@link HttpThread} (closed with the scope either way); and how many
 * requests each endpoint may have out (with the thread, those sent ahead wait there for a
 * connection: {@link aheadOf} more).
 */
const openSender = (
  model: ResolvedModel,
  headers: { readonly [key: string]: string },
  context: ProviderContext
): Effect.Effect<{ readonly send: Sender; readonly capacity: number }, LlmConfigError, Scope.Scope> =>
  Effect.gen(function* () {
    if (usesHttpThread(model)) {
      yield* checkEndpoints(model)
      const init = { endpoints: model.endpoints.map((baseUrl) => ({ baseUrl, connections: model.concurrency })), headers }
      const warn = (message: string) => context.warn?.(`model ${model.name}: ${message}`)
      const sender = yield* Effect.acquireRelease(
        Effect.sync(() => threadedSender(new HttpThread(init), init, warn)),
        (s) => Effect.promise(() => s.close()).pipe(Effect.ignore)
      )
      return { send: sender.send, capacity: model.concurrency + aheadOf(model.concurrency) }
    }
    const targets = yield* endpointTargets(model, "")
    const send: Sender = (index, path, body, timeoutMs, ended) => begin({ ...targets[index]!, path }, headers, body, timeoutMs, ended)
    return { send, capacity: model.concurrency }
  })

/** The built-in OpenAI-compatible HTTP provider. */
export const openai: ProviderFactory = (model, context) =>
  Effect.gen(function* () {
    if (model.endpoints.length === 0) {
      return yield* new LlmConfigError({
        reason: `model ${model.name} has no endpoints: list base URLs under models.${model.name}.endpoints (e.g. http://host:8000/v1) or set OPENAI_BASE_URL`
      })
    }
    const secret = model.api_key !== undefined ? Redacted.value(model.api_key) : undefined
    const headers: { [key: string]: string } = { "content-type": "application/json", accept: "application/json" }
    if (secret !== undefined && secret !== "") headers.authorization = `Bearer ${secret}`
    const { send, capacity } = yield* openSender(model, headers, context)
    // Every route is a path under the endpoint's base URL, on the same connections.
    const basePaths = model.endpoints.map((url) => new URL(url).pathname.replace(/\/+$/, ""))
    const chatPaths = basePaths.map((p) => `${p}/chat/completions`)
    // The key never leaves in a message, even if a server echoes it.
    const scrub = (s: string): string => (secret !== undefined && secret.length >= 4 ? s.split(secret).join("<redacted>") : s)
    const start: NonNullable<Transport["start"]> = (index, body, timeoutMs, ended) =>
      send(index, chatPaths[index]!, JSON.stringify(body), timeoutMs, (r) => {
        if (!r.ok) return ended({ kind: r.failure.kind, detail: scrub(r.failure.detail) })
        if (r.answer.limits !== undefined) context.rateLimits?.(r.answer.limits)
        const c = classify(r.answer.status, r.answer.text, r.answer.retryAfter)
        ended(isFailure(c) ? { ...c, detail: scrub(c.detail) } : c)
      })
    return {
      endpoints: model.endpoints.map((url) => ({ id: displayUrl(url), capacity })),
      start,
      send: (index, body, timeoutMs) =>
        Effect.async<Omit<Completion, "cached">, AttemptFailure>((resume) => {
          const cancel = start(index, body, timeoutMs, (r) => resume(isFailure(r) ? Effect.fail(r) : Effect.succeed(r)))
          return Effect.sync(cancel)
        }),
      post: (index, route, body, timeoutMs) =>
        Effect.async<RawAnswer, AttemptFailure>((resume) => {
          const cancel = send(index, `${basePaths[index]!}${route}`, JSON.stringify(body), timeoutMs, (r) => {
            if (!r.ok) return resume(Effect.fail({ kind: r.failure.kind, detail: scrub(r.failure.detail) }))
            const answer = r.answer
            if (answer.limits !== undefined) context.rateLimits?.(answer.limits)
            if (answer.status >= 200 && answer.status < 300) return resume(Effect.succeed({ text: answer.text }))
            const failure = classifyError(answer.status, answer.text, answer.retryAfter)
            resume(Effect.fail({ ...failure, detail: scrub(failure.detail) }))
          })
          return Effect.sync(cancel)
        })
    }
  })

/** What the built-in `openai` provider tells the reference. */
export const openaiInfo: ProviderInfo = {
  description:
    "Any OpenAI-compatible POST /v1/chat/completions server over HTTP: vLLM, SGLang, the llama.cpp server, Ollama, DeepInfra, OpenAI. Uses endpoints and api_key; options are not used.",
  packageName: "@synthline/llm"
}

/** The built-in `openai` provider. */
const builtin: Definition = { name: "openai", make: openai, info: openaiInfo }

/** The built-in `anthropic` provider: the Anthropic Messages API (`POST /v1/messages`, `x-api-key`). */
const anthropicBuiltin: Definition = {
  name: "anthropic",
  // Called late: internal/anthropic.js imports this module.
  make: (model, context) => anthropic.provider(model, context),
  info: {
    description:
      "The Anthropic Messages API (POST /v1/messages with x-api-key and anthropic-version). endpoints default to https://api.anthropic.com/v1 and api_key to $ANTHROPIC_API_KEY; mode batch uses the Message Batches API. The seed and response_format are not sent (the API has none).",
    packageName: "@synthline/llm"
  }
}

/**
 * The `llama-cpp` provider: a model file (GGUF) run in this process by node-llama-cpp, behind
 * the same transport interface as the HTTP client, so the cache, limits, retries and usage of
 * `@synthline/llm` apply unchanged. The chat template comes from the GGUF metadata; sampling
 * parameters and the per-request seed are honoured; `response_format` with a JSON schema
 * becomes a grammar, so the answer always parses; `concurrency` sequences of one context
 * answer requests in parallel (batched together by llama.cpp).
 */
import { doc } from "@synthline/core/Stage"
import { isRecord as isObject } from "@synthline/core/Row"
import type { ResolvedModel } from "@synthline/llm/Config"
import { LlmConfigError } from "@synthline/llm/Errors"
import type { AttemptFailure, ProviderFactory, Transport } from "@synthline/llm/Provider"
import { Effect, Either, Queue, Schema } from "effect"
import { existsSync } from "node:fs"
import { basename, isAbsolute, resolve } from "node:path"
import {
  type ChatHistoryItem,
  getLlama,
  type GbnfJsonSchema,
  type Llama,
  LlamaChat,
  type LlamaContextSequence,
  type LlamaGrammar,
  LlamaLogLevel,
  type LlamaModel,
  resolveModelFile
} from "node-llama-cpp"

/** The name pipeline files use as `provider:`. */
export const name = "llama-cpp"

/** The provider's `options` (all optional). */
export const Options = Schema.Struct({
  threads: Schema.optional(
    Schema.Int.pipe(Schema.nonNegative(), doc("CPU threads for evaluation (0: all cores). Default: node-llama-cpp's (the machine's math cores)."))
  ),
  gpu: Schema.optional(
    Schema.Literal("auto", "cuda", "vulkan", "metal", false).pipe(doc("GPU backend: auto (default), cuda, vulkan, metal, or false for CPU only."))
  ),
  gpu_layers: Schema.optional(
    Schema.Int.pipe(Schema.nonNegative(), doc("Layers offloaded to the GPU. Default: as many as fit."))
  ),
  context_size: Schema.optional(
    Schema.Int.pipe(
      Schema.positive(),
      doc("Tokens each sequence sees (prompt + answer). Default: what memory allows, up to the model's training size and at most 8192.")
    )
  ),
  batch_size: Schema.optional(Schema.Int.pipe(Schema.positive(), doc("Tokens evaluated per batch."))),
  flash_attention: Schema.optional(Schema.Boolean.pipe(doc("Use flash attention (default: when supported)."))),
  models_dir: Schema.optional(Schema.String.pipe(doc("Where `hf:` model URIs are downloaded to (relative to the pipeline file).")))
}).annotations({ identifier: "LlamaCppOptions", description: "Options of the llama-cpp provider." })

/** The provider's `options`. */
export type Options = typeof Options.Type

const isRemote = (path: string): boolean => /^(hf:|https?:\/\/)/i.test(path)

const llamas = new Map<string, Promise<Llama>>()

/** One llama.cpp runtime per GPU choice for the process (binaries are loaded once). */
const runtime = (gpu: Options["gpu"]): Promise<Llama> => {
  const key = String(gpu ?? "auto")
  let llama = llamas.get(key)
  if (llama === undefined) {
    // build: "never": only the prebuilt binaries of the installed @node-llama-cpp/* packages are
    // used; nothing is downloaded or compiled at run time.
    llama = getLlama({ build: "never", gpu: gpu ?? "auto", progressLogs: false, logLevel: LlamaLogLevel.error })
    llama.catch(() => llamas.delete(key))
    llamas.set(key, llama)
  }
  return llama
}

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e))

const configError = (model: ResolvedModel, reason: string): LlmConfigError =>
  new LlmConfigError({ reason: `model ${model.name} (provider ${name}): ${reason}` })

const num = (u: unknown): number | undefined => (typeof u === "number" && Number.isFinite(u) ? u : undefined)

/** The request fields the provider reads from an OpenAI chat-completions body. */
interface Request {
  readonly history: Array<ChatHistoryItem>
  readonly temperature: number
  readonly topP: number | undefined
  readonly topK: number | undefined
  readonly minP: number | undefined
  readonly maxTokens: number | undefined
  readonly seed: number | undefined
  readonly stop: ReadonlyArray<string>
  readonly repeatPenalty: number | undefined
  /** `undefined`: free text; `"json"`: any JSON object; else a JSON schema. */
  readonly format: "json" | GbnfJsonSchema | undefined
}

/**
 * A JSON schema object. Its contents are checked by node-llama-cpp when it builds the grammar
 * (an unsupported schema fails that request as `bad_request`).
 */
const isJsonSchema = (u: unknown): u is GbnfJsonSchema => isObject(u)

/** The largest integer range {@link boundIntegers} turns into an enum. */
const MAX_INTEGER_ENUM = 1000

const lowerBound = (node: { readonly [key: string]: unknown }): number | undefined => {
  const min = num(node.minimum)
  const exclusive = num(node.exclusiveMinimum)
  const bounds = [min !== undefined ? Math.ceil(min) : undefined, exclusive !== undefined ? Math.floor(exclusive) + 1 : undefined]
  const set = bounds.filter((b) => b !== undefined)
  return set.length === 0 ? undefined : Math.max(...set)
}

const upperBound = (node: { readonly [key: string]: unknown }): number | undefined => {
  const max = num(node.maximum)
  const exclusive = num(node.exclusiveMaximum)
  const bounds = [max !== undefined ? Math.floor(max) : undefined, exclusive !== undefined ? Math.ceil(exclusive) - 1 : undefined]
  const set = bounds.filter((b) => b !== undefined)
  return set.length === 0 ? undefined : Math.min(...set)
}

/**
 * node-llama-cpp's JSON-schema grammars know no numeric bounds (`minimum`, `maximum` are
 * ignored, and its integers may even take an exponent). An `integer` with both bounds and at
 * most 1000 values becomes the `enum` of those values, so the grammar keeps to the range (a
 * judge's `score` 0..10); other numbers pass through unbounded.
 */
export const boundIntegers = (u: unknown): unknown => {
  if (Array.isArray(u)) return u.map(boundIntegers)
  if (!isObject(u)) return u
  const out: { [key: string]: unknown } = {}
  for (const [k, v] of Object.entries(u)) out[k] = k === "enum" || k === "const" ? v : boundIntegers(v)
  if (out.type !== "integer" || "enum" in out || "const" in out) return out
  const lo = lowerBound(out)
  const hi = upperBound(out)
  if (lo === undefined || hi === undefined || hi < lo || hi - lo >= MAX_INTEGER_ENUM) return out
  const { minimum: _min, maximum: _max, exclusiveMinimum: _emin, exclusiveMaximum: _emax, ...rest } = out
  return { ...rest, enum: Array.from({ length: hi - lo + 1 }, (_, i) => lo + i) }
}

/** The JSON schema a `response_format` asks for, `"json"` for `json_object`, or why it is not usable. */
const responseFormat = (u: unknown): Either.Either<"json" | GbnfJsonSchema | undefined, string> => {
  if (u === undefined || u === null) return Either.right(undefined)
  if (!isObject(u)) return Either.left("response_format must be an object")
  if (u.type === "text") return Either.right(undefined)
  if (u.type === "json_object") return Either.right("json")
  if (u.type === "json_schema") {
    const spec = u.json_schema
    const schema = isObject(spec) ? boundIntegers(spec.schema) : undefined
    return isJsonSchema(schema)
      ? Either.right(schema)
      : Either.left("response_format.json_schema.schema must be a JSON schema object")
  }
  return Either.left(`response_format type ${JSON.stringify(u.type)} is not supported (text, json_object, json_schema)`)
}

/** Reads an OpenAI chat-completions body into node-llama-cpp's chat history and sampling options. */
export const parseBody = (body: object): Either.Either<Request, string> => {
  const b: { readonly [key: string]: unknown } = { ...body }
  if (!Array.isArray(b.messages)) return Either.left("the request has no messages")
  const history: Array<ChatHistoryItem> = []
  for (const m of b.messages) {
    if (!isObject(m) || typeof m.role !== "string" || typeof m.content !== "string") {
      return Either.left("each message needs a string role and content")
    }
    if (m.role === "system" || m.role === "developer") history.push({ type: "system", text: m.content })
    else if (m.role === "user") history.push({ type: "user", text: m.content })
    else if (m.role === "assistant") history.push({ type: "model", response: [m.content] })
    else return Either.left(`message role ${JSON.stringify(m.role)} is not supported (system, user, assistant)`)
  }
  history.push({ type: "model", response: [] })
  const format = responseFormat(b.response_format)
  if (Either.isLeft(format)) return Either.left(format.left)
  const stop = typeof b.stop === "string" ? [b.stop] : Array.isArray(b.stop) ? b.stop.filter((s) => typeof s === "string") : []
  return Either.right({
    history,
    // OpenAI's default temperature is 1.
    temperature: num(b.temperature) ?? 1,
    topP: num(b.top_p),
    topK: num(b.top_k),
    minP: num(b.min_p),
    maxTokens: num(b.max_tokens) ?? num(b.max_completion_tokens),
    seed: num(b.seed),
    stop,
    repeatPenalty: num(b.repetition_penalty),
    format: format.right
  })
}

/** One sequence of the pool with its chat driver. */
interface Slot {
  readonly sequence: LlamaContextSequence
  readonly chat: LlamaChat
}

/** Answers one request on a slot; the sequence starts empty so answers do not depend on earlier ones. */
const generate = async (
  slot: Slot,
  request: Request,
  grammar: LlamaGrammar | undefined,
  signal: AbortSignal
): Promise<{ content: string; finish_reason: string; usage: { prompt_tokens: number; completion_tokens: number } }> => {
  await slot.sequence.clearHistory()
  const before = slot.sequence.tokenMeter.getState()
  let completion = 0
  const result = await slot.chat.generateResponse(request.history, {
    signal,
    temperature: request.temperature,
    ...(request.topP !== undefined ? { topP: request.topP } : {}),
    ...(request.topK !== undefined ? { topK: request.topK } : {}),
    ...(request.minP !== undefined ? { minP: request.minP } : {}),
    ...(request.maxTokens !== undefined ? { maxTokens: request.maxTokens } : {}),
    ...(request.seed !== undefined ? { seed: request.seed } : {}),
    ...(request.stop.length > 0 ? { customStopTriggers: request.stop } : {}),
    ...(request.repeatPenalty !== undefined ? { repeatPenalty: { penalty: request.repeatPenalty } } : {}),
    ...(grammar !== undefined ? { grammar } : {}),
    onToken: (tokens) => {
      completion += tokens.length
    }
  })
  const after = slot.sequence.tokenMeter.getState()
  return {
    content: result.response,
    finish_reason: result.metadata.stopReason === "maxTokens" ? "length" : "stop",
    usage: { prompt_tokens: Math.max(0, after.usedInputTokens - before.usedInputTokens), completion_tokens: completion }
  }
}

/** Where the model file is: a path relative to the pipeline file, or an `hf:`/URL resolved (and downloaded) by node-llama-cpp. */
const modelFile = (model: ResolvedModel, options: Options, baseDir: string): Effect.Effect<string, LlmConfigError> => {
  const path = model.path
  if (path === undefined || path === "") {
    return Effect.fail(configError(model, "set `path` to a GGUF file (relative to the pipeline file) or an hf: URI"))
  }
  if (isRemote(path)) {
    const dir = options.models_dir !== undefined ? resolve(baseDir, options.models_dir) : undefined
    return Effect.tryPromise({
      try: () => resolveModelFile(path, { ...(dir !== undefined ? { directory: dir } : {}), cli: false }),
      catch: (e) => configError(model, `cannot get ${path}: ${describe(e)}`)
    })
  }
  const file = isAbsolute(path) ? path : resolve(baseDir, path)
  return existsSync(file)
    ? Effect.succeed(file)
    : Effect.fail(
        configError(
          model,
          `no model file at ${file}; make a tiny test model with \`pnpm --filter @synthline/provider-llama-cpp make-tiny-model ${path}\``
        )
      )
}

/** The provider: loads the model, makes a context of `concurrency` sequences, and answers requests on them. */
export const provider: ProviderFactory = (model, { baseDir }) =>
  Effect.gen(function* () {
    const options = yield* Schema.decodeUnknown(Options, { onExcessProperty: "error" })(model.options).pipe(
      Effect.mapError((e) => configError(model, `invalid options: ${e.message}`))
    )
    const file = yield* modelFile(model, options, baseDir)
    const llama = yield* Effect.tryPromise({
      try: () => runtime(options.gpu),
      catch: (e) => configError(model, `cannot load llama.cpp (a prebuilt @node-llama-cpp/* binary for this platform): ${describe(e)}`)
    })
    const loaded: LlamaModel = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () =>
          llama.loadModel({ modelPath: file, ...(options.gpu_layers !== undefined ? { gpuLayers: options.gpu_layers } : {}) }),
        catch: (e) => configError(model, `cannot load ${file}: ${describe(e)}`)
      }),
      (m) => Effect.promise(() => m.dispose())
    )
    const sequences = model.concurrency
    const context = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () =>
          loaded.createContext({
            sequences,
            contextSize: options.context_size ?? { max: 8192 },
            ...(options.threads !== undefined ? { threads: options.threads } : {}),
            ...(options.batch_size !== undefined ? { batchSize: options.batch_size } : {}),
            ...(options.flash_attention !== undefined ? { flashAttention: options.flash_attention } : {})
          }),
        catch: (e) => configError(model, `cannot make a context of ${sequences} sequences: ${describe(e)} (lower concurrency or options.context_size)`)
      }),
      (c) => Effect.promise(() => c.dispose())
    )
    const pool = yield* Queue.bounded<Slot>(sequences)
    for (let i = 0; i < sequences; i++) {
      const sequence = context.getSequence()
      // The chat template is resolved from the GGUF metadata (tokenizer.chat_template).
      yield* Queue.offer(pool, { sequence, chat: new LlamaChat({ contextSequence: sequence }) })
    }
    const grammars = new Map<string, Promise<LlamaGrammar>>()
    const grammarFor = (format: "json" | GbnfJsonSchema): Promise<LlamaGrammar> => {
      const key = format === "json" ? "json" : JSON.stringify(format)
      let g = grammars.get(key)
      if (g === undefined) {
        g = format === "json" ? llama.getGrammarFor("json") : llama.createGrammarForJsonSchema<GbnfJsonSchema>(format)
        g.catch(() => grammars.delete(key))
        grammars.set(key, g)
      }
      return g
    }
    const id = `${name}:${basename(file)}`

    const send = (_index: number, body: object, timeoutMs: number): Effect.Effect<Awaited<ReturnType<typeof generate>>, AttemptFailure> =>
      Effect.gen(function* () {
        const parsed = parseBody(body)
        if (Either.isLeft(parsed)) return yield* Effect.fail<AttemptFailure>({ kind: "bad_request", detail: parsed.left })
        const request = parsed.right
        const format = request.format
        const grammar =
          format === undefined
            ? undefined
            : yield* Effect.tryPromise({
                try: () => grammarFor(format),
                catch: (e): AttemptFailure => ({ kind: "bad_request", detail: `the JSON schema cannot be used as a grammar: ${describe(e)}` })
              })
        return yield* Effect.acquireUseRelease(
          Queue.take(pool),
          (slot) =>
            Effect.tryPromise({
              try: (signal) => generate(slot, request, grammar, AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])),
              catch: (e): AttemptFailure =>
                e instanceof DOMException && e.name === "TimeoutError"
                  ? { kind: "timeout", detail: `no answer within ${timeoutMs} ms` }
                  : /context size|too long|exceeds/i.test(describe(e))
                    ? { kind: "context_overflow", detail: describe(e) }
                    : { kind: "server_error", detail: describe(e) }
            }),
          (slot) => Queue.offer(pool, slot)
        )
      })

    const transport: Transport = { endpoints: [{ id, capacity: sequences }], send }
    return transport
  })

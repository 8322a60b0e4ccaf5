/**
 * `synth/translate`: translates the first user instruction (or any text field) into
 * `translated_conversation` (`[{ role: "user", content }]`), with DeepL (`provider: deepl`,
 * `POST /v2/translate`, up to 50 texts per request, answers cached in the run's response
 * cache) or with a chat model from the `models` section (`provider: llm`, a prompt template).
 * Placeholders (`NAME_1`, ...), code blocks and URLs must survive: every answer is checked;
 * a broken one is tried again (DeepL: with those parts protected as ignored XML tags; llm: with
 * another sample index and seed) up to `retries` times, then the row goes to rejects with the
 * reason. Texts already in the target language (a script check; Japanese only) and empty texts
 * are copied, not sent.
 */
import { errorText, StageError } from "@synthline/core/Errors"
import type { Row } from "@synthline/core/Row"
import type { Rowwise } from "@synthline/core/Stage"
import { doc, make, type Stage } from "@synthline/core/Stage"
import { reasonOf } from "@synthline/llm/Complete"
import { post, retryAfterMs, target } from "@synthline/llm/Http"
import { Models, type SharedBudget } from "@synthline/llm/Models"
import * as ModelStage from "@synthline/llm/ModelStage"
import * as Retry from "@synthline/llm/Retry"
import { CharacterPrice } from "@synthline/llm/Config"
import * as Seed from "@synthline/llm/Seed"
import * as Template from "@synthline/llm/Template"
import * as Usage from "@synthline/llm/Usage"
import { TranslatedConversation } from "./Fields.js"
import { Config, Duration, Effect, Fiber, Option, Redacted, Schema } from "effect"
import { keyOf as rowKey, Rejected, stringAt, top } from "./internal/shared.js"
import { check, inTargetLanguage, protect, unprotect } from "./Preserve.js"
import { keyOf, TranslationCache, type TranslationCacheService } from "./TranslationCache.js"
import { isRecord as isObject } from "@synthline/core/Row"

/** The shipped translation prompt for `provider: llm`. */
export const defaultTranslatePrompt: string = `Translate the following text into {{target_language}}. Output only the translation, nothing else. Keep placeholders such as NAME_1 or EMAIL_2, URLs and the contents of code blocks exactly as they are.

{{text}}`

const languageNames: { readonly [code: string]: string } = {
  JA: "Japanese",
  EN: "English",
  "EN-US": "English",
  "EN-GB": "English",
  DE: "German",
  FR: "French",
  ES: "Spanish",
  ZH: "Chinese",
  KO: "Korean"
}

const TranslateConfigSchema = Schema.Struct({
  provider: Schema.Literal("deepl", "llm").pipe(doc("deepl (the DeepL API) or llm (a chat model from models).")),
  field: Schema.optionalWith(Schema.String.pipe(doc("Dotted path of the text to translate.")), {
    default: () => "conversation.0.content"
  }),
  output: Schema.optionalWith(Schema.String.pipe(doc("Field that receives [{ role: user, content }].")), {
    default: () => "translated_conversation"
  }),
  target_lang: Schema.optionalWith(Schema.String.pipe(doc("Target language code (DeepL style: JA, EN-US, DE, ...).")), {
    default: () => "JA"
  }),
  source_lang: Schema.optional(Schema.String.pipe(doc("Source language code (DeepL: detected when unset)."))),
  formality: Schema.optional(
    Schema.Literal("default", "more", "less", "prefer_more", "prefer_less").pipe(doc("DeepL formality."))
  ),
  base_url: Schema.optional(
    Schema.String.pipe(doc("DeepL API origin (empty = unset); default https://api-free.deepl.com for keys ending in :fx, else https://api.deepl.com."))
  ),
  auth_key: Schema.optional(
    Schema.Redacted(Schema.String).pipe(doc("DeepL key (default: the environment variable DEEPL_AUTH_KEY); reference an environment variable, never write the key."))
  ),
  batch_size: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 50), doc("Texts per DeepL request (at most 50).")), {
    default: () => 50
  }),
  concurrency: Schema.optionalWith(Schema.Int.pipe(Schema.positive(), doc("DeepL requests at once.")), {
    default: () => 4
  }),
  max_retries: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative(), doc("DeepL retries of 429/5xx/timeouts.")), {
    default: () => 5
  }),
  retry_base_ms: Schema.optionalWith(
    Schema.Int.pipe(Schema.positive(), doc("First DeepL backoff delay in ms; doubled per retry (capped at 30 s), jittered; Retry-After wins.")),
    { default: () => 500 }),
  timeout_ms: Schema.optionalWith(Schema.Int.pipe(Schema.positive(), doc("Time limit of one DeepL request, in ms.")), { default: () => 60_000 }),
  price: Schema.optional(
    CharacterPrice.pipe(doc("provider deepl: { per_1m_characters: 25 }, USD per 1M characters sent, for the cost ledger of the manifest (model_usage.deepl.cost), synthline estimate and the pipeline's budget."))
  ),
  model: Schema.optional(Schema.String.pipe(doc("provider llm: a model name from the models section."))),
  system: Schema.optional(Schema.String.pipe(doc("provider llm: system prompt."))),
  prompt: Schema.optionalWith(
    Schema.String.pipe(doc("provider llm: prompt template with {{text}} and {{target_language}}.")),
    { default: () => defaultTranslatePrompt }
  ),
  temperature: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 2), doc("provider llm: sampling temperature.")), { default: () => 0 }),
  max_tokens: Schema.optionalWith(Schema.Int.pipe(Schema.positive(), doc("provider llm: most tokens in one translation.")), { default: () => 4096 }),
  retries: Schema.optionalWith(
    Schema.Int.pipe(Schema.between(0, 10), doc("Further attempts when placeholders, code blocks or URLs did not survive.")),
    { default: () => 2 }
  ),
  copy_if_target_language: Schema.optionalWith(
    Schema.Boolean.pipe(doc("Copy texts already in the target language instead of sending them.")),
    { default: () => true }
  )
}).pipe(
  Schema.filter((c) => c.provider !== "llm" || c.model !== undefined || "provider llm needs a model (a name from the models section)")
)

/** Options of `synth/translate`. */
export type TranslateConfig = typeof TranslateConfigSchema.Type

/** The DeepL API origin for a key: the free API for keys ending in `:fx`. */
export const deeplBaseUrl = (key: string): string =>
  key.endsWith(":fx") ? "https://api-free.deepl.com" : "https://api.deepl.com"

/** Outcome of translating one text. */
type Outcome = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly error: string }

const MASK = "<redacted>"

const decoded = (s: string): string => {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

/**
 * Masks what must never leave in a message, even when a server echoes it in an error body: the
 * key, and the parts of the base URL that may hold one (user-info, query values, path segments of
 * 8 characters or more), each as written, percent-encoded (either hex case) and JSON-escaped.
 */
export const deeplMasker = (key: string, baseUrl: string): ((text: string) => string) => {
  const parts = [key]
  try {
    const url = new URL(baseUrl)
    parts.push(decoded(url.username), decoded(url.password))
    for (const [, value] of url.searchParams) parts.push(value)
    for (const segment of url.pathname.split("/")) if (decoded(segment).length >= 8) parts.push(decoded(segment))
  } catch {
    parts.push(baseUrl)
  }
  const forms = new Set<string>()
  for (const part of parts) {
    if (part.length < 4) continue
    for (const form of [part, encodeURIComponent(part), encodeURI(part), JSON.stringify(part).slice(1, -1)]) {
      forms.add(form)
      forms.add(form.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()))
    }
  }
  const list = [...forms].sort((a, b) => b.length - a.length)
  return (text) => {
    let out = text
    for (const form of list) if (out.includes(form)) out = out.split(form).join(MASK)
    return out
  }
}

/** Whether a base URL is an http(s) URL. */
const isHttpUrl = (s: string): boolean => {
  try {
    const { protocol } = new URL(s)
    return protocol === "http:" || protocol === "https:"
  } catch {
    return false
  }
}

/** A failed DeepL attempt: its kind (what the retry schedule reads) and the reason a reject shows. */
interface DeeplFailure extends Retry.Failure {
  readonly reason: string
}

/** The texts of a DeepL answer, when it is a list of `count` translations. */
const translationsOf = (text: string, count: number): ReadonlyArray<string> | undefined => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return undefined
  }
  const list = isObject(json) && Array.isArray(json.translations) ? json.translations : undefined
  const out = list?.map((t: unknown) => (isObject(t) && typeof t.text === "string" ? t.text : undefined))
  return out !== undefined && out.length === count && out.every((t): t is string => t !== undefined) ? out : undefined
}

/**
 * What the run's DeepL requests in flight will cost, per DeepL usage (one per run, shared by its
 * translate stages): it joins the pipeline's budget once, with the cost so far.
 */
const reservations = new WeakMap<object, { usd: number; count: number }>()
const budgetLedger = (usage: TranslationCacheService["usage"], budget: SharedBudget): { usd: number; count: number } => {
  let ledger = reservations.get(usage)
  if (ledger === undefined) {
    const own = { usd: 0, count: 0 }
    ledger = own
    reservations.set(usage, own)
    budget.join(() => (usage.cost?.usd ?? 0) + own.usd, () => own.count)
  }
  return ledger
}

/** The DeepL client of one stage: translates a batch of texts (at most 50). */
const deeplClient = (config: TranslateConfig, key: Redacted.Redacted<string>, service: TranslationCacheService, budget?: SharedBudget | undefined) => {
  const origin = config.base_url !== undefined && config.base_url !== "" ? config.base_url : deeplBaseUrl(Redacted.value(key))
  // The key never leaves in a reject: not from the base URL, the auth header, or a server's echo of them.
  const mask = deeplMasker(Redacted.value(key), origin)
  const http = target(origin, "/v2/translate", config.concurrency)
  const display = `${new URL(origin).origin}/v2/translate`
  const usage = service.usage
  // With a price, the run's DeepL usage carries a cost ledger (from the first priced stage on).
  if (config.price !== undefined) usage.cost ??= { usd: 0, saved_by_cache_usd: 0, saved_by_batch_usd: 0 }
  // 429, 5xx, timeouts, broken connections and answers that are no translation list are tried again.
  const retries = Retry.schedule<DeeplFailure>({
    base: Duration.millis(config.retry_base_ms),
    max: Duration.seconds(30),
    retryAfterMax: Duration.seconds(60),
    maxRetries: config.max_retries
  })

  const request = (texts: ReadonlyArray<string>, xml: boolean): Effect.Effect<ReadonlyArray<string>, string> => {
    const body: { [k: string]: unknown } = { text: texts, target_lang: config.target_lang }
    if (config.source_lang !== undefined) body.source_lang = config.source_lang
    if (config.formality !== undefined) body.formality = config.formality
    if (xml) {
      body.tag_handling = "xml"
      body.ignore_tags = ["x"]
    }
    const payload = JSON.stringify(body)
    const headers = { "content-type": "application/json", authorization: `DeepL-Auth-Key ${Redacted.value(key)}` }
    let attempts = 0
    const once = Effect.suspend(() => {
      usage.requests++
      if (attempts++ > 0) usage.retries++
      return post(http, headers, payload, config.timeout_ms).pipe(
        Effect.mapError((f): DeeplFailure => ({ kind: f.kind, reason: `DeepL ${display}: ${f.kind}: ${f.detail}` })),
        Effect.flatMap(({ status, text, retryAfter }): Effect.Effect<ReadonlyArray<string>, DeeplFailure> => {
          if (status !== 200) {
            // Masked before it is cut, so no part of a secret survives at the cut.
            const reason = `DeepL ${display}: status ${status}${status === 456 ? " (quota exceeded)" : status === 403 ? " (authorization failed)" : ""}: ${mask(text).slice(0, 200)}`
            const kind = status === 429 ? "rate_limited" : status >= 500 ? "server_error" : "bad_request"
            return Effect.fail({ kind, reason, retryAfterMs: retryAfterMs(retryAfter) })
          }
          const out = translationsOf(text, texts.length)
          if (out === undefined) {
            return Effect.fail({ kind: "bad_response", reason: `DeepL ${display}: the answer is not a translation list for ${texts.length} text(s)` })
          }
          const characters = texts.reduce((n, t) => n + t.length, 0)
          usage.characters += characters
          if (usage.cost !== undefined && config.price !== undefined) Usage.chargeCharacters(usage.cost, config.price.per_1m_characters, characters, 0)
          return Effect.succeed(out)
        })
      )
    })
    return once.pipe(
      Effect.retry(retries),
      Effect.mapError((f) => {
        usage.failures++
        return mask(f.reason)
      })
    )
  }

  /** Translates one batch of texts, checks each answer, retries broken ones protected, reports per text. */
  const translateGroup = (texts: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<Outcome>> =>
    request(texts, false).pipe(
      Effect.flatMap((answers) =>
        Effect.forEach(
          texts,
          (source, j) =>
            // The batch's answer first; a broken one is asked again alone, its placeholders, code and URLs protected.
            ModelStage.untilUsable(config.retries, (attempt) =>
              (attempt === 0 ? Effect.succeed(answers[j]!) : Effect.map(request([protect(source)], true), (again) => unprotect(again[0]!))).pipe(
                Effect.flatMap((answer) => {
                  const broken = check(source, answer)
                  return broken === undefined ? Effect.succeed(answer) : Effect.fail(new ModelStage.Unusable({ reason: broken }))
                })
              )
            ).pipe(
              Effect.map((answer): Outcome => {
                service.put(keyOf(source, config.target_lang, config.source_lang, config.formality), answer)
                return { ok: true, text: answer }
              }),
              Effect.catchAll((e) =>
                Effect.succeed<Outcome>({ ok: false, error: typeof e === "string" ? e : `${e.reason} (after ${config.retries + 1} attempts)` })
              )
            ),
          { concurrency: 1 }
        )
      ),
      Effect.catchAll((error) => Effect.succeed(texts.map((): Outcome => ({ ok: false, error }))))
    )

  // Texts waiting for a request: sent in batches of up to batch_size, at most `concurrency`
  // requests at once; a batch leaves as soon as a request slot is free (after the rows admitted
  // together have queued their texts), so DeepL is kept as busy as a chat model.
  const waiting: Array<{ readonly text: string; readonly done: (o: Outcome) => void }> = []
  let inFlight = 0
  let flushing = false
  const listeners = new Set<() => void>()
  const fibers = new Set<Fiber.RuntimeFiber<unknown>>()
  const flush = (): void => {
    flushing = false
    while (waiting.length > 0 && inFlight < config.concurrency) {
      const batch = waiting.splice(0, config.batch_size)
      inFlight++
      const fiber = Effect.runFork(
        translateGroup(batch.map((b) => b.text)).pipe(
          Effect.tap((outcomes) =>
            Effect.sync(() => {
              for (const [j, b] of batch.entries()) b.done(outcomes[j] ?? { ok: false, error: "not translated" })
            })
          )
        )
      )
      fibers.add(fiber)
      fiber.addObserver(() => {
        fibers.delete(fiber)
        inFlight--
        for (const l of listeners) l()
        flush()
      })
    }
  }
  const load: Rowwise.Gate = {
    backlog: () => waiting.length,
    capacity: config.batch_size * config.concurrency,
    subscribe: (listener) => {
      listeners.add(listener)
      return () => void listeners.delete(listener)
    }
  }

  /** Translates one text: from the cache now, else with the next batch. */
  const translate = (text: string): Outcome | Effect.Effect<Outcome> => {
    usage.calls++
    const hit = service.get(keyOf(text, config.target_lang, config.source_lang, config.formality))
    if (hit !== undefined) {
      usage.cache_hits++
      usage.cache_hit_characters += text.length
      if (usage.cost !== undefined && config.price !== undefined) Usage.chargeCharacters(usage.cost, config.price.per_1m_characters, 0, text.length)
      return { ok: true, text: hit }
    }
    // With a price and a pipeline budget: the characters' cost is reserved before the text is
    // queued; one that would pass the budget waits while DeepL or a model has requests in flight,
    // and with none left the run stops (exit 1, resumable with a raised budget).
    const price = config.price?.per_1m_characters
    if (budget?.usd !== undefined && price !== undefined) {
      const ledger = budgetLedger(usage, budget)
      const next = (text.length * price) / 1e6
      const admit: Effect.Effect<void> = Effect.suspend(() => {
        const over = budget.exceeded(next)
        if (over === undefined) {
          ledger.usd += next
          ledger.count++
          return Effect.void
        }
        return budget.inFlight() > 0 ? Effect.zipRight(Effect.sleep(Duration.millis(20)), admit) : Effect.die(over)
      })
      return Effect.zipRight(
        admit,
        Effect.ensuring(
          queued(text),
          Effect.sync(() => {
            ledger.count--
            ledger.usd = ledger.count === 0 ? 0 : Math.max(0, ledger.usd - next)
          })
        )
      )
    }
    return queued(text)
  }
  /** Waits for the next batch with room to translate `text`. */
  const queued = (text: string): Effect.Effect<Outcome> =>
    Effect.async<Outcome>((resume) => {
      const entry = { text, done: (o: Outcome) => resume(Effect.succeed(o)) }
      waiting.push(entry)
      if (!flushing) {
        flushing = true
        queueMicrotask(flush)
      }
      return Effect.sync(() => {
        const i = waiting.indexOf(entry)
        if (i >= 0) waiting.splice(i, 1)
      })
    })
  const close = () =>
    Effect.runPromise(Fiber.interruptAll([...fibers])).then(() => http.close())
  return { translate, load, close }
}

/** `synth/translate` */
export const translate: Stage<TranslateConfig, Row, Row, Models | TranslationCache, typeof TranslateConfigSchema.Encoded> = make({
  id: "synth/translate",
  description:
    "Translates the first user instruction into translated_conversation with DeepL or a chat model; placeholders, code blocks and URLs must survive.",
  config: TranslateConfigSchema,
  requires: (c) => [top(c.field)],
  provides: (c) => [c.output],
  fields: (c) => ({ [c.output]: TranslatedConversation }),
  make: (config, ctx) =>
    Effect.gen(function* () {
      const wrap = (text: string): Row => ({ [config.output]: [{ role: "user", content: text }] })
      /** Texts that need no call: null means "send it". */
      const pre = (row: Row): Row | Rejected | string => {
        const text = stringAt(row, config.field)
        if (text === undefined) return new Rejected(row, `field ${config.field} is not a string`)
        if (text.trim() === "" || (config.copy_if_target_language && inTargetLanguage(text, config.target_lang))) {
          return { ...row, ...wrap(text) }
        }
        return text
      }

      if (config.provider === "deepl") {
        const service = yield* TranslationCache
        const key = config.auth_key ?? (yield* Config.redacted("DEEPL_AUTH_KEY").pipe(Effect.option, Effect.map(Option.getOrUndefined)))
        if (key === undefined) {
          return yield* new StageError({
            stage: ctx.stageId,
            reason: "provider deepl needs a key: set DEEPL_AUTH_KEY in the environment (or set auth_key from another environment variable)"
          })
        }
        if (config.base_url !== undefined && config.base_url !== "" && !isHttpUrl(config.base_url)) {
          // Not echoed: a base URL may hold a key.
          return yield* new StageError({ stage: ctx.stageId, reason: "base_url is not an http(s) URL (such as https://api.deepl.com)" })
        }
        // A damaged response cache stops the run with the cache's own message (what to do about
        // it included), not a stack: the first failing read or write is kept and ends every row.
        let damaged: StageError | undefined
        const guard = <A>(f: () => A, otherwise: A): A => {
          if (damaged !== undefined) return otherwise
          try {
            return f()
          } catch (e) {
            damaged = new StageError({ stage: ctx.stageId, reason: errorText(e) })
            return otherwise
          }
        }
        const guarded: TranslationCacheService = {
          usage: service.usage,
          get: (k) => guard(() => service.get(k), undefined),
          put: (k, text) => guard(() => service.put(k, text), undefined)
        }
        // The pipeline's budget counts DeepL's characters too, when the stage has a price.
        const client = deeplClient(config, key, guarded, (yield* Models).budget)
        yield* Effect.addFinalizer(() => Effect.promise(() => client.close()))
        // DeepL is no model: rows wait on its request slots.
        const one = (row: Row): Rowwise.Pending => {
          const p = pre(row)
          if (typeof p !== "string") return p
          if (damaged !== undefined) return Effect.fail(damaged)
          const o = client.translate(p)
          const outcome = (r: Outcome): Effect.Effect<Row | Rejected, StageError> =>
            damaged !== undefined ? Effect.fail(damaged) : Effect.succeed(r.ok ? { ...row, ...wrap(r.text) } : new Rejected(row, r.error))
          return Effect.isEffect(o) ? Effect.flatMap(o, outcome) : outcome(o)
        }
        return yield* ModelStage.make(ctx, [], () => one, { gates: [client.load] })
      }

      return yield* ModelStage.make(ctx, [config.model ?? ""], ([model]) => {
        const prompt = Template.parse(config.prompt)
        const language = languageNames[config.target_lang.toUpperCase()] ?? config.target_lang
        const one = (row: Row): Effect.Effect<Row | Rejected> => {
          const p = pre(row)
          if (typeof p !== "string") return Effect.succeed(p)
          const rendered = prompt.render({ text: p, target_language: language })
          const content = "text" in rendered ? rendered.text : p
          const messages = [...(config.system !== undefined ? [{ role: "system", content: config.system }] : []), { role: "user", content }]
          const id = rowKey(row, p)
          // Another sample index and seed per attempt: a new answer, cached apart.
          return ModelStage.untilUsable(config.retries, (attempt) =>
            model
              .complete(
                { messages, temperature: config.temperature, max_tokens: config.max_tokens, seed: Seed.forRequest(ctx.seed, ctx.stageId, id, attempt) },
                { sampleIndex: attempt }
              )
              .pipe(
                Effect.flatMap((answer) => {
                  if (answer.finish_reason === "length") return Effect.fail(new ModelStage.Unusable({ reason: "the translation was cut off at max_tokens" }))
                  const text = answer.content.trim()
                  const broken = check(p, text)
                  return broken === undefined ? Effect.succeed(text) : Effect.fail(new ModelStage.Unusable({ reason: broken }))
                })
              )
          ).pipe(
            Effect.map((text): Row | Rejected => ({ ...row, ...wrap(text) })),
            Effect.catchAll((e) =>
              Effect.succeed(new Rejected(row, e._tag === "Unusable" ? `${e.reason} (after ${config.retries + 1} attempts)` : reasonOf(e)))
            )
          )
        }
        return one
      })
    })
})

/**
 * The chat calls of one model (`Model.prepare`, `complete`, `prepareChoices`): the response
 * cache first, then the budgets, then one request per answer or one request for several
 * (`choices_per_request`), through the batcher in batch mode, else through the attempt loop;
 * answers are staged or stored in the cache under the key of the one-answer request.
 */
import { Effect, Either } from "effect"
import * as Cache from "../../Cache.js"
import { type ChatRequest, type Completion, body, estimateTokens } from "../../Chat.js"
import type { ResolvedModel } from "../../Config.js"
import type { LlmRequestError } from "../../Errors.js"
import type { CallOptions } from "../../Models.js"
import type * as Provider from "../../Provider.js"
import * as Usage from "../../Usage.js"
import type { Attempted, Attempts } from "./attempts.js"
import type { BatchMode } from "./batch.js"
import type { BudgetGate } from "./budget.js"

/** One answer of {@link ChatCalls.prepareChoices}. */
type Answered = Either.Either<Completion, LlmRequestError>

/** A model's chat calls. */
export class ChatCalls {
  /** Answers it asks for in one chat request (1 in batch mode). */
  readonly choicesPerRequest: number

  constructor(
    private readonly config: ResolvedModel,
    private readonly transport: Provider.Transport,
    private readonly cache: Cache.ResponseCache,
    private readonly usage: Usage.ModelUsage,
    private readonly wire: Usage.WireLog,
    private readonly attempts: Attempts,
    private readonly budget: BudgetGate,
    private readonly batch: BatchMode | undefined
  ) {
    this.choicesPerRequest = config.mode === "batch" ? 1 : Math.max(1, config.choices_per_request ?? 1)
  }

  /** The cached answer, synchronously, when there is one; otherwise the Effect that requests it. */
  readonly prepare = (request: ChatRequest, options?: CallOptions): Completion | Effect.Effect<Completion, LlmRequestError> => {
    const usage = this.usage
    const config = this.config
    usage.calls++
    const sampleIndex = options?.sampleIndex ?? 0
    // Batch mode keys its items by the cache key, with or without a cache.
    const key =
      this.cache.mode === "off" && this.batch === undefined ? "" : Cache.key(config.model, request, config.extra_body, sampleIndex)
    if (key !== "") {
      const hit = this.cache.lookup(key)
      if (Either.isLeft(hit)) return Effect.die(hit.left)
      if (hit.right !== undefined) {
        usage.cache_hits++
        usage.cache_hit_prompt_tokens += hit.right.usage.prompt_tokens
        usage.cache_hit_completion_tokens += hit.right.usage.completion_tokens
        return { ...hit.right, cached: true }
      }
    }
    return this.budget.withBudget(request, this.send(request, key))
  }

  /** Answers a chat request (from the cache when it can). */
  readonly complete = (request: ChatRequest, options?: CallOptions): Effect.Effect<Completion, LlmRequestError> =>
    Effect.suspend(() => {
      const r = this.prepare(request, options)
      return Effect.isEffect(r) ? r : Effect.succeed(r)
    })

  /**
   * The answers of sample indices `sampleIndices`, asked `choicesPerRequest` at a time in one
   * chat request each (see `Model.prepareChoices`): synchronously when all are cached.
   */
  readonly prepareChoices = (
    request: ChatRequest,
    sampleIndices: ReadonlyArray<number>,
    seedOf?: ((sampleIndex: number) => number) | undefined
  ): ReadonlyArray<Answered> | Effect.Effect<ReadonlyArray<Answered>> => {
    const { usage, config, cache, choicesPerRequest } = this
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
        fill(missing, Effect.map(this.budget.withBudget(single(pos), this.send(single(pos), keys[pos]!)), (a) => [a]))
      } else if (seed === undefined) {
        // Unseeded choices are interchangeable: as many as are missing, one per missing index.
        fill(missing, this.budget.withBudget(request, this.sendChoices(request, missing.map((pos) => keys[pos]!)), missing.length))
      } else {
        // Seeded: choice j has seed + j, so the request spans the first to the last missing one.
        const first = missing[0]!
        const last = missing[missing.length - 1]!
        const span = Array.from({ length: last - first + 1 }, (_, i) => first + i)
        const wanted = span.map((pos) => (all[pos] === undefined ? keys[pos]! : undefined))
        fill(span, this.budget.withBudget(single(first), this.sendChoices(single(first), wanted), span.length))
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
  private sendChoices(request: ChatRequest, keys: ReadonlyArray<string | undefined>): Effect.Effect<ReadonlyArray<Completion>, LlmRequestError> {
    const { config, transport, attempts } = this
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
    return attempts.run(
      estimateTokens(request) + (count - 1) * (request.max_tokens ?? 512),
      start !== undefined
        ? (entry, deadline) => Effect.map(attempts.startOnSlot(start, payload, entry, deadline), checked)
        : (entry, deadline) => Effect.map(attempts.attemptOnSlot((index, ms) => transport.send(index, payload, ms), entry, deadline), checked),
      (answer) => {
        answers = Usage.splitChoices(answer)
        // `attempts` counted one answer and the request's tokens; the other answers add no tokens.
        for (let i = 1; i < count; i++) {
          this.usage.completions++
          this.wire.choice()
        }
        for (const [i, a] of answers.entries()) {
          const key = keys[i]
          if (a.finish_reason === "length" && key !== undefined) this.usage.truncated++
          if (key !== undefined && key !== "") {
            const stored = this.cache.store(key, config.model, a)
            if (Either.isLeft(stored)) return stored
          }
        }
        return undefined
      }
    ).pipe(Effect.map(() => answers))
  }

  /** One chat request for one answer, stored under `key` (`""`: not cached). */
  private send(request: ChatRequest, key: string): Effect.Effect<Completion, LlmRequestError> {
    const { config, transport, attempts, cache } = this
    const payload = body(config.model, request, config.extra_body)
    if (this.batch !== undefined) return this.batch.call(payload, key)
    const start = transport.start
    // Through the callback form the answer is staged in the cache as it arrives and committed
    // with the others of its turn (on the cache's writer thread) before this fiber resumes; else
    // stored here.
    let staged: Cache.Staged | undefined
    const stage =
      key === ""
        ? undefined
        : (answer: Omit<Completion, "cached">) => {
            staged = cache.stage(key, config.model, answer)
            return staged.whenCommitted
          }
    return attempts.run(
      estimateTokens(request),
      start !== undefined
        ? (entry, deadline) => attempts.startOnSlot(start, payload, entry, deadline, stage)
        : (entry, deadline) => attempts.attemptOnSlot((index, ms) => transport.send(index, payload, ms), entry, deadline),
      (answer) => {
        if (answer.finish_reason === "length") this.usage.truncated++
        if (key === "") return undefined
        const receipt = staged
        staged = undefined
        return receipt !== undefined ? receipt.result() : cache.store(key, config.model, answer)
      }
    ).pipe(Effect.map((answer) => ({ ...answer, cached: false })))
  }
}

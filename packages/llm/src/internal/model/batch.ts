/**
 * Batch mode of one model (`mode: batch`): its calls go through a {@link Batch.Batcher}, whose
 * answers are counted and cached as they are taken in, also those of a killed run's batches that
 * no call of this run waits for (yet).
 */
import { Effect, Either } from "effect"
import * as Batch from "../../Batch.js"
import type * as Cache from "../../Cache.js"
import type { Completion } from "../../Chat.js"
import type { ResolvedModel } from "../../Config.js"
import type { LlmCacheError, LlmRequestError } from "../../Errors.js"
import * as Usage from "../../Usage.js"

/** A model's batcher, wired to its usage, wire log and response cache. */
export class BatchMode {
  /** The first answer the cache could not store: every call dies with it. */
  private storeError: LlmCacheError | undefined = undefined
  private readonly batcher: Batch.Batcher

  constructor(
    config: ResolvedModel,
    journal: string | undefined,
    private readonly usage: Usage.ModelUsage,
    private readonly wire: Usage.WireLog,
    private readonly cache: Cache.ResponseCache,
    private readonly endpointIds: ReadonlyArray<string>,
    warn: (message: string) => void
  ) {
    this.batcher = Batch.make(config, journal, this.hooks(config.model, warn), endpointIds[0])
  }

  /** Answers a chat request body whose cache key is `key` through a batch. */
  call(payload: object, key: string): Effect.Effect<Completion, LlmRequestError> {
    return this.batcher.call(payload, key).pipe(
      Effect.flatMap((answer) => (this.storeError !== undefined ? Effect.die(this.storeError) : Effect.succeed({ ...answer, cached: false })))
    )
  }

  /** Stops polling. */
  close(): void {
    this.batcher.close()
  }

  /** What the batcher tells the model: counted as the online calls are (all on the one endpoint), answers cached. */
  private hooks(model: string, warn: (message: string) => void): Batch.BatchHooks {
    const usage = this.usage
    const wire = this.wire
    const endpoint = this.endpointIds[0]!
    return {
      sent: (n) => {
        usage.requests += n
        usage.endpoints[endpoint]!.requests += n
        for (let i = 0; i < n; i++) wire.request(0)
      },
      answered: (key, answer) => {
        const ep = usage.endpoints[endpoint]!
        usage.completions++
        usage.prompt_tokens += answer.usage.prompt_tokens
        usage.completion_tokens += answer.usage.completion_tokens
        usage.batch_prompt_tokens += answer.usage.prompt_tokens
        usage.batch_completion_tokens += answer.usage.completion_tokens
        ep.prompt_tokens += answer.usage.prompt_tokens
        ep.completion_tokens += answer.usage.completion_tokens
        wire.answer(0, answer.usage.prompt_tokens, answer.usage.completion_tokens)
        if (answer.finish_reason === "length") usage.truncated++
        const stored = this.cache.store(key, model, answer)
        if (Either.isLeft(stored)) this.storeError ??= stored.left
      },
      failed: (kind) => {
        Usage.bump(usage.errors, kind)
        Usage.bump(usage.endpoints[endpoint]!.errors, kind)
        wire.error(0, kind)
      },
      retried: (n) => {
        usage.retries += n
        for (let i = 0; i < n; i++) wire.retry()
      },
      gaveUp: (kind) => Usage.bump(usage.failures, kind),
      progress: warn
    }
  }
}

/**
 * The model-stage helper: what every stage that calls a model uses (the built-in ones and a
 * team plugin's). A stage gives the outcome of one row ({@link perRow}); the helper admits rows
 * one request at a time while the model's endpoint slots have room, lets rows finish out of
 * order and puts them back in input order (`@synthline/core/Rowwise`). {@link ask} answers a
 * row's requests synchronously when all of them are cached, so a cached rerun needs no fiber.
 */
import { StageError } from "@synthline/core/Errors"
import type { Row } from "@synthline/core/Row"
import * as Rowwise from "@synthline/core/Rowwise"
import type { StageContext, Transform } from "@synthline/core/Stage"
import { Cause, Effect, Either, Exit, Fiber, Option, Runtime } from "effect"
import type { ChatRequest, Completion } from "./Chat.js"
import { isFatal, type LlmBudgetError, type LlmCacheError, type LlmRequestError, type LlmUnavailableError } from "./Errors.js"
import { type CallOptions, type Model, Models } from "./Models.js"

/** A row the stage cannot process (to rejects, with the reason). */
export const Reject: typeof Rowwise.Reject = Rowwise.Reject
/** A row the stage cannot process (to rejects, with the reason). */
export type Reject = Rowwise.Reject
/** A row the stage drops with a reason. */
export const Drop: typeof Rowwise.Drop = Rowwise.Drop
/** A row the stage drops with a reason. */
export type Drop = Rowwise.Drop
/** What one row became: the new row, a {@link Reject} or a {@link Drop}. */
export type Outcome = Rowwise.Outcome
/** An outcome now, or after calls. */
export type Pending = Rowwise.Pending

/** Options of {@link perRow}. */
export interface PerRowOptions {
  /** Bound of the reorder buffer in bytes when the stage runs alone (the runner passes `--buffer-mb`). */
  readonly bufferBytes?: number | undefined
}

/**
 * A model stage's transform from the outcome of one row: rows are admitted while `models` have
 * room, finish in any order and leave in input order; rejects and drops are reported in order.
 */
export const perRow = (
  ctx: StageContext,
  models: Model | ReadonlyArray<Model>,
  one: (row: Row) => Pending,
  options: PerRowOptions = {}
): Transform<Row, Row> =>
  Rowwise.transform({
    ctx,
    one: (row) => {
      const p = one(row)
      return Effect.isEffect(p) ? Effect.catchSomeDefect(p, (d) => (isFatal(d) ? Option.some(stop(ctx, d)) : Option.none())) : p
    },
    gates: (Array.isArray(models) ? models : [models]).map((m: Model) => m.load),
    bufferBytes: options.bufferBytes
  })

/**
 * What stops the stage (and the run) when a model cannot go on — a damaged response cache, every
 * endpoint down past `down_limit`: a {@link StageError} with the model's own message. Rows already
 * committed stay; the run resumes from the first unfinished work unit.
 */
const stop = (ctx: StageContext, e: LlmCacheError | LlmUnavailableError | LlmBudgetError): Effect.Effect<never, StageError> =>
  Effect.fail(new StageError({ stage: ctx.stageId, reason: e.message }))

/** The model named in a stage's options, with a failure that names the stage. */
export const model = (ctx: StageContext, name: string): Effect.Effect<Model, StageError, Models> =>
  Effect.flatMap(Models, (models) => models.get(name)).pipe(
    Effect.mapError((e) => new StageError({ stage: ctx.stageId, reason: e.message }))
  )

/** One request of a row: the request and its call options (the sample index). */
export interface Ask {
  readonly request: ChatRequest
  readonly options?: CallOptions | undefined
}

/** Each request's answer, or the error it failed with after retries. */
export type Answers = ReadonlyArray<Either.Either<Completion, LlmRequestError>>

/**
 * Asks a model several requests at once (all concurrently; the model's balancer bounds what is
 * in flight). When every answer is in the response cache the answers come back synchronously.
 */
export const ask = (m: Model, asks: ReadonlyArray<Ask>): Answers | Effect.Effect<Answers> => {
  const all: Array<Either.Either<Completion, LlmRequestError>> = new Array(asks.length)
  const later: Array<Effect.Effect<void>> = []
  for (let i = 0; i < asks.length; i++) {
    const a = asks[i]!
    const r = m.prepare(a.request, a.options)
    if (!Effect.isEffect(r)) all[i] = Either.right(r)
    else {
      later.push(
        Effect.either(r).pipe(
          Effect.tap((e) =>
            Effect.sync(() => {
              all[i] = e
            })
          )
        )
      )
    }
  }
  if (later.length === 0) return all
  if (later.length === 1) return Effect.as(later[0]!, all)
  return Effect.as(startAll(later), all)
}

/**
 * Runs calls side by side, each started at once in its own fiber (where `Effect.all` would start
 * them on the scheduler's next turn), so they join the model's backlog before the stage admits
 * its next row. Interrupting it interrupts them.
 */
const startAll = (calls: ReadonlyArray<Effect.Effect<void>>): Effect.Effect<void> =>
  Effect.flatMap(Effect.runtime<never>(), (runtime) =>
    Effect.async<void>((resume) => {
      let left = calls.length
      let failed = false
      const fork = Runtime.runFork(runtime)
      const fibers = calls.map((call) => fork(call, { immediate: true }))
      for (const f of fibers) {
        f.addObserver((exit) => {
          // A call that died (a damaged cache, a model that stays down) ends the row's wait at once.
          if (!failed && Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) {
            failed = true
            resume(Effect.zipRight(Fiber.interruptAll(fibers), Effect.failCause(exit.cause)))
          } else if (--left === 0 && !failed) resume(Effect.void)
        })
      }
      return Fiber.interruptAll(fibers)
    })
  )

/**
 * Continues with a value now or later: `f` right away when `p` is not an Effect. (Not named
 * `then`: a module exporting `then` is a thenable, and `await import()` of it would call it.)
 */
export const map = <A, B>(p: A | Effect.Effect<A>, f: (a: A) => B): B | Effect.Effect<B> => {
  if (Effect.isEffect(p)) return Effect.map(p, f)
  return f(p)
}

/**
 * The model-stage helper: what every stage that calls a model uses (the built-in ones and a
 * team plugin's). {@link make} looks the stage's models up by name (an unknown name fails the
 * stage before any row is read, naming it and the models declared) and runs the stage's outcome
 * of one row in the scheduling window: rows are admitted one request at a time while the
 * models' endpoint slots have room, finish out of order and leave in input order
 * (`Stage.Rowwise` of `@synthline/core`), a {@link Reject} going to rejects and a {@link Drop} dropped with
 * its reason. {@link ask} answers a row's requests synchronously when all of them are cached, so a
 * cached rerun needs no fiber; {@link untilUsable} asks again after an answer the stage cannot use.
 */
import { StageError } from "@synthline/core/Errors"
import type { Row } from "@synthline/core/Row"
import { Rowwise, type StageContext, type Transform } from "@synthline/core/Stage"
import { Cause, Data, Effect, Either, Exit, Fiber, Option, Runtime } from "effect"
import type { ChatRequest, Completion } from "./Chat.js"
import { isFatal, type LlmBudgetError, type LlmCacheError, type LlmConfigError, type LlmRequestError, type LlmUnavailableError } from "./Errors.js"
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
  /** Other services rows wait for besides the models (the request slots of a DeepL client, say). */
  readonly gates?: ReadonlyArray<Rowwise.Gate> | undefined
}

/** The models of {@link make}, one per name, in the order the names were given. */
export type ModelsOf<Names extends ReadonlyArray<string>> = { readonly [K in keyof Names]: Model }

/**
 * A model stage's transform, prelude included: looks up the models named in the stage's options
 * (a {@link StageError} naming the stage and the unknown model, with the models declared, before
 * any row is read), then runs `one` — made from those models — in the scheduling window of
 * {@link perRow}.
 *
 * @example
 * import * as ModelStage from "@synthline/llm/ModelStage"
 * import type { StageContext } from "@synthline/core/Stage"
 * import { Either } from "effect"
 *
 * const labeller = (ctx: StageContext) =>
 *   ModelStage.make(ctx, ["small"], ([model]) => (row) =>
 *     ModelStage.map(ModelStage.ask(model, [{ request: { messages: [{ role: "user", content: String(row.text) }] } }]), ([a]) =>
 *       a !== undefined && Either.isRight(a) ? { ...row, label: a.right.content } : new ModelStage.Reject(row, "no answer")
 *     )
 *   )
 */
export const make = <const Names extends ReadonlyArray<string>>(
  ctx: StageContext,
  names: Names,
  one: (models: ModelsOf<Names>) => (row: Row) => Pending,
  options: PerRowOptions = {}
): Effect.Effect<Transform<Row, Row>, StageError, Models> =>
  Effect.map(lookup(ctx, names), (models) => perRow(ctx, models, one(models), options))

/** The models of `names`, in order; an unknown name fails with a {@link StageError} naming the stage. */
const lookup = <const Names extends ReadonlyArray<string>>(ctx: StageContext, names: Names): Effect.Effect<ModelsOf<Names>, StageError, Models> =>
  Effect.flatMap(found(names), (models) =>
    isModelsOf(names, models) ? Effect.succeed(models) : Effect.dieMessage("ModelStage: a model is missing from the lookup")
  ).pipe(Effect.mapError((e) => new StageError({ stage: ctx.stageId, reason: e.message })))

/** Each named model (no Models service needed when there are none). */
const found = (names: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<Model>, LlmConfigError, Models> =>
  names.length === 0 ? Effect.succeed([]) : Effect.flatMap(Models, (models) => Effect.forEach(names, (name) => models.get(name)))

/** Whether the models found are one per name (the tuple type of the names). */
const isModelsOf = <Names extends ReadonlyArray<string>>(names: Names, found: ReadonlyArray<Model>): found is ReadonlyArray<Model> & ModelsOf<Names> =>
  found.length === names.length

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
    gates: [...(Array.isArray(models) ? models : [models]).map((m: Model) => m.load), ...(options.gates ?? [])],
    bufferBytes: options.bufferBytes
  })

/**
 * What stops the stage (and the run) when a model cannot go on — a damaged response cache, every
 * endpoint down past `down_limit`: a {@link StageError} with the model's own message. Rows already
 * committed stay; the run resumes from the first unfinished work unit.
 */
const stop = (ctx: StageContext, e: LlmCacheError | LlmUnavailableError | LlmBudgetError): Effect.Effect<never, StageError> =>
  Effect.fail(new StageError({ stage: ctx.stageId, reason: e.message }))

/**
 * An answer a stage cannot use (a placeholder lost in a translation, a verdict that does not
 * parse): {@link untilUsable} asks again; the reason is what the reject shows when none was usable.
 */
export class Unusable extends Data.TaggedError("Unusable")<{ readonly reason: string }> {}

/**
 * Asks until an answer is usable: `attempt(0)`, then — after an {@link Unusable} answer —
 * `attempt(1)`, … up to `retries` more times (give each attempt its own sample index and seed,
 * so it is a new answer and cached apart). Any other failure ends it at once. Fails with the last
 * {@link Unusable} when no answer was usable.
 */
export const untilUsable = <A, E>(
  retries: number,
  attempt: (n: number) => Effect.Effect<A, E | Unusable>
): Effect.Effect<A, E | Unusable> => {
  let n = 0
  return Effect.suspend(() => attempt(n++)).pipe(Effect.retry({ times: retries, while: (e) => e instanceof Unusable }))
}

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

/**
 * Budgets of one model's requests: before a request goes out, the cost so far plus what the
 * requests in flight and this one will cost (estimated: prompt characters ÷ 4, or the average
 * prompt so far when larger, and max_tokens, or the average answer so far) must stay within the
 * model's `budget.usd` and the pipeline's.
 */
import { Effect } from "effect"
import type { ChatRequest } from "../../Chat.js"
import type { ResolvedModel } from "../../Config.js"
import { LlmBudgetError, type LlmRequestError } from "../../Errors.js"
import * as Usage from "../../Usage.js"
import type { Admission } from "./admission.js"
import { sleep } from "./attempts.js"

/** What the models of one client have spent, for the pipeline's budget. */
export interface Spending {
  readonly budgetUsd: number | undefined
  /** Each model's cost so far (answers paid for) plus what its requests in flight will cost, estimated; and how many are in flight. */
  readonly models: Array<{ readonly spent: () => number; readonly reserved: () => number }>
}

/** One model's cost ledger and the check of its requests against the budgets. */
export class BudgetGate {
  /** What the requests in flight will cost, estimated. */
  private reservedUsd = 0
  /** Requests in flight with a reservation. */
  private reservations = 0
  /** Whether any budget applies (else requests go out unchecked). */
  private readonly budgeted: boolean

  constructor(
    private readonly config: ResolvedModel,
    private readonly usage: Usage.ModelUsage,
    private readonly admission: Admission,
    private readonly spending: Spending
  ) {
    this.budgeted = config.budget !== undefined || spending.budgetUsd !== undefined
    spending.models.push({ spent: this.spentUsd, reserved: () => this.reservations })
  }

  /** The model's cost so far, what its requests in flight will cost included. */
  readonly spentUsd = (): number => {
    const price = this.config.price
    if (price === undefined) return this.reservedUsd
    const usage = this.usage
    // An hourly price counts the time in flight up to now, not only up to the last idle moment.
    const open = price.per_hour !== undefined && this.admission.inFlight > 0 ? Date.now() - this.admission.busySince : 0
    return Usage.cost(open > 0 ? { ...usage, busy_ms: usage.busy_ms + open } : usage, price, this.config.mode === "batch").usd + this.reservedUsd
  }

  /**
   * `call`, once `request` (asking for `choices` answers) fits the budgets. A request that would
   * pass a budget waits while others are in flight (their answers may cost less than estimated);
   * with none left in flight, the run stops.
   */
  withBudget<A>(request: ChatRequest, call: Effect.Effect<A, LlmRequestError>, choices = 1): Effect.Effect<A, LlmRequestError> {
    if (!this.budgeted) return call
    const admit: Effect.Effect<number> = Effect.suspend(() => {
      const r = this.reserve(request, choices)
      if (typeof r === "number") return Effect.succeed(r)
      const pending =
        this.spending.budgetUsd !== undefined ? this.spending.models.reduce((sum, m) => sum + m.reserved(), 0) : this.reservations
      return pending > 0 ? Effect.zipRight(sleep(20), admit) : Effect.die(r)
    })
    return Effect.flatMap(admit, (r) =>
      Effect.ensuring(
        call,
        Effect.sync(() => {
          // Counted, so that float residue never leaves a phantom reservation.
          this.reservations--
          this.reservedUsd = this.reservations === 0 ? 0 : Math.max(0, this.reservedUsd - r)
        })
      )
    )
  }

  /** What `request` (asking for `choices` answers) will cost, estimated (0 without a price). */
  private estimateUsd(request: ChatRequest, choices = 1): number {
    const price = this.config.price
    if (price === undefined) return 0
    const usage = this.usage
    let chars = 0
    for (const m of request.messages) chars += m.content.length + 8
    const n = usage.completions
    const prompt = Math.max(Math.ceil(chars / 4), n > 0 ? usage.prompt_tokens / n : 0)
    const completion = (request.max_tokens ?? (n > 0 ? usage.completion_tokens / n : 512)) * choices
    const full = (prompt * (price.input ?? 0) + completion * (price.output ?? 0)) / 1e6
    return this.config.mode === "batch" ? full * (1 - price.batch_discount) : full
  }

  /** Reserves a request's estimated cost, or the budget error when it would pass a budget. */
  private reserve(request: ChatRequest, choices: number): LlmBudgetError | number {
    const next = this.estimateUsd(request, choices)
    const config = this.config
    const own = config.budget?.usd
    if (own !== undefined) {
      const spent = this.spentUsd()
      if (spent + next > own) {
        return new LlmBudgetError({ whose: `model ${config.name}`, setting: `models.${config.name}.budget.usd`, budgetUsd: own, spentUsd: spent, nextUsd: next })
      }
    }
    const all = this.spending.budgetUsd
    if (all !== undefined) {
      const spent = this.spending.models.reduce((sum, m) => sum + m.spent(), 0)
      if (spent + next > all) return new LlmBudgetError({ whose: "the pipeline", setting: "budget.usd", budgetUsd: all, spentUsd: spent, nextUsd: next })
    }
    this.reservedUsd += next
    this.reservations++
    return next
  }
}

/**
 * A token bucket that hands out reservations: `reserve(n)` takes `n` at once (the level may go
 * negative) and returns how long the caller must wait before its reservation is covered, so
 * waiting callers are paced in arrival order without a queue. `refund` corrects an estimate.
 */
export class TokenBucket {
  private level: number
  private last: number

  constructor(
    /** Units per minute. */
    public perMinute: number,
    /** Most units available at once. */
    public capacity: number,
    private readonly now: () => number = Date.now
  ) {
    this.level = capacity
    this.last = now()
  }

  private refill(): void {
    const t = this.now()
    this.level = Math.min(this.capacity, this.level + ((t - this.last) * this.perMinute) / 60_000)
    this.last = t
  }

  /** Takes `n` units; returns the milliseconds to wait before using them (0 when available now). */
  reserve(n: number): number {
    this.refill()
    this.level -= n
    return this.level >= 0 ? 0 : Math.ceil((-this.level * 60_000) / this.perMinute)
  }

  /**
   * Follows what the provider announced: a lower rate (never above `ceiling`, the configured
   * limit) and no more units than it says remain.
   */
  adapt(perMinute: number | undefined, remaining: number | undefined, ceiling: number | undefined): void {
    this.refill()
    if (perMinute !== undefined && perMinute > 0) {
      const rate = ceiling !== undefined ? Math.min(ceiling, perMinute) : perMinute
      this.capacity = Math.max(1, (this.capacity * rate) / this.perMinute)
      this.perMinute = rate
      this.level = Math.min(this.level, this.capacity)
    }
    if (remaining !== undefined) this.level = Math.min(this.level, remaining)
  }

  /** Gives back `n` units (negative takes more), e.g. when the real token count was lower than estimated. */
  refund(n: number): void {
    this.refill()
    this.level = Math.min(this.capacity, this.level + n)
  }
}

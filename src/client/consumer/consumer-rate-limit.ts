/**
 * A token bucket: `rate` tokens per second, holding at most 10 ms worth (at
 * least one), so bursts stay short while timers of ~1 ms granularity can
 * still deliver high rates.
 */
export class RateLimiter {
  readonly #rate: number;
  readonly #capacity: number;
  readonly #now: () => number;
  #tokens: number;
  #last: number;

  constructor(rate: number, now: () => number) {
    this.#rate = rate;
    this.#capacity = Math.max(1, rate / 100);
    this.#now = now;
    this.#tokens = 1;
    this.#last = now();
  }

  /** Takes a token; returns 0 when one was available, else the ms to wait before calling again. */
  take(): number {
    const now = this.#now();
    this.#tokens = Math.min(this.#capacity, this.#tokens + ((now - this.#last) * this.#rate) / 1000);
    this.#last = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - this.#tokens) * 1000) / this.#rate));
  }
}

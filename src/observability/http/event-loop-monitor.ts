import { performance } from 'node:perf_hooks';

export interface EventLoopMonitorOptions {
  /**
   * Delays are judged over the current and the previous window of this
   * length, so a stall is reported for one to two windows after it ends.
   * @default 5000
   */
  windowMs?: number;
  /** How often the loop is sampled. @default 10 */
  resolutionMs?: number;
}

/**
 * Worst event-loop delay of the recent past. A health probe that merely
 * answers proves the loop runs *now*; this also catches a loop that was
 * blocked for seconds and just came back, which is what starves the pipeline.
 *
 * Why not `perf_hooks.monitorEventLoopDelay` with a reset per window: after a
 * stall, the window timer and the histogram's own timer are both overdue, and
 * when the reset runs first it also restarts the histogram's reference time,
 * so the stall is never recorded (a /healthz test caught this ~1 run in 12).
 * One timer that both samples and assigns samples to time-indexed windows has
 * no such race; the probe also counts the delay still in progress.
 */
export class EventLoopMonitor {
  readonly #windowMs: number;
  readonly #resolutionMs: number;
  readonly #timer: NodeJS.Timeout;
  #last = performance.now();
  #window = -1;
  #currentMax = 0;
  #previousMax = 0;

  constructor(options: EventLoopMonitorOptions = {}) {
    this.#windowMs = options.windowMs ?? 5000;
    this.#resolutionMs = options.resolutionMs ?? 10;
    this.#roll(this.#last);
    this.#timer = setInterval(() => this.#sample(performance.now()), this.#resolutionMs);
    this.#timer.unref();
  }

  /** Worst delay over the current and previous window (and any delay in progress), in milliseconds. */
  maxDelayMs(): number {
    const now = performance.now();
    this.#roll(now);
    return Math.max(this.#currentMax, this.#previousMax, this.#pending(now));
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #sample(now: number): void {
    const delay = this.#pending(now);
    this.#last = now;
    this.#roll(now);
    if (delay > this.#currentMax) this.#currentMax = delay;
  }

  /** How late the next sample already is. */
  #pending(now: number): number {
    return Math.max(0, now - this.#last - this.#resolutionMs);
  }

  #roll(now: number): void {
    const window = Math.floor(now / this.#windowMs);
    if (window === this.#window) return;
    this.#previousMax = window === this.#window + 1 ? this.#currentMax : 0;
    this.#currentMax = 0;
    this.#window = window;
  }
}

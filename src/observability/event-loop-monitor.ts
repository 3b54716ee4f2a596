import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export interface EventLoopMonitorOptions {
  /**
   * Delays are judged over the last one or two windows of this length, so a
   * stall is reported for at least one window after it ends.
   * @default 5000
   */
  windowMs?: number;
  /** Sampling resolution of the underlying histogram. @default 10 */
  resolutionMs?: number;
}

/**
 * Worst event-loop delay of the recent past, from
 * `perf_hooks.monitorEventLoopDelay`. A health probe that merely answers
 * proves the loop runs *now*; this also catches a loop that was blocked for
 * seconds and just came back, which is what starves the pipeline.
 */
export class EventLoopMonitor {
  #histogram: IntervalHistogram;
  #previousMaxNs = 0;
  #timer: NodeJS.Timeout;

  constructor(options: EventLoopMonitorOptions = {}) {
    this.#histogram = monitorEventLoopDelay({ resolution: options.resolutionMs ?? 10 });
    this.#histogram.enable();
    this.#timer = setInterval(() => {
      this.#previousMaxNs = this.#histogram.max;
      this.#histogram.reset();
    }, options.windowMs ?? 5000);
    this.#timer.unref();
  }

  /** Worst delay over the current and previous window, in milliseconds. */
  maxDelayMs(): number {
    const current = this.#histogram.count > 0 ? this.#histogram.max : 0;
    return Math.max(current, this.#previousMaxNs) / 1e6;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#histogram.disable();
  }
}

/**
 * The test driver's clock: `now()` and timers that fire only when the clock
 * is moved (`advance`, `runNext`), never on their own. The coordinator's
 * retry backoffs and the in-process runner's per-record timeouts are
 * scheduled here, so a test with a 30 s backoff finishes in milliseconds and
 * does so the same way on every run.
 */
export class VirtualClock {
  #now: number;
  #seq = 0;
  /** Pending timers, kept sorted by (due time, creation order). */
  #timers: Array<{ due: number; seq: number; fn: () => void }> = [];

  constructor(start: number) {
    this.#now = start;
  }

  now = (): number => this.#now;

  /** Schedules `fn` at now + `ms`; returns a handle for {@link clear}. */
  setTimer = (fn: () => void, ms: number): number => {
    const timer = { due: this.#now + Math.max(0, ms), seq: ++this.#seq, fn };
    let i = this.#timers.length;
    while (i > 0 && this.#timers[i - 1]!.due > timer.due) i--;
    this.#timers.splice(i, 0, timer);
    return timer.seq;
  };

  clear(handle: number): void {
    this.#timers = this.#timers.filter((t) => t.seq !== handle);
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Moves the clock forward by `ms`, firing every timer due on the way, in order. */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`cannot move the clock by ${ms} ms: expected a finite, non-negative number`);
    const target = this.#now + ms;
    while (this.#timers.length > 0 && this.#timers[0]!.due <= target) this.#fireFirst();
    this.#now = target;
  }

  /** Jumps to the earliest pending timer and fires it (and any due at the same instant); false when none is pending. */
  runNext(): boolean {
    const first = this.#timers[0];
    if (first === undefined) return false;
    const due = first.due;
    while (this.#timers.length > 0 && this.#timers[0]!.due === due) this.#fireFirst();
    return true;
  }

  #fireFirst(): void {
    const timer = this.#timers.shift()!;
    if (timer.due > this.#now) this.#now = timer.due;
    timer.fn();
  }
}

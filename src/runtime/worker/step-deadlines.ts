/**
 * The earliest deadline of the processor steps running in this worker
 * thread, in memory the main thread reads without asking (a
 * SharedArrayBuffer sent with the control hello).
 *
 * Why: a stage-group task runs several members, and only the main thread can
 * end a step that ignores its signal or blocks its thread (by terminating
 * the worker). From outside it saw one deadline per task, the members'
 * timeouts added up, so a member with `timeout: 200ms` that hung between
 * two members of 30 s was stopped after 60 s instead of its own 200 ms
 * (plus grace). Here each step publishes its own deadline as it starts —
 * before a synchronous step that never returns could stop this thread from
 * saying anything — and the pool terminates the worker once the earliest one
 * has passed by more than the grace (pool/timeout-watchdog.ts).
 */
export class StepDeadlines {
  /** [0]: epoch ms of the earliest deadline of a step in flight; 0: none. */
  readonly buffer = new SharedArrayBuffer(Float64Array.BYTES_PER_ELEMENT);
  readonly #slot = new Float64Array(this.buffer);
  /**
   * Deadlines of the steps in flight, in no order. A step's token is its
   * deadline: steps with equal deadlines are interchangeable here, so `end`
   * removes any one equal to it. Synchronous steps (most) keep this at one
   * element; a Map keyed by a counter cost a worker ~4% of its time on a
   * chain of trivial steps (bench:pipeline (e)).
   */
  readonly #open: number[] = [];

  /** A step with timeout `timeoutMs` starts (≤ 0: no timeout, nothing to watch); returns what `end` takes. */
  begin(timeoutMs: number): number {
    if (!(timeoutMs > 0)) return 0;
    const deadline = Date.now() + timeoutMs;
    this.#open.push(deadline);
    const earliest = this.#slot[0]!;
    if (earliest === 0 || deadline < earliest) this.#slot[0] = deadline;
    return deadline;
  }

  /** The step `begin` returned `token` for has ended (settled, or failed). */
  end(token: number): void {
    if (token === 0) return;
    const open = this.#open;
    const last = open.length - 1;
    let i = last;
    while (i >= 0 && open[i] !== token) i--;
    if (i < 0) return;
    open[i] = open[last]!;
    open.pop();
    if (token !== this.#slot[0]) return;
    let earliest = 0;
    for (let j = 0; j < open.length; j++) {
      const d = open[j]!;
      if (earliest === 0 || d < earliest) earliest = d;
    }
    this.#slot[0] = earliest;
  }
}

/** Main side: the earliest step deadline a worker published (epoch ms; 0: none). */
export function readStepDeadline(buffer: SharedArrayBuffer): number {
  return new Float64Array(buffer)[0]!;
}

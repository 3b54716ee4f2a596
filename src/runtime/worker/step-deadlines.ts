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
  readonly #open = new Map<number, number>();
  #next = 1;

  /** A step with timeout `timeoutMs` starts (≤ 0: no timeout, nothing to watch); returns what `end` takes. */
  begin(timeoutMs: number): number {
    if (!(timeoutMs > 0)) return 0;
    const token = this.#next++;
    const deadline = Date.now() + timeoutMs;
    this.#open.set(token, deadline);
    const earliest = this.#slot[0]!;
    if (earliest === 0 || deadline < earliest) this.#slot[0] = deadline;
    return token;
  }

  /** The step `begin` returned `token` for has ended (settled, or failed). */
  end(token: number): void {
    if (token === 0) return;
    const deadline = this.#open.get(token);
    if (deadline === undefined) return;
    this.#open.delete(token);
    if (deadline !== this.#slot[0]) return;
    let earliest = 0;
    for (const d of this.#open.values()) if (earliest === 0 || d < earliest) earliest = d;
    this.#slot[0] = earliest;
  }
}

/** Main side: the earliest step deadline a worker published (epoch ms; 0: none). */
export function readStepDeadline(buffer: SharedArrayBuffer): number {
  return new Float64Array(buffer)[0]!;
}

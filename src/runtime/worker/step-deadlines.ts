/**
 * The earliest deadline of the processor steps running in this worker
 * thread, and the task that step belongs to, in memory the main thread reads
 * without asking (a SharedArrayBuffer sent with the control hello).
 *
 * Why: a stage-group task runs several members, and only the main thread can
 * end a step that ignores its signal or blocks its thread (by terminating
 * the worker). From outside it saw one deadline per task, the members'
 * timeouts added up, so a member with `timeout: 200ms` that hung between
 * two members of 30 s was stopped after 60 s instead of its own 200 ms
 * (plus grace). Here each step publishes its own deadline as it starts —
 * before a synchronous step that never returns could stop this thread from
 * saying anything — and the pool terminates the worker once the earliest one
 * has passed by more than the grace (pool/timeout-watchdog.ts). A worker
 * runs several tasks at once (`workerPool.tasksPerWorker`), so the owner of
 * the earliest deadline is published with it: that task is the one charged
 * with the timeout, the others lost with the thread run again.
 */

/** What a task's steps publish their deadlines through (stage-chain.ts). */
export interface StepClock {
  /** A step with timeout `timeoutMs` starts (≤ 0: no timeout, nothing to watch); returns what `end` takes. */
  begin(timeoutMs: number): number;
  /** The step `begin` returned `token` for has ended (settled, or failed). */
  end(token: number): void;
}

/** Layout: Int32 [0] a seqlock counter (odd while a write is under way), Float64 at byte 8 the deadline (epoch ms, 0: none), at byte 16 its task id. */
const BYTES = 24;

export class StepDeadlines {
  readonly buffer = new SharedArrayBuffer(BYTES);
  readonly #seq = new Int32Array(this.buffer, 0, 1);
  readonly #slot = new Float64Array(this.buffer, 8, 2);
  /**
   * Deadlines of the steps in flight and their tasks (same index), in no
   * order. A step's token is its deadline: steps of one task with equal
   * deadlines are interchangeable here, so `end` removes any one equal to
   * it. Synchronous steps (most) keep these at one element; a Map keyed by a
   * counter cost a worker ~4% of its time on a chain of trivial steps
   * (bench:pipeline (e)).
   */
  readonly #deadlines: number[] = [];
  readonly #tasks: number[] = [];

  /** The clock of one task's steps. */
  forTask(task: number): StepClock {
    return { begin: (timeoutMs) => this.begin(timeoutMs, task), end: (token) => this.end(token, task) };
  }

  /** A step of `task` with timeout `timeoutMs` starts (≤ 0: no timeout, nothing to watch); returns what `end` takes. */
  begin(timeoutMs: number, task = 0): number {
    if (!(timeoutMs > 0)) return 0;
    const deadline = Date.now() + timeoutMs;
    this.#deadlines.push(deadline);
    this.#tasks.push(task);
    const earliest = this.#slot[0]!;
    if (earliest === 0 || deadline < earliest) this.#publish(deadline, task);
    return deadline;
  }

  /** The step of `task` that `begin` returned `token` for has ended (settled, or failed). */
  end(token: number, task = 0): void {
    if (token === 0) return;
    const deadlines = this.#deadlines;
    const tasks = this.#tasks;
    const last = deadlines.length - 1;
    let i = last;
    while (i >= 0 && (deadlines[i] !== token || tasks[i] !== task)) i--;
    if (i < 0) return;
    deadlines[i] = deadlines[last]!;
    tasks[i] = tasks[last]!;
    deadlines.pop();
    tasks.pop();
    if (token !== this.#slot[0] || task !== this.#slot[1]) return;
    let earliest = 0;
    let owner = 0;
    for (let j = 0; j < deadlines.length; j++) {
      const d = deadlines[j]!;
      if (earliest === 0 || d < earliest) { earliest = d; owner = tasks[j]!; }
    }
    this.#publish(earliest, owner);
  }

  #publish(deadline: number, task: number): void {
    Atomics.add(this.#seq, 0, 1);
    this.#slot[0] = deadline;
    this.#slot[1] = task;
    Atomics.add(this.#seq, 0, 1);
  }
}

/** Main side: the earliest step deadline a worker published (epoch ms; 0: none) and the task whose step it is (0: unknown). */
export function readStepDeadline(buffer: SharedArrayBuffer): { at: number; task: number } {
  const seq = new Int32Array(buffer, 0, 1);
  const slot = new Float64Array(buffer, 8, 2);
  for (;;) {
    const before = Atomics.load(seq, 0);
    if ((before & 1) === 1) continue; // a write is under way in the worker: a few instructions
    const at = slot[0]!;
    const task = slot[1]!;
    if (Atomics.load(seq, 0) === before) return { at, task };
  }
}

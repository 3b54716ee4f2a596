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
 *
 * A deadline can also pass because another task blocks the thread: a step
 * that never returns from its synchronous call keeps every other task there
 * from running, their deadlines pass too, and the earliest may be theirs.
 * So the task whose step is inside its synchronous call (from `begin` to
 * the call's return: `yielded`, or `end` for a step that returned a result)
 * is published too, with when that call began: the pool blames the task
 * that has held the thread since before a deadline passed, not the
 * deadline's owner, who could not run. What a step runs after an `await`
 * (a callback) is not seen: no cheap hook marks it, so a step blocking there
 * is blamed as before, by the earliest deadline.
 */

/** What a task's steps publish their deadlines through (stage-chain.ts). */
export interface StepClock {
  /**
   * A step with timeout `timeoutMs` (≤ 0: none to watch) starts its synchronous call now, on the task's record
   * number `record` (its index in the task, when known); returns what `end` takes.
   */
  begin(timeoutMs: number, record?: number): number;
  /** The step's call returned a promise: it no longer holds the thread (what it does after an await is not seen). */
  yielded(): void;
  /**
   * The step `begin` returned `token` for (on record `record`, as given to `begin`) has ended (settled, or
   * failed); one that never yielded lets go of the thread.
   */
  end(token: number, record?: number): void;
}

/** What a worker thread published (main side): the earliest step deadline and its task, and the task holding the thread in a synchronous call, since when. */
export interface ThreadSteps {
  /** The earliest deadline of the steps in flight, epoch ms (0: none). */
  at: number;
  /** The task of that step (0: unknown). */
  task: number;
  /** The task whose step is inside its synchronous call now (0: none). */
  holder: number;
  /** When that call began, epoch ms. */
  since: number;
  /** The record of `task` whose step has the earliest deadline (its index in the task), when known. */
  record?: number | undefined;
  /** The record of `holder` whose step holds the thread, when known. */
  holderRecord?: number | undefined;
}

/**
 * Layout: Int32 [0] a seqlock counter (odd while a write is under way), then Float64s from byte 8: at, task,
 * holder, since, record + 1, holderRecord + 1 (0: not known).
 */
const FIELDS = 6;
const BYTES = 8 + 8 * FIELDS;

export class StepDeadlines {
  readonly buffer = new SharedArrayBuffer(BYTES);
  readonly #seq = new Int32Array(this.buffer, 0, 1);
  readonly #slot = new Float64Array(this.buffer, 8, FIELDS);
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
  /** The record (index in its task) + 1 of each step in flight (same index; 0: not known). */
  readonly #records: number[] = [];
  /** What is published: the earliest deadline, its task and record, and the task (and record) holding the thread (0: none). */
  #earliest = 0;
  #owner = 0;
  #ownerRecord = 0;
  #holder = 0;

  /** The clock of one task's steps. */
  forTask(task: number): StepClock {
    return { begin: (timeoutMs, record) => this.begin(timeoutMs, task, record), yielded: () => this.yielded(), end: (token, record) => this.end(token, task, record) };
  }

  /** A step of `task` with timeout `timeoutMs` (≤ 0: none to watch) starts its synchronous call now; returns what `end` takes. */
  begin(timeoutMs: number, task = 0, record?: number): number {
    const now = Date.now();
    const rec = record === undefined ? 0 : record + 1;
    if (!(timeoutMs > 0)) {
      this.#publish(this.#earliest, this.#owner, this.#ownerRecord, task, rec, now);
      return 0;
    }
    const deadline = now + timeoutMs;
    this.#deadlines.push(deadline);
    this.#tasks.push(task);
    this.#records.push(rec);
    if (this.#earliest === 0 || deadline < this.#earliest) this.#publish(deadline, task, rec, task, rec, now);
    else this.#publish(this.#earliest, this.#owner, this.#ownerRecord, task, rec, now);
    return deadline;
  }

  /** The step that began last returned a promise: no step holds the thread. */
  yielded(): void {
    if (this.#holder !== 0) this.#publish(this.#earliest, this.#owner, this.#ownerRecord, 0, 0, 0);
  }

  /** The step of `task` that `begin` returned `token` for has ended (settled, or failed); no step holds the thread. */
  end(token: number, task = 0, record?: number): void {
    let earliest = this.#earliest;
    let owner = this.#owner;
    let ownerRecord = this.#ownerRecord;
    if (token !== 0 && this.#remove(token, task, record === undefined ? 0 : record + 1) && token === earliest && task === owner) {
      earliest = 0;
      owner = 0;
      ownerRecord = 0;
      const deadlines = this.#deadlines;
      for (let j = 0; j < deadlines.length; j++) {
        const d = deadlines[j]!;
        if (earliest === 0 || d < earliest) { earliest = d; owner = this.#tasks[j]!; ownerRecord = this.#records[j]!; }
      }
    }
    if (earliest !== this.#earliest || owner !== this.#owner || ownerRecord !== this.#ownerRecord || this.#holder !== 0) {
      this.#publish(earliest, owner, ownerRecord, 0, 0, 0);
    }
  }

  /**
   * Takes one step of `task` with deadline `token` off the list (of record `rec`, its index + 1, when known: steps
   * of other records begun in the same millisecond share the token, and taking theirs off would publish the wrong
   * record as the late one); false if there is none.
   */
  #remove(token: number, task: number, rec: number): boolean {
    const deadlines = this.#deadlines;
    const tasks = this.#tasks;
    const records = this.#records;
    const last = deadlines.length - 1;
    let i = last;
    while (i >= 0 && (deadlines[i] !== token || tasks[i] !== task || (rec !== 0 && records[i] !== rec))) i--;
    if (i < 0) return false;
    deadlines[i] = deadlines[last]!;
    tasks[i] = tasks[last]!;
    this.#records[i] = this.#records[last]!;
    deadlines.pop();
    tasks.pop();
    this.#records.pop();
    return true;
  }

  #publish(deadline: number, task: number, record: number, holder: number, holderRecord: number, since: number): void {
    this.#earliest = deadline;
    this.#owner = task;
    this.#ownerRecord = record;
    this.#holder = holder;
    Atomics.add(this.#seq, 0, 1);
    const slot = this.#slot;
    slot[0] = deadline;
    slot[1] = task;
    slot[2] = holder;
    slot[3] = since;
    slot[4] = record;
    slot[5] = holderRecord;
    Atomics.add(this.#seq, 0, 1);
  }
}

/** Main side: what a worker thread published (see {@link ThreadSteps}). */
export function readStepDeadline(buffer: SharedArrayBuffer): ThreadSteps {
  const seq = new Int32Array(buffer, 0, 1);
  const slot = new Float64Array(buffer, 8, FIELDS);
  for (let spins = 0; ; spins++) {
    const before = Atomics.load(seq, 0);
    if ((before & 1) === 1) {
      // A write is under way in the worker: a few instructions, unless its thread was descheduled (or ended) in
      // the middle. Then nothing is known this time; the watchdog reads again on its next round.
      if (spins > 100_000) return { at: 0, task: 0, holder: 0, since: 0 };
      continue;
    }
    const steps: ThreadSteps = { at: slot[0]!, task: slot[1]!, holder: slot[2]!, since: slot[3]! };
    const record = slot[4]!;
    const holderRecord = slot[5]!;
    if (Atomics.load(seq, 0) !== before) continue;
    if (record > 0) steps.record = record - 1;
    if (holderRecord > 0) steps.holderRecord = holderRecord - 1;
    return steps;
  }
}

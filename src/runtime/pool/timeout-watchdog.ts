/**
 * Enforcing the per-record timeout on processors that do not cooperate.
 *
 * Inside the worker, a record's timeout fires its `ctx.signal`
 * (run-record.ts): a processor that honours it returns at once and the
 * record fails with PROCESSOR_TIMEOUT. A processor that ignores the signal —
 * or spins synchronously, so no timer in its thread can ever fire — keeps
 * its batch from returning. Only the main thread can end that: it aborts the
 * piscina task, which terminates the worker thread running it (piscina
 * starts a replacement), and the batch fails with PROCESSOR_TIMEOUT.
 *
 * The main thread cannot see when a queued task starts running, so the
 * worker announces it (a message on `parentPort`, which piscina re-emits
 * as the pool's `message` event); the deadline counts from there.
 */
export { isTaskStarted, type TaskStarted } from '../wire/task-started.js';
import { RecentSet } from '../../util/recent-set.js';

interface Watched {
  deadlineMs: number;
  controller: AbortController;
  timer?: NodeJS.Timeout;
  threadId?: number;
  expired: boolean;
  /** Why it expired: the task's own deadline, or a step past its processor's timeout (step deadlines). */
  expiredBy?: 'task' | 'step';
}

/**
 * Main side: one entry per running task with a deadline. `started` (from
 * the worker's notice) arms the timer; when it fires, the task's
 * AbortController is aborted (piscina then terminates that worker).
 */
export class TaskWatchdog {
  readonly #tasks = new Map<number, Watched>();
  #nextId = 1;
  /** The earliest step deadline a thread published (worker/step-deadlines.ts), epoch ms (0: none), and its task (0: unknown). */
  #stepDeadline: ((threadId: number) => { at: number; task: number }) | undefined;
  #graceMs = 0;
  /** Threads ended for a task past its deadline (thread ids are never reused). */
  readonly #ending = new RecentSet<number>();
  #poll: NodeJS.Timeout | undefined;

  /**
   * Also ends a task whose thread published a step deadline that passed more
   * than `graceMs` ago: each member of a stage group is held to its own
   * timeout, not to the task's (the members' timeouts added up). Checked
   * every `graceMs / 2` (10 to 250 ms) while tasks run. Only the task whose
   * step it is expires; the others running on that thread are lost with it
   * (crash-supervisor.ts runs them again).
   */
  watchSteps(stepDeadline: (threadId: number) => { at: number; task: number }, graceMs: number): void {
    this.#stepDeadline = stepDeadline;
    this.#graceMs = graceMs;
  }

  /** Registers a task; `deadlineMs` ≤ 0 means no deadline (the id is still used for start notices). */
  watch(deadlineMs: number): { taskId: number; signal: AbortSignal } {
    const taskId = this.#nextId++;
    const controller = new AbortController();
    this.#tasks.set(taskId, { deadlineMs, controller, expired: false });
    return { taskId, signal: controller.signal };
  }

  /** The task started on `threadId`: its deadline runs from now. */
  started(taskId: number, threadId: number): void {
    const task = this.#tasks.get(taskId);
    if (!task) return;
    task.threadId = threadId;
    if (this.#stepDeadline !== undefined && this.#poll === undefined) {
      this.#poll = setInterval(() => this.#checkSteps(), Math.max(10, Math.min(250, this.#graceMs / 2)));
      this.#poll.unref();
    }
    if (task.deadlineMs <= 0) return;
    this.#arm(taskId, task);
  }

  #checkSteps(): void {
    const now = Date.now();
    let running = 0;
    let late: Array<[number, Watched]> | undefined;
    for (const [taskId, task] of this.#tasks) {
      if (task.threadId === undefined || task.expired) continue;
      running += 1;
      // Its thread is being ended for another task: this one is lost with it, not late.
      if (this.#ending.has(task.threadId)) continue;
      const step = this.#stepDeadline!(task.threadId);
      if (!(step.at > 0 && now > step.at + this.#graceMs)) continue;
      // The owner of the step, or (owner unknown on this thread) every task there: it cannot be told apart.
      const owner = this.#tasks.get(step.task);
      if (step.task === taskId || owner === undefined || owner.threadId !== task.threadId) (late ??= []).push([taskId, task]);
    }
    if (late !== undefined) for (const [taskId, task] of late) this.#expire(taskId, task, 'step');
    if (running === 0) { clearInterval(this.#poll); this.#poll = undefined; }
  }

  #expire(taskId: number, task: Watched, by: 'task' | 'step'): void {
    if (task.threadId !== undefined) this.#ending.add(task.threadId);
    clearTimeout(task.timer);
    task.expired = true;
    task.expiredBy = by;
    task.controller.abort(new Error(by === 'task' ? `task ${taskId} exceeded its deadline of ${task.deadlineMs} ms`
      : `a processor step of task ${taskId} ran past its own timeout plus a grace of ${this.#graceMs} ms`));
  }

  /** The running task reported progress (it finished a record): its deadline counts again from now. */
  progress(taskId: number): void {
    const task = this.#tasks.get(taskId);
    if (!task || task.timer === undefined || task.expired) return;
    clearTimeout(task.timer);
    this.#arm(taskId, task);
  }

  #arm(taskId: number, task: Watched): void {
    task.timer = setTimeout(() => this.#expire(taskId, task, 'task'), task.deadlineMs);
  }

  /** The thread the task ran on (from its start notice), if known. */
  threadOf(taskId: number): number | undefined {
    return this.#tasks.get(taskId)?.threadId;
  }

  /** Forgets the task; says whether a deadline had expired (the worker was terminated for it), and which. */
  finish(taskId: number): false | 'task' | 'step' {
    const task = this.#tasks.get(taskId);
    if (!task) return false;
    clearTimeout(task.timer);
    this.#tasks.delete(taskId);
    return task.expired ? task.expiredBy ?? 'task' : false;
  }

  /** Stops checking step deadlines (the pool closed). */
  close(): void {
    clearInterval(this.#poll);
    this.#poll = undefined;
  }
}

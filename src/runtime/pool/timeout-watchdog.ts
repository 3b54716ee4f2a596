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

interface Watched {
  deadlineMs: number;
  controller: AbortController;
  timer?: NodeJS.Timeout;
  threadId?: number;
  expired: boolean;
}

/**
 * Main side: one entry per running task with a deadline. `started` (from
 * the worker's notice) arms the timer; when it fires, the task's
 * AbortController is aborted (piscina then terminates that worker).
 */
export class TaskWatchdog {
  readonly #tasks = new Map<number, Watched>();
  #nextId = 1;

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
    if (task.deadlineMs <= 0) return;
    this.#arm(taskId, task);
  }

  /** The running task reported progress (it finished a record): its deadline counts again from now. */
  progress(taskId: number): void {
    const task = this.#tasks.get(taskId);
    if (!task || task.timer === undefined || task.expired) return;
    clearTimeout(task.timer);
    this.#arm(taskId, task);
  }

  #arm(taskId: number, task: Watched): void {
    task.timer = setTimeout(() => {
      task.expired = true;
      task.controller.abort(new Error(`task ${taskId} exceeded its deadline of ${task.deadlineMs} ms`));
    }, task.deadlineMs);
  }

  /** The thread the task ran on (from its start notice), if known. */
  threadOf(taskId: number): number | undefined {
    return this.#tasks.get(taskId)?.threadId;
  }

  /** Forgets the task; true when its deadline had expired (the worker was terminated for it). */
  finish(taskId: number): boolean {
    const task = this.#tasks.get(taskId);
    if (!task) return false;
    clearTimeout(task.timer);
    this.#tasks.delete(taskId);
    return task.expired;
  }
}

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
import type { ThreadSteps } from '../worker/step-deadlines.js';

/** Why a task expired: its own deadline, a step past its processor's timeout, or it held its thread while another's deadline passed. */
export type Expiry = 'task' | 'step' | 'held';

interface Watched {
  deadlineMs: number;
  controller: AbortController;
  timer?: NodeJS.Timeout;
  threadId?: number;
  expired: boolean;
  expiredBy?: Expiry;
  /** Which of its records was running the step blamed (its index in the task), when the thread said. */
  culprit?: number | undefined;
}

/**
 * Main side: one entry per running task with a deadline. `started` (from
 * the worker's notice) arms the timer; when it fires, the task's
 * AbortController is aborted (piscina then terminates that worker).
 */
export class TaskWatchdog {
  readonly #tasks = new Map<number, Watched>();
  #nextId = 1;
  /** What a thread published (worker/step-deadlines.ts): its earliest step deadline and that step's task, and the task holding it. */
  #stepDeadline: ((threadId: number) => ThreadSteps) | undefined;
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
   * (crash-supervisor.ts runs them again). Unless another task has held the
   * thread in one synchronous call since before that deadline passed: the
   * late one could not run, and the holder expires instead (so also when a
   * task's own deadline passes).
   */
  watchSteps(stepDeadline: (threadId: number) => ThreadSteps, graceMs: number): void {
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
    let late: Array<[number, Watched, Expiry, number | undefined]> | undefined;
    for (const [taskId, task] of this.#tasks) {
      if (task.threadId === undefined || task.expired) continue;
      running += 1;
      // Its thread is being ended for another task: this one is lost with it, not late.
      if (this.#ending.has(task.threadId)) continue;
      const step = this.#stepDeadline!(task.threadId);
      if (!(step.at > 0 && now > step.at + this.#graceMs)) continue;
      // The task holding the thread since before the deadline passed, or the owner of the step, or (neither known
      // on this thread) every task there: it cannot be told apart.
      const holder = this.#holder(step, task.threadId, step.at);
      if (holder !== undefined) {
        // The step holding the thread is the culprit, whether the late deadline is its own or another's.
        if (holder === taskId) (late ??= []).push([taskId, task, holder === step.task ? 'step' : 'held', step.holderRecord]);
        continue;
      }
      const owner = this.#tasks.get(step.task);
      if (step.task === taskId) (late ??= []).push([taskId, task, 'step', step.record]);
      else if (owner === undefined || owner.threadId !== task.threadId) (late ??= []).push([taskId, task, 'step', undefined]);
    }
    if (late !== undefined) for (const [taskId, task, by, culprit] of late) this.#expire(taskId, task, by, culprit);
    if (running === 0) { clearInterval(this.#poll); this.#poll = undefined; }
  }

  /** The task's own deadline passed: it expires, unless its thread is being ended already or another task holds it (see watchSteps). */
  #late(taskId: number, task: Watched): void {
    if (this.#ending.has(task.threadId!)) return;
    const step = this.#stepDeadline?.(task.threadId!);
    const holder = step === undefined ? undefined : this.#holder(step, task.threadId!, Date.now() - this.#graceMs);
    if (holder === taskId) this.#expire(taskId, task, 'task', step!.holderRecord);
    else if (holder === undefined) this.#expire(taskId, task, 'task', step?.task === taskId ? step.record : undefined);
    else this.#expire(holder, this.#tasks.get(holder)!, 'held', step!.holderRecord);
  }

  /** The task on `threadId` whose step has held it in one synchronous call since `before` or earlier, if any. */
  #holder(step: ThreadSteps, threadId: number, before: number): number | undefined {
    if (step.holder === 0 || step.since > before) return undefined;
    const holder = this.#tasks.get(step.holder);
    return holder !== undefined && holder.threadId === threadId && !holder.expired ? step.holder : undefined;
  }

  #expire(taskId: number, task: Watched, by: Expiry, culprit: number | undefined): void {
    if (task.threadId !== undefined) this.#ending.add(task.threadId);
    clearTimeout(task.timer);
    task.expired = true;
    task.expiredBy = by;
    task.culprit = culprit;
    task.controller.abort(new Error(by === 'task' ? `task ${taskId} exceeded its deadline of ${task.deadlineMs} ms`
      : by === 'step' ? `a processor step of task ${taskId} ran past its own timeout plus a grace of ${this.#graceMs} ms`
        : `a processor step of task ${taskId} held its thread while another task's deadline passed, plus a grace of ${this.#graceMs} ms`));
  }

  /** The running task reported progress (it finished a record): its deadline counts again from now. */
  progress(taskId: number): void {
    const task = this.#tasks.get(taskId);
    if (!task || task.timer === undefined || task.expired) return;
    clearTimeout(task.timer);
    this.#arm(taskId, task);
  }

  #arm(taskId: number, task: Watched): void {
    task.timer = setTimeout(() => this.#late(taskId, task), task.deadlineMs);
  }

  /** The record (index in the task) whose step an expired task was ended for, when its thread said which. Ask before `finish`. */
  culprit(taskId: number): number | undefined {
    return this.#tasks.get(taskId)?.culprit;
  }

  /** The thread the task ran on (from its start notice), if known. */
  threadOf(taskId: number): number | undefined {
    return this.#tasks.get(taskId)?.threadId;
  }

  /** Forgets the task; says whether a deadline had expired (the worker was terminated for it), and which. */
  finish(taskId: number): false | Expiry {
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

/**
 * The worker's "task started" notice (a message on `parentPort`, which
 * piscina re-emits as the pool's `message` event): the main thread cannot
 * see when a queued task starts running, and a task's deadline counts from
 * there (pool/timeout-watchdog.ts).
 */
import { parentPort, threadId } from 'node:worker_threads';
import { getHeapStatistics } from 'node:v8';

const TASK_STARTED = '__walrusTaskStarted';

/** The worker's "task started" notice: which task, on which thread, with how much heap in use. */
export interface TaskStarted {
  [TASK_STARTED]: true;
  taskId: number;
  threadId: number;
  heapUsed: number;
  /** Not a start: the task is still moving (it finished a record), so its deadline counts again from now. */
  progress?: true;
}

export function isTaskStarted(message: unknown): message is TaskStarted {
  return typeof message === 'object' && message !== null && TASK_STARTED in message;
}

/** Worker side: tells the pool that task `taskId` starts running on this thread. */
export function announceTaskStart(taskId: number | undefined): void {
  if (taskId === undefined || !parentPort) return;
  const started: TaskStarted = { [TASK_STARTED]: true, taskId, threadId, heapUsed: getHeapStatistics().used_heap_size };
  parentPort.postMessage(started);
}

/**
 * Worker side: task `taskId` finished a record and starts another one, so
 * its deadline counts again from now. A batch whose records run one after
 * the other (a run, or synchronous processors) can take longer than one
 * record's timeout in all; each record still gets no more than its own.
 */
export function announceTaskProgress(taskId: number | undefined): void {
  if (taskId === undefined || !parentPort) return;
  const progress: TaskStarted = { [TASK_STARTED]: true, taskId, threadId, heapUsed: 0, progress: true };
  parentPort.postMessage(progress);
}

import { availableParallelism } from 'node:os';
import type { MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { Piscina } from 'piscina';
import { WalrusError } from '../../errors/index.js';
import { MAX_WORKERS } from '../../topology/runtime-limits.js';
import { decodeResult, encodeBatch, isControlHello, type GroupBatchResult, type GroupSpecWire, type LoadTaskResult, type ProcessorSpecWire,
  type TaskRecord, type WorkerControl, type WorkerHealth, type WorkerMetricsSnapshot } from '../wire/messages.js';
import { TaskSupervisor, type SupervisorOptions, type TaskLabel } from './crash-supervisor.js';
import { checkPoolOptions } from './pool-options.js';
import { readStepDeadline } from '../worker/step-deadlines.js';
import { StateReadServer } from './state-read-server.js';
import { runsBuiltWorker, workerExecArgv } from './worker-exec-argv.js';

/** Options of {@link WorkerPool}; checked at construction against the topology's limits (pool-options.ts). */
export interface WorkerPoolOptions {
  /** Worker threads; `auto` = available cores. @default 'auto' */
  workers?: number | 'auto';
  /**
   * Batches a worker runs at once (`workerPool.tasksPerWorker`). Records of a
   * batch run concurrently; more than one batch lets a worker go on while a
   * batch waits for its slowest record (a processor that awaits I/O), and
   * keeps the next batch waiting in the worker rather than in the
   * coordinator. A batch of one record running alone (after a crash, which
   * charges it) still gets a thread to itself. @default 4
   */
  tasksPerWorker?: number;
  /**
   * V8 heap limits of each worker thread (`resourceLimits`): a worker that
   * exceeds them dies (ERR_WORKER_OUT_OF_MEMORY) and is replaced like any
   * crash. @default Node's defaults
   */
  resourceLimits?: { maxOldGenerationSizeMb?: number; maxYoungGenerationSizeMb?: number; stackSizeMb?: number };
  /** Deadlines, crash loops and recycling (src/runtime/pool/crash-supervisor.ts). */
  supervisor?: SupervisorOptions;
  /** How long loading a processor in a worker (import + `init`) may take; 0 = no limit. @default 60_000 */
  loadTimeoutMs?: number;
}

/**
 * The piscina pool that runs processors, plus a comlink control proxy per
 * worker. Data: one msgpackr buffer per batch, transferred both ways. The
 * pool uses `atomics: 'disabled'` so an idle worker's event loop stays free to
 * answer control calls (piscina's Atomics.wait loop would block it).
 */
export class WorkerPool {
  readonly size: number;
  readonly #pool: Piscina;
  /** Set by abortAll: every task sent from then on carries it (worker/shutdown.ts). */
  #aborted: string | undefined;
  /** Each thread's published steps (worker/step-deadlines.ts), by thread id, in the order the threads started. */
  readonly #stepBuffers = new Map<number, SharedArrayBuffer>();
  readonly #controls = new Map<number, { proxy: Comlink.Remote<WorkerControl>; port: MessagePort }>();
  /** Told of each thread that ended (died, terminated, recycled; also at close), once: what was kept for it can go. */
  onThreadEnded: ((threadId: number) => void) | undefined;
  #closed = false;
  readonly #waiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  #replacements = 0;
  readonly #supervisor: TaskSupervisor;
  /** Keys' entries too many to ship with a task, and the threads' reads of them (wire/state-reads.ts). */
  readonly stateReads = new StateReadServer();
  readonly #loadTimeoutMs: number;
  #busyCheckpoints = { previous: { at: performance.now(), busyMs: 0 }, current: { at: performance.now(), busyMs: 0 } };
  /** Event-loop active ms of each live thread as last read (busyMs), and of the threads that ended. */
  readonly #active = new Map<number, number>();
  #endedActive = 0;

  constructor(options: WorkerPoolOptions = {}) {
    checkPoolOptions(options);
    this.size = options.workers === undefined || options.workers === 'auto' ? Math.min(availableParallelism(), MAX_WORKERS) : options.workers;
    const tasksPerWorker = options.tasksPerWorker ?? 4;
    const entry = new URL('../worker/worker-entry.mjs', import.meta.url);
    this.#pool = new Piscina({
      filename: entry.href,
      execArgv: workerExecArgv(process.execArgv, runsBuiltWorker(entry)),
      minThreads: this.size,
      maxThreads: this.size,
      idleTimeout: 2 ** 31 - 1,
      concurrentTasksPerWorker: tasksPerWorker,
      // piscina's least-busy choice (an abortable task only on an idle worker, nothing beside it), skipping a
      // worker being recycled: it ends once the batches it runs are back.
      loadBalancer: (task, workers) => {
        let best: (typeof workers)[number] | null = null;
        for (const worker of workers) {
          if (!this.#supervisor.accepts(worker.id)) continue;
          if (worker.currentUsage === 0) { best = worker; break; }
          if (task.isAbortable || worker.isRunningAbortableTask) continue;
          if (worker.currentUsage < tasksPerWorker && (best === null || worker.currentUsage < best.currentUsage)) best = worker;
        }
        // Only batches count towards recycleAfterTasks: the load task that starts a thread is never followed by the
        // batch result that ends a thread due for recycling (with 1, the run stalled with no thread taking batches).
        const batch = batchOf(task);
        if (best !== null && batch !== undefined) this.#supervisor.placed(best.id, batch);
        return best;
      },
      atomics: 'disabled',
      resourceLimits: options.resourceLimits,
    });
    this.#supervisor = new TaskSupervisor(options.supervisor);
    this.#supervisor.attach(() => this.#pool.threads);
    this.#supervisor.watchSteps((threadId) => {
      const deadlines = this.#stepBuffers.get(threadId);
      return deadlines === undefined ? { at: 0, task: 0, holder: 0, since: 0 } : readStepDeadline(deadlines);
    });
    this.#loadTimeoutMs = options.loadTimeoutMs ?? 60_000;
    this.#pool.on('message', (message: unknown) => {
      if (this.#supervisor.onMessage(message) || !isControlHello(message)) return;
      const proxy = Comlink.wrap<WorkerControl>(nodeEndpoint(message.port));
      message.port.unref();
      this.#controls.set(message.threadId, { proxy, port: message.port });
      // Kept past the thread's end (its control is dropped then): what a thread published last says which of its
      // batches was in a synchronous call when it died (crash-supervisor.ts). The most recent threads' only.
      if (message.deadlines !== undefined) this.#stepBuffers.set(message.threadId, message.deadlines);
      if (message.reads !== undefined) this.stateReads.attach(message.threadId, message.reads);
      if (this.#stepBuffers.size > 2 * this.size + 16) this.#stepBuffers.delete(this.#stepBuffers.keys().next().value!);
      if (this.#controls.size >= this.size) for (const waiter of this.#waiters.splice(0)) waiter.resolve();
    });
    this.#pool.on('workerDestroy', () => {
      // Before close(), a thread only ends by dying (or being terminated); piscina starts a replacement (minThreads).
      if (!this.#closed) this.#replacements += 1;
      // piscina's worker handle has no usable id here (it reads -1 once the
      // thread exited), so drop every control channel whose thread is gone.
      setImmediate(() => {
        const live = new Set(this.#pool.threads.map((t) => t.threadId));
        for (const threadId of [...this.#controls.keys()]) {
          if (live.has(threadId)) continue;
          this.#drop(threadId);
          this.#supervisor.forget(threadId);
          this.onThreadEnded?.(threadId);
        }
      });
    });
    // piscina re-raises worker crashes on the task; an 'error' with no task
    // attached must not crash the coordinator. One while threads are still
    // starting (a thread that cannot even load its entry: a broken install,
    // a bad --import) fails `ready()` at once with the thread's own error,
    // instead of after its timeout with none.
    this.#pool.on('error', (error: unknown) => {
      if (this.#waiters.length === 0) return;
      const failure = new WalrusError('WORKER_CRASHED', `a worker thread failed to start: ${(error as Error)?.message ?? String(error)}`, { cause: error });
      for (const waiter of this.#waiters.splice(0)) waiter.reject(failure);
    });
  }

  /**
   * Loads the processor in one worker (import + `init`): fails with
   * PROCESSOR_LOAD_FAILED naming the file, before anything is fetched.
   */
  async load(spec: ProcessorSpecWire, signal?: AbortSignal): Promise<LoadTaskResult> {
    // An init that never resolves must not hold `run` forever: past the deadline (or on a stop during start-up)
    // piscina aborts the task, which terminates the thread.
    // The timer is ref'd (AbortSignal.timeout's is not): a worker busy in init keeps no event loop alive, and
    // without it a run on a remote node would end with Node's "unsettled top-level await" (exit 13).
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), this.#loadTimeoutMs > 0 ? this.#loadTimeoutMs : 2 ** 31 - 1);
    try {
      return (await this.#pool.run({ kind: 'load', spec }, { signal: signal === undefined ? deadline.signal : AbortSignal.any([deadline.signal, signal]) })) as LoadTaskResult;
    } catch (error) {
      if (error instanceof WalrusError) throw error;
      if (signal?.aborted) throw new WalrusError('SHUTTING_DOWN', `start-up stopped by a signal while processor "${spec.name}" was loading`, { cause: error });
      if (deadline.signal.aborted) {
        throw new WalrusError('PROCESSOR_LOAD_FAILED',
          `processor "${spec.name}" (${spec.module}) did not finish loading (import and init) within ${this.#loadTimeoutMs} ms: an init() that never resolves? ` +
          'Make init finish (or fail) in time, or raise workerPool.loadTimeout in the topology', { cause: error, context: { module: spec.module, timeoutMs: this.#loadTimeoutMs } });
      }
      const message = String((error as Error)?.message ?? error);
      // piscina's words for a thread that ended itself: a process.exit() in the module's top level or its init().
      const exited = /^worker exited with code: (-?\d+)$/.exec(message);
      throw new WalrusError('PROCESSOR_LOAD_FAILED',
        `processor "${spec.name}" (${spec.module}) failed to load: ${exited
          ? `its worker thread ended (process.exit(${exited[1]})) while importing the module or running its init(); a processor must not call process.exit(): throw an Error to fail`
          : message}`,
        { cause: error, context: { module: spec.module } });
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Loads the processors in every worker thread (so `init` failures show up
   * at start, not mid-stream), one after the other: one load task per worker
   * at once — a worker takes an abortable task only while idle, so they
   * spread — then checks with one `health()` for them all and loads again
   * where one is still missing. (A check per processor was quadratic: each
   * answer lists every processor loaded so far; 7,000 processors took 11 s.)
   */
  async loadEverywhere(specs: ProcessorSpecWire | readonly ProcessorSpecWire[], signal?: AbortSignal): Promise<void> {
    await this.ready();
    let missing = Array.isArray(specs) ? specs : [specs as ProcessorSpecWire];
    for (let round = 0; round < 5 && missing.length > 0; round++) {
      for (const spec of missing) await Promise.all(Array.from({ length: this.size }, () => this.load(spec, signal)));
      const health = await this.health();
      const everywhere = health.length >= this.size ? health.map((h) => new Set(h.loaded)) : undefined;
      missing = everywhere === undefined ? missing : missing.filter((spec) => !everywhere.every((loaded) => loaded.has(spec.name)));
    }
    if (missing.length > 0) {
      throw new WalrusError('PROCESSOR_LOAD_FAILED', `processor "${missing[0]!.name}" could not be loaded in every worker thread${missing.length > 1 ? ` (nor ${missing.length - 1} more)` : ''}`);
    }
  }

  /**
   * Runs one batch through a stage group; resolves with what the group
   * produced for it (src/runtime/worker/stage-chain.ts). Rejects only if the
   * worker itself fails.
   */
  async process(group: GroupSpecWire, records: TaskRecord[], reruns = 0): Promise<GroupBatchResult> {
    const handles: number[] = [];
    const batch = encodeBatch(records, (entries) => { const h = this.stateReads.register(entries); handles.push(h); return h; });
    const label = taskLabel(group, records);
    // A crash of a record running alone charges it (stage-runner.ts): it must be the only task on its thread.
    const exclusive = records.length === 1 && (group.members.length === 1 || records[0]!.single);
    const { taskId, signal } = this.#supervisor.begin(label, exclusive);
    let result: ArrayBuffer;
    try {
      const task = { kind: 'process', group, batch, taskId, aborted: this.#aborted, [Piscina.queueOptionsSymbol]: { batch: taskId } };
      result = (await this.#pool.run(task, exclusive ? { transferList: [batch], signal } : { transferList: [batch] })) as ArrayBuffer;
    } catch (error) {
      this.stateReads.release(handles);
      const failure = await this.#supervisor.failed(taskId, label, error);
      if (!failure.rerun) throw failure.error;
      if (this.#closed || reruns >= 3) {
        throw new WalrusError('WORKER_CRASHED', `worker pool could not run a batch of ${label.what}: ${(error as Error)?.message ?? String(error)}`, { cause: error });
      }
      return this.process(group, records, reruns + 1);
    }
    this.stateReads.release(handles);
    this.#supervisor.succeeded(taskId);
    return decodeResult(result);
  }

  /** Processor-defined metrics of every live worker. */
  async metrics(): Promise<WorkerMetricsSnapshot[]> {
    return this.#everyWorker((c) => c.metrics());
  }

  async health(): Promise<WorkerHealth[]> {
    return this.#everyWorker((c) => c.health());
  }

  /** Fires the AbortSignal of every record in flight (cooperative cancellation at shutdown); from then on no processor call starts (worker/shutdown.ts). */
  async abortAll(reason: string): Promise<number> {
    this.#aborted ??= reason;
    // Closing: nothing runs any more, and a call answered by no thread (its port closed under it) held the process 5 s.
    if (this.#closed) return 0;
    const counts = await this.#everyWorker((c) => c.abortAll(reason));
    return counts.reduce((a, b) => a + b, 0);
  }

  /**
   * Resolves once every worker thread has started and connected its control
   * channel (a worker loads tsx and its imports first, which takes a moment).
   */
  async ready(timeoutMs = 30_000): Promise<void> {
    if (this.#controls.size >= this.size) return;
    if (this.#closed) throw new WalrusError('SHUTTING_DOWN', 'the worker pool is closed');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject })),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new WalrusError('WORKER_CRASHED',
          `only ${this.#controls.size} of ${this.size} worker threads started within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /**
   * Share of the threads' time spent running code over the last one to two
   * seconds (since start, in the first second), 0..1: each thread's event
   * loop utilisation, as Node measures it. Not piscina's `utilization`
   * (it divides run time in seconds by capacity in milliseconds: two
   * saturated workers read 0.1%), and not the tasks' run times either: a
   * worker runs several batches at once, and a batch awaiting I/O keeps its
   * thread free, so run times add up to more than the thread's time.
   */
  /** The run begins: the utilisation window starts here, so loading the processors before it does not count. */
  startUtilizationWindow(): void {
    const point = { at: performance.now(), busyMs: this.busyMs };
    this.#busyCheckpoints = { previous: point, current: point };
  }

  get utilization(): number {
    const now = performance.now();
    const busyMs = this.busyMs;
    // Two checkpoints at least a second apart: the window runs from the older one to now.
    if (now - this.#busyCheckpoints.current.at >= 1_000) {
      this.#busyCheckpoints = { previous: this.#busyCheckpoints.current, current: { at: now, busyMs } };
    }
    const from = this.#busyCheckpoints.previous;
    const span = now - from.at;
    return span <= 0 ? 0 : Math.min(1, Math.max(0, (busyMs - from.busyMs) / (span * this.size)));
  }

  /** Time the worker threads' event loops were active since start, summed over the threads (ms); a thread that ended counts what it had when last read. */
  get busyMs(): number {
    const live = new Set<number>();
    for (const worker of this.#pool.threads) {
      const id = worker.threadId;
      if (id < 0) continue;
      live.add(id);
      const active = worker.performance.eventLoopUtilization().active;
      if (active >= (this.#active.get(id) ?? 0)) this.#active.set(id, active);
    }
    for (const [id, active] of this.#active) {
      if (live.has(id)) continue;
      this.#endedActive += active;
      this.#active.delete(id);
    }
    let sum = this.#endedActive;
    for (const active of this.#active.values()) sum += active;
    return sum;
  }

  /** Threads that died (and were replaced) since start. */
  get replacements(): number {
    return this.#replacements;
  }

  /** Number of workers whose control channel is connected. */
  get connected(): number {
    return this.#controls.size;
  }

  /**
   * Runs processors' `close` hooks in every worker, then ends the threads.
   * `withinMs`: what is left of a shutdown's deadline; the hooks get that
   * (at most 5 s; none once it has passed) instead of holding the exit past it.
   */
  async close(withinMs?: number): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // A start-up that failed before the threads said hello (a refused claim): its ready() wait ends now, not at its 30 s timeout.
    for (const waiter of this.#waiters.splice(0)) waiter.reject(new WalrusError('SHUTTING_DOWN', 'the worker pool closed before its threads started'));
    const budget = Math.min(CLOSE_WAIT_MS, Math.max(0, withinMs ?? CLOSE_WAIT_MS));
    // Each thread answers a little before the budget, logging the hooks that did not finish (loaded-processors.ts).
    if (budget > 0) await this.#everyWorker((c) => c.closeProcessors(Math.max(1, budget - 500)), budget);
    for (const threadId of [...this.#controls.keys()]) this.#drop(threadId);
    this.#supervisor.close();
    await this.#pool.destroy();
    this.stateReads.close();
  }

  async #everyWorker<T>(call: (control: Comlink.Remote<WorkerControl>) => Promise<T>, timeoutMs = 5_000): Promise<T[]> {
    // Control ports are unref'd so an idle pool never holds the process open;
    // while a call waits for its answer, the port must keep the loop alive.
    // A thread that ended (terminated after an aborted load, crashed) answers nothing: it is not asked.
    const live = new Set(this.#pool.threads.map((t) => t.threadId));
    const entries = [...this.#controls].filter(([threadId]) => live.has(threadId)).map(([, entry]) => entry);
    for (const { port } of entries) port.ref();
    const settled = await Promise.allSettled(entries.map(({ proxy }) => withTimeout(call(proxy), timeoutMs)));
    for (const { port } of entries) port.unref();
    return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  }

  #drop(threadId: number): void {
    this.stateReads.detach(threadId);
    const entry = this.#controls.get(threadId);
    if (!entry) return;
    this.#controls.delete(threadId);
    entry.proxy[Comlink.releaseProxy]();
    entry.port.close();
  }
}

/** Longest wait for the threads' `close` hooks as the pool closes. */
const CLOSE_WAIT_MS = 5_000;

/** The task id of a batch, from the queue options piscina hands the balancer (not sent to the worker); undefined for a load. */
const batchOf = (task: object): number | undefined =>
  ((task as Record<symbol, { batch?: number } | null | undefined>)[Piscina.queueOptionsSymbol])?.batch;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    // Ref'd: the wait is bounded, and an unref'd one let a process with nothing else to wait on end mid-call
    // (Node's exit 13, "unsettled top-level await") instead of timing out.
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('control call timed out')), ms); }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * A batch whose records all run one member alone (isolation after a crash,
 * recovery) is that member's task — its timeout, its name in messages;
 * otherwise the group's.
 */
function taskLabel(group: GroupSpecWire, records: readonly TaskRecord[]): TaskLabel {
  const entry = records[0]?.entry ?? 0;
  // The deadline is one record's: a worker running records one after the other reports progress between them
  // (ChainBatch, announceTaskProgress), which starts it again.
  if (group.members.length === 1 || records.every((r) => r.single && r.entry === entry)) {
    const m = group.members[entry]!;
    // One record alone: a crash is that record's (the crash guard counts it once, whatever its attempts).
    const label: TaskLabel = { what: `processor "${m.name}"`, timeoutMs: m.timeoutMs, member: true };
    if (records.length === 1) label.record = `${records[0]!.id}\u0000${entry}`;
    return label;
  }
  return { what: `stage group "${group.name}" (${group.members.map((m) => m.name).join(', ')})`, timeoutMs: group.timeoutMs };
}

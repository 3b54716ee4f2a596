import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import type Pino from 'pino';
import { DEFAULT_REDACT_PATHS, redactHeaderPaths } from '../../observability/logs/log-fields.js';
import type { ProcessorDefinition, LifecycleContext } from '../../processor/types.js';
import type { ProcessorSpecWire } from '../wire/messages.js';
import type { WorkerMetrics } from './processor-metrics.js';
import { importProcessor, thrownText } from '../../processor/loader.js';
import { acceptBuiltins } from './builtins-guard.js';
import { WalrusError } from '../../errors/index.js';

/** A processor as loaded and initialised in one worker. */
export interface LoadedProcessor {
  definition: ProcessorDefinition;
  logger: Logger;
  lifecycle: LifecycleContext;
  /** Declared output names. */
  outputs: Set<string>;
  /** True once this worker warned that the processor emitted after a record's process() finished (once per worker). */
  lateWarned?: boolean;
  /** The same for ctx.state() and store writes after process() finished. */
  lateStateWarned?: boolean;
}

/** How long closeAll waits for each processor's close(): below the 5 s the pool gives a thread's closeProcessors(). */
export const CLOSE_TIMEOUT_MS = 4_500;

/**
 * Per-worker cache: each module is imported once (by path) and each processor
 * `init`ed once (by name; two processors may share a module with different
 * config). Concurrent first tasks share the same pending load.
 */
export class LoadedProcessors {
  readonly #byName = new Map<string, Promise<LoadedProcessor>>();
  /** Names whose load has succeeded. */
  readonly #loaded = new Set<string>();
  readonly #metrics: WorkerMetrics;
  #rootLogger: Logger | undefined;

  constructor(metrics: WorkerMetrics) {
    this.#metrics = metrics;
  }

  /**
   * The processor, loaded (and `init`ed) once. `waitMs` > 0 bounds this
   * caller's wait: past it the promise rejects with PROCESSOR_LOAD_FAILED
   * while the load itself stays (a later task waits for the same one, and
   * init() is not called again).
   */
  get(spec: ProcessorSpecWire, waitMs = 0): Promise<LoadedProcessor> {
    let pending = this.#byName.get(spec.name);
    if (!pending) {
      pending = this.#load(spec);
      this.#byName.set(spec.name, pending);
      // A failed load is retried on the next task rather than cached forever.
      pending.then(() => this.#loaded.add(spec.name), () => this.#byName.delete(spec.name));
    }
    // Once loaded, every batch asks again: no timer for those.
    return waitMs > 0 && !this.#loaded.has(spec.name) ? bounded(pending, waitMs, spec) : pending;
  }

  names(): string[] {
    return [...this.#byName.keys()];
  }

  /**
   * Runs every processor's `close` at once, each given `timeoutMs`: one
   * that hangs (or throws) is logged, naming it, and keeps no other
   * processor's close from running. They ran one after the other, so a
   * close that never settled kept every later one from being called at all,
   * and the pool gave up on the thread after its 5 s without a word.
   */
  async closeAll(timeoutMs = CLOSE_TIMEOUT_MS): Promise<void> {
    // A load still under way (an init() that has not resolved) has nothing to close yet: it is not waited for.
    const all = [...this.#byName].filter(([name]) => this.#loaded.has(name)).map(([, pending]) => pending);
    this.#byName.clear();
    this.#loaded.clear();
    await Promise.all(all.map(async (pending) => {
      const loaded = await pending;
      if (!loaded.definition.close) return;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => { timer = setTimeout(resolve, timeoutMs, 'late'); });
      try {
        const closing = Promise.resolve().then(() => loaded.definition.close!(loaded.lifecycle));
        if (await Promise.race([closing, late]) === 'late') {
          loaded.logger.error({ timeoutMs }, `processor close() did not finish within ${timeoutMs} ms; the worker thread ends without waiting for it (make close() settle: bound its own waits)`);
        }
      } catch (error) {
        loaded.logger.error({ err: error }, 'processor close() failed');
      } finally {
        clearTimeout(timer);
      }
    }));
  }

  async #load(spec: ProcessorSpecWire): Promise<LoadedProcessor> {
    const definition = await importProcessor(spec.module);
    // Made on first use: most processors never log, and loading pino costs a
    // thread ~40 ms of CPU at start (every worker thread, every run).
    let logger: Logger | undefined;
    const loggerOf = (): Logger => (logger ??= this.#root(spec).child({ processor: spec.name }));
    const lifecycle = {
      get logger() { return loggerOf(); },
      config: Object.freeze({ ...spec.config }),
      processor: spec.name,
      metrics: this.#metrics.forProcessor(spec.name),
    } satisfies LifecycleContext;
    try {
      if (definition.init) await definition.init(lifecycle);
    } catch (error) {
      // The cause only when it is an Error: this crosses to the main thread, and a thrown Symbol cannot be cloned
      // (the start then failed with "failed to load: [object Object]", naming neither init() nor what it threw).
      throw new Error(`its init() threw: ${initFailure(error, spec.module)}; the processor does not start until init() succeeds`,
        initThrewError(error) ? { cause: error } : undefined);
    }
    // What the module did to built-ins as it loaded (a polyfill, BigInt.prototype.toJSON) is the thread's own from now on.
    acceptBuiltins();
    return { definition, get logger() { return loggerOf(); }, lifecycle, outputs: new Set(spec.outputs) };
  }

  /** Logs go straight to stderr from this thread (synchronously, so nothing is lost at exit), leaving stdout to the CLI's summary. */
  #root(spec: ProcessorSpecWire): Logger {
    if (this.#rootLogger) return this.#rootLogger;
    const pino = createRequire(import.meta.url)('pino') as typeof Pino;
    this.#rootLogger = pino({
      level: spec.logLevel, base: { pid: process.pid, ...(spec.app === undefined ? {} : { app: spec.app }) },
      redact: { paths: [...new Set([...DEFAULT_REDACT_PATHS, ...redactHeaderPaths(spec.redactHeaders ?? [])])], censor: '[redacted]' },
    }, pino.destination({ dest: 2, sync: true }));
    return this.#rootLogger;
  }
}

/**
 * How long a batch waits for its processors to load in a thread that had not
 * loaded them (a replacement after a crash): `loadTimeout`, and never past
 * the processor's own `timeout`, so a load that hangs fails the batch,
 * saying so, before the deadline ends the thread and charges its records
 * PROCESSOR_TIMEOUT. Both 0: no limit.
 */
export function loadWaitMs(spec: ProcessorSpecWire): number {
  const load = spec.loadTimeoutMs ?? 0;
  return load > 0 && spec.timeoutMs > 0 ? Math.min(load, spec.timeoutMs) : Math.max(load, spec.timeoutMs);
}

function bounded(pending: Promise<LoadedProcessor>, ms: number, spec: ProcessorSpecWire): Promise<LoadedProcessor> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new WalrusError('PROCESSOR_LOAD_FAILED',
      `processor "${spec.name}" (${spec.module}) did not finish loading (import and init) within ${ms} ms in this worker thread: an init() that never resolves? ` +
      'The batch is retried; make init finish (or fail) in time, or raise workerPool.loadTimeout (or the processor\'s timeout) in the topology',
      { retriable: true, context: { module: spec.module, timeoutMs: ms } })), ms);
  });
  return Promise.race([pending, late]).finally(() => clearTimeout(timer));
}

/** What an init() threw, with the first stack frame in the processor's file; never throws. */
function initFailure(error: unknown, modulePath: string): string {
  try {
    const reason = error instanceof Error ? String(error.message).split('\n')[0]! : thrownText(error);
    const url = pathToFileURL(modulePath).href;
    const frame = (error instanceof Error ? String(error.stack) : '').split('\n').find((line) => line.includes(modulePath) || line.includes(url));
    const at = frame === undefined ? undefined : /:(\d+):(\d+)\)?$/.exec(frame.trim());
    return at ? `${reason} (at ${modulePath}:${at[1]}:${at[2]})` : reason;
  } catch {
    return 'a value that cannot be shown';
  }
}

function initThrewError(error: unknown): boolean {
  try {
    return error instanceof Error;
  } catch {
    return false;
  }
}

import { Worker } from 'node:worker_threads';
import { WalrusError, deserializeError } from '../../errors/index.js';
import type { LogLevel } from '../../topology/types.js';
import { STATUS, STATUS_SLOTS, type CaseWorkerData, type CaseWorkerMessage } from './case-messages.js';
import type { CaseResult } from './run-cases.js';

/** How long one case may run, in real time, before it is stopped and failed (`walrus-stream test --timeout`). */
export const DEFAULT_CASE_TIMEOUT_MS = 10_000;

export interface FileRunOptions {
  /** The test file, as given. */
  file: string;
  cwd: string;
  env: Record<string, string | undefined>;
  filter: string | undefined;
  logLevel: LogLevel;
  /** Real milliseconds a case may run. */
  timeoutMs: number;
  /** Told once the file loaded (before any result). */
  onLoaded(): void;
  /** Told each case's result as it ends, in order. */
  onResult(result: CaseResult): void;
}

/** What a thread said of the file once it loaded it. */
interface FileShape { cases: Array<{ name: string; line: number }>; processors: string[] }

/**
 * How the cases of a file ended: all run; or a processor ended their thread
 * (process.exit), or left it nothing to run (a promise that never settles),
 * at import, in init or in process. A file that does not load (broken, or
 * its topology) rejects with the loader's error, diagnostics included.
 */
export type FileRunEnd = { ended: 'done' } | { ended: 'exit'; code: number } | { ended: 'idle' };

/**
 * Runs a test file's cases in a worker thread, giving each case a deadline.
 * Processor code runs on the thread of the case, and a synchronous loop
 * there (`for (;;) {}` in init or process) cannot be interrupted by any
 * timer on that thread: past the deadline the thread is terminated, the
 * case fails naming the processor it was in, and a new thread goes on with
 * the next case.
 */
export async function runFileCases(o: FileRunOptions): Promise<FileRunEnd> {
  let from = 0;
  const shape: { known?: FileShape } = {};
  for (;;) {
    const end = await runThread(o, from, shape);
    if (end.ended !== 'stuck') return end;
    const cases = shape.known!.cases;
    o.onResult(stuckResult(o, cases[end.index]!, end.processor, end.ms, end.uncaught));
    from = end.index + 1;
    if (from >= cases.length) return { ended: 'done' };
  }
}

/** A case that did not end: past its deadline, or its thread ended by an error nothing caught (`uncaught`). */
type ThreadEnd = FileRunEnd | { ended: 'stuck'; index: number; processor: string | undefined; ms: number; uncaught?: Error };

function runThread(o: FileRunOptions, from: number, shape: { known?: FileShape }): Promise<ThreadEnd> {
  const status = new SharedArrayBuffer(STATUS_SLOTS * Int32Array.BYTES_PER_ELEMENT);
  const view = new Int32Array(status);
  const data: CaseWorkerData = { file: o.file, cwd: o.cwd, env: { ...o.env }, from, filter: o.filter, logLevel: o.logLevel, status };
  const worker = new Worker(workerEntry(), { workerData: data });
  return new Promise<ThreadEnd>((resolve, reject) => {
    let failed: Error | undefined;
    // Loading the file (its topology, then every processor's module and init) gets the same deadline as a case: a
    // module that loops for ever at import hung the command before any case began.
    let timer: NodeJS.Timeout | undefined = setTimeout(() => {
      failed = new WalrusError('PROCESSOR_LOAD_FAILED', `${o.file}: its topology's processors did not finish loading within ${o.timeoutMs} ms ` +
        '(a synchronous endless loop, or a wait that never ends, at a module\'s import?), and the thread was stopped; ' +
        'fix the module, or give it longer with --timeout <ms>', { retriable: false });
      void worker.terminate();
    }, o.timeoutMs);
    let started = 0;
    /** The case running now (from its start to its result), if any. */
    let running: number | undefined;
    let done = false;
    let stuck: ThreadEnd | undefined;
    worker.on('message', (message: CaseWorkerMessage) => {
      if (message.kind === 'loaded') {
        clearTimeout(timer);
        if (shape.known === undefined) { shape.known = message; o.onLoaded(); }
      } else if (message.kind === 'load-failed') {
        clearTimeout(timer);
        failed = message.error !== undefined ? deserializeError(message.error) : Object.assign(new Error(message.message), { stack: message.stack });
      } else if (message.kind === 'start') {
        clearTimeout(timer);
        started = performance.now();
        running = message.index;
        // Armed per case (not during the thread's start-up, which imports the modules the command already imported once).
        timer = setTimeout(() => {
          const entered = Atomics.load(view, STATUS.PROCESSOR);
          const names = shape.known?.processors ?? [];
          stuck = { ended: 'stuck', index: message.index, processor: entered > 0 ? names[entered - 1] : undefined, ms: performance.now() - started };
          void worker.terminate();
        }, o.timeoutMs);
      } else if (message.kind === 'result') {
        clearTimeout(timer);
        running = undefined;
        o.onResult(message.result);
      } else {
        done = true;
      }
    });
    worker.once('error', (error) => {
      clearTimeout(timer);
      // Thrown where nothing catches it (a processor's timer or event callback) during a case: that case fails, naming
      // it, and the next one runs on a new thread; outside a case (loading) the file fails.
      if (running === undefined || stuck !== undefined) { reject(error); return; }
      const entered = Atomics.load(view, STATUS.PROCESSOR);
      const names = shape.known?.processors ?? [];
      resolve({ ended: 'stuck', index: running, processor: entered > 0 ? names[entered - 1] : undefined, ms: performance.now() - started, uncaught: error });
    });
    worker.once('exit', () => {
      clearTimeout(timer);
      if (failed !== undefined) reject(failed);
      else if (stuck !== undefined) resolve(stuck);
      else if (done) resolve({ ended: 'done' });
      else if (Atomics.load(view, STATUS.EXIT_CALLED) === 1) resolve({ ended: 'exit', code: Atomics.load(view, STATUS.EXIT_CODE) });
      else resolve({ ended: 'idle' });
    });
  });
}

function stuckResult(o: FileRunOptions, c: { name: string; line: number }, processor: string | undefined, ms: number, uncaught?: Error): CaseResult {
  const who = processor === undefined ? `case "${c.name}"` : `processor "${processor}" in case "${c.name}"`;
  if (uncaught !== undefined) {
    return {
      name: c.name, line: c.line, ok: false, ms,
      problems: [`error: ${who} threw where nothing catches it (in a timer or event callback process() did not await?): ${uncaught.message}`],
    };
  }
  return {
    name: c.name, line: c.line, ok: false, ms,
    problems: [`error: ${who} did not finish within the case deadline of ${o.timeoutMs} ms, and was stopped ` +
      '(a synchronous endless loop in init() or process()?); fix the processor, or give the case longer with --timeout <ms>'],
  };
}

/**
 * Built code runs `case-worker.js` directly. A source checkout runs as
 * TypeScript through tsx, whose loader hooks do not reach worker threads on
 * Node 20, so the thread starts from a tiny ES module that registers tsx
 * first (as the embedded node's thread does: src/broker/worker.ts).
 */
function workerEntry(): URL {
  if (!import.meta.url.endsWith('.ts')) return new URL('./case-worker.js', import.meta.url);
  const entry = new URL('./case-worker.ts', import.meta.url);
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const source = `import { register } from ${JSON.stringify(tsxApi)};\nregister();\nawait import(${JSON.stringify(entry.href)});\n`;
  return new URL(`data:text/javascript,${encodeURIComponent(source)}`);
}

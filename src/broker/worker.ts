import { Worker } from 'node:worker_threads';
import { deserializeError } from '../errors/index.js';
import { resolveBrokerOptions, type BrokerOptions, type ResolvedBrokerOptions } from './options.js';
import type { BrokerHandle, BrokerStats } from './server.js';
import { reportRepairs } from './store/recovery-report.js';
import type { FromWorker, ToWorker } from './worker-messages.js';

/** A node running on its own worker thread: the BrokerHandle shape, with `stats()` asynchronous. */
export interface WorkerBrokerHandle extends Omit<BrokerHandle, 'stats'> {
  stats(): Promise<BrokerStats>;
}

/**
 * Starts an embedded node on a dedicated worker thread, so a pipeline's
 * coordinator and the node do not share one event loop.
 *
 * @example
 * const node = await startBrokerInWorker({ port: 0, dataDir: '.walrus' });
 */
export async function startBrokerInWorker(options: BrokerOptions = {}): Promise<WorkerBrokerHandle> {
  resolveBrokerOptions(options); // fail fast, on the caller's thread, with the same errors
  const { onRecoveryRepair, ...cloneable } = options;
  const worker = new Worker(workerEntry(), { workerData: cloneable });

  let nextId = 0;
  const pendingStats = new Map<number, (stats: BrokerStats) => void>();
  let onClosed: (() => void) | undefined;
  let onError: ((error: Error) => void) | undefined;
  let failure: Error | undefined;
  let markExited!: () => void;
  const exited = new Promise<void>((resolve) => {
    markExited = resolve;
  });

  const ready = await new Promise<Extract<FromWorker, { type: 'ready' }>>((resolve, reject) => {
    worker.on('message', (message: FromWorker) => {
      switch (message.type) {
        case 'ready':
          resolve(message);
          break;
        case 'stats':
          pendingStats.get(message.id)?.(message.stats);
          pendingStats.delete(message.id);
          break;
        case 'closed':
          onClosed?.();
          break;
        case 'error': {
          const error = deserializeError(message.error);
          failure ??= error;
          reject(error);
          onError?.(error);
        }
      }
    });
    worker.once('error', (error) => {
      failure ??= error;
      reject(error);
      onError?.(error);
    });
    worker.once('exit', (code) => {
      reject(new Error(`broker worker exited with code ${code}`));
      onClosed?.();
      markExited();
    });
  });

  reportRepairs(ready.recovery, onRecoveryRepair);
  let closing: Promise<void> | undefined;
  const post = (message: ToWorker): void => worker.postMessage(message);
  const options_: ResolvedBrokerOptions = ready.options;
  return {
    host: ready.host,
    port: ready.port,
    address: ready.address,
    options: options_,
    warnings: ready.warnings,
    recovery: ready.recovery,
    stats: () =>
      new Promise<BrokerStats>((resolve) => {
        const id = nextId++;
        pendingStats.set(id, resolve);
        post({ type: 'stats', id });
      }),
    closed: exited,
    get failure() {
      return failure;
    },
    close: () => {
      // A thread that already ended (its node stopped on a storage failure) answers no `close`: its exit is the answer.
      closing ??= Promise.race([exited, new Promise<void>((resolve, reject) => {
        onClosed = () => resolve();
        onError = reject;
        post({ type: 'close' });
      })]).finally(() => worker.terminate().then(() => undefined));
      return closing;
    },
  };
}

/**
 * Built code runs `worker-entry.js` directly. A source checkout runs as
 * TypeScript through tsx, whose loader hooks do not reach worker threads on
 * Node 20 (neither `--import tsx` nor `register()` in the parent), so the
 * worker starts from a tiny ES module that registers tsx first.
 */
function workerEntry(): URL {
  const entry = new URL('./worker-entry.ts', import.meta.url);
  if (!import.meta.url.endsWith('.ts')) return new URL('./worker-entry.js', import.meta.url);
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const source = `import { register } from ${JSON.stringify(tsxApi)};\nregister();\nawait import(${JSON.stringify(entry.href)});\n`;
  return new URL(`data:text/javascript,${encodeURIComponent(source)}`);
}

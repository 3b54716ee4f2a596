/**
 * The piscina worker: runs processors on batches of records. It never opens
 * a socket; it gets records in a transferred buffer and returns results the
 * same way. Loaded through `worker-entry.mjs` (which installs tsx so `.ts`
 * processors import without a build step).
 */
import { MessageChannel, parentPort, threadId } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { Piscina } from 'piscina';
import { WalrusError, serializeError } from '../../errors/index.js';
import { CONTROL_HELLO, decodeBatch, type BatchResult, encodeResult, encodeWire, type ControlHello, type LoadTaskResult, type ProcessorSpecWire,
  type WireRecord, type WireResult, type WorkerControl, type WorkerMetricsSnapshot, type WorkerTask } from '../wire/messages.js';
import { WorkerMetrics } from './processor-metrics.js';
import { LoadedProcessors } from './loaded-processors.js';
import { runRecord } from './run-record.js';
import { SinkPacker } from './sink-packer.js';
import { announceTaskStart } from '../pool/timeout-watchdog.js';

const startedAt = Date.now();
const metrics = new WorkerMetrics();
const processors = new LoadedProcessors(metrics);
/** AbortControllers of the records currently inside `process`, for shutdown. */
const inFlight = new Set<AbortController>();
const sinks = new SinkPacker();

const control: WorkerControl = {
  metrics: () => metrics.snapshot(threadId),
  health: () => ({ threadId, uptimeMs: Date.now() - startedAt, inFlight: inFlight.size, loaded: processors.names() }),
  abortAll(reason) {
    const n = inFlight.size;
    const error = new WalrusError('SHUTTING_DOWN', `record processing aborted: ${reason}`);
    for (const controller of inFlight) controller.abort(error);
    return n;
  },
  closeProcessors: () => processors.closeAll(),
};

if (parentPort) {
  const { port1, port2 } = new MessageChannel();
  Comlink.expose(control, nodeEndpoint(port1));
  // The control port must not keep the worker alive on its own.
  port1.unref();
  const hello: ControlHello = { [CONTROL_HELLO]: true, threadId, port: port2 };
  parentPort.postMessage(hello, [port2]);
}

let sentVersion = 0;
/**
 * The cumulative snapshot of processor metrics, when it changed since the
 * last result: it rides on batch results (so a worker that dies later loses
 * nothing it reported), and unchanged ones are not sent again.
 */
function metricsToSend(): WorkerMetricsSnapshot | undefined {
  if (metrics.version === sentVersion) return undefined;
  sentVersion = metrics.version;
  return metrics.snapshot(threadId);
}

/** piscina's task handler. */
export default async function handle(task: WorkerTask): Promise<LoadTaskResult | ArrayBuffer | unknown> {
  if (task.kind === 'load') {
    await processors.get(task.spec);
    return { threadId, loaded: processors.names() } satisfies LoadTaskResult;
  }
  announceTaskStart(task.taskId);
  const records = decodeBatch(task.batch);
  const results = await processBatch(task.spec, records);
  const batch: BatchResult = { results, packed: sinks.pack(task.spec, records, results), metrics: metricsToSend() };
  try {
    return Piscina.move(encodeResult(batch));
  } catch {
    // Some output cannot cross the thread boundary (a function, a symbol):
    // find the records responsible and fail only them.
    batch.results = results.map((result) => {
      try {
        encodeWire(result);
        return result;
      } catch (error) {
        const reason = new WalrusError('SERIALIZATION_ERROR',
          `processor "${task.spec.name}" produced an output that cannot be passed between threads: ${(error as Error)?.message ?? String(error)}`,
          { retriable: false });
        return { ok: false as const, error: serializeError(reason), durationMs: result.durationMs };
      }
    });
    return Piscina.move(encodeResult(batch));
  }
}

async function processBatch(spec: ProcessorSpecWire, records: WireRecord[]): Promise<WireResult[]> {
  let loaded;
  try {
    loaded = await processors.get(spec);
  } catch (error) {
    // A load failure here (a replacement worker whose `init` fails, a module
    // changed on disk) is not the records' fault: they are retried with
    // backoff, and dead-lettered only if it persists.
    const data = { ...serializeError(error), retriable: true };
    return records.map(() => ({ ok: false as const, error: data, durationMs: 0 }));
  }
  // Records of one batch run concurrently: key ordering guarantees a batch
  // never holds two records with the same key, and async processors (I/O
  // enrichment) overlap their waits. CPU-bound processors simply run in turn.
  const results = records.map((record) => runRecord(loaded, spec, record, inFlight));
  return results.some((r) => r instanceof Promise) ? Promise.all(results) : (results as WireResult[]);
}

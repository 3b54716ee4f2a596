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
import { CONTROL_HELLO, decodeBatch, type ControlHello, type LoadTaskResult, type WorkerControl, type WorkerMetricsSnapshot, type WorkerTask } from '../wire/messages.js';
import { WorkerMetrics } from './processor-metrics.js';
import { LoadedProcessors } from './loaded-processors.js';
import { runGroupBatch } from './stage-chain.js';
import { encodeGroupResult } from './result-encoding.js';
import { SinkPacker } from './sink-packer.js';
import { StepDeadlines } from './step-deadlines.js';
import { announceTaskProgress, announceTaskStart } from '../wire/task-started.js';
import { abortProcessing } from './shutdown.js';
import { RemoteState, openStateReads } from './state-reads.js';
import type { RemotePreload } from '../wire/state-reads.js';

const startedAt = Date.now();
const metrics = new WorkerMetrics();
const processors = new LoadedProcessors(metrics);
/** AbortControllers of the records currently inside `process`, for shutdown. */
const inFlight = new Set<AbortController>();
const sinks = new SinkPacker();
/** Each running step's deadline, read by the pool (shared memory, sent with the hello). */
const deadlines = new StepDeadlines();

const control: WorkerControl = {
  metrics: () => metrics.snapshot(threadId),
  health: () => ({ threadId, uptimeMs: Date.now() - startedAt, inFlight: inFlight.size, loaded: processors.names() }),
  abortAll(reason) {
    const n = inFlight.size;
    const error = abortProcessing(reason);
    for (const controller of inFlight) controller.abort(error);
    return n;
  },
  closeProcessors: (timeoutMs) => processors.closeAll(timeoutMs),
};

if (parentPort) {
  const { port1, port2 } = new MessageChannel();
  Comlink.expose(control, nodeEndpoint(port1));
  // The control port must not keep the worker alive on its own.
  port1.unref();
  const reads = openStateReads();
  const hello: ControlHello = { [CONTROL_HELLO]: true, threadId, port: port2, deadlines: deadlines.buffer, reads };
  parentPort.postMessage(hello, [port2, reads.port]);
}

let sentVersion = 0;
/**
 * The processor metrics that changed since the last result (every series of
 * each changed name, cumulative): they ride on batch results, so a worker
 * that dies later loses nothing it reported, and what did not change is not
 * sent again — a result carries the names its records touched, not every
 * series the worker ever made.
 */
function metricsToSend(): WorkerMetricsSnapshot | undefined {
  if (metrics.version === sentVersion) return undefined;
  sentVersion = metrics.version;
  return metrics.delta(threadId);
}

/** The reader of a key's entries the coordinator holds for this task (too many to ship). */
const remoteReader = (store: string, remote: RemotePreload): RemoteState => new RemoteState(store, remote);

/** piscina's task handler. */
export default async function handle(task: WorkerTask): Promise<LoadTaskResult | ArrayBuffer | unknown> {
  if (task.kind === 'load') {
    await processors.get(task.spec);
    return { threadId, loaded: processors.names() } satisfies LoadTaskResult;
  }
  announceTaskStart(task.taskId);
  // Sent after the abort point (a thread started since, or the control call still on its way): same as abortAll.
  if (task.aborted !== undefined) abortProcessing(task.aborted);
  const records = decodeBatch(task.batch, remoteReader);
  const result = await runGroupBatch({ group: task.group, records, processors, inFlight, packer: sinks, beat: () => announceTaskProgress(task.taskId), deadlines: deadlines.forTask(task.taskId ?? 0) });
  result.metrics = metricsToSend();
  return Piscina.move(encodeGroupResult(task.group, result));
}


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
import { CONTROL_HELLO, decodeBatch, encodeResult, encodeWire, type ControlHello, type GroupBatchResult, type GroupSpecWire, type LoadTaskResult,
  type TaskRecord, type WorkerControl, type WorkerMetricsSnapshot, type WorkerTask } from '../wire/messages.js';
import { WorkerMetrics } from './processor-metrics.js';
import { LoadedProcessors } from './loaded-processors.js';
import { ChainBatch } from './stage-chain.js';
import { SinkPacker } from './sink-packer.js';
import { announceTaskStart } from '../wire/task-started.js';

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
  const result = await processBatch(task.group, records);
  result.metrics = metricsToSend();
  try {
    return Piscina.move(encodeResult(result));
  } catch {
    // Some output cannot cross the thread boundary (a function, a symbol):
    // find the units responsible and fail only them.
    return Piscina.move(encodeResult(withoutUnsendable(task.group, result)));
  }
}

async function processBatch(group: GroupSpecWire, records: TaskRecord[]): Promise<GroupBatchResult> {
  let loaded;
  try {
    loaded = await Promise.all(group.members.map((m) => processors.get(m)));
  } catch (error) {
    // A load failure here (a replacement worker whose `init` fails, a module
    // changed on disk) is not the records' fault: they are retried with
    // backoff, and dead-lettered only if it persists.
    const data = { ...serializeError(error), retriable: true };
    return {
      members: [], entryDurations: new Float64Array(records.length), exits: [], state: [], packed: [],
      failures: records.map((r, index) => ({ index, member: r.entry, hops: [], attempt: r.attempt, error: data })),
    };
  }
  return new ChainBatch(group, loaded, inFlight, sinks, records.length).run(records);
}

/** Exits and state units that cannot be encoded become failures of the member that produced them. */
function withoutUnsendable(group: GroupSpecWire, result: GroupBatchResult): GroupBatchResult {
  const failures = [...result.failures];
  const failed = (index: number, member: number, hops: number[], error: unknown) => failures.push({
    index, member, hops, attempt: 1,
    error: serializeError(new WalrusError('SERIALIZATION_ERROR',
      `processor "${group.members[member]?.name}" produced an output that cannot be passed between threads: ${(error as Error)?.message ?? String(error)}`,
      { retriable: false })),
  });
  const sendable = <T>(items: T[], onError: (item: T, error: unknown) => void): T[] => items.filter((item) => {
    try { encodeWire(item); return true; } catch (error) { onError(item, error); return false; }
  });
  const exits = sendable(result.exits, (x, error) => failed(x.index, x.hops[x.hops.length - 2] ?? 0, x.hops.slice(0, -2), error));
  const state = sendable(result.state, (s, error) => failed(s.index, s.member, s.hops, error));
  return { ...result, exits, state, failures };
}

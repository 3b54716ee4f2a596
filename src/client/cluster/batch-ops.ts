import { WalrusError } from '../../errors/index.js';
import {
  MAX_BATCH_ENTRIES,
  MAX_FRAME_BYTES,
  assertPayload,
  batchPutEntryOverhead,
  batchPutHeadBytes,
  encodeBatchGet,
  encodeBatchPut,
  encodeGet,
  encodePut,
  maxPayloadBytes,
  parseBatchGet,
  parseBatchPut,
  parseGet,
  parseOk,
} from '../../protocol/index.js';
import type { Connection } from '../transport/connection.js';
import { entriesMayBeLost, requestMayHaveRun } from '../transport/network-errors.js';
import type { WalrusNode } from './node.js';
import { appendAll } from '../../util/append.js';

/** Per-call options a batch operation passes to each of its requests. */
export interface CallMeta {
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
}

/** Frames kept in flight by one putMany on its connection. */
const PUT_WINDOW = 64;
const BATCH_WINDOW = 8;
/** Largest wave of pipelined GETs in the BATCH_GET fallback. */
const MAX_GET_WAVE = 64;

/**
 * Checks every payload before anything is sent (bad input loses nothing and
 * stores nothing) and splits them into BATCH_PUT-sized chunks.
 */
export function planBatches(topic: string, payloads: readonly string[], entryLimit = MAX_BATCH_ENTRIES): string[][] {
  const limit = maxPayloadBytes(topic);
  const chunks: string[][] = [];
  let chunk: string[] = [];
  let size = 0;
  for (let i = 0; i < payloads.length; i++) {
    const payload = payloads[i]!;
    if (typeof payload !== 'string') throw new WalrusError('INVALID_PAYLOAD', `putMany(${topic}): payload ${i} is a ${typeof payload}, not a string; nothing was sent.`, { context: { topic, index: i } });
    try {
      assertPayload(payload, topic);
    } catch (error) {
      throw new WalrusError('INVALID_PAYLOAD', `putMany(${topic}): payload ${i}: ${(error as Error).message} Nothing was sent.`, { cause: error, context: { topic, index: i } });
    }
    const bytes = Buffer.byteLength(payload);
    if (bytes > limit) {
      throw new WalrusError('FRAME_TOO_LARGE', `putMany(${topic}): payload ${i} is ${bytes} bytes, over the ${limit}-byte limit of one entry for this topic; nothing was sent.`, { context: { topic, index: i, size: bytes, limit } });
    }
    const overhead = batchPutEntryOverhead(bytes);
    if (chunk.length > 0 && (chunk.length >= entryLimit || batchPutHeadBytes(topic, chunk.length + 1) + size + overhead > MAX_FRAME_BYTES)) {
      chunks.push(chunk);
      chunk = [];
      size = 0;
    }
    chunk.push(payload);
    size += overhead;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** Raised by `putManyOnNode` when it stopped early; the retry layer resends `remaining`. */
export interface PutManyProgress {
  /** Payloads not known to be stored, in order (the failed chunk onward). */
  remaining: string[];
  /** Of those, how many may have been stored anyway (sent, reply lost). */
  uncertain: number;
}

/**
 * Writes `chunks` through one connection of `node`, pipelined, in order.
 * Stops at the first failure, waits for what is in flight, and throws that
 * error with `context.progress: PutManyProgress`.
 */
export async function putManyOnNode(node: WalrusNode, topic: string, chunks: string[][], useBatch: boolean, call: CallMeta = {}): Promise<void> {
  const { signal, timeoutMs } = call;
  const singles = useBatch ? chunks : chunks.flat().map((p) => [p]);
  const window = useBatch ? BATCH_WINDOW : PUT_WINDOW;
  const command = useBatch ? 'BATCH_PUT' : 'PUT';
  await node.withConnection(async (connection) => {
    const inFlight: Array<Promise<unknown>> = [];
    // Per chunk: undefined = not settled, null = stored, otherwise the error.
    const outcomes = new Array<unknown>(singles.length);
    let firstFailure = -1;
    let sent = 0;
    for (; sent < singles.length && firstFailure < 0; sent++) {
      const index = sent;
      const chunk = singles[index]!;
      // A one-entry chunk goes as PUT: the same effect, and an entry close to
      // the PUT limit would not fit BATCH_PUT's longer head.
      const asBatch = useBatch && chunk.length > 1;
      // A count other than the chunk's cannot answer it (another request's reply, paired by order): checked in the
      // parser, so the connection is retired as for any reply that does not fit.
      const reply = asBatch
        ? connection.send(encodeBatchPut(topic, chunk), (body, context) => {
          const count = parseBatchPut(body, context);
          if (count !== chunk.length) throw new WalrusError('PROTOCOL_ERROR', `BATCH_PUT of ${chunk.length} entries to node ${node.id} was answered OK ${count}.`, { context: { ...context, requestSent: true } });
        }, { command, topic, signal, timeoutMs })
        : connection.send(encodePut(topic, chunk[0]!), parseOk, { command: 'PUT', topic, signal, timeoutMs });
      inFlight.push(reply.then(
        () => { outcomes[index] = null; },
        (error: unknown) => {
          outcomes[index] = error ?? new Error('unknown failure');
          if (firstFailure < 0 || index < firstFailure) firstFailure = index;
        },
      ));
      if (inFlight.length >= window) await inFlight.shift();
    }
    await Promise.all(inFlight);
    if (firstFailure < 0) return;
    // Resend only what is not known to be stored: failed chunks and unsent
    // ones. A failed chunk may still be stored when the failure came after
    // the node got it (reply lost): those entries are "uncertain".
    const remaining: string[] = [];
    let uncertain = 0;
    for (let i = firstFailure; i < singles.length; i++) {
      if (outcomes[i] === null) continue;
      appendAll(remaining, singles[i]!);
      if (i < sent && requestMayHaveRun(outcomes[i])) uncertain += singles[i]!.length;
    }
    const error = outcomes[firstFailure];
    if (error instanceof WalrusError) error.context.progress = { remaining, uncertain } satisfies PutManyProgress;
    throw error;
  }, call, command, topic);
}

/**
 * Reads up to `maxEntries` from `topic` on `node`. With BATCH_GET, one
 * request. Without, waves of pipelined GETs on one connection: first one
 * (an empty topic costs one round trip), then as many as the entries seen so
 * far suggest will fit `maxBytes`. Every entry received is returned — an
 * entry read is gone from the node — so the total may pass `maxBytes` by
 * up to one wave's worth; a GET failing after others succeeded returns what
 * was read.
 */
export async function getManyOnNode(node: WalrusNode, topic: string, maxEntries: number, maxBytes: number, useBatch: boolean, call: CallMeta = {}): Promise<Buffer[]> {
  const { signal, timeoutMs } = call;
  if (useBatch) {
    return node.request(encodeBatchGet(topic, Math.min(maxEntries, MAX_BATCH_ENTRIES), Math.min(maxBytes, MAX_FRAME_BYTES)), parseBatchGet, { command: 'BATCH_GET', topic, signal, timeoutMs });
  }
  const frame = encodeGet(topic);
  return node.withConnection(async (connection) => {
    const entries: Buffer[] = [];
    let bytes = 0;
    let wave = 1;
    for (;;) {
      const results = await sendWave(connection, frame, topic, wave, signal, timeoutMs);
      let sawEmpty = false;
      let failed: unknown;
      for (const result of results) {
        if (result.status === 'rejected') failed ??= result.reason;
        else if (result.value === undefined) sawEmpty = true;
        else {
          entries.push(result.value);
          bytes += result.value.length;
        }
      }
      if (failed !== undefined) {
        if (entries.length === 0) throw failed;
        // Keep what was read (it is gone from the node); the failed GETs
        // that reached the node may have consumed entries of their own.
        node.notePossibleLosses(results.filter((r) => r.status === 'rejected' && entriesMayBeLost(r.reason)).length);
        return entries;
      }
      const left = maxEntries - entries.length;
      if (sawEmpty || left <= 0 || bytes >= maxBytes) return entries;
      const average = bytes / entries.length;
      wave = Math.max(1, Math.min(left, MAX_GET_WAVE, Math.floor((maxBytes - bytes) / average)));
    }
  }, call, 'GET', topic);
}

function sendWave(connection: Connection, frame: Buffer, topic: string, count: number, signal: AbortSignal | undefined, timeoutMs: number | undefined): Promise<Array<PromiseSettledResult<Buffer | undefined>>> {
  const requests = new Array<Promise<Buffer | undefined>>(count);
  for (let i = 0; i < count; i++) requests[i] = connection.send(frame, parseGet, { command: 'GET', topic, signal, timeoutMs });
  return Promise.allSettled(requests);
}

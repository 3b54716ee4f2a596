import { WalrusError } from '../../errors/index.js';
import type { SerializerSpec } from '../../codec/index.js';
import { assertTopic } from '../../protocol/index.js';
import { sleep } from '../../util/sleep.js';
import { assertOptionShape } from '../option-shape.js';

const CONSUMER_OPTIONS = ['topic', 'serializer', 'bufferSize', 'maxBufferedBytes', 'maxFetchEntries', 'maxFetchBytes', 'minPollMs', 'maxPollMs', 'rateLimit',
  'onDeserializationError', 'register', 'maxRecords', 'stopWhenEmpty', 'now', 'sleep'] as const;

/** What the consumer needs from a client: `WalrusClient` fits it. */
export interface ConsumerClient {
  register(topic: string): Promise<unknown>;
  getMany(topic: string, maxEntries: number, maxBytes?: number): Promise<Buffer[]>;
}

/** Options of a {@link Consumer}. */
export interface ConsumerOptions<T> {
  topic: string;
  /** @default 'json' */
  serializer?: SerializerSpec<T>;
  /**
   * Records held at most between fetching and delivery. The consumer fetches
   * only while the buffer has room (backpressure): a slow loop body means
   * slow fetching, not a growing buffer.
   * @default 1000
   */
  bufferSize?: number;
  /**
   * Decoded bytes (record values) held at most between fetching and
   * delivery. A compressed entry of 64 KiB may decode to 32 MiB, so
   * `bufferSize` alone (records) does not bound memory; entries fetched
   * beyond this wait undecoded (at most one fetch of them) until the
   * reader catches up. One entry may pass it by its own size.
   * @default 67108864 (64 MiB)
   */
  maxBufferedBytes?: number;
  /** Most entries asked for in one fetch. @default 100 */
  maxFetchEntries?: number;
  /**
   * Byte budget of one fetch. A node with BATCH_GET answers within one
   * 64 KiB frame whatever this says; against a stock node the client
   * pipelines GETs until about this many bytes.
   * @default 1048576 (1 MiB)
   */
  maxFetchBytes?: number;
  /** First wait after an empty fetch; doubles per empty fetch. @default 1 */
  minPollMs?: number;
  /** Longest wait between fetches of an empty topic. @default 100 */
  maxPollMs?: number;
  /** Records per second delivered at most; 0 = unlimited. @default 0 */
  rateLimit?: number;
  /**
   * Called with each DESERIALIZATION_ERROR (raw bytes in `context.raw`) instead
   * of throwing it from the iterator; the record is skipped.
   */
  onDeserializationError?: (error: WalrusError) => void;
  /** Register the topic (idempotent) before the first fetch. @default true */
  register?: boolean;
  /** Stop after this many records (the iterator ends). @default Infinity */
  maxRecords?: number;
  /** End the iteration at the first empty fetch instead of polling. @default false */
  stopWhenEmpty?: boolean;
  /** Clock seam. @default Date.now */
  now?: () => number;
  /** Delay seam: must resolve early when `signal` aborts. @default a setTimeout-based sleep */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export interface ResolvedConsumerOptions {
  topic: string;
  bufferSize: number;
  maxBufferedBytes: number;
  maxFetchEntries: number;
  maxFetchBytes: number;
  minPollMs: number;
  maxPollMs: number;
  rateLimit: number;
  register: boolean;
  maxRecords: number;
  stopWhenEmpty: boolean;
  now: () => number;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** Applies defaults and checks every option; throws CONFIG_INVALID naming the field. */
export function resolveConsumerOptions<T>(opts: ConsumerOptions<T>): ResolvedConsumerOptions {
  assertOptionShape('Consumer', opts, { known: CONSUMER_OPTIONS, booleans: ['register', 'stopWhenEmpty'], functions: ['onDeserializationError', 'now', 'sleep'] });
  assertTopic(opts.topic);
  const minPollMs = num('minPollMs', opts.minPollMs, 1, 0);
  const maxPollMs = num('maxPollMs', opts.maxPollMs, 100, 0);
  if (maxPollMs < minPollMs) {
    throw new WalrusError('CONFIG_INVALID', `Consumer option maxPollMs (${maxPollMs}) must not be below minPollMs (${minPollMs}).`);
  }
  if (opts.onDeserializationError !== undefined && typeof opts.onDeserializationError !== 'function') {
    throw new WalrusError('CONFIG_INVALID', 'Consumer option onDeserializationError must be a function.');
  }
  const maxRecords = opts.maxRecords ?? Infinity;
  if (maxRecords !== Infinity && (!Number.isSafeInteger(maxRecords) || maxRecords < 0)) {
    throw new WalrusError('CONFIG_INVALID', `Consumer option maxRecords must be a non-negative integer, got ${JSON.stringify(maxRecords)}.`);
  }
  return {
    topic: opts.topic,
    bufferSize: num('bufferSize', opts.bufferSize, 1000, 1, true),
    maxBufferedBytes: num('maxBufferedBytes', opts.maxBufferedBytes, 64 * 1024 * 1024, 1, true),
    maxFetchEntries: num('maxFetchEntries', opts.maxFetchEntries, 100, 1, true),
    maxFetchBytes: num('maxFetchBytes', opts.maxFetchBytes, 1024 * 1024, 1, true),
    minPollMs,
    maxPollMs,
    rateLimit: num('rateLimit', opts.rateLimit, 0, 0),
    register: opts.register ?? true,
    maxRecords,
    stopWhenEmpty: opts.stopWhenEmpty ?? false,
    now: opts.now ?? Date.now,
    sleep: opts.sleep ?? pollSleep,
  };
}

function num(name: string, value: number | undefined, fallback: number, min: number, integer = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new WalrusError('CONFIG_INVALID', `Consumer option ${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got ${JSON.stringify(value)}.`);
  }
  return value;
}

/** The default poll wait: resolves early (without error) when `signal` aborts, so close() is prompt. */
function pollSleep(ms: number, signal: AbortSignal): Promise<void> {
  // No timer turn for a zero wait: the poll loop goes straight on.
  return ms <= 0 ? Promise.resolve() : sleep(ms, { signal, onAbort: 'resolve' });
}

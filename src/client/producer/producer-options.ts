import { WalrusError } from '../../errors/index.js';
import { assertCodec, type CompressionCodec, type SerializerSpec } from '../../codec/index.js';
import { assertTopic } from '../../protocol/index.js';
import { assertPartitions } from '../../codec/partitioning.js';
import { assertOptionShape } from '../option-shape.js';

/**
 * What the producer needs from a client: `WalrusClient` fits it. Declared
 * structurally so the records layer depends on the contract, not the class.
 */
export interface ProducerClient {
  register(topic: string): Promise<unknown>;
  putMany(topic: string, payloads: string[]): Promise<void>;
}

/** When a producer sends what it has gathered: whichever limit is reached first. */
export interface LingerOptions {
  /** Records gathered before a write starts. @default 500 */
  maxRecords?: number;
  /** Encoded bytes (upper bound) gathered before a write starts. @default 61440 (60 KiB) */
  maxBytes?: number;
  /** Longest a record waits for others before a write starts; 0 writes on the next tick. @default 5 */
  maxWaitMs?: number;
}

/** Options of a {@link Producer}. */
export interface ProducerOptions<T> {
  topic: string;
  /**
   * Partitions of the topic (docs/scaling.md). With n > 1 the producer writes
   * the Walrus topics `<topic>.p0` … `<topic>.p<n-1>`: a record with a key
   * goes to partition `fnv1a32(key) % n`, keyless records round-robin. Each
   * partition is written in send order (with `maxInFlight: 1`).
   * @default 1
   */
  partitions?: number;
  /** @default 'json' */
  serializer?: SerializerSpec<T>;
  /**
   * `envelope` (binary-safe, keys, headers, batches) or `text` (each value
   * as a plain entry, for consumers that are not walrus-stream; values the
   * stock node would alter are refused).
   * @default 'envelope'
   */
  format?: 'envelope' | 'text';
  /** @default 'none' */
  compression?: CompressionCodec;
  /** Batches smaller than this many bytes are not compressed. @default 1024 */
  compressionThreshold?: number;
  linger?: LingerOptions;
  /**
   * Writes in flight at once. 1 keeps the topic in send order; more gives
   * throughput but two writes may land in either order.
   * @default 1
   */
  maxInFlight?: number;
  /** Register the topic (idempotent) before the first write. @default true */
  register?: boolean;
  /**
   * Encoded bytes of records sent but not yet acknowledged that the producer
   * holds (each partition's producer, with `partitions`). A send past it is
   * refused at once with PRODUCER_FULL, and the next `flush()`/`close()`
   * rejects too: a loop that never awaits cannot grow the queue without end.
   * A single record is always taken when nothing is held.
   * @default 67108864 (64 MiB)
   */
  maxBufferedBytes?: number;
  /** Clock seam for record timestamps. @default Date.now */
  now?: () => number;
  /** Timer seams (tests). @default globalThis.setTimeout / clearTimeout */
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (handle: unknown) => void;
}

export interface ResolvedProducerOptions {
  topic: string;
  partitions: number;
  format: 'envelope' | 'text';
  compression: CompressionCodec;
  compressionThreshold: number;
  maxRecords: number;
  maxBytes: number;
  maxWaitMs: number;
  maxInFlight: number;
  register: boolean;
  maxBufferedBytes: number;
  now: () => number;
  setTimeout: (fn: () => void, ms: number) => unknown;
  clearTimeout: (handle: unknown) => void;
}

const PRODUCER_OPTIONS = ['topic', 'partitions', 'serializer', 'format', 'compression', 'compressionThreshold', 'linger', 'maxInFlight', 'register',
  'maxBufferedBytes', 'now', 'setTimeout', 'clearTimeout'] as const;

/** Applies defaults and checks every option; throws CONFIG_INVALID naming the field. */
export function resolveProducerOptions<T>(opts: ProducerOptions<T>): ResolvedProducerOptions {
  assertOptionShape('Producer', opts, {
    known: PRODUCER_OPTIONS,
    nested: { linger: ['maxRecords', 'maxBytes', 'maxWaitMs'] },
    booleans: ['register'],
    functions: ['now', 'setTimeout', 'clearTimeout'],
  });
  assertTopic(opts.topic);
  const format = opts.format ?? 'envelope';
  if (format !== 'envelope' && format !== 'text') invalid('format', format, '"envelope" or "text"');
  const compression = opts.compression ?? 'none';
  assertCodec(compression);
  if (format === 'text' && compression !== 'none') {
    throw new WalrusError('CONFIG_INVALID', 'Producer option compression needs format "envelope": plain text entries carry no compression flag.');
  }
  const linger = opts.linger ?? {};
  const partitions = opts.partitions ?? 1;
  assertPartitions(partitions, 'Producer option partitions');
  return {
    topic: opts.topic,
    partitions,
    format,
    compression,
    compressionThreshold: count('compressionThreshold', opts.compressionThreshold, 1024, 0),
    maxRecords: count('linger.maxRecords', linger.maxRecords, 500, 1),
    maxBytes: count('linger.maxBytes', linger.maxBytes, 60 * 1024, 1),
    maxWaitMs: count('linger.maxWaitMs', linger.maxWaitMs, 5, 0),
    maxInFlight: count('maxInFlight', opts.maxInFlight, 1, 1),
    register: opts.register ?? true,
    maxBufferedBytes: count('maxBufferedBytes', opts.maxBufferedBytes, 64 * 1024 * 1024, 1),
    now: opts.now ?? Date.now,
    setTimeout: opts.setTimeout ?? ((fn, ms) => setTimeout(fn, ms)),
    clearTimeout: opts.clearTimeout ?? ((h) => clearTimeout(h as NodeJS.Timeout)),
  };
}

function count(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) invalid(name, value, `an integer >= ${min}`);
  return value;
}

function invalid(name: string, value: unknown, expected: string): never {
  throw new WalrusError('CONFIG_INVALID', `Producer option ${name} must be ${expected}, got ${JSON.stringify(value)}.`);
}

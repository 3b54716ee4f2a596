import { WalrusError } from '../../errors/index.js';
import { maxPayloadBytes } from '../../protocol/index.js';
import {
  BatchBuilder,
  assertHeaders,
  resolveSerializer,
  serializeValue,
  toPlainTextEntry,
  valueBoundFor,
  type BatchBuilderOptions,
  type RatioMemo,
  type Serializer,
} from '../../codec/index.js';
import { PartitionRouter, partitionTopics } from '../../codec/partitioning.js';
import { resolveProducerOptions, type ProducerClient, type ProducerOptions, type ResolvedProducerOptions } from './producer-options.js';
import { appendAll } from '../../util/append.js';

export type { ProducerClient, ProducerOptions, LingerOptions } from './producer-options.js';

/** Per-record options of {@link Producer.send}. */
export interface SendOptions {
  key?: string;
  /** String → string; see `HEADERS` for the well-known names (correlation-id, traceparent, ...). */
  headers?: Record<string, string>;
  /** Record id; a random 128-bit id when omitted. */
  id?: string;
  /** Milliseconds since the epoch. @default now */
  timestamp?: number;
}

/** Counters since the producer was created. */
export interface ProducerStats {
  /** Records acknowledged by Walrus. */
  records: number;
  /** Walrus entries written (an envelope entry holds many records). */
  entries: number;
  /** Entry bytes written. */
  bytes: number;
  /** `putMany` calls made. */
  writes: number;
  /** Records whose write failed. */
  failed: number;
}

/** Records gathered for one write; every send in it shares one promise. */
interface Batch {
  /** Envelope format: the records, already encoded (created on first use). */
  builder: BatchBuilder | undefined;
  /** Text format: one entry per record. */
  texts: string[];
  count: number;
  bytes: number;
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Sends typed records to one topic, gathering them into record batches
 * (many records per envelope entry) and writes (many entries per
 * `putMany`, i.e. BATCH_PUT where the node has it).
 *
 * `send` resolves once Walrus acknowledged the record. All records gathered
 * into one write share one promise, which keeps `send` at a few hundred
 * nanoseconds. Failed writes reject their sends and also make the next
 * `flush()` / `close()` reject, so fire-and-forget sends never fail silently.
 *
 * With `partitions: n > 1` it writes a partitioned topic: one inner
 * producer per partition topic, each record routed by its key
 * (docs/scaling.md).
 *
 * @example
 * const producer = new Producer<Order>(client, { topic: 'orders', serializer: 'json' });
 * await producer.send({ id: 1 }, { key: 'customer-7' });
 * await producer.close();
 */
export class Producer<T> {
  readonly topic: string;
  readonly #client: ProducerClient;
  readonly #opts: ResolvedProducerOptions;
  readonly #serializer: Serializer<T>;
  readonly #builderOptions: BatchBuilderOptions;
  /** Compression ratio carried from batch to batch, to size entries. */
  readonly #ratio: RatioMemo = { ratio: 1 };
  readonly #limit: number;
  /** Longest array a value may hold: the bytes one entry holds (before compression when compressing). */
  readonly #valueBound: number;
  #batch: Batch | undefined;
  #timer: unknown;
  readonly #queue: Batch[] = [];
  #inFlight = 0;
  #registered: Promise<unknown> | undefined;
  #idleWaiters: Array<() => void> = [];
  #failure: unknown;
  #closed = false;
  #closing: Promise<void> | undefined;
  /** Encoded bytes of records sent and not yet settled (gathered, queued or being written). */
  #buffered = 0;
  readonly #stats: ProducerStats = { records: 0, entries: 0, bytes: 0, writes: 0, failed: 0 };
  /** A partitioned topic: one producer per partition, and the router choosing among them. */
  readonly #parts: Array<Producer<T>> | undefined;
  readonly #router: PartitionRouter | undefined;

  constructor(client: ProducerClient, options: ProducerOptions<T>) {
    this.#opts = resolveProducerOptions(options);
    this.topic = this.#opts.topic;
    if (this.#opts.partitions > 1) {
      this.#router = new PartitionRouter(this.#opts.partitions);
      this.#parts = partitionTopics(this.topic, this.#opts.partitions).map((topic) => new Producer<T>(client, { ...options, topic, partitions: 1 }));
    }
    this.#client = client;
    this.#serializer = resolveSerializer(options.serializer ?? ('json' as const)) as Serializer<T>;
    this.#limit = maxPayloadBytes(this.topic);
    this.#valueBound = valueBoundFor(this.#limit, this.#opts.format !== 'text' && this.#opts.compression !== 'none');
    this.#builderOptions = {
      limit: this.#limit,
      topic: this.topic,
      compression: this.#opts.compression,
      compressionThreshold: this.#opts.compressionThreshold,
      contentType: this.#serializer.contentType,
    };
  }

  /** A copy of the counters. */
  get stats(): ProducerStats {
    if (this.#parts !== undefined) {
      const sum: ProducerStats = { records: 0, entries: 0, bytes: 0, writes: 0, failed: 0 };
      for (const part of this.#parts) for (const [k, v] of Object.entries(part.stats)) sum[k as keyof ProducerStats] += v;
      return sum;
    }
    return { ...this.#stats };
  }

  /** Encoded bytes of records sent and not yet acknowledged or failed (see `maxBufferedBytes`). */
  get bufferedBytes(): number {
    return this.#parts === undefined ? this.#buffered : this.#parts.reduce((sum, part) => sum + part.bufferedBytes, 0);
  }

  /**
   * Queues one record; resolves when Walrus acknowledged it. Rejects at once
   * (nothing queued) on SERIALIZATION_ERROR, MESSAGE_TOO_LARGE (size and limit
   * in `context`, after compression), INVALID_PAYLOAD (text format) or
   * INVALID_ARGUMENT; later with the write's error.
   */
  send(value: T, options: SendOptions = {}): Promise<void> {
    if (this.#closed) return Promise.reject(new WalrusError('POOL_CLOSED', `The producer for topic ${this.topic} is closed.`, { context: { topic: this.topic } }));
    if (typeof options !== 'object' || options === null) return Promise.reject(badSendOptions(this.topic, options));
    if (this.#parts !== undefined) return this.#parts[this.#router!.route(options.key)]!.send(value, options);
    let batch: Batch;
    try {
      const bytes = serializeValue(this.#serializer, value, this.topic, this.#valueBound);
      if (this.#buffered > 0 && this.#buffered + bytes.byteLength > this.#opts.maxBufferedBytes) return this.#full(bytes.byteLength);
      batch = this.#batch ?? (this.#batch = newBatch());
      const before = batch.bytes;
      if (this.#opts.format === 'text') {
        if (options.key !== undefined || options.headers !== undefined || options.id !== undefined) {
          throw new WalrusError('INVALID_ARGUMENT', `Producer for topic ${this.topic} writes plain text, which has no room for a key, headers or id; use format "envelope".`, { context: { topic: this.topic } });
        }
        const text = toPlainTextEntry(bytes, this.#limit, this.topic);
        batch.texts.push(text);
        batch.bytes += bytes.byteLength;
        batch.count++;
      } else {
        if (options.headers !== undefined) assertHeaders(options.headers, this.topic);
        for (const field of ['key', 'id'] as const) {
          if (options[field] !== undefined && typeof options[field] !== 'string') {
            throw new WalrusError('INVALID_ARGUMENT', `Producer for topic ${this.topic}: a record ${field} must be a string, got ${typeof options[field]}; the record was not sent.`, { context: { topic: this.topic, argument: `options.${field}` } });
          }
        }
        // The record is encoded now, into the batch's buffer (value and
        // headers copied): nothing the caller passed is kept, and a record
        // too large for an entry is refused here, alone.
        const builder = batch.builder ?? (batch.builder = new BatchBuilder(this.#builderOptions, this.#ratio, Math.min(this.#opts.maxBytes + 1024, 1 << 16)));
        builder.add(bytes, options.timestamp ?? this.#opts.now(), options.key, options.headers, options.id);
        batch.bytes = builder.bytes;
        batch.count++;
      }
      this.#buffered += batch.bytes - before;
    } catch (error) {
      if (this.#batch && this.#batch.count === 0) this.#batch = undefined;
      return Promise.reject(error);
    }
    const count = batch.count;
    if (count >= this.#opts.maxRecords || batch.bytes >= this.#opts.maxBytes) this.#cut();
    else if (count === 1) this.#timer = this.#opts.setTimeout(() => this.#cut(), this.#opts.maxWaitMs);
    return batch.promise;
  }

  /**
   * Writes everything gathered so far and resolves when every earlier send
   * has settled. Rejects with the first write error since the last flush.
   */
  async flush(): Promise<void> {
    if (this.#parts !== undefined) {
      const results = await Promise.allSettled(this.#parts.map((p) => p.flush()));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      return;
    }
    this.#cut();
    if (this.#inFlight > 0 || this.#queue.length > 0) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    if (this.#failure !== undefined) {
      const failure = this.#failure;
      this.#failure = undefined;
      throw failure;
    }
  }

  /**
   * Refuses further sends (POOL_CLOSED) from now on, then flushes: it covers
   * exactly what was sent before it. Calling it again returns the same
   * promise. Does not close the client (it may be shared).
   */
  close(): Promise<void> {
    // Closed first: a send accepted during the flush would wait for a linger
    // timer that fires after close() resolved, often after the client closed.
    this.#closed = true;
    this.#closing ??= this.flush();
    return this.#closing;
  }

  /** Refuses a send past `maxBufferedBytes`; the refusal also reaches the next flush()/close(), as a failed write does. */
  #full(size: number): Promise<void> {
    const error = new WalrusError('PRODUCER_FULL',
      `Producer for topic ${this.topic} already holds ${this.#buffered} bytes of records not yet acknowledged (maxBufferedBytes ${this.#opts.maxBufferedBytes}); ` +
      'this record was not sent. Await earlier sends (or flush()) before sending more, or raise maxBufferedBytes.',
      { context: { topic: this.topic, bufferedBytes: this.#buffered, recordBytes: size, maxBufferedBytes: this.#opts.maxBufferedBytes } });
    this.#stats.failed++;
    this.#failure ??= error;
    const refused = Promise.reject(error);
    refused.catch(() => undefined);
    return refused;
  }

  #cut(): void {
    if (this.#timer !== undefined) {
      this.#opts.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const batch = this.#batch;
    if (!batch) return;
    this.#batch = undefined;
    this.#queue.push(batch);
    this.#pump();
  }

  #pump(): void {
    while (this.#inFlight < this.#opts.maxInFlight && this.#queue.length > 0) {
      // Batches that queued up behind a slow write go out together: one
      // putMany carries them all, so a slow node gets bigger, fewer writes.
      const batches = [this.#queue.shift()!];
      let bytes = batches[0]!.bytes;
      while (this.#queue.length > 0 && bytes + this.#queue[0]!.bytes <= MAX_WRITE_BYTES) {
        bytes += this.#queue[0]!.bytes;
        batches.push(this.#queue.shift()!);
      }
      this.#inFlight++;
      void this.#write(batches).finally(() => {
        this.#inFlight--;
        this.#pump();
        if (this.#inFlight === 0 && this.#queue.length === 0) {
          const waiters = this.#idleWaiters;
          this.#idleWaiters = [];
          for (const w of waiters) w();
        }
      });
    }
  }

  async #write(batches: Batch[]): Promise<void> {
    const records = batches.reduce((n, b) => n + b.count, 0);
    try {
      if (this.#opts.register) {
        this.#registered ??= this.#client.register(this.topic).catch((error: unknown) => {
          this.#registered = undefined; // try again on the next write
          throw error;
        });
        await this.#registered;
      }
      const entries: string[] = [];
      for (const b of batches) {
        if (b.texts.length > 0) appendAll(entries, b.texts);
        if (b.builder) appendAll(entries, b.builder.build());
      }
      await this.#client.putMany(this.topic, entries);
      this.#stats.records += records;
      this.#stats.entries += entries.length;
      for (const e of entries) this.#stats.bytes += Buffer.byteLength(e);
      for (const b of batches) b.resolve();
    } catch (error) {
      this.#stats.failed += records;
      this.#failure ??= error;
      for (const b of batches) b.reject(error);
    } finally {
      this.#stats.writes++;
      for (const b of batches) this.#buffered -= b.bytes;
    }
  }
}

function badSendOptions(topic: string, options: unknown): WalrusError {
  const got = options === null ? 'null' : typeof options;
  return new WalrusError('INVALID_ARGUMENT', `Producer for topic ${topic}: send options must be an object { key?, headers?, id?, timestamp? } or left out, got ${got}; the record was not sent.`, { context: { topic, argument: 'options' } });
}

/** Largest number of (upper-bound) bytes merged into one putMany. */
const MAX_WRITE_BYTES = 4 * 1024 * 1024;

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // The error also reaches flush()/close(): an unawaited send must not crash
  // the process with an unhandled rejection.
  promise.catch(() => undefined);
  return { builder: undefined, texts: [], count: 0, bytes: 0, promise, resolve, reject };
}

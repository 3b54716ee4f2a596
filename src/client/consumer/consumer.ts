import { WalrusError, isRetriable } from '../../errors/index.js';
import { decodeEntry, resolveSerializer, type DecodedRecord, type Serializer, type WalrusRecord } from '../../codec/index.js';
import { resolveConsumerOptions, type ConsumerClient, type ConsumerOptions, type ResolvedConsumerOptions } from './consumer-options.js';
import { RateLimiter } from './consumer-rate-limit.js';

export type { ConsumerClient, ConsumerOptions } from './consumer-options.js';

/** Counters since the consumer was created. */
export interface ConsumerStats {
  /** `getMany` calls made. */
  fetches: number;
  /** Fetches that found the topic empty. */
  emptyFetches: number;
  /** Records decoded from fetched entries. */
  fetched: number;
  /** Records handed to the application. */
  delivered: number;
  /** Records held right now (decoded, not yet delivered). */
  buffered: number;
  /** Decoded value bytes held right now (see `maxBufferedBytes`). */
  bufferedBytes: number;
  /** Most records ever held at once. */
  maxBuffered: number;
  /** Records (or entries) that failed to decode or deserialize. */
  deserializationErrors: number;
}

/** A fetch or decode failure, kept in the buffer so it surfaces in order. */
interface Failure {
  failure: unknown;
}
type Item = DecodedRecord | Failure;

/**
 * Reads typed records from one topic as an async iterable.
 *
 * Backpressure: a single fetch loop asks for entries only while the bounded
 * buffer has room, so a slow loop body slows fetching instead of growing
 * memory. An entry is always taken whole (GET is destructive), so the buffer
 * can exceed `bufferSize` only when an entry carries more records than any
 * entry seen before. Decoded bytes are bounded too (`maxBufferedBytes`): a
 * compressed entry may decode to far more than it takes on the node, so
 * entries past the bound wait undecoded until the reader catches up.
 *
 * An empty topic is polled with a wait that doubles from `minPollMs` to
 * `maxPollMs` and resets when data arrives. Values are deserialized on
 * delivery; failures are WalrusError DESERIALIZATION_ERROR with the raw bytes
 * in `context.raw` (thrown from the iterator, or passed to
 * `onDeserializationError` and skipped). Iterating again after a throw
 * continues with the next record.
 *
 * @example
 * const consumer = new Consumer<Order>(client, { topic: 'orders' });
 * for await (const record of consumer) handle(record.value);
 */
export class Consumer<T> implements AsyncIterable<WalrusRecord<T>> {
  readonly topic: string;
  readonly #client: ConsumerClient;
  readonly #opts: ResolvedConsumerOptions;
  readonly #serializer: Serializer<T>;
  readonly #onError: ((error: WalrusError) => void) | undefined;
  readonly #limiter: RateLimiter | undefined;
  readonly #abort = new AbortController();
  #items: Item[] = [];
  #head = 0;
  /** Decoded value bytes of the records in `#items`. */
  #bytes = 0;
  /** Entries fetched but not decoded yet (past `maxBufferedBytes`); `#rawHead` is the next one. */
  #raw: Array<Buffer | undefined> = [];
  #rawHead = 0;
  /** Most records seen in one entry; 0 until the first entry arrives. */
  #maxPerEntry = 0;
  /** Most decoded bytes seen in one entry. */
  #maxBytesPerEntry = 0;
  #loop: Promise<void> | undefined;
  #dataWaiters: Array<() => void> = [];
  #roomWaiter: (() => void) | undefined;
  /** The fetch loop after a fetch error, waiting for a reader to ask for more. */
  #readerWaiter: (() => void) | undefined;
  #closed = false;
  #ended = false;
  readonly #stats: ConsumerStats = { fetches: 0, emptyFetches: 0, fetched: 0, delivered: 0, buffered: 0, bufferedBytes: 0, maxBuffered: 0, deserializationErrors: 0 };

  constructor(client: ConsumerClient, options: ConsumerOptions<T>) {
    this.#opts = resolveConsumerOptions(options);
    this.topic = this.#opts.topic;
    this.#client = client;
    this.#serializer = resolveSerializer(options.serializer ?? ('json' as const)) as Serializer<T>;
    this.#onError = options.onDeserializationError;
    this.#limiter = this.#opts.rateLimit > 0 ? new RateLimiter(this.#opts.rateLimit, this.#opts.now) : undefined;
  }

  /** A copy of the counters. */
  get stats(): ConsumerStats {
    return { ...this.#stats, buffered: this.#size(), bufferedBytes: this.#bytes };
  }

  [Symbol.asyncIterator](): AsyncIterator<WalrusRecord<T>> {
    return {
      next: () => this.next(),
      // `break` out of `for await` lands here: stop fetching, but keep what
      // was fetched so a later close() can still hand it back.
      return: async () => {
        await this.#stop();
        return { done: true, value: undefined };
      },
    };
  }

  /** The next record; `done` once closed, `maxRecords` reached, or (with `stopWhenEmpty`) the topic is empty. */
  async next(): Promise<IteratorResult<WalrusRecord<T>, undefined>> {
    this.#start();
    for (;;) {
      // Once closed (or after break) buffered records go back through close(), not here.
      if (this.#closed || this.#stats.delivered >= this.#opts.maxRecords) return { done: true, value: undefined };
      if (this.#size() === 0) {
        if (this.#ended) return { done: true, value: undefined };
        const waiting = new Promise<void>((resolve) => this.#dataWaiters.push(resolve));
        this.#readerWaiter?.(); // a reader is back for more: fetching may go on after an error
        await waiting;
        continue;
      }
      if (this.#limiter) {
        const wait = this.#limiter.take();
        if (wait > 0) {
          await this.#opts.sleep(wait, this.#abort.signal);
          // Check again: another next() (a second loop over this consumer)
          // may have taken the record while this one waited for a token.
          continue;
        }
      }
      const item = this.#take();
      if ('failure' in item) {
        if (this.#route(item.failure)) continue;
        throw item.failure;
      }
      let value: T;
      try {
        value = this.#serializer.deserialize(item.value);
      } catch (cause) {
        const error = new WalrusError('DESERIALIZATION_ERROR', `Record ${item.id} of topic ${this.topic} could not be deserialized: ${(cause as Error)?.message ?? String(cause)}.`, {
          cause,
          context: { topic: this.topic, recordId: item.id, raw: Buffer.from(item.value), format: item.format },
        });
        if (this.#route(error)) continue;
        throw error;
      }
      this.#stats.delivered++;
      const record: WalrusRecord<T> = { id: item.id, value, headers: item.headers, timestamp: item.timestamp, topic: this.topic };
      if (item.key !== undefined) record.key = item.key;
      return { done: false, value: record };
    }
  }

  /**
   * Stops fetching (waiting for a fetch in flight to land) and resolves with
   * the records that were fetched but not delivered (entries still waiting
   * undecoded are decoded for it), values still as bytes:
   * GET is destructive, so they are handed back rather than dropped. Also
   * after `break` (which stops fetching); a second call returns `[]`.
   */
  async close(): Promise<DecodedRecord[]> {
    await this.#stop();
    const left: DecodedRecord[] = [];
    while (this.#size() > 0) {
      const item = this.#take();
      if (!('failure' in item)) left.push(item);
    }
    return left;
  }

  async #stop(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#abort.abort();
      this.#wakeData();
      this.#roomWaiter?.();
      this.#readerWaiter?.();
    }
    await this.#loop;
  }

  #route(error: unknown): boolean {
    if (!(error instanceof WalrusError) || error.code !== 'DESERIALIZATION_ERROR') return false;
    this.#stats.deserializationErrors++;
    if (!this.#onError) return false;
    this.#onError(error);
    return true;
  }

  #start(): void {
    this.#loop ??= this.#run().catch((error: unknown) => {
      // The loop handles its own errors; anything here is a bug, surfaced in order.
      this.#push({ failure: new WalrusError('INTERNAL_ERROR', `Consumer fetch loop failed: ${(error as Error)?.message}`, { cause: error }) });
      this.#ended = true;
      this.#wakeData();
    });
  }

  async #run(): Promise<void> {
    const o = this.#opts;
    let registered = !o.register;
    let delay = o.minPollMs;
    while (!this.#closed) {
      const need = o.maxRecords - this.#stats.delivered - this.#size();
      if (need <= 0) break;
      const size = this.#size();
      const room = o.bufferSize - size;
      const byteRoom = o.maxBufferedBytes - this.#bytes;
      // Entries still undecoded come first; then fetch only with room for records and bytes.
      if (this.#rawHead < this.#raw.length || (size > 0 && (room < Math.min(Math.max(1, this.#maxPerEntry), o.bufferSize) || byteRoom < Math.min(this.#maxBytesPerEntry, o.maxBufferedBytes)))) {
        await new Promise<void>((resolve) => (this.#roomWaiter = resolve));
        this.#roomWaiter = undefined;
        continue;
      }
      // Until an entry shows how many records entries carry, probe with one.
      let maxEntries = this.#maxPerEntry === 0 ? 1 : Math.max(1, Math.min(o.maxFetchEntries, Math.floor(room / this.#maxPerEntry), need));
      if (this.#maxBytesPerEntry > 0) maxEntries = Math.max(1, Math.min(maxEntries, Math.floor(byteRoom / this.#maxBytesPerEntry)));
      let entries: Buffer[];
      try {
        if (!registered) {
          await this.#client.register(this.topic);
          registered = true;
        }
        entries = await this.#client.getMany(this.topic, maxEntries, o.maxFetchBytes);
      } catch (error) {
        if (this.#closed) break;
        this.#push({ failure: error });
        // A permanent failure (unknown topic, closed client) ends the
        // iteration after it is thrown; a transient one is retried after a
        // pause, once a reader has taken it and asks for more. Thrown from
        // next(), it ends a for-await loop without return(): a consumer that
        // went on fetching would take entries off the topic for nobody.
        if (!isRetriable(error)) break;
        await this.#readerBack();
        if (this.#closed) break;
        await o.sleep(o.maxPollMs, this.#abort.signal);
        continue;
      }
      this.#stats.fetches++;
      if (entries.length === 0) {
        this.#stats.emptyFetches++;
        if (o.stopWhenEmpty) break;
        await o.sleep(delay, this.#abort.signal);
        delay = Math.min(Math.max(delay * 2, 1), o.maxPollMs);
        continue;
      }
      delay = o.minPollMs;
      this.#raw = entries;
      this.#rawHead = 0;
      this.#decode();
      this.#wakeData();
    }
    this.#ended = true;
    this.#wakeData();
  }

  /** Resolves once a reader waits for data (so it has taken everything before, the failure included), or on close. */
  async #readerBack(): Promise<void> {
    // #push woke every reader waiting when the failure was pushed; any waiting now came after.
    if (this.#closed || this.#dataWaiters.length > 0) return;
    await new Promise<void>((resolve) => (this.#readerWaiter = resolve));
    this.#readerWaiter = undefined;
  }

  #size(): number {
    return this.#items.length - this.#head;
  }

  /**
   * Decodes fetched entries while the decoded bytes held are below
   * `maxBufferedBytes` (and always when nothing is held, so an entry is
   * never stuck): the rest wait as fetched, at most one fetch's worth.
   */
  #decode(): void {
    const o = this.#opts;
    while (this.#rawHead < this.#raw.length && (this.#size() === 0 || this.#bytes < o.maxBufferedBytes)) {
      const entry = this.#raw[this.#rawHead]!;
      this.#raw[this.#rawHead++] = undefined;
      try {
        const records = decodeEntry(entry, { topic: this.topic, now: o.now });
        let bytes = 0;
        for (const r of records) {
          bytes += r.value.byteLength;
          this.#items.push(r);
        }
        this.#bytes += bytes;
        if (records.length > this.#maxPerEntry) this.#maxPerEntry = records.length;
        if (bytes > this.#maxBytesPerEntry) this.#maxBytesPerEntry = bytes;
        this.#stats.fetched += records.length;
      } catch (error) {
        this.#items.push({ failure: error });
      }
    }
    if (this.#rawHead >= this.#raw.length && this.#raw.length > 0) {
      this.#raw = [];
      this.#rawHead = 0;
    }
    this.#stats.maxBuffered = Math.max(this.#stats.maxBuffered, this.#size());
  }

  #push(item: Item): void {
    this.#items.push(item);
    this.#stats.maxBuffered = Math.max(this.#stats.maxBuffered, this.#size());
    this.#wakeData();
  }

  #take(): Item {
    const item = this.#items[this.#head]!;
    this.#items[this.#head++] = undefined as unknown as Item;
    if (!('failure' in item)) this.#bytes -= item.value.byteLength;
    // Compact now and then instead of shift(), which is O(n) per call.
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    if (this.#rawHead < this.#raw.length) this.#decode();
    this.#roomWaiter?.();
    return item;
  }

  #wakeData(): void {
    const waiters = this.#dataWaiters;
    if (waiters.length === 0) return;
    this.#dataWaiters = [];
    for (const w of waiters) w();
  }
}

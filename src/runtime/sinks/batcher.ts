import { isRetriable } from '../../errors/index.js';
import { backoffDelay } from '../../util/backoff.js';
import { sleep } from '../../util/sleep.js';

export interface BatcherOptions<T> {
  /** Writes one batch; a rejection is retried (if retriable) until the batcher closes. */
  flush(items: T[]): Promise<void>;
  /** Flush as soon as this much waits (see `weight`). @default 500 */
  maxItems?: number;
  /** How much one item counts toward `maxItems` (e.g. records in a pre-packed unit). @default 1 */
  weight?(item: T): number;
  /** Flush at most this long after the first item arrived. @default 5 */
  lingerMs?: number;
  /** Delay between attempts of a failed flush. @default 200 */
  retryDelayMs?: number;
  /** Told about every failed attempt (logging). */
  onError?(error: unknown, attempt: number): void;
  /** Called after each write settled (its weight no longer pending): a producer held back by `pendingWeight` may go on. Must not throw. */
  afterWrite?(): void;
}

/** Called once per item: without an error when its batch was acknowledged. */
export type Ack = (error?: unknown) => void;

/**
 * Collects items and writes them in batches (linger + size), acknowledging
 * each item when its batch is acknowledged. One write is in flight at a
 * time, so items land in the order they were added: that is what carries
 * key ordering through to the sink topic (two concurrent writes on two
 * connections could land in either order). While a write is out, items
 * accumulate and go together in the next one. This is how sinks and
 * dead-letter topics get batched writes, and how the coordinator learns an
 * output is durable before it releases the journal entry behind it.
 *
 * Acks are plain callbacks, not a promise per item: at 100k records/s the
 * promises and their closures were a visible share of the coordinator's GC.
 */
export class Batcher<T> {
  readonly #o: Required<Omit<BatcherOptions<T>, 'onError' | 'weight' | 'afterWrite'>> & Pick<BatcherOptions<T>, 'onError' | 'weight' | 'afterWrite'>;
  #items: T[] = [];
  #acks: Ack[] = [];
  #weight = 0;
  /** Weight of the write in flight. */
  #writingWeight = 0;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> | undefined;
  #closed = false;
  /** Set by abandon(): nothing more is written, every item is failed with it. */
  #abandoned: Error | undefined;

  constructor(options: BatcherOptions<T>) {
    this.#o = { maxItems: 500, lingerMs: 5, retryDelayMs: 200, ...options };
  }

  /** Queues `item`; `ack` is called once its batch is written (or failed for good). */
  push(item: T, ack: Ack): void {
    if (this.#abandoned) { ack(this.#abandoned); return; }
    this.#items.push(item);
    this.#acks.push(ack);
    this.#weight += this.#o.weight ? this.#o.weight(item) : 1;
    if (this.#weight >= this.#o.maxItems) this.#flushNow();
    else this.#timer ??= setTimeout(() => this.#flushNow(), this.#o.lingerMs);
  }

  /** `push` as a promise (for the rare paths: dead letters). */
  add(item: T): Promise<void> {
    return new Promise((resolve, reject) => this.push(item, (error) => (error === undefined ? resolve() : reject(error))));
  }

  /** Items accepted but not yet written. */
  get backlog(): number {
    return this.#items.length;
  }

  /** Weight accepted and not yet acknowledged: waiting, and in the write in flight. */
  get pendingWeight(): number {
    return this.#weight + this.#writingWeight;
  }

  /** Writes everything pending and waits for every write in flight. */
  async flush(): Promise<void> {
    this.#flushNow();
    while (this.#writing || this.#items.length > 0) {
      await this.#writing;
      this.#flushNow();
    }
  }

  /** Flushes, then fails later writes and stops retrying. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
  }

  /**
   * Stops writing at once (the run failed and its client is closing): items
   * waiting, and any pushed later, are failed with `error` unwritten, and a
   * write in flight is not attempted again. Their acks see the error, so the
   * journal entries behind them stay for the next start.
   */
  abandon(error: Error): void {
    this.#abandoned ??= error;
    if (this.#timer) { clearTimeout(this.#timer); this.#timer = undefined; }
    const acks = this.#acks;
    this.#items = [];
    this.#acks = [];
    this.#weight = 0;
    for (const ack of acks) ack(this.#abandoned);
  }

  #flushNow(): void {
    if (this.#timer) { clearTimeout(this.#timer); this.#timer = undefined; }
    if (this.#items.length === 0 || this.#writing) return;
    const items = this.#items;
    const acks = this.#acks;
    this.#items = [];
    this.#acks = [];
    this.#writingWeight = this.#weight;
    this.#weight = 0;
    this.#writing = this.#write(items, acks).finally(() => {
      this.#writing = undefined;
      this.#writingWeight = 0;
      if (this.#items.length > 0) this.#flushNow();
      this.#o.afterWrite?.();
    });
  }

  async #write(items: T[], acks: Ack[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      if (this.#abandoned) {
        for (const ack of acks) ack(this.#abandoned);
        return;
      }
      try {
        await this.#o.flush(items);
        for (const ack of acks) ack();
        return;
      } catch (error) {
        this.#o.onError?.(error, attempt);
        if (this.#closed || this.#abandoned || !isRetriable(error)) {
          for (const ack of acks) ack(error);
          return;
        }
        await sleep(backoffDelay({ shape: 'linear', initialDelayMs: this.#o.retryDelayMs, maxDelayMs: 5_000 }, attempt));
      }
    }
  }
}

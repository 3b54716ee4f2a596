import { isRetriable } from '../errors/index.js';

export interface BatcherOptions<T> {
  /** Writes one batch; a rejection is retried (if retriable) until the batcher closes. */
  flush(items: T[]): Promise<void>;
  /** Flush as soon as this many items wait. @default 500 */
  maxItems?: number;
  /** Flush at most this long after the first item arrived. @default 5 */
  lingerMs?: number;
  /** Delay between attempts of a failed flush. @default 200 */
  retryDelayMs?: number;
  /** Told about every failed attempt (logging). */
  onError?(error: unknown, attempt: number): void;
}

interface Pending<T> { item: T; resolve: () => void; reject: (error: unknown) => void }

/**
 * Collects items and writes them in batches (linger + size), resolving each
 * item's promise when its batch is acknowledged. One write is in flight at a
 * time, so items land in the order they were added: that is what carries
 * key ordering through to the sink topic (two concurrent writes on two
 * connections could land in either order). While a write is out, items
 * accumulate and go together in the next one. This is how sinks and
 * dead-letter topics get batched writes, and how the coordinator learns an
 * output is durable before it releases the journal entry behind it.
 */
export class Batcher<T> {
  readonly #o: Required<Omit<BatcherOptions<T>, 'onError'>> & Pick<BatcherOptions<T>, 'onError'>;
  #pending: Pending<T>[] = [];
  #timer: NodeJS.Timeout | undefined;
  #inFlight = new Set<Promise<void>>();
  #closed = false;

  constructor(options: BatcherOptions<T>) {
    this.#o = { maxItems: 500, lingerMs: 5, retryDelayMs: 200, ...options };
  }

  add(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ item, resolve, reject });
      if (this.#pending.length >= this.#o.maxItems) this.#flushNow();
      else this.#timer ??= setTimeout(() => this.#flushNow(), this.#o.lingerMs);
    });
  }

  /** Items accepted but not yet acknowledged. */
  get backlog(): number {
    return this.#pending.length;
  }

  /** Writes everything pending and waits for every write in flight. */
  async flush(): Promise<void> {
    this.#flushNow();
    while (this.#inFlight.size > 0 || this.#pending.length > 0) {
      await Promise.allSettled([...this.#inFlight]);
      this.#flushNow();
    }
  }

  /** Flushes, then fails later writes and stops retrying. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
  }

  #flushNow(): void {
    if (this.#timer) { clearTimeout(this.#timer); this.#timer = undefined; }
    if (this.#pending.length === 0 || this.#inFlight.size > 0) return;
    const batch = this.#pending;
    this.#pending = [];
    const write = this.#write(batch).finally(() => {
      this.#inFlight.delete(write);
      if (this.#pending.length > 0) this.#flushNow();
    });
    this.#inFlight.add(write);
  }

  async #write(batch: Pending<T>[]): Promise<void> {
    const items = batch.map((p) => p.item);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#o.flush(items);
        for (const p of batch) p.resolve();
        return;
      } catch (error) {
        this.#o.onError?.(error, attempt);
        if (this.#closed || !isRetriable(error)) {
          for (const p of batch) p.reject(error);
          return;
        }
        await new Promise((r) => setTimeout(r, Math.min(this.#o.retryDelayMs * attempt, 5_000)));
      }
    }
  }
}

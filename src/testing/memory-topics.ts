import type { EntryWriter, FetchedBatch, SourceReader } from '../runtime/pipeline/pipeline-io.js';

/** One write the pipeline made, in the order writes happened across all topics. */
export interface WrittenEntry {
  topic: string;
  entry: string;
}

/**
 * The topics of a test driver, in memory: what the pipeline writes (sinks,
 * dead letters, changelogs) is appended in write order; sources are queues
 * the test fills. A source's `fetch` waits for the next piped entry instead
 * of returning empty at once, so the coordinator's fetch loop never sleeps
 * on a poll interval while the test waits for its records.
 */
export class MemoryTopics implements EntryWriter {
  readonly written: WrittenEntry[] = [];
  readonly #sources = new Map<string, MemorySource>();

  async putMany(topic: string, entries: string[]): Promise<void> {
    for (const entry of entries) this.written.push({ topic, entry });
  }

  /** Entries written to `topic`, in order. */
  entries(topic: string): string[] {
    return this.written.filter((w) => w.topic === topic).map((w) => w.entry);
  }

  source(name: string): MemorySource {
    let source = this.#sources.get(name);
    if (!source) {
      source = new MemorySource();
      this.#sources.set(name, source);
    }
    return source;
  }

  /** Entries piped but not fetched yet, over every source. */
  get unfetched(): number {
    let n = 0;
    for (const source of this.#sources.values()) n += source.queued;
    return n;
  }

  /** Ends every waiting fetch (with no entries): the coordinator is stopping. */
  close(): void {
    for (const source of this.#sources.values()) source.close();
  }
}

/** A source topic as a queue of entries. */
export class MemorySource implements SourceReader {
  #queue: Buffer[] = [];
  #waiting: (() => void) | undefined;
  #closed = false;

  get queued(): number {
    return this.#queue.length;
  }

  push(entries: readonly string[]): void {
    for (const entry of entries) this.#queue.push(Buffer.from(entry, 'utf8'));
    this.#wake();
  }

  async fetch(maxEntries: number): Promise<FetchedBatch> {
    if (this.#queue.length === 0 && !this.#closed) await new Promise<void>((resolve) => { this.#waiting = resolve; });
    return { entries: this.#queue.splice(0, Math.max(1, maxEntries)) };
  }

  close(): void {
    this.#closed = true;
    this.#wake();
  }

  #wake(): void {
    const wake = this.#waiting;
    this.#waiting = undefined;
    wake?.();
  }
}

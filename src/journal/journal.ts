import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { WalrusError } from '../errors/index.js';
import { acquirePidLock, type PidLock } from '../util/pid-lock.js';
import { LiveSet } from './live-set.js';
import { resolveJournalOptions, type JournalOptions, type ResolvedJournalOptions } from './options.js';
import { MAX_ENTRY_BYTES, MAX_SOURCE_BYTES, encodeAppend, encodeRelease, toRanges } from './record-format.js';
import { GroupCommit, journalError } from './group-commit.js';
import { recover } from './recovery.js';
import { SegmentManager } from './segment-manager.js';

/** One record handed to {@link Journal.append}. */
export interface JournalItem {
  /** Where the entry came from (the source name or topic), returned as-is on recovery. */
  source: string;
  /** The raw entry bytes read from Walrus. Kept by reference until released: do not mutate. */
  entry: Uint8Array;
}

/** An appended entry not yet released. */
export interface UnreleasedEntry {
  seq: number;
  source: string;
  entry: Buffer;
}

export interface JournalStats {
  /** Entries appended and not yet released. */
  unreleased: number;
  /** Bytes of all segment files. */
  bytes: number;
  segments: number;
  /** Bytes of the APPEND records of unreleased entries. */
  liveBytes: number;
  /** Writes (group commits) and `fdatasync` calls since open: many calls share one under `fsync: 'always'` (group commit). */
  writes: number;
  syncs: number;
  compactions: number;
}

/**
 * Takes the journal directory's lock. A `LOCK` that cannot be read (a
 * directory in its place) failed with a bare `EISDIR: illegal operation on
 * a directory, read`, naming neither the journal nor the file.
 */
function lockJournalDir(dir: string, busyHint: string | undefined): PidLock {
  try {
    return acquirePidLock(dir, {
      code: 'JOURNAL_ERROR',
      subject: 'journal',
      hint: busyHint ?? 'run a second instance with a different app name or stateDir (each instance needs its own journal)',
      hereHint: 'close it before opening it again',
    });
  } catch (cause) {
    if (cause instanceof WalrusError) throw cause;
    const path = join(dir, 'LOCK');
    throw new WalrusError('JOURNAL_ERROR', `cannot take the journal's lock file ${path}: ${(cause as Error).message}; LOCK must be a regular file ` +
      'holding the pid of the process that has the journal open: move what is there aside and start again', { cause, context: { path } });
  }
}

function invalidArgument(message: string): WalrusError {
  return new WalrusError('INVALID_ARGUMENT', message);
}

/**
 * The local write-ahead journal that keeps records read from Walrus (whose
 * GET is destructive) from being lost when the process dies: an entry is
 * appended (durably) before it is processed and released once every output
 * it produced is acknowledged or it was dead-lettered. After a crash,
 * {@link Journal.unreleased} lists what must be processed again.
 *
 * Appends and releases go through one serial writer. Under `fsync: 'always'`
 * every call that arrives while a write is pending joins the next write, so
 * a thousand concurrent appends cost one `write` and one `fdatasync`.
 *
 * @example
 * const journal = await Journal.open({ dir: '.walrus-stream/orders/journal' });
 * for (const e of journal.unreleased()) await reprocess(e);  // a crash's leftovers first
 * const [seq] = await journal.append([{ source: 'orders', entry }]);
 * await process(entry);
 * await journal.release([seq]);
 */
export class Journal {
  readonly #options: ResolvedJournalOptions;
  readonly #live: LiveSet;
  readonly #lock: PidLock;
  readonly #segments: SegmentManager;
  readonly #writer: GroupCommit;
  #nextSeq: number;
  #closed = false;

  private constructor(options: ResolvedJournalOptions, lock: PidLock, live: LiveSet, nextSeq: number, segments: SegmentManager) {
    this.#options = options;
    this.#lock = lock;
    this.#live = live;
    this.#nextSeq = nextSeq;
    this.#segments = segments;
    this.#writer = new GroupCommit({
      segments, fsync: options.fsync, groupCommit: options.groupCommit, dir: options.dir, onStep: options.onStep, nextSeq: () => this.#nextSeq,
    });
  }

  /** Opens (or creates) the journal in `options.dir`, recovering what a crash left behind. */
  static async open(options: JournalOptions): Promise<Journal> {
    const resolved = resolveJournalOptions(options);
    try {
      await mkdir(resolved.dir, { recursive: true });
    } catch (error) {
      throw journalError(`cannot create the journal directory ${resolved.dir}`, error);
    }
    // One writer per journal: two processes appending to the same segments would each release the other's entries.
    const lock = lockJournalDir(resolved.dir, options.busyHint);
    let segments: SegmentManager | undefined;
    try {
      const recovered = await recover(resolved.dir, resolved.onWarning);
      segments = new SegmentManager(resolved, recovered.live, recovered.lastSegment + 1);
      await segments.start(recovered.nextSeq);
      return new Journal(resolved, lock, recovered.live, recovered.nextSeq, segments);
    } catch (error) {
      await segments?.close().catch(() => {});
      lock.release();
      throw journalError(`cannot open the journal in ${resolved.dir}`, error);
    }
  }

  /**
   * Makes `items` durable and returns one seq per item, in order. Seqs grow
   * across restarts. Resolves only once the records are written (and synced,
   * unless `fsync: 'never'`).
   */
  async append(items: readonly JournalItem[]): Promise<number[]> {
    this.#assertUsable();
    const encoded = items.map((item, i) => {
      if (typeof item?.source !== 'string' || item.source === '') throw invalidArgument(`journal.append: item ${i} has no source name`);
      if (!(item.entry instanceof Uint8Array)) throw invalidArgument(`journal.append: item ${i} entry must be a Buffer or Uint8Array`);
      const sourceBytes = Buffer.from(item.source, 'utf8');
      if (sourceBytes.length > MAX_SOURCE_BYTES) {
        throw invalidArgument(`journal.append: item ${i} source is ${sourceBytes.length} bytes; at most ${MAX_SOURCE_BYTES}`);
      }
      if (item.entry.length > MAX_ENTRY_BYTES) {
        throw invalidArgument(`journal.append: item ${i} entry is ${item.entry.length} bytes; at most ${MAX_ENTRY_BYTES}`);
      }
      return { sourceBytes, item };
    });
    if (encoded.length === 0) return [];
    const seqs: number[] = [];
    const chunks: Buffer[] = [];
    for (const { sourceBytes } of encoded) {
      const seq = this.#nextSeq++;
      seqs.push(seq);
      chunks.push(encodeAppend(seq, sourceBytes, encoded[seqs.length - 1]!.item.entry));
    }
    await this.#writer.enqueue(chunks, (segment) => {
      for (let i = 0; i < seqs.length; i += 1) {
        const { source, entry } = items[i]!;
        const buffer = Buffer.isBuffer(entry) ? entry : Buffer.from(entry.buffer, entry.byteOffset, entry.length);
        this.#live.add({ seq: seqs[i]!, source, entry: buffer, segment, bytes: chunks[i]!.length });
      }
    });
    return seqs;
  }

  /**
   * Marks `seqs` done (all outputs acknowledged, or dead-lettered); durable
   * before it resolves. Seqs that are not unreleased (already released,
   * never appended) are ignored, so releasing twice is harmless.
   */
  async release(seqs: readonly number[]): Promise<void> {
    this.#assertUsable();
    for (const seq of seqs) {
      if (!Number.isSafeInteger(seq) || seq < 1) throw invalidArgument(`journal.release: ${String(seq)} is not a journal seq`);
    }
    const live = seqs.filter((seq) => this.#live.has(seq));
    if (live.length === 0) return;
    await this.#writer.enqueue(encodeRelease(toRanges(live)), () => {
      for (const seq of live) this.#live.release(seq);
    });
  }

  /** Entries appended and not yet released, in append order: right after open, what a crash left behind. */
  unreleased(): UnreleasedEntry[] {
    return this.#live.entries().map(({ seq, source, entry }) => ({ seq, source, entry }));
  }

  /** True while `seq` is appended and not yet released. */
  isUnreleased(seq: number): boolean {
    return this.#live.has(seq);
  }

  stats(): JournalStats {
    return {
      unreleased: this.#live.size,
      bytes: this.#live.totalBytes(),
      segments: this.#live.segments().length,
      liveBytes: this.#live.liveBytes,
      writes: this.#writer.writes,
      syncs: this.#writer.syncs,
      compactions: this.#segments.compactions,
    };
  }

  /** Waits for pending appends and releases, then closes the files and the directory lock. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#writer.idle();
    try {
      await this.#segments.close();
    } finally {
      this.#lock.release();
    }
    if (this.#writer.failure) throw this.#writer.failure;
  }

  #assertUsable(): void {
    const failure = this.#writer.failure;
    if (failure) throw new WalrusError('JOURNAL_ERROR', `the journal failed earlier and accepts no more writes: ${failure.message}`, { cause: failure });
    if (this.#closed) throw new WalrusError('JOURNAL_ERROR', `the journal in ${this.#options.dir} is closed`);
  }
}

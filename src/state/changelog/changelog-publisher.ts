import { readFile, writeFile } from 'node:fs/promises';
import { WalrusError } from '../../errors/index.js';
import { backoffDelay } from '../../util/backoff.js';
import { sleep } from '../../util/sleep.js';

/** How a store reaches its changelog topic; the runtime passes `entries => client.putMany(topic, entries)`. */
export interface ChangelogOptions {
  /** Produces entries to the changelog topic, in order; resolves once Walrus acknowledged all of them. */
  publish: (entries: string[]) => Promise<void>;
  /** First delay before retrying a failed publish. @default 100 */
  initialRetryDelayMs?: number;
  /** Longest delay between publish retries. @default 5000 */
  maxRetryDelayMs?: number;
  /** Called on each failed publish attempt (e.g. to log it); the store keeps retrying, except after OWNERSHIP_CONFLICT. */
  onPublishError?: (error: unknown, attempt: number) => void;
  /** Seam for tests. @default setTimeout-based */
  sleep?: (ms: number) => Promise<void>;
}

/** Longest time the on-disk cursor lags the published position. */
const CURSOR_INTERVAL_MS = 1_000;

// Unref'd: a publish retrying in the background must not keep the process alive.
const defaultSleep = (ms: number): Promise<void> => sleep(ms, { unref: true });

/**
 * Publishes entries, retrying with exponential backoff until they are
 * accepted or the store closes (or the process lost its ownership:
 * OWNERSHIP_CONFLICT is not retried). A commit resolves only after its changelog
 * entries are in Walrus, so while Walrus is unreachable commits (and thus
 * record releases) wait instead of running ahead of what a new machine could
 * restore.
 */
export class ChangelogPublisher {
  #opts: ChangelogOptions;
  #cursorPath: string;
  #closed = false;
  /** Failed publish attempts since open. */
  failures = 0;
  #pendingSeq: number | undefined;
  #cursorWrittenAt = 0;

  constructor(opts: ChangelogOptions, cursorPath: string) {
    this.#opts = opts;
    this.#cursorPath = cursorPath;
  }

  async publish(entries: string[]): Promise<void> {
    if (entries.length === 0) return;
    const backoff = { initialDelayMs: this.#opts.initialRetryDelayMs ?? 100, maxDelayMs: this.#opts.maxRetryDelayMs ?? 5_000 };
    const pause = this.#opts.sleep ?? defaultSleep;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#opts.publish(entries);
        return;
      } catch (error) {
        this.failures++;
        this.#opts.onPublishError?.(error, attempt);
        // Ownership lost (a process frozen past its lease, docs/scaling.md): every later write is refused the same way, and
        // retrying for ever would hang a start-up whose restore was re-publishing; the pipeline stops on it anyway.
        if (error instanceof WalrusError && error.code === 'OWNERSHIP_CONFLICT') throw error;
        // Closing stops retries, not first attempts: a graceful close still publishes what is queued.
        if (this.#closed) {
          throw new WalrusError('SHUTTING_DOWN', 'the state store closed while its changelog entries could not be published; they are committed locally and will be published when it opens again', {
            cause: error,
          });
        }
        await pause(backoffDelay(backoff, attempt));
      }
    }
  }

  /** Last commit seq known to be in the changelog (0 when unknown). */
  async readCursor(): Promise<number> {
    try {
      const parsed = JSON.parse(await readFile(this.#cursorPath, 'utf8')) as { publishedSeq?: unknown };
      return typeof parsed.publishedSeq === 'number' ? parsed.publishedSeq : 0;
    } catch {
      // Missing or torn cursor: re-publishing is harmless (replaying a suffix of absolute writes again yields the same state).
      return 0;
    }
  }

  /**
   * Records the published position. Not fsynced, and written at most once per
   * `cursorIntervalMs` (plus on close) on purpose: a stale cursor only makes
   * the next open publish some changes again, which is harmless (replaying a
   * suffix of absolute writes again yields the same state), while a file
   * write per commit batch would cost more than the commit.
   */
  async writeCursor(seq: number, force = false): Promise<void> {
    this.#pendingSeq = seq;
    const now = Date.now();
    if (!force && now - this.#cursorWrittenAt < CURSOR_INTERVAL_MS) return;
    this.#cursorWrittenAt = now;
    await writeFile(this.#cursorPath, JSON.stringify({ publishedSeq: seq }));
  }

  /** Writes the latest published position if a throttled write skipped it. */
  async flushCursor(): Promise<void> {
    if (this.#pendingSeq !== undefined) await this.writeCursor(this.#pendingSeq, true);
  }

  close(): void {
    this.#closed = true;
  }
}

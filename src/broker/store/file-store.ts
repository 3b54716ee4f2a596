import { closeSync, fdatasync, fsync, mkdirSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CursorFile } from './cursor-file.js';
import { FileTopicLog, writeFully, type LogOwner, type Segment } from './file-topic-log.js';
import { acquireDataDirLock, type DataDirLock } from './lock.js';
import { SEGMENT_HEADER_BYTES, scanAndRepairSegment, segmentHeader } from './segment-format.js';
import { parseSegmentFileName, segmentFileName, topicDirName } from './topic-dirs.js';
import type { LogStore, TopicLog } from './types.js';

const fdatasyncAsync = promisify(fdatasync);
const fsyncAsync = promisify(fsync);

export interface FileStoreOptions {
  dataDir: string;
  segmentEntries: number;
  persistCursors: boolean;
}

/** What recovery found and repaired when the store opened. */
export interface RecoveryReport {
  topics: number;
  entries: number;
  /** Bytes cut from torn or corrupt segment tails. */
  truncatedBytes: number;
  /** Topic directories skipped because their `topic.json` was never completely written. */
  skippedDirs: string[];
}

/**
 * The durable store: `<dataDir>/topics/<topic dir>/` holds `topic.json`
 * (the exact topic name), numbered segment files and a `cursor` file.
 *
 * Durability works by sequence numbers: every change bumps `changeSeq`;
 * `flush()` writes all pending changes to the OS and returns the sequence
 * written; `sync()` also fdatasyncs every file touched since the previous
 * sync (and fsyncs directories in which files were created) and returns the
 * sequence now on stable storage. Syncs run one after another, so a
 * resolved sync implies every earlier one completed.
 */
export class FileStore implements LogStore, LogOwner {
  readonly recovery: RecoveryReport;
  readonly #options: FileStoreOptions;
  readonly #root: string;
  readonly #lock: DataDirLock;
  readonly #topics = new Map<string, FileTopicLog>();
  readonly #dirtyLogs = new Set<FileTopicLog>();
  #syncFds = new Set<number>();
  #syncDirs = new Set<string>();
  #seq = 0;
  #sealed = 0;
  #syncChain: Promise<number> = Promise.resolve(0);
  #closed = false;

  private constructor(options: FileStoreOptions, lock: DataDirLock) {
    this.#options = options;
    this.#lock = lock;
    this.#root = join(options.dataDir, 'topics');
    this.recovery = { topics: 0, entries: 0, truncatedBytes: 0, skippedDirs: [] };
  }

  static open(options: FileStoreOptions): FileStore {
    mkdirSync(join(options.dataDir, 'topics'), { recursive: true });
    const lock = acquireDataDirLock(options.dataDir);
    const store = new FileStore(options, lock);
    try {
      store.#recover();
    } catch (error) {
      store.#closeFiles();
      lock.release();
      throw error;
    }
    return store;
  }

  // -- LogOwner ---------------------------------------------------------------

  changed(): void {
    this.#seq++;
  }

  dirty(log: FileTopicLog): void {
    this.#dirtyLogs.add(log);
  }

  needsSync(fd: number, dir?: string): void {
    this.#syncFds.add(fd);
    if (dir !== undefined) this.#syncDirs.add(dir);
  }

  segmentSealed(): void {
    this.#sealed++;
  }

  // -- LogStore ---------------------------------------------------------------

  topic(name: string): TopicLog | undefined {
    return this.#topics.get(name);
  }

  register(name: string): TopicLog {
    const existing = this.#topics.get(name);
    if (existing) return existing;
    const dir = join(this.#root, topicDirName(name));
    mkdirSync(dir, { recursive: true });
    const fd = openSync(join(dir, segmentFileName(1)), 'w+', 0o644);
    writeFully(fd, segmentHeader(1), SEGMENT_HEADER_BYTES, 0);
    this.#syncFds.add(fd);
    // topic.json last: a directory without it is an unfinished REGISTER and is skipped on recovery.
    writeFileSync(join(dir, 'topic.json'), JSON.stringify({ name }), { flush: true });
    this.#syncDirs.add(dir);
    this.#syncDirs.add(this.#root);
    const log = this.#openLog(name, dir, [{ number: 1, fd, offsets: [], written: SEGMENT_HEADER_BYTES }], 0);
    this.#seq++;
    return log;
  }

  get topicCount(): number {
    return this.#topics.size;
  }

  get sealedSegmentCount(): number {
    return this.#sealed;
  }

  get changeSeq(): number {
    return this.#seq;
  }

  flush(): number {
    for (const log of this.#dirtyLogs) log.flush();
    this.#dirtyLogs.clear();
    return this.#seq;
  }

  sync(): Promise<number> {
    const next = this.#syncChain.catch(() => 0).then(() => this.#syncOnce());
    this.#syncChain = next;
    return next;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.sync();
    } finally {
      this.#closeFiles();
      this.#lock.release();
    }
  }

  async #syncOnce(): Promise<number> {
    const seq = this.flush();
    const fds = this.#syncFds;
    const dirs = this.#syncDirs;
    if (fds.size === 0 && dirs.size === 0) return seq;
    this.#syncFds = new Set();
    this.#syncDirs = new Set();
    await Promise.all([...fds].map((fd) => fdatasyncAsync(fd)));
    for (const dir of dirs) {
      const dirFd = openSync(dir, 'r');
      try {
        await fsyncAsync(dirFd);
      } finally {
        closeSync(dirFd);
      }
    }
    return seq;
  }

  #openLog(name: string, dir: string, segments: Segment[], cursor: number): FileTopicLog {
    const cursorFile = this.#options.persistCursors ? new CursorFile(join(dir, 'cursor')) : undefined;
    const log = new FileTopicLog({
      name,
      dir,
      owner: this,
      segmentEntries: this.#options.segmentEntries,
      segments,
      cursor: cursorFile ? cursorFile.read() : cursor,
      ...(cursorFile ? { cursorFile } : {}),
    });
    this.#topics.set(name, log);
    return log;
  }

  #recover(): void {
    for (const entry of readdirSync(this.#root, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const dir = join(this.#root, entry.name);
      let name: string;
      try {
        const meta = JSON.parse(readFileSync(join(dir, 'topic.json'), 'utf8')) as { name?: unknown };
        if (typeof meta.name !== 'string') throw new Error('no name');
        name = meta.name;
      } catch {
        this.recovery.skippedDirs.push(entry.name);
        continue;
      }
      const numbers = readdirSync(dir).map(parseSegmentFileName).filter((n): n is number => n !== undefined).sort((a, b) => a - b);
      if (numbers.length === 0) numbers.push(1);
      const segments: Segment[] = [];
      for (const number of numbers) {
        const path = join(dir, segmentFileName(number));
        const scan = scanAndRepairSegment(path, number);
        this.recovery.truncatedBytes += scan.truncatedBytes;
        this.recovery.entries += scan.offsets.length;
        segments.push({ number, fd: openSync(path, 'r+'), offsets: scan.offsets, written: scan.validBytes });
      }
      this.#sealed += segments.length - 1;
      this.#openLog(name, dir, segments, 0);
      this.recovery.topics++;
    }
  }

  #closeFiles(): void {
    for (const log of this.#topics.values()) log.close();
    this.#topics.clear();
  }
}

import { closeSync, existsSync, fdatasync, fdatasyncSync, fsync, fstatSync, mkdirSync, openSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CursorFile } from './cursor-file.js';
import { FileTopicLog, createSegment, type LogOwner, type Segment } from './file-topic-log.js';
import { acquirePidLock, type PidLock } from '../../util/pid-lock.js';
import { withFile } from '../../util/disk-full.js';
import { emptyRecoveryReport, emptyTopicRecovery, recordRepair, type RecoveryReport } from './recovery-report.js';
import { SEGMENT_HEADER_BYTES } from './segment-format.js';
import { scanAndRepairSegment } from './segment-scan.js';
import { DEFAULT_OPEN_SEALED_SEGMENTS, SegmentFds } from './segment-fds.js';
import { parseSegmentFileName, segmentFileName, topicDirName } from './topic-dirs.js';
import { createDataDir, quarantineDirPath, quarantinePath, readTopicName, segmentBytes } from './data-dir.js';
import { SegmentRetirement, splitAtCursor } from './segment-retirement.js';
import type { StoredCursor } from './cursor-position.js';
import type { LogStore, TopicLog, TopicRecovery } from './types.js';

const fdatasyncAsync = promisify(fdatasync);
const fsyncAsync = promisify(fsync);

export interface FileStoreOptions {
  dataDir: string;
  segmentEntries: number;
  /** Bytes at which a segment file is sealed even short of `segmentEntries`; 0 = no bound. @default 0 */
  segmentBytes?: number;
  persistCursors: boolean;
  /** False when nothing calls `sync()` before shutdown (fsync `never`): a retired descriptor is then closed at once. @default true */
  syncs?: boolean;
  /** Sealed-segment descriptors kept open at most, node-wide (segment-fds.ts). @default 128 */
  openSealedSegments?: number;
}

export type { RecoveryReport, RecoveryRepair } from './recovery-report.js';

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
  readonly #lock: PidLock;
  readonly #topics = new Map<string, FileTopicLog>();
  readonly #dirtyLogs = new Set<FileTopicLog>();
  #syncFds = new Set<number>();
  /** Descriptors being fdatasync'ed by the running sync, and retired ones waiting for a sync before they are closed. */
  #syncing = new Set<number>();
  readonly #retired = new Set<number>();
  #syncDirs = new Set<string>();
  readonly #fds: SegmentFds;
  /** Retention's deletions, and what they gave back (segmentsDeleted, bytesDeleted). */
  readonly retention = new SegmentRetirement();
  #seq = 0;
  #sealed = 0;
  #syncChain: Promise<number> = Promise.resolve(0);
  #closed = false;

  private constructor(options: FileStoreOptions, lock: PidLock) {
    this.#options = options;
    this.#lock = lock;
    this.#root = join(options.dataDir, 'topics');
    this.recovery = emptyRecoveryReport();
    this.#fds = new SegmentFds(options.openSealedSegments ?? DEFAULT_OPEN_SEALED_SEGMENTS, (fd) => this.#letGo(fd));
  }

  static open(options: FileStoreOptions): FileStore {
    createDataDir(join(options.dataDir, 'topics'), options.dataDir);
    // One node per data directory: two nodes appending to the same segment files would corrupt them.
    const lock = acquirePidLock(options.dataDir, {
      code: 'CONFIG_INVALID',
      subject: 'broker data directory',
      hint: 'another walrus-stream broker runs on it: stop it, or choose another --data-dir',
      hereHint: 'close the node that uses it first, or choose another dataDir',
      context: { dataDir: options.dataDir },
    });
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

  segmentSealed(segment: Segment, fd: number): void {
    this.#sealed++;
    this.#fds.adopt(segment, fd);
  }

  sealedFd(segment: Segment): number {
    return this.#fds.fd(segment);
  }

  release(segments: readonly Segment[], remove: boolean): void {
    for (const segment of segments) this.#fds.forget(segment);
    if (remove) this.retention.add(segments.map((segment) => segment.path));
  }

  /** Closes a sealed segment's descriptor the pool let go; writes waiting for their fdatasync are synced first. */
  #letGo(fd: number): void {
    if (this.#syncing.has(fd)) { this.#retired.add(fd); return; } // closed once the running sync is done
    if (this.#options.syncs !== false && this.#syncFds.has(fd)) {
      try {
        fdatasyncSync(fd); // rare: more rollovers than the pool holds between two syncs
      } catch {
        this.#retired.add(fd); // the next sync fails on it and stops the node, as before
        return;
      }
    }
    this.#syncFds.delete(fd);
    closeQuietly(fd);
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
    // Recovery left only directories without entries here (see #recover): never truncate a segment file.
    const path = join(dir, segmentFileName(1));
    const fd = createSegment(path, 1);
    // topic.json last: a directory without it is an unfinished REGISTER and is skipped on recovery.
    try {
      writeFileSync(join(dir, 'topic.json'), JSON.stringify({ name }), { flush: true });
    } catch (error) {
      closeQuietly(fd); // each failed REGISTER on a full disk kept the segment's descriptor open
      throw withFile(error, join(dir, 'topic.json'));
    }
    this.#syncFds.add(fd);
    this.#syncDirs.add(dir);
    this.#syncDirs.add(this.#root);
    const log = this.#openLog(name, dir, [{ number: 1, path, fd, offsets: [], written: SEGMENT_HEADER_BYTES }], this.#readCursor(name, dir), 0);
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
    // Without syncs, a cursor written to the OS is as durable as it gets: the segments it passed may go.
    if (this.#options.syncs === false) this.retention.due(this.retention.take());
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
      this.retention.run();
    } finally {
      this.#closeFiles();
      this.#lock.release();
    }
  }

  async #syncOnce(): Promise<number> {
    const seq = this.flush();
    // Every cursor these segments wait for was written by now: durable once this sync is done.
    const retiring = this.retention.take();
    const fds = this.#syncFds;
    const dirs = this.#syncDirs;
    if (fds.size === 0 && dirs.size === 0) {
      this.retention.due(retiring); // nothing unsynced: earlier syncs (they run one after another) made it durable
      return seq;
    }
    this.#syncFds = new Set();
    this.#syncDirs = new Set();
    this.#syncing = fds;
    try {
      await Promise.all([...fds].map((fd) => fdatasyncAsync(fd)));
    } finally {
      this.#syncing = new Set();
    }
    for (const fd of this.#retired) {
      if (this.#syncFds.has(fd)) continue;
      this.#retired.delete(fd);
      closeQuietly(fd);
    }
    this.retention.due(retiring);
    for (const dir of dirs) {
      let dirFd: number;
      try {
        dirFd = openSync(dir, 'r');
      } catch (error) {
        // Out of descriptors for a moment (connections and topics hold them): not a storage failure.
        // The directory is synced on the next round; stopping the node here took everyone down.
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'EMFILE' && code !== 'ENFILE') throw error;
        this.#syncDirs.add(dir);
        continue;
      }
      try {
        await fsyncAsync(dirFd);
      } finally {
        closeSync(dirFd);
      }
    }
    return seq;
  }

  /** A topic's cursor file (with persistent cursors) and what it holds; `recovery` (start-up only) collects a damaged one. */
  #readCursor(name: string, dir: string, recovery?: TopicRecovery): TopicCursor {
    if (!this.#options.persistCursors) return { stored: { count: 0 }, reset: false };
    const cursorFile = new CursorFile(join(dir, 'cursor'));
    const stored = cursorFile.read();
    // An empty file is a topic nothing was read from yet; anything else unreadable is damage or a newer format.
    const bytes = stored === undefined ? fstatSync(cursorFile.fd).size : 0;
    if (bytes > 0 && recovery) recordRepair(this.recovery, recovery, { kind: 'cursor-reset', topic: name, segment: 0, file: join(dir, 'cursor'), offset: 0, bytes });
    return { cursorFile, stored, reset: bytes > 0 };
  }

  /** Opens a topic whose first segment holds entry `base` (segments before it were deleted); `recovery` is kept for STATE when anything was repaired. */
  #openLog(name: string, dir: string, segments: Segment[], cursor: TopicCursor, base: number, recovery?: TopicRecovery): FileTopicLog {
    const { cursorFile, stored } = cursor;
    const repaired = recovery && (recovery.droppedRegions > 0 || recovery.truncatedBytes > 0 || recovery.quarantined.length > 0 || recovery.rebuilt || recovery.missing.length > 0 || recovery.cursorReset);
    const log = new FileTopicLog({
      name, dir, owner: this,
      segmentEntries: this.#options.segmentEntries,
      segmentBytes: this.#options.segmentBytes ?? 0,
      segments,
      cursor: stored,
      base,
      ...(cursorFile ? { cursorFile } : {}),
      ...(repaired ? { recovery } : {}),
    });
    this.#topics.set(name, log);
    return log;
  }

  #recover(): void {
    for (const entry of readdirSync(this.#root, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const dir = join(this.#root, entry.name);
      const numbers = readdirSync(dir).map(parseSegmentFileName).filter((n): n is number => n !== undefined).sort((a, b) => a - b);
      const topicRecovery = emptyTopicRecovery();
      let name = readTopicName(dir);
      if (name === undefined) {
        const bytes = segmentBytes(dir, numbers);
        if (bytes === 0) {
          // Nothing but segment headers: an unfinished REGISTER, which its next REGISTER completes.
          this.recovery.skippedDirs.push(entry.name);
          continue;
        }
        const file = join(dir, 'topic.json');
        // A plain directory name is the topic name itself (topic-dirs.ts); a hashed one cannot be reversed.
        name = topicDirName(entry.name) === entry.name ? entry.name : undefined;
        if (name === undefined) {
          const movedTo = quarantineDirPath(join(this.#options.dataDir, 'quarantined', entry.name));
          mkdirSync(join(this.#options.dataDir, 'quarantined'), { recursive: true });
          renameSync(dir, movedTo);
          this.#syncDirs.add(this.#root);
          this.#syncDirs.add(join(this.#options.dataDir, 'quarantined'));
          recordRepair(this.recovery, topicRecovery, { kind: 'topic-quarantined', topic: entry.name, segment: 0, file: dir, offset: 0, bytes, movedTo });
          continue;
        }
        writeFileSync(file, JSON.stringify({ name }), { flush: true });
        this.#syncDirs.add(dir);
        recordRepair(this.recovery, topicRecovery, { kind: 'topic-rebuilt', topic: name, segment: 0, file, offset: 0, bytes });
      }
      const cursor = this.#readCursor(name, dir, topicRecovery);
      try {
        const { segments, base } = this.#recoverSegments(name, dir, numbers, cursor, topicRecovery);
        this.#sealed += segments.length - 1;
        this.#openLog(name, dir, segments, cursor, base, topicRecovery);
      } catch (error) {
        cursor.cursorFile?.close();
        throw error;
      }
      this.recovery.topics++;
    }
  }

  /**
   * Scans, repairs and opens one topic's segments; a segment with a bad
   * header is moved aside, never fatal. Returns them with the index (over
   * the topic's life) of their first entry.
   */
  #recoverSegments(topic: string, dir: string, allNumbers: number[], cursor: TopicCursor, topicRecovery: TopicRecovery): { segments: Segment[]; base: number } {
    const segments: Segment[] = [];
    const { position, leftovers, numbers, missingFrom } = splitAtCursor(allNumbers, cursor.stored, !cursor.reset && cursor.cursorFile !== undefined);
    if (leftovers.length > 0 && cursor.cursorFile) {
      this.retention.add(leftovers.map((n) => join(dir, segmentFileName(n))));
      this.#syncFds.add(cursor.cursorFile.fd); // the cursor read may be only in the page cache of a process that crashed
    }
    const present = new Set(numbers);
    const last = numbers.length > 0 ? numbers[numbers.length - 1]! : 0;
    for (let number = missingFrom; number < last; number++) {
      const path = join(dir, segmentFileName(number));
      if (present.has(number) || existsSync(`${path}.quarantined`)) continue; // a quarantined one was reported when it was moved
      recordRepair(this.recovery, topicRecovery, { kind: 'missing', topic, segment: number, file: path, offset: 0, bytes: 0, entries: this.#options.segmentEntries });
    }
    for (const number of numbers) {
      const file = segmentFileName(number);
      const path = join(dir, file);
      const scan = scanAndRepairSegment(path, number);
      const at = { topic, segment: number, file: path };
      if (scan.kind === 'bad-header') {
        const movedTo = quarantinePath(path);
        renameSync(path, movedTo);
        this.#syncDirs.add(dir);
        recordRepair(this.recovery, topicRecovery, { ...at, kind: 'quarantined', offset: 0, bytes: scan.size, movedTo });
        continue;
      }
      for (const damage of scan.dropped) recordRepair(this.recovery, topicRecovery, { ...at, kind: 'dropped', ...damage });
      if (scan.headerRewritten) recordRepair(this.recovery, topicRecovery, { ...at, kind: 'header-rewritten', offset: 0, bytes: scan.truncated.bytes });
      else if (scan.truncated.bytes > 0) recordRepair(this.recovery, topicRecovery, { ...at, kind: 'truncated', ...scan.truncated });
      this.recovery.entries += scan.offsets.length;
      // No descriptor is kept for a sealed segment (one per segment ran out of them): reads open it on demand.
      segments.push({ number, path, offsets: scan.offsets, written: scan.validBytes, ...(scan.gaps.size > 0 ? { gaps: scan.gaps } : {}) });
    }
    if (segments.length === 0 || segments[segments.length - 1]!.number !== last) {
      // No segment left, or the newest was quarantined: appends go to a fresh
      // one with a new number, so the moved-aside file keeps its own (and never below the cursor's).
      const number = Math.max(last + 1, position?.segment ?? 1);
      const path = join(dir, segmentFileName(number));
      const fd = createSegment(path, number);
      this.#syncFds.add(fd);
      this.#syncDirs.add(dir);
      segments.push({ number, path, fd, offsets: [], written: SEGMENT_HEADER_BYTES });
    } else {
      const newest = segments[segments.length - 1]!;
      newest.fd = openSync(newest.path, 'r+');
    }
    return { segments, base: position?.entriesBefore ?? 0 };
  }

  #closeFiles(): void {
    for (const log of this.#topics.values()) log.close();
    this.#topics.clear();
    this.#fds.closeAll();
    for (const fd of this.#retired) closeQuietly(fd);
    this.#retired.clear();
  }
}

/** A topic's cursor file (absent with volatile cursors), what it held, and whether it was unreadable (a cursor-reset). */
interface TopicCursor {
  cursorFile?: CursorFile;
  stored: StoredCursor | undefined;
  reset: boolean;
}

/** Closes `fd`, ignoring an error: nothing more is written to it, and a close that fails has nothing left to release. */
function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed.
  }
}

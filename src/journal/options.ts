import { WalrusError } from '../errors/index.js';
import { currentFsyncSpelling, type FsyncMode } from '../util/fsync.js';

/**
 * How appends and releases reach the disk, in the vocabulary of util/fsync.ts:
 * - `always`: each call resolves only once `fdatasync`ed; calls made while a
 *   write is pending share the next write and `fdatasync` (group commit,
 *   unless {@link JournalOptions.groupCommit} is false).
 * - `never`: written to the OS (survives `kill -9` of the process) but never
 *   synced, so a power loss or kernel crash can lose the newest records.
 * - `batch`: deprecated spelling of `always` (accepted, with a warning).
 */
export type JournalFsync = Exclude<FsyncMode, 'interval'>;

/** Milestones inside the journal, reported to {@link JournalOptions.onStep}. */
export type JournalStep = 'committed' | 'segment-rolled' | 'segments-deleted' | 'compaction-written' | 'compaction-done';

export interface JournalCompactionOptions {
  /**
   * Compact only once the segment files hold at least this many bytes.
   * @default 4 × segmentBytes
   */
  minBytes?: number;
  /**
   * Compact when live entries take at most this fraction of the files.
   * @default 0.25
   */
  maxLiveRatio?: number;
  /**
   * Also compact (under the same ratio) once there are more segment files than this.
   * @default 64
   */
  maxSegments?: number;
}

export interface JournalOptions {
  /** Directory of the journal, e.g. `<stateDir>/<app>/journal`; created if missing. */
  dir: string;
  /** @default 'always' */
  fsync?: JournalFsync | 'batch';
  /**
   * Let calls made while a write is pending share one write and one
   * `fdatasync`. false gives every call its own (the same guarantee, much
   * slower; a baseline for benchmarks and tests). @default true
   */
  groupCommit?: boolean;
  /**
   * A segment file is closed and a new one started once it reaches this size.
   * @default 8 MiB
   */
  segmentBytes?: number;
  compaction?: JournalCompactionOptions;
  /** What to do when another process holds the journal, said in its error. @default run a second instance with a different app name or stateDir */
  busyHint?: string;
  /** Called with recovery findings (a torn tail truncated, a corrupt record dropped). @default no-op */
  onWarning?: (message: string, context: Record<string, unknown>) => void;
  /**
   * Called synchronously after each milestone; tests use it to crash the
   * process at exact points (e.g. between a compaction's rename and its deletes).
   * @default no-op
   */
  onStep?: (step: JournalStep) => void;
}

export interface ResolvedJournalOptions {
  dir: string;
  fsync: JournalFsync;
  groupCommit: boolean;
  segmentBytes: number;
  compactMinBytes: number;
  compactMaxLiveRatio: number;
  compactMaxSegments: number;
  onWarning: (message: string, context: Record<string, unknown>) => void;
  onStep: (step: JournalStep) => void;
}

function invalid(field: string, value: unknown, expected: string): WalrusError {
  return new WalrusError('CONFIG_INVALID', `Journal option ${field} is ${JSON.stringify(value)}; expected ${expected}`, {
    context: { field },
  });
}

export function resolveJournalOptions(options: JournalOptions): ResolvedJournalOptions {
  if (typeof options.dir !== 'string' || options.dir === '') throw invalid('dir', options.dir, 'a directory path');
  const fsync = currentFsyncSpelling(options.fsync ?? 'always', 'Journal option fsync');
  if (fsync !== 'always' && fsync !== 'never') throw invalid('fsync', fsync, "'always' or 'never'");
  const groupCommit = options.groupCommit ?? true;
  if (typeof groupCommit !== 'boolean') throw invalid('groupCommit', groupCommit, 'true or false');
  const segmentBytes = options.segmentBytes ?? 8 * 1024 * 1024;
  if (!Number.isInteger(segmentBytes) || segmentBytes < 1024) throw invalid('segmentBytes', segmentBytes, 'an integer ≥ 1024');
  const compaction = options.compaction ?? {};
  const compactMinBytes = compaction.minBytes ?? 4 * segmentBytes;
  if (!Number.isInteger(compactMinBytes) || compactMinBytes < 0) throw invalid('compaction.minBytes', compactMinBytes, 'an integer ≥ 0');
  const compactMaxLiveRatio = compaction.maxLiveRatio ?? 0.25;
  if (!(compactMaxLiveRatio > 0 && compactMaxLiveRatio < 1)) {
    throw invalid('compaction.maxLiveRatio', compactMaxLiveRatio, 'a number between 0 and 1 (exclusive)');
  }
  const compactMaxSegments = compaction.maxSegments ?? 64;
  if (!Number.isInteger(compactMaxSegments) || compactMaxSegments < 2) {
    throw invalid('compaction.maxSegments', compactMaxSegments, 'an integer ≥ 2');
  }
  return {
    dir: options.dir,
    fsync,
    groupCommit,
    segmentBytes,
    compactMinBytes,
    compactMaxLiveRatio,
    compactMaxSegments,
    onWarning: options.onWarning ?? (() => {}),
    onStep: options.onStep ?? (() => {}),
  };
}

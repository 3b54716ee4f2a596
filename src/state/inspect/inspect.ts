import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { WalrusError } from '../../errors/index.js';
import { decodeValue } from '../model/codec.js';
import { corruptLogError, scanFrames } from '../store/frame-log.js';
import { STORE_FILES } from '../store/paths.js';
import { compareKeys, inRange, type RangeOptions, type StateEntry } from '../model/range.js';
import { readRestoreMarker } from '../changelog/restore.js';
import { readSnapshot, type SnapshotData } from '../store/snapshot-file.js';
import { decodeLogBody } from '../store/log-body.js';

/** A store as its files say it is, read without opening it for writing. */
export interface StoreInspection {
  name: string;
  dir: string;
  /** Last committed seq. */
  seq: number;
  keys: number;
  /** Entries matching the range asked for, decoded. */
  entries: Array<StateEntry<unknown>>;
  /** Record ids covered and not yet reported released. */
  unreleasedApplied: number;
  /** Log bytes after the last valid frame (a crash's torn tail, or a frame being written right now). */
  tornBytes: number;
  snapshotSeq: number;
  logFrames: number;
  restore: 'none' | 'fetching' | 'republish';
}

/**
 * Reads a store's snapshot and log without truncating or locking anything,
 * so it is safe on a running app: the app only appends whole frames, and a
 * frame being written shows as `tornBytes` and is ignored. A log the app
 * would refuse as corrupt (a bad commit followed by good ones) is refused
 * here too, with the same STATE_STORE_ERROR.
 */
export async function inspectStore(dir: string, name: string, select: RangeOptions & { filter?: (key: string) => boolean } = {}): Promise<StoreInspection> {
  const exists = await stat(dir).then((s) => s.isDirectory(), () => false);
  if (!exists) {
    throw new WalrusError('STATE_STORE_ERROR', `no state store "${name}" in ${dir}; check --app and --state-dir (or the topology's app/stateDir)`, {
      context: { store: name, path: dir },
    });
  }
  // A running app may replace the snapshot (rename) and then empty the log between our two reads; an old
  // snapshot with the new, emptied log would look like lost commits. The snapshot's identity before and after
  // reading the log tells: if it changed, read again.
  for (let attempt = 1; ; attempt++) {
    const before = await snapshotIdentity(dir);
    const snapshot = await readSnapshot(join(dir, STORE_FILES.snapshot), name);
    const log = await readFile(join(dir, STORE_FILES.log)).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return Buffer.alloc(0);
      throw error;
    });
    if (attempt < 5 && (await snapshotIdentity(dir)) !== before) continue;
    return build(name, dir, snapshot, log, select, join(dir, STORE_FILES.log));
  }
}

async function snapshotIdentity(dir: string): Promise<string> {
  const s = await stat(join(dir, STORE_FILES.snapshot)).catch(() => undefined);
  return s === undefined ? 'none' : `${s.ino}:${s.size}:${s.mtimeMs}`;
}

async function build(name: string, dir: string, snapshot: SnapshotData | undefined, log: Buffer, select: RangeOptions & { filter?: (key: string) => boolean },
  logPath: string): Promise<StoreInspection> {
  const state = new Map<string, Uint8Array>(snapshot?.entries ?? []);
  const applied = new Set<string>(snapshot?.applied ?? []);
  let seq = snapshot?.seq ?? 0;
  const scan = scanFrames(log);
  // What the app refuses to open is not shown as a store with a torn tail (its commits after the bad one would be missing).
  if (scan.corruptAt !== undefined) throw corruptLogError(logPath, scan.corruptAt, scan.resumesAt);
  for (const frame of scan.frames) {
    const body = decodeLogBody(frame, logPath, name);
    if (body.s <= seq) continue;
    for (const [key, bytes] of body.w) {
      if (bytes === null) state.delete(key);
      else state.set(key, bytes);
    }
    for (const id of body.c) applied.add(id);
    seq = body.s;
  }
  const keys = [...state.keys()].filter((k) => inRange(k, select) && (select.filter?.(k) ?? true)).sort(compareKeys);
  const limited = select.limit === undefined ? keys : keys.slice(0, select.limit);
  return {
    name,
    dir,
    seq,
    keys: state.size,
    entries: limited.map((key) => ({ key, value: decodeValue(state.get(key)!) })),
    unreleasedApplied: applied.size,
    tornBytes: scan.tornBytes,
    snapshotSeq: snapshot?.seq ?? 0,
    logFrames: scan.frames.length,
    restore: (await readRestoreMarker(dir)) ?? 'none',
  };
}

/** Names of the stores under `<stateDir>/<app>/state/`. */
export async function listStores(stateDir: string, app: string): Promise<string[]> {
  try {
    const names = await readdir(join(stateDir, app, 'state'), { withFileTypes: true });
    return names.filter((d) => d.isDirectory()).map((d) => d.name).sort();
  } catch {
    return [];
  }
}

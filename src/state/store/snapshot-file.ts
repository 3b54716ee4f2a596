import { open, readFile } from 'node:fs/promises';
import { replaceFile } from '../../util/replace-file.js';
import { dirname } from 'node:path';
import { WalrusError } from '../../errors/index.js';
import { pack, unpack } from '../model/codec.js';
import { encodeLogFrame, scanFrames } from './frame-log.js';
import { misplaced } from './log-body.js';
import { readForeignList, type ForeignIdList } from './foreign-ids.js';

/** What a snapshot holds: the committed state as of commit `seq`. */
export interface SnapshotData {
  /** The store it belongs to (absent in snapshots written before stores named them). */
  store?: string;
  /** Last commit sequence number included. Log frames with `seq <= this` are redundant. */
  seq: number;
  /** Key → msgpack-encoded value, in key order. */
  entries: Array<[string, Uint8Array]>;
  /** Record ids whose effects are included and that the runtime has not yet reported released. */
  applied: string[];
  /** Applied ids of other journals a restore kept (foreign-ids.ts; absent in snapshots written before they were kept). */
  foreign?: ForeignIdList;
}

interface SnapshotBody {
  v: 1;
  n?: string;
  seq: number;
  keys: string[];
  values: Uint8Array[];
  applied: string[];
  f?: ForeignIdList;
}

/**
 * Writes a snapshot atomically: temp file, fsync, rename, fsync of the
 * directory. A crash at any point leaves either the old or the new snapshot,
 * never a mix; the checksum catches a file the filesystem lost the data of.
 */
export async function writeSnapshot(path: string, data: SnapshotData): Promise<void> {
  const body: SnapshotBody = {
    v: 1,
    ...(data.store === undefined ? {} : { n: data.store }),
    seq: data.seq,
    keys: data.entries.map((e) => e[0]),
    values: data.entries.map((e) => e[1]),
    applied: data.applied,
    ...(data.foreign === undefined || data.foreign.length === 0 ? {} : { f: data.foreign }),
  };
  // A snapshot that could not be written (a full disk) leaves no half-written copy behind.
  await replaceFile(path, encodeLogFrame(pack(body)));
  await fsyncDir(dirname(path));
}

/** Reads store `store`'s snapshot; undefined when there is none. A corrupt snapshot, or another store's, is an error (it was fsynced before rename). */
export async function readSnapshot(path: string, store: string): Promise<SnapshotData | undefined> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new WalrusError('STATE_STORE_ERROR', `cannot read state snapshot ${path}: ${(error as Error).message}`, { cause: error, context: { path } });
  }
  const scan = scanFrames(data);
  if (scan.frames.length !== 1 || scan.tornBytes !== 0) {
    throw new WalrusError('STATE_STORE_ERROR', `state snapshot ${path} is corrupt (checksum or length mismatch); delete the store directory and restore it from its changelog`, {
      context: { path },
    });
  }
  const body = unpack<SnapshotBody>(scan.frames[0]!);
  if (body.v !== 1 || !Array.isArray(body.keys) || body.keys.length !== body.values.length) {
    throw new WalrusError('STATE_STORE_ERROR', `state snapshot ${path} has an unknown layout (version ${String(body.v)})`, { context: { path } });
  }
  if (body.n !== undefined && body.n !== store) throw misplaced(path, store, `is a snapshot of store "${String(body.n)}", not of "${store}": a file of another store was copied in`);
  const foreign = body.f === undefined ? [] : readForeignList(body.f);
  if (foreign === undefined) throw new WalrusError('STATE_STORE_ERROR', `state snapshot ${path} has an unknown layout (its other journals' ids)`, { context: { path } });
  return {
    store,
    seq: body.seq,
    entries: body.keys.map((k, i) => [k, body.values[i]!] as [string, Uint8Array]),
    applied: body.applied ?? [],
    foreign,
  };
}

/** fsync of a directory makes a rename durable on Linux; some platforms refuse it, which is harmless there. */
export async function fsyncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // EISDIR/EPERM on platforms without directory fsync: nothing more we can do.
  } finally {
    await fh?.close();
  }
}

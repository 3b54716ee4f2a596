import { open, rename, rm } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { dirname } from 'node:path';
import { WalrusError } from '../../errors/index.js';
import { pack, unpack } from '../model/codec.js';
import { FRAME_OVERHEAD, encodeLogFrame } from './frame-log.js';
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
  await replaceSnapshot(path, encodeLogFrame(pack(body)));
  await fsyncDir(dirname(path));
}

/**
 * Writes `path.tmp`, syncs it, renames it over `path`. The temp file is
 * removed first and created exclusively (`wx` refuses to follow a link):
 * through a symbolic link left at `snapshot.bin.tmp` the snapshot used to
 * overwrite the file it pointed to, and the rename then put the link in
 * place of `snapshot.bin`, so the next open refused the store. A snapshot
 * that could not be written (a full disk) leaves no half-written copy behind.
 */
async function replaceSnapshot(path: string, data: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp`;
  try {
    await rm(tmp, { force: true });
    const handle = await open(tmp, 'wx');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw error;
  }
}

/** Reads store `store`'s snapshot; undefined when there is none. A corrupt snapshot, or another store's, is an error (it was fsynced before rename). */
export async function readSnapshot(path: string, store: string): Promise<SnapshotData | undefined> {
  let frame: Buffer | 'corrupt' | undefined;
  try {
    frame = await readSnapshotFrame(path);
  } catch (error) {
    throw new WalrusError('STATE_STORE_ERROR', `cannot read state snapshot ${path}: ${(error as Error).message}`, { cause: error, context: { path } });
  }
  if (frame === undefined) return undefined;
  if (frame === 'corrupt') {
    throw new WalrusError('STATE_STORE_ERROR', `state snapshot ${path} is corrupt (checksum or length mismatch); delete the store directory and restore it from its changelog`, {
      context: { path },
    });
  }
  let body: SnapshotBody | undefined;
  try {
    body = unpack<SnapshotBody>(frame);
  } catch {
    body = undefined;
  }
  if (typeof body !== 'object' || body === null) throw misplaced(path, store, 'is not a snapshot a walrus-stream store wrote (its checksum holds, but it holds no snapshot)');
  if (body.v !== 1) {
    throw new WalrusError('STATE_STORE_ERROR', `state snapshot ${path} has an unknown layout (version ${String(body.v)}): open it with the walrus-stream that wrote it, ` +
      'or move the store\'s directory aside and start again; the store is then restored from its changelog topic', { context: { path } });
  }
  if (body.n !== undefined && body.n !== store) throw misplaced(path, store, `is a snapshot of store "${String(body.n)}", not of "${store}": a file of another store was copied in`);
  const bad = badSnapshotPart(body);
  if (bad !== undefined) throw misplaced(path, store, `is not a snapshot a walrus-stream store wrote (its checksum holds, but ${bad})`);
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

/**
 * The body of the snapshot file at `path` — one frame that fills the file
 * exactly — or `'corrupt'`, or undefined when there is no file. Not
 * `scanFrames`, whose bound on a frame (MAX_LOG_FRAME_BYTES, 256 MiB) is
 * about commit-log frames: a store holding more than 256 MiB wrote a
 * snapshot it then refused as corrupt on the next open, after the log had
 * been emptied into it. The length field is checked against the file's
 * size before the buffer for it is allocated, and the file is read in
 * pieces (readFile stops at 2 GiB).
 */
async function readSnapshotFrame(path: string): Promise<Buffer | 'corrupt' | undefined> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const { size } = await handle.stat();
    const header = Buffer.alloc(FRAME_OVERHEAD);
    if (size <= FRAME_OVERHEAD || (await handle.read(header, 0, FRAME_OVERHEAD, 0)).bytesRead !== FRAME_OVERHEAD) return 'corrupt';
    if (header.readUInt32LE(0) !== size - FRAME_OVERHEAD) return 'corrupt';
    const body = Buffer.allocUnsafe(size - FRAME_OVERHEAD);
    let filled = 0;
    while (filled < body.length) {
      // One read takes at most 2 GiB - 1.
      const { bytesRead } = await handle.read(body, filled, Math.min(body.length - filled, 2 ** 30), FRAME_OVERHEAD + filled);
      if (bytesRead === 0) return 'corrupt';
      filled += bytesRead;
    }
    return crc32(body) === header.readUInt32LE(4) ? body : 'corrupt';
  } finally {
    await handle.close();
  }
}

/** What in a snapshot's body is not as written (its checksum held, so another program or a crafted file made it), or undefined. */
function badSnapshotPart(body: SnapshotBody): string | undefined {
  if (!Number.isSafeInteger(body.seq) || body.seq < 0) return `its commit seq is ${String(body.seq)}`;
  if (!Array.isArray(body.keys) || !Array.isArray(body.values) || body.keys.length !== body.values.length) return 'its keys and values do not pair up';
  for (let i = 0; i < body.keys.length; i++) {
    if (typeof body.keys[i] !== 'string' || body.keys[i] === '') return `key ${i} is not a key`;
    if (!(body.values[i] instanceof Uint8Array)) return `the value of key ${JSON.stringify(String(body.keys[i]).slice(0, 100))} is not encoded bytes`;
  }
  if (body.applied !== undefined && (!Array.isArray(body.applied) || body.applied.some((id) => typeof id !== 'string'))) return 'its applied record ids are not a list of ids';
  return undefined;
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

import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { WireWrites } from '../model/change-set.js';
import { CHANGELOG_PREFIX, decodeChangelogEntry } from './changelog-codec.js';
import { WalrusError } from '../../errors/index.js';
import { STORE_FILES } from '../store/paths.js';
import { fsyncDir } from '../store/snapshot-file.js';
import { faultPoint } from '../../util/fault-points.js';

/**
 * A leased batch of changelog entries (a `client.lease(...)` result has this
 * shape): the node consumes them only when `ack()` is called, which restore
 * does once they are durable in the local store.
 */
export interface LeasedChangelogBatch {
  entries: Array<Buffer | string>;
  ack(): Promise<void>;
}

/**
 * Returns the next changelog entries, `[]` (or an empty lease) once the topic
 * is drained: `() => client.lease(topic, 2000)` where the node has leases,
 * else `() => client.getMany(topic, 2000)`.
 */
export type ChangelogFetch = () => Promise<Array<Buffer | string> | LeasedChangelogBatch>;

/** Told after each batch is durable locally: entries read so far. */
export type RestoreProgress = (entriesRead: number) => void;

export interface RestoreReport {
  /** Changelog entries read. */
  entries: number;
  /** Entries of this store applied. */
  applied: number;
  /** Key writes (puts and deletes) replayed from those entries. */
  writes: number;
  /** Entries that were not changelog entries, or belonged to another store. */
  skipped: number;
  /** Keys in the restored store. */
  keys: number;
  durationMs: number;
}

type MarkerPhase = 'fetching' | 'republish';

/** The restore phase a crash interrupted, if any. */
export async function readRestoreMarker(dir: string): Promise<MarkerPhase | undefined> {
  try {
    const parsed = JSON.parse(await readFile(join(dir, STORE_FILES.restoreMarker), 'utf8')) as { phase?: unknown };
    return parsed.phase === 'republish' ? 'republish' : 'fetching';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    // A torn marker: the restore had started; treat it as still fetching.
    return 'fetching';
  }
}

async function writeMarker(dir: string, phase: MarkerPhase): Promise<void> {
  await writeFile(join(dir, STORE_FILES.restoreMarker), JSON.stringify({ phase }), { flush: true });
  await fsyncDir(dir);
}

export async function clearRestoreMarker(dir: string): Promise<void> {
  await rm(join(dir, STORE_FILES.restoreMarker), { force: true });
  await fsyncDir(dir);
}

interface RestoreTarget {
  /** Appends writes (and the ids of the records they applied) to the local log durably and applies them (no changelog publish: they came from it). */
  appendLocal(writes: WireWrites, applied: string[]): Promise<void>;
  /** Snapshot + re-publish of the compacted state. */
  finish(): Promise<void>;
  size(): number;
}

/**
 * Drains the changelog into the store. Each fetched batch is made durable
 * locally before it is acknowledged (leases) and before the next fetch. With
 * leases a crash loses nothing: the node hands the unacknowledged batch out
 * again, and applying its absolute writes twice, in order, gives the same
 * state. With a destructive fetch (GET), a crash loses the batch in flight. The marker file records the phase so an
 * interrupted restore resumes instead of leaving a half-restored store that
 * looks complete.
 */
export async function restoreInto(store: string, dir: string, fetch: ChangelogFetch, target: RestoreTarget, onProgress?: RestoreProgress,
  journal?: string, topic?: string): Promise<RestoreReport> {
  const started = performance.now();
  await writeMarker(dir, 'fetching');
  let entries = 0;
  let applied = 0;
  let skipped = 0;
  let writeCount = 0;
  for (;;) {
    const fetched = await fetch();
    const batch = Array.isArray(fetched) ? fetched : fetched.entries;
    if (batch.length === 0) break;
    faultPoint('state.restore-fetched');
    const writes: WireWrites = [];
    // Ids of records this instance's journal may still hold unreleased (runtime-state.ts recover keeps only those).
    const ids: string[] = [];
    for (const raw of batch) {
      entries++;
      const decoded = decodeChangelogEntry(raw);
      // Not ours (no prefix) is skipped; ours but undecodable held writes this store needs: skipping it would restore wrong state.
      if (decoded === undefined && hasChangelogPrefix(raw)) throw damagedEntryError(store, topic, entries, raw);
      if (decoded === undefined || decoded.store !== store) {
        skipped++;
        continue;
      }
      applied++;
      for (const write of decoded.writes) writes.push(write);
      if (journal !== undefined && decoded.applied?.journal === journal) for (const id of decoded.applied.ids) ids.push(id);
    }
    writeCount += writes.length;
    if (writes.length > 0 || ids.length > 0) await target.appendLocal(writes, ids);
    // A failed ACK only means the node delivers this batch again (its lease
    // died with the connection or timed out): reapplied in order, harmless.
    if (!Array.isArray(fetched)) await fetched.ack().catch(() => undefined);
    onProgress?.(entries);
  }
  await writeMarker(dir, 'republish');
  await target.finish();
  await clearRestoreMarker(dir);
  return { entries, applied, writes: writeCount, skipped, keys: target.size(), durationMs: performance.now() - started };
}

function hasChangelogPrefix(raw: Buffer | string): boolean {
  return typeof raw === 'string' ? raw.startsWith(CHANGELOG_PREFIX) : raw.subarray(0, CHANGELOG_PREFIX.length).toString('latin1') === CHANGELOG_PREFIX;
}

/**
 * An entry in our format that does not decode: damaged, or written by
 * something else. Its batch is neither applied nor acknowledged (with leases
 * the node keeps it), and the restore stays unfinished, so every start
 * refuses the same way until someone decides.
 */
function damagedEntryError(store: string, topic: string | undefined, index: number, raw: Buffer | string): WalrusError {
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  const where = topic === undefined ? 'its changelog' : `changelog topic ${topic}`;
  return new WalrusError('STATE_STORE_ERROR', `store "${store}": entry ${index} of ${where} starts with ${CHANGELOG_PREFIX} but does not decode ` +
    `(${JSON.stringify(text.slice(0, 40))}${text.length > 40 ? '...' : ''}, ${text.length} characters): it was damaged or written by something else, ` +
    'and restoring past it would leave out the writes it held. The restore stops here, unfinished; if you still have the store\'s directory from before, ' +
    'put it back and start again. Otherwise find what writes to the topic (docs/state.md, "Changelog topic and restore")', {
    retriable: false, context: { store, ...(topic === undefined ? {} : { topic }), entry: index },
  });
}

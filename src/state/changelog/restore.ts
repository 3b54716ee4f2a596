import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { WireWrites } from '../model/change-set.js';
import { CHANGELOG_PREFIX, decodeChangelogEntry } from './changelog-codec.js';
import { WalrusError } from '../../errors/index.js';
import { STORE_FILES } from '../store/paths.js';
import { fsyncDir } from '../store/snapshot-file.js';
import { faultPoint } from '../../util/fault-points.js';
import { ForeignIds, type ForeignIdList } from '../store/foreign-ids.js';

/**
 * A leased batch of changelog entries (a `client.lease(...)` result has this
 * shape): the node consumes them only when `ack()` is called, which restore
 * does once the restored state is re-published (see {@link restoreInto}).
 * Restore empties `entries` once they are durable locally: it holds the
 * lease until the end, and the entries need not stay in memory meanwhile.
 */
export interface LeasedChangelogBatch {
  entries: Array<Buffer | string>;
  /** False when the entries were consumed on read after all (a node without leases): nothing is held. @default true */
  leased?: boolean;
  ack(): Promise<void>;
}

/**
 * Returns the next changelog entries, `[]` (or an empty lease) once the topic
 * is drained: `() => client.lease(topic, 2000)` where the node has leases,
 * else `() => client.getMany(topic, 2000)`.
 */
export type ChangelogFetch = () => Promise<Array<Buffer | string> | LeasedChangelogBatch>;

/**
 * How many leases are open on the changelog topic, whoever holds them
 * (`client.state(topic)`'s `openLeases`; undefined when the node does not
 * say). Restore compares it with the leases it holds before re-publishing.
 */
export type OpenLeases = () => Promise<number | undefined>;

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
  /**
   * Appends writes (with the ids of the records they applied: this journal's, and other journals' kept apart) to the local log
   * durably and applies them (no changelog publish: they came from it).
   */
  appendLocal(writes: WireWrites, applied: string[], foreign: ForeignIdList): Promise<void>;
  /** Snapshot + re-publish of the compacted state. */
  finish(): Promise<void>;
  size(): number;
}

/**
 * Drains the changelog into the store: each fetched batch is made durable
 * locally before the next fetch, then the restored state is snapshotted and
 * re-published (`finish`), and only then are the leased batches
 * acknowledged, oldest first. The marker file records the phase so an
 * interrupted restore resumes instead of leaving a half-restored store that
 * looks complete.
 *
 * Why the acknowledgements wait for the re-publish: until it is durable on
 * the node, the writes of an acknowledged batch would exist only in this
 * process's store. Frozen there (SIGSTOP, a GC pause, a suspended VM) past
 * its ownership lease, the instance is replaced, and the replacement's
 * restore would lack them. Held instead, the leases go back to the topic
 * when this process dies or the new owner releases them (RELEASE), and
 * the new owner reads them again. Which entries may it then read? Call C
 * the changelog this restore read (c1..cn, per-key writes: puts and
 * deletes, last writer wins) and S the state it gives; P the re-publish of
 * S, one put per key of S. Until the re-publish is durable nothing of C is
 * acknowledged, so the new owner reads all of C, and maybe part of P, each
 * in its own order but interleaved any way (released entries come before
 * unread ones, P may be read partly before C is released). After it, the
 * acknowledgements go oldest first, so what is left of C is a suffix
 * c(j)..cn, read with all of P. Either way, for each key K: if C writes K,
 * the remaining part of C holds C's last write to K (a suffix keeps the
 * last of everything it touches); that write is S's value of K, a put of
 * S(K) or a delete; P writes K only with S(K), and never writes a key S
 * lacks. So the last write to K in any such interleaving is S's: the put
 * S(K), or C's delete. If C does not write K, only P can, with S(K). The
 * state is S in every case. The applied record ids (`c` of an entry,
 * kept as this journal's when `j` is this journal, as another journal's
 * otherwise: foreign-ids.ts) are sets: entries read twice add the same
 * ids, and P carries all of S's ids, other journals' included.
 *
 * Leases lost while held (a connection that closed, a node lease timeout)
 * are redelivered to this restore after newer entries, which would break
 * that order: before re-publishing, the leases open on the topic
 * (`openLeases`) must still number those held, else the restore stops
 * unfinished (a retriable STATE_STORE_ERROR). Its next start applies all of
 * C again, in order, over what it holds: every key written by C ends with
 * C's last write, and the store started empty, so that is S.
 *
 * With a destructive fetch (GET, a stock node), entries are consumed on
 * read: a crash or a freeze before the re-publish loses what was read.
 */
export async function restoreInto(store: string, dir: string, fetch: ChangelogFetch, target: RestoreTarget, onProgress?: RestoreProgress,
  journal?: string, topic?: string, openLeases?: OpenLeases): Promise<RestoreReport> {
  const started = performance.now();
  await writeMarker(dir, 'fetching');
  let entries = 0;
  let applied = 0;
  let skipped = 0;
  let writeCount = 0;
  const held: LeasedChangelogBatch[] = [];
  for (;;) {
    let fetched: Awaited<ReturnType<ChangelogFetch>>;
    try {
      fetched = await fetch();
    } catch (error) {
      // The node's open leases per connection (4,096) are used up: acknowledge what is held, oldest first (that part is
      // then protected as before this change only), and go on. Only this refusal: after any other failure the leases must stay.
      if (!(error instanceof WalrusError && error.context?.leaseLimit === true) || held.length === 0) throw error;
      await acknowledge(held.splice(0));
      continue;
    }
    const batch = Array.isArray(fetched) ? fetched : fetched.entries;
    if (batch.length === 0) break;
    faultPoint('state.restore-fetched');
    const writes: WireWrites = [];
    // Ids of records this instance's journal may still hold unreleased (runtime-state.ts recover keeps only those).
    const ids: string[] = [];
    // Other journals' ids (a partition taken over): kept and re-published, so that journal, restoring later, still finds them.
    // Bounded here too, so a hostile changelog's batch cannot make a huge log frame.
    const foreign = new ForeignIds();
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
      if (decoded.applied === undefined) continue;
      if (journal !== undefined && decoded.applied.journal === journal) for (const id of decoded.applied.ids) ids.push(id);
      else foreign.add(decoded.applied.journal, decoded.applied.ids);
    }
    writeCount += writes.length;
    if (writes.length > 0 || ids.length > 0 || foreign.size > 0) await target.appendLocal(writes, ids, foreign.list());
    if (!Array.isArray(fetched)) {
      held.push(fetched);
      batch.length = 0;
    }
    onProgress?.(entries);
  }
  await checkHeld(store, topic, held, openLeases);
  await writeMarker(dir, 'republish');
  await target.finish();
  await acknowledge(held);
  await clearRestoreMarker(dir);
  return { entries, applied, writes: writeCount, skipped, keys: target.size(), durationMs: performance.now() - started };
}

/**
 * One at a time, oldest first, so what a freeze or a crash leaves
 * unacknowledged is a suffix of the changelog read (see restoreInto). A
 * failed ACK only means the node delivers that batch again (its lease died
 * with its connection): the next restore reads it before the re-publish.
 */
async function acknowledge(held: readonly LeasedChangelogBatch[]): Promise<void> {
  for (const lease of held) await lease.ack().catch(() => undefined);
}

/** Stops the restore, unfinished, when some of its leases were released while it held them (see restoreInto). */
async function checkHeld(store: string, topic: string | undefined, held: readonly LeasedChangelogBatch[], openLeases: OpenLeases | undefined): Promise<void> {
  const holding = held.filter((l) => l.leased !== false).length;
  if (holding === 0 || openLeases === undefined) return;
  const open = await openLeases();
  if (open === undefined || open >= holding) return;
  const where = topic === undefined ? 'its changelog' : `changelog topic ${topic}`;
  throw new WalrusError('STATE_STORE_ERROR', `store "${store}": ${holding - open} of the ${holding} leases this restore held on ${where} were released before it finished ` +
    '(a connection to the node closed, or the node\'s lease timeout is shorter than the restore): their entries may have been read again after newer ones. ' +
    'The restore stops here, unfinished, and the next start applies the whole changelog again in order. If the node runs with --lease-timeout, make it longer than a restore takes', {
    retriable: true, context: { store, ...(topic === undefined ? {} : { topic }), held: holding, open },
  });
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

import { WalrusError } from '../../errors/index.js';
import type { KeyValueStore, StagedChange } from '../../state/index.js';
import { faultPoint } from '../../util/fault-points.js';
import type { Ticket } from '../coordinator/ticket.js';

/** A staged change of one of an entry's records, with its processor's rank (distance from a source). */
export interface EntryChange { store: KeyValueStore; change: StagedChange; rank: number }

/** Called when an entry's changes were abandoned (it failed) or could not be committed. */
export type StateFailure = (ticket: Ticket, error: WalrusError) => void;

/**
 * Ties staged state changes to a journal entry's ticket: when the entry is
 * otherwise finished (every output acknowledged or dead-lettered), the
 * changes are committed first and only then is the entry released — the
 * order docs/state.md ("Why this order makes crashes safe") relies on.
 *
 * - Stores commit one after the other, those of processors furthest from the
 *   source first. A crash in between then leaves a record applied in a
 *   processor's stores only if it is applied downstream of it as well, so
 *   recovery may skip that processor (and with it everything after it).
 * - An entry that failed (an output or dead letter could not be written
 *   for good, or a record was cut short by a shutdown) commits nothing: its
 *   changes are abandoned — and the store refuses every later commit, since
 *   later records of the key were computed on top of them — and `onFailure`
 *   stops the pipeline. The entry stays in the journal, so the next start
 *   processes it again from the last committed state and nothing is lost.
 */
export function attachStaged(ticket: Ticket, staged: EntryChange, onFailure: StateFailure): void {
  const list = ticket.stateChanges as EntryChange[] | undefined;
  if (list) { list.push(staged); return; }
  ticket.stateChanges = [staged];
  ticket.beforeFinish = finisherFor(onFailure);
}

/** One finisher per failure handler (one per pipeline), shared by its tickets: no closure per entry. */
const finishers = new WeakMap<StateFailure, (failed: boolean, ticket: Ticket) => Promise<boolean>>();

function finisherFor(onFailure: StateFailure): (failed: boolean, ticket: Ticket) => Promise<boolean> {
  let finish = finishers.get(onFailure);
  if (finish === undefined) {
    finish = (failed, ticket) => commitEntry(ticket, failed, onFailure);
    finishers.set(onFailure, finish);
  }
  return finish;
}

/** Commits (or, for a failed entry, abandons) the entry's changes; resolves with whether the entry failed. */
function commitEntry(ticket: Ticket, failed: boolean, onFailure: StateFailure): Promise<boolean> {
  const changes = (ticket.stateChanges ?? []) as EntryChange[];
  ticket.stateChanges = undefined;
  if (failed) {
    const error = abandonedError(ticket);
    for (const { store, change } of changes) store.abandon(change, error);
    onFailure(ticket, error);
    return Promise.resolve(true);
  }
  const groups = commitOrder(changes);
  // The common case, one store: its commit and then the release, without an async function per entry.
  if (groups.length === 1) {
    return commitGroup(groups[0]!).then(committed, (cause: unknown) => notCommitted(ticket, cause, [], onFailure));
  }
  return commitGroups(ticket, groups, onFailure);
}

function committed(): boolean {
  faultPoint('state.committed');
  return false;
}

function commitGroup(group: EntryChange[]): Promise<void> {
  // commitAll may throw synchronously (a store closed meanwhile): a rejection all the same.
  try {
    return group[0]!.store.commitAll(group.map((c) => c.change));
  } catch (error) {
    return Promise.reject(error);
  }
}

async function commitGroups(ticket: Ticket, groups: EntryChange[][], onFailure: StateFailure): Promise<boolean> {
  for (let g = 0; g < groups.length; g++) {
    if (g > 0) faultPoint('state.between-stores');
    try {
      await commitGroup(groups[g]!);
    } catch (cause) {
      return notCommitted(ticket, cause, groups.slice(g + 1), onFailure);
    }
  }
  return committed();
}

/** Not committed: the entry must stay in the journal, and its changes not yet committed never will be. */
function notCommitted(ticket: Ticket, cause: unknown, rest: EntryChange[][], onFailure: StateFailure): boolean {
  const error = new WalrusError('STATE_STORE_ERROR', `state of journal entry ${ticket.seq} (source "${ticket.source}") could not be committed: ${(cause as Error)?.message ?? String(cause)}`, {
    cause, context: { seq: ticket.seq, source: ticket.source },
  });
  for (const group of rest) for (const { store, change } of group) store.abandon(change, error);
  onFailure(ticket, error);
  return true;
}

/** Changes grouped by store (partition), the groups in commit order: highest rank first, then by store name and partition. */
function commitOrder(changes: EntryChange[]): EntryChange[][] {
  const first = changes[0]!;
  let single = true;
  for (let i = 1; i < changes.length && single; i++) single = changes[i]!.store === first.store && changes[i]!.rank === first.rank;
  if (single) return [changes];
  const groups = new Map<string, EntryChange[]>();
  for (const c of changes) {
    // The partition too: two partitions of one store are two stores (files, commit writer, changelog).
    const key = `${String(1e6 - c.rank).padStart(7, '0')}\u0000${c.store.name}\u0000${c.store.partition ?? ''}`;
    const group = groups.get(key);
    if (group) group.push(c);
    else groups.set(key, [c]);
  }
  return [...groups.keys()].sort().map((k) => groups.get(k)!);
}

function abandonedError(ticket: Ticket): WalrusError {
  const failure = ticket.failure as { message?: unknown; code?: unknown } | undefined;
  const reason = failure === undefined || failure === null ? 'a unit of it failed'
    : typeof failure === 'object' && typeof failure.message === 'string' ? `${typeof failure.code === 'string' ? `${failure.code}: ` : ''}${failure.message}` : String(failure);
  return new WalrusError('STATE_STORE_ERROR',
    `an output of journal entry ${ticket.seq} (source "${ticket.source}") could not be written (${reason}); ` +
    'its state changes are not committed and the entry stays in the journal: stopping, so that the next start processes it again from the last committed state', {
      cause: ticket.failure, context: { seq: ticket.seq, source: ticket.source },
    });
}

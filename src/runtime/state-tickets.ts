import type { KeyValueStore, StagedChange } from '../state/index.js';
import type { Ticket } from './ticket.js';

const pending = new WeakMap<Ticket, Array<{ store: KeyValueStore; change: StagedChange }>>();

/**
 * Ties staged state changes to a journal entry's ticket: when the entry is
 * otherwise finished (every output acknowledged or dead-lettered), the
 * changes are committed first and only then is the entry released — the
 * order docs/state.md ("Why this order makes crashes safe") relies on.
 */
export function attachStaged(ticket: Ticket, staged: Array<{ store: KeyValueStore; change: StagedChange }>): void {
  const list = pending.get(ticket);
  if (list) { list.push(...staged); return; }
  pending.set(ticket, [...staged]);
  ticket.beforeFinish = async (failed) => {
    const changes = pending.get(ticket) ?? [];
    pending.delete(ticket);
    // A failed entry (a sink write failed for good) stays in the journal, yet
    // its change is committed all the same: later records of the key were
    // computed on top of it and their commits wait for it. On the next start
    // the record then counts as applied and is released unprocessed, so the
    // output whose write failed is not produced again (docs/state.md).
    try {
      await Promise.all(changes.map(({ store, change }) => store.commit(change)));
      return failed;
    } catch {
      // Not committed: the entry must stay in the journal.
      return true;
    }
  };
}

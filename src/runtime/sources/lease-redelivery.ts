import { createHash } from 'node:crypto';

/**
 * Drops the node's redelivery of entries the journal already holds.
 *
 * Why: a fetched lease is acknowledged only after the journal has its
 * entries. A crash between the journal write and the node receiving the ACK
 * leaves the entries in both places: the journal recovers them, and the node
 * releases the dead connection's lease and delivers them again — *first*,
 * before any newer entry (docs/broker.md, "Leases"). Processing both copies
 * is a duplicate for a stateless processor, and a double-applied update for
 * a stateful one (its applied-ids are keyed by journal sequence, which the
 * second copy does not share).
 *
 * So after recovery, the leading entries of each source's first fetches are
 * matched, byte for byte, against the recovered entries (as a multiset: one
 * recovered entry cancels at most one fetched copy). Matching stops for good
 * at the first entry that matches nothing, since redeliveries come first —
 * first *in their topic*: a partitioned source reads its partition topics in
 * turn, so matching stops per topic (the batch's `topic`), and a partition
 * whose new entries came first does not end it for the copies still to come
 * from another (before, they were processed again: a kill -9 there counted
 * the other partitions' records twice). The one case this can get wrong: the ACK did reach the node, and the very next
 * new entry is byte-identical to a recovered one — impossible for envelope
 * entries (random record ids), possible only for repeated plain-text lines.
 */
export class RedeliveryFilter {
  /** Per source: the recovered entries not matched yet (digest → copies), and the topics whose redelivery is over. */
  readonly #pending = new Map<string, { bag: Map<string, number>; done: Set<string> }>();
  readonly #lost = new Map<string, LostCopies>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /**
   * Remembers the entries of a lease whose ACK failed mid-run (the node died,
   * or the connection did, before the ACK arrived): the node hands them out
   * again once it notices the connection closed — at once for a reset, at its
   * idle timeout for a link that went silent — so a fetch answered meanwhile
   * may come first. Unlike recovered entries they are therefore matched at the
   * head of every fetched batch until matched, for LOST_ACK_WINDOW_MS. The
   * same caveat applies: when the ACK did reach the node, a new plain-text
   * entry identical to one of them and leading a batch is dropped.
   */
  addLost(source: string, entries: Buffer[]): void {
    let lost = this.#lost.get(source);
    if (!lost) this.#lost.set(source, (lost = { byKey: new Map(), order: [] }));
    const until = this.#now() + LOST_ACK_WINDOW_MS;
    for (const entry of entries) {
      const key = entryKey(entry);
      const times = lost.byKey.get(key);
      if (times) times.push(until);
      else lost.byKey.set(key, [until]);
      lost.order.push({ key, until });
    }
    // Past the bound the oldest are forgotten: a copy of one that comes back is processed again (at-least-once).
    const over = lost.order.length - MAX_LOST_COPIES;
    if (over > 0) {
      for (const { key } of lost.order.splice(0, over)) {
        const times = lost.byKey.get(key);
        if (times && times.shift() !== undefined && times.length === 0) lost.byKey.delete(key);
      }
    }
  }

  /** Remembers a recovered (journaled, unreleased) entry of `source`. */
  add(source: string, entry: Buffer): void {
    let pending = this.#pending.get(source);
    if (!pending) this.#pending.set(source, (pending = { bag: new Map(), done: new Set() }));
    const { bag } = pending;
    const key = entryKey(entry);
    bag.set(key, (bag.get(key) ?? 0) + 1);
  }

  /**
   * Returns `entries` without the leading redelivered copies, and how many
   * were dropped. `topic`: the partition topic the batch was read from, for a
   * source that reads several.
   */
  filter(source: string, entries: Buffer[], topic?: string): { entries: Buffer[]; dropped: number } {
    const recovered = this.#filterRecovered(source, entries, topic);
    const lost = this.#lost.get(source);
    if (!lost) return recovered;
    const now = this.#now();
    let expired = 0;
    for (; expired < lost.order.length && lost.order[expired]!.until <= now; expired++) {
      const { key } = lost.order[expired]!;
      const times = lost.byKey.get(key);
      // Matching already took the oldest copies: only a copy still expired here is dropped.
      if (times && times[0]! <= now && times.shift() !== undefined && times.length === 0) lost.byKey.delete(key);
    }
    lost.order.splice(0, expired);
    let i = 0;
    for (const rest = recovered.entries; i < rest.length; i++) {
      const key = entryKey(rest[i]!);
      const times = lost.byKey.get(key);
      if (times === undefined) break;
      times.shift();
      if (times.length === 0) lost.byKey.delete(key);
    }
    if (lost.byKey.size === 0) this.#lost.delete(source);
    return i === 0 ? recovered : { entries: recovered.entries.slice(i), dropped: recovered.dropped + i };
  }

  #filterRecovered(source: string, entries: Buffer[], topic: string | undefined): { entries: Buffer[]; dropped: number } {
    const pending = this.#pending.get(source);
    if (!pending || (topic !== undefined && pending.done.has(topic))) return { entries, dropped: 0 };
    const { bag } = pending;
    let i = 0;
    for (; i < entries.length; i++) {
      const key = entryKey(entries[i]!);
      const left = bag.get(key);
      if (left === undefined) break;
      if (left === 1) bag.delete(key);
      else bag.set(key, left - 1);
    }
    // A fetched entry that matched nothing: redelivery is over in its topic (in the source, for one read as one topic).
    if (i < entries.length) {
      if (topic === undefined) this.#pending.delete(source);
      else pending.done.add(topic);
    }
    // Nothing left to match: over everywhere.
    if (bag.size === 0) this.#pending.delete(source);
    return i === 0 ? { entries, dropped: 0 } : { entries: entries.slice(i), dropped: i };
  }
}

/**
 * How long the entries of a lease whose ACK failed are watched for: twice
 * the embedded node's default idle timeout (5 min), after which it has
 * closed a silent connection and released its leases.
 */
export const LOST_ACK_WINDOW_MS = 10 * 60_000;

/**
 * Most copies of failed ACKs remembered per source. Against a node whose
 * ACKs keep failing, every lease would otherwise be kept for
 * LOST_ACK_WINDOW_MS — ten minutes of input. Beyond it the oldest are
 * forgotten (a redelivered copy of one is then processed again).
 */
export const MAX_LOST_COPIES = 100_000;

/**
 * An entry as the filter remembers it: its SHA-256 digest, not its bytes
 * (an entry may hold 64 KiB; a digest is 43 characters). Two entries are
 * taken as copies when their digests are equal.
 */
function entryKey(entry: Buffer): string {
  return createHash('sha256').update(entry).digest('base64url');
}

/** Per source: the lost entries' expiry times by content digest (oldest first), and every one in the order added. */
interface LostCopies {
  byKey: Map<string, number[]>;
  order: Array<{ key: string; until: number }>;
}

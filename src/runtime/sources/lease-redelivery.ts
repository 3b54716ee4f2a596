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
 * at the first entry that matches nothing, since redeliveries come first. The
 * one case this can get wrong: the ACK did reach the node, and the very next
 * new entry is byte-identical to a recovered one — impossible for envelope
 * entries (random record ids), possible only for repeated plain-text lines.
 */
export class RedeliveryFilter {
  readonly #pending = new Map<string, Map<string, number>>();

  /** Remembers a recovered (journaled, unreleased) entry of `source`. */
  add(source: string, entry: Buffer): void {
    let bag = this.#pending.get(source);
    if (!bag) this.#pending.set(source, (bag = new Map()));
    const key = entry.toString('latin1');
    bag.set(key, (bag.get(key) ?? 0) + 1);
  }

  /** Returns `entries` without the leading redelivered copies, and how many were dropped. */
  filter(source: string, entries: Buffer[]): { entries: Buffer[]; dropped: number } {
    const bag = this.#pending.get(source);
    if (!bag) return { entries, dropped: 0 };
    let i = 0;
    for (; i < entries.length; i++) {
      const key = entries[i]!.toString('latin1');
      const left = bag.get(key);
      if (left === undefined) break;
      if (left === 1) bag.delete(key);
      else bag.set(key, left - 1);
    }
    // A fetched entry that matched nothing (or nothing left to match): redelivery is over.
    if (i < entries.length || bag.size === 0) this.#pending.delete(source);
    return i === 0 ? { entries, dropped: 0 } : { entries: entries.slice(i), dropped: i };
  }
}

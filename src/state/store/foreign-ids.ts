/**
 * Applied record ids of other journals than the store's own, by journal, as
 * a restore found them in the changelog (entries whose `j` is another
 * instance's journal: a partition taken over from it). They name records of
 * that journal, not of ours, so they never make this instance skip a
 * record; the store keeps them (snapshot, log) and re-publishes them tagged
 * with their journal whenever it re-publishes its whole state. Otherwise a
 * takeover's re-publish would drop them, and the former owner, started
 * again on its own stateDir and restoring from that changelog, would apply
 * the records its journal still holds committed but unreleased a second
 * time (docs/state.md, "Changelog topic and restore").
 *
 * Bounded, since a changelog may hold anything: at most MAX_FOREIGN_IDS ids
 * of MAX_FOREIGN_CHARS characters in all, and MAX_FOREIGN_JOURNALS journals.
 * The journal that gained ids least recently goes first: a whole journal
 * beyond the journal bound, else its oldest ids beyond the other bounds.
 * The newest are the ones that matter: a journal's unreleased records are
 * the last ones it committed. Journal names and ids longer than any we make
 * are not kept (each must fit in a changelog entry when re-published).
 */
export const MAX_FOREIGN_IDS = 65_536;
/** Characters of the ids kept, over all journals (65,536 ids of the longest kept would be 64 MiB per store partition). */
export const MAX_FOREIGN_CHARS = 4 * 1024 * 1024;
export const MAX_FOREIGN_JOURNALS = 64;
/** Longest journal identity kept (ours are 16 hex digits: repartition-origin.ts journalIdentity). */
export const MAX_FOREIGN_JOURNAL_CHARS = 128;
/** Longest record id kept (ours are `<seq>:<index>`, plus `/<position>` per derived step and `>processor`). */
export const MAX_FOREIGN_ID_CHARS = 1_024;

/** Ids per journal, oldest journal and oldest id first: what snapshots, log frames and re-publishes carry. */
export type ForeignIdList = Array<[journal: string, ids: string[]]>;

export class ForeignIds {
  /** Journal → its ids in the order added; journals in the order they last gained ids. */
  readonly #byJournal = new Map<string, Set<string>>();
  #size = 0;
  #chars = 0;

  /** Ids kept, over all journals. */
  get size(): number { return this.#size; }

  /** Number of journals with ids kept. */
  get journals(): number { return this.#byJournal.size; }

  /** Adds `ids` of `journal` as the newest (an id already kept moves to the newest end), then forgets the oldest beyond the bounds. */
  add(journal: string, ids: Iterable<string>): void {
    if (typeof journal !== 'string' || journal.length === 0 || journal.length > MAX_FOREIGN_JOURNAL_CHARS) return;
    let set = this.#byJournal.get(journal);
    if (set !== undefined) this.#byJournal.delete(journal);
    set ??= new Set();
    this.#byJournal.set(journal, set);
    for (const id of ids) {
      if (typeof id !== 'string' || id.length > MAX_FOREIGN_ID_CHARS) continue;
      if (set.delete(id)) { this.#size -= 1; this.#chars -= id.length; }
      set.add(id);
      this.#size += 1;
      this.#chars += id.length;
      while (this.#size > MAX_FOREIGN_IDS || this.#chars > MAX_FOREIGN_CHARS) this.#forgetOldest();
    }
    if (set.size === 0) this.#byJournal.delete(journal);
    while (this.#byJournal.size > MAX_FOREIGN_JOURNALS) {
      const [oldest, ids] = this.#byJournal.entries().next().value as [string, Set<string>];
      this.#byJournal.delete(oldest);
      this.#size -= ids.size;
      for (const id of ids) this.#chars -= id.length;
    }
  }

  /** Characters of the ids kept, over all journals. */
  get chars(): number { return this.#chars; }

  /** Adds every journal's ids of `list` in order. */
  addAll(list: Iterable<readonly [string, Iterable<string>]>): void {
    for (const [journal, ids] of list) this.add(journal, ids);
  }

  /** True when `id` of `journal` is kept. */
  has(journal: string, id: string): boolean {
    return this.#byJournal.get(journal)?.has(id) ?? false;
  }

  list(): ForeignIdList {
    return [...this.#byJournal].map(([journal, ids]) => [journal, [...ids]]);
  }

  #forgetOldest(): void {
    const [journal, ids] = this.#byJournal.entries().next().value as [string, Set<string>];
    const oldest = ids.values().next().value as string;
    ids.delete(oldest);
    this.#size -= 1;
    this.#chars -= oldest.length;
    if (ids.size === 0) this.#byJournal.delete(journal);
  }
}

/** Checks a foreign id list read from a store file (snapshot or log frame): undefined when it is not one. */
export function readForeignList(value: unknown): ForeignIdList | undefined {
  if (!Array.isArray(value)) return undefined;
  for (const item of value) {
    if (!Array.isArray(item) || item.length !== 2 || typeof item[0] !== 'string' || !Array.isArray(item[1])) return undefined;
    if (!(item[1] as unknown[]).every((id) => typeof id === 'string')) return undefined;
  }
  return value as ForeignIdList;
}

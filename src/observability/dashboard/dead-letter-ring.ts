/** The fields of a dead-letter entry the ring reads (the runtime's `parseDeadLetter` gives them). */
export interface ParsedDeadLetter {
  processor: string;
  error: { code: string; message: string };
  attempts: number;
  recordId: string;
  sourceTopic: string;
  key?: string;
  firstFailureAt: string;
  lastFailureAt: string;
  /** The original entry, decoded. */
  original: string;
}

/** Options of {@link DeadLetterRing}. */
export interface DeadLetterRingOptions {
  /** Parses a dead-letter entry (the runtime passes `parseDeadLetter`); may throw. */
  parse: (entry: string) => ParsedDeadLetter;
  /** Most dead letters kept; the oldest go first. @default 1000 */
  capacity?: number;
  /**
   * Most characters kept over all of them (each counts its entry and its
   * original); the oldest go first, the newest is always kept. @default 16 MiB worth (16,777,216)
   */
  maxChars?: number;
  now?: () => number;
}

/** A dead letter the run wrote, as the dashboard lists it. */
export interface RecentDeadLetter {
  /** Position in this run (1, 2, ...): what the page selects for replay. */
  id: number;
  /** When it was written (epoch ms). */
  at: number;
  /** The dead-letter topic it was written to. */
  topic: string;
  processor: string;
  code: string;
  message: string;
  attempts: number;
  recordId: string;
  sourceTopic: string;
  key?: string;
  firstFailureAt: string;
  lastFailureAt: string;
  /** The original entry: as text, or as hex when it holds control characters. */
  original: string;
  originalEncoding: 'text' | 'hex';
  /** Times it was replayed from the dashboard in this run. */
  replays: number;
}

/** What the coordinator hands over once a dead letter is written. */
export interface WrittenDeadLetter { processor: string; topic: string; entry: string }

/** Per processor and error code: how many, and the latest reason. */
export interface DeadLetterTally {
  processor: string;
  code: string;
  count: number;
  latest: string;
}

/**
 * Distinct (processor, code) pairs tallied: a processor may throw a new code
 * per record (10^5 codes made 10^5 tallies, each sorted at every redraw of
 * the live view). Past it a processor's new codes are tallied under
 * {@link OTHER_CODES}.
 */
export const MAX_TALLIES = 256;
export const OTHER_CODES = '(other codes)';

// Control characters other than tab, newline and carriage return make text unreadable: show hex then.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/**
 * The most recent dead letters of the run, kept in memory (a bounded ring:
 * the oldest go first), so the dashboard can show them without reading the
 * dead-letter topic (a Walrus read would remove them). The entries
 * themselves stay on the dead-letter topic.
 */
export class DeadLetterRing {
  readonly capacity: number;
  readonly maxChars: number;
  readonly #items: Array<{ view: RecentDeadLetter; entry: string }> = [];
  #chars = 0;
  readonly #tallies = new Map<string, DeadLetterTally>();
  readonly #listeners = new Set<(view: RecentDeadLetter) => void>();
  #next = 1;
  #total = 0;
  readonly #now: () => number;
  readonly #parse: (entry: string) => ParsedDeadLetter;

  constructor(options: DeadLetterRingOptions) {
    const capacity = options.capacity ?? 1_000;
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`dead-letter ring capacity must be a positive integer (got ${capacity})`);
    this.capacity = capacity;
    const maxChars = options.maxChars ?? 16 * 1024 * 1024;
    if (!Number.isInteger(maxChars) || maxChars < 1) throw new RangeError(`dead-letter ring maxChars must be a positive integer (got ${maxChars})`);
    this.maxChars = maxChars;
    this.#now = options.now ?? Date.now;
    this.#parse = options.parse;
  }

  /** Characters the dead letters held now keep (their entries and originals): at most `maxChars` but for the newest. */
  get heldChars(): number {
    return this.#chars;
  }

  /** Dead letters seen in this run (including those the ring no longer holds). */
  get total(): number {
    return this.#total;
  }

  /** Keeps one written dead letter. Never throws: an entry that does not parse is kept with code `UNKNOWN`. */
  add(written: WrittenDeadLetter): RecentDeadLetter {
    const view = toView(this.#next++, this.#now(), written, this.#parse);
    this.#total += 1;
    this.#items.push({ view, entry: written.entry });
    this.#chars += charsOf(view, written.entry);
    while (this.#items.length > this.capacity || (this.#chars > this.maxChars && this.#items.length > 1)) {
      const oldest = this.#items.shift()!;
      this.#chars -= charsOf(oldest.view, oldest.entry);
    }
    let tallyKey = `${view.processor}\u0000${view.code}`;
    let code = view.code;
    if (!this.#tallies.has(tallyKey) && this.#tallies.size >= MAX_TALLIES) { code = OTHER_CODES; tallyKey = `${view.processor}\u0000${code}`; }
    const tally = this.#tallies.get(tallyKey) ?? { processor: view.processor, code, count: 0, latest: '' };
    tally.count += 1;
    tally.latest = code === view.code ? view.message : `${view.code}: ${view.message}`;
    this.#tallies.set(tallyKey, tally);
    // The coordinator calls this once a dead letter is written: a failing listener must not
    // fail that record's completion.
    for (const listener of this.#listeners) {
      try { listener(view); } catch { /* the dashboard's stream: nothing to undo */ }
    }
    return view;
  }

  /** Newest first; optionally only one processor's or one code's, at most `limit`. */
  list(filter: { processor?: string; code?: string; limit?: number } = {}): RecentDeadLetter[] {
    const out: RecentDeadLetter[] = [];
    const limit = filter.limit ?? this.capacity;
    for (let i = this.#items.length - 1; i >= 0 && out.length < limit; i--) {
      const { view } = this.#items[i]!;
      if (filter.processor !== undefined && view.processor !== filter.processor) continue;
      if (filter.code !== undefined && view.code !== filter.code) continue;
      out.push(view);
    }
    return out;
  }

  /** The dead-letter entries (as written) of these ids; ids no longer held are reported as missing. */
  entries(ids: readonly number[]): { found: Array<{ id: number; entry: string }>; missing: number[] } {
    const byId = new Map(this.#items.map((item) => [item.view.id, item]));
    const found: Array<{ id: number; entry: string }> = [];
    const missing: number[] = [];
    for (const id of ids) {
      const item = byId.get(id);
      if (item) found.push({ id, entry: item.entry });
      else missing.push(id);
    }
    return { found, missing };
  }

  /** Counts one replay of each id (shown on the page). */
  markReplayed(ids: readonly number[]): void {
    const wanted = new Set(ids);
    for (const { view } of this.#items) if (wanted.has(view.id)) view.replays += 1;
  }

  /** Counts by processor and error code, with the latest reason, largest first. */
  tallies(): DeadLetterTally[] {
    return [...this.#tallies.values()].sort((a, b) => b.count - a.count);
  }

  /** Calls `listener` with every dead letter added from now on; returns the remover. */
  onAdd(listener: (view: RecentDeadLetter) => void): () => void {
    this.#listeners.add(listener);
    return () => { this.#listeners.delete(listener); };
  }
}

function charsOf(view: RecentDeadLetter, entry: string): number {
  return entry.length + view.original.length;
}

function toView(id: number, at: number, written: WrittenDeadLetter, parse: (entry: string) => ParsedDeadLetter): RecentDeadLetter {
  try {
    const dl = parse(written.entry);
    const readable = !CONTROL.test(dl.original);
    return {
      id, at, topic: written.topic, processor: dl.processor, code: dl.error.code, message: dl.error.message, attempts: dl.attempts,
      recordId: dl.recordId, sourceTopic: dl.sourceTopic, ...(dl.key === undefined ? {} : { key: dl.key }),
      firstFailureAt: dl.firstFailureAt, lastFailureAt: dl.lastFailureAt,
      original: readable ? dl.original : Buffer.from(dl.original, 'utf8').toString('hex'), originalEncoding: readable ? 'text' : 'hex', replays: 0,
    };
  } catch (error) {
    const iso = new Date(at).toISOString();
    return {
      id, at, topic: written.topic, processor: written.processor, code: 'UNKNOWN', message: `dead letter does not parse: ${(error as Error).message}`,
      attempts: 0, recordId: '', sourceTopic: '', firstFailureAt: iso, lastFailureAt: iso, original: written.entry, originalEncoding: 'text', replays: 0,
    };
  }
}

import { WalrusError } from '../../errors/index.js';
import { pack, unpack } from '../model/codec.js';
import type { WireWrites } from '../model/change-set.js';

/**
 * Changelog entries: `wsc1:` + base64(msgpack({n: store, s: seq, w: writes,
 * j?: journal, c?: ids})).
 *
 * Why base64: Walrus entries are UTF-8 text and the server trims trailing
 * whitespace (docs/architecture.md, "The Walrus protocol in brief"), so binary msgpack must be made text-safe; base64
 * never ends in whitespace. The prefix lets restore skip entries that are
 * not ours instead of failing on them.
 */
export const CHANGELOG_PREFIX = 'wsc1:';
/** Largest entry we produce: leaves room for `PUT <topic> ` inside a 65,536-byte frame and for BATCH_PUT list framing. */
export const MAX_CHANGELOG_ENTRY_CHARS = 48_000;

interface ChangelogBody {
  n: string;
  s: number;
  w: Array<[string, Uint8Array | null]>;
  /** The journal whose records the commit covers (its id: repartition-origin.ts journalIdentity). */
  j?: string;
  /** Ids of the records the commit covers (`<journal seq>:...`), on the commit's last entry. */
  c?: string[];
}

/**
 * Which records a commit applied, carried in its changelog entries: a store
 * restored from its changelog then knows them, so the journal's unreleased
 * records it already holds are not applied a second time (the ids are kept
 * only where `journal` is the restoring instance's own).
 */
export interface AppliedRecords {
  journal: string;
  ids: string[];
}

/** The changelog topic of a store: `<app>-<store>-changelog`. */
export function changelogTopic(app: string, store: string): string {
  return `${app}-${store}-changelog`;
}

/**
 * Encodes one commit's writes as one or more entries (split so each fits a
 * frame; each part applies on its own); `applied` goes with the last part,
 * or in entries of its own when the ids would not fit beside the writes.
 */
export function encodeChangelogEntries(store: string, seq: number, writes: WireWrites, applied?: AppliedRecords): string[] {
  const entries: string[] = [];
  let part: WireWrites = [];
  let ids: string[] = [];
  let estimate = 0;
  const flush = (): void => {
    if (part.length === 0 && ids.length === 0) return;
    const body: ChangelogBody = ids.length === 0 ? { n: store, s: seq, w: part } : { n: store, s: seq, w: part, j: applied!.journal, c: ids };
    entries.push(CHANGELOG_PREFIX + Buffer.from(pack(body)).toString('base64'));
    part = [];
    ids = [];
    estimate = 0;
  };
  for (const write of writes) {
    // msgpack overhead per pair is at most ~12 bytes; base64 grows bytes by 4/3.
    const cost = Math.ceil(((write[0].length * 3) + (write[1]?.length ?? 1) + 12) * 4 / 3);
    if (estimate + cost > MAX_CHANGELOG_ENTRY_CHARS - 200) flush();
    part.push(write);
    estimate += cost;
  }
  for (const id of applied?.ids ?? []) {
    const cost = Math.ceil((id.length * 3 + 8) * 4 / 3);
    if (estimate + cost > MAX_CHANGELOG_ENTRY_CHARS - 200 - applied!.journal.length * 2) flush();
    ids.push(id);
    estimate += cost;
  }
  flush();
  for (const entry of entries) {
    if (entry.length > MAX_CHANGELOG_ENTRY_CHARS) {
      throw new WalrusError('STATE_STORE_ERROR', `store "${store}": a changelog entry is ${entry.length} characters, above ${MAX_CHANGELOG_ENTRY_CHARS}; reduce key or value sizes`, {
        context: { store, size: entry.length, limit: MAX_CHANGELOG_ENTRY_CHARS },
      });
    }
  }
  return entries;
}

export interface DecodedChangelogEntry {
  store: string;
  seq: number;
  writes: WireWrites;
  /** The records the commit applied, when its store published them. */
  applied?: AppliedRecords;
}

/** Decodes an entry; undefined when it is not a changelog entry of ours (restore counts and skips those). */
export function decodeChangelogEntry(entry: Buffer | string): DecodedChangelogEntry | undefined {
  const text = typeof entry === 'string' ? entry : entry.toString('utf8');
  if (!text.startsWith(CHANGELOG_PREFIX)) return undefined;
  try {
    const body = unpack<ChangelogBody>(Buffer.from(text.slice(CHANGELOG_PREFIX.length), 'base64'));
    if (typeof body?.n !== 'string' || typeof body.s !== 'number' || !Array.isArray(body.w)) return undefined;
    for (const w of body.w) {
      // An empty key is none a store can hold (nor write: its log and snapshot refuse one on open).
      if (!Array.isArray(w) || typeof w[0] !== 'string' || w[0] === '' || !(w[1] === null || w[1] instanceof Uint8Array)) return undefined;
    }
    const applied = typeof body.j === 'string' && Array.isArray(body.c) && body.c.every((id) => typeof id === 'string') ? { journal: body.j, ids: body.c } : undefined;
    return applied ? { store: body.n, seq: body.s, writes: body.w, applied } : { store: body.n, seq: body.s, writes: body.w };
  } catch {
    return undefined;
  }
}

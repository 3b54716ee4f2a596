import { WalrusError } from '../../errors/index.js';
import { pack, unpack } from '../model/codec.js';
import type { WireWrites } from '../model/change-set.js';

/**
 * Changelog entries: `wsc1:` + base64(msgpack({n: store, s: seq, w: writes})).
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
}

/** The changelog topic of a store: `<app>-<store>-changelog`. */
export function changelogTopic(app: string, store: string): string {
  return `${app}-${store}-changelog`;
}

/** Encodes one commit's writes as one or more entries (split so each fits a frame; each part applies on its own). */
export function encodeChangelogEntries(store: string, seq: number, writes: WireWrites): string[] {
  const entries: string[] = [];
  let part: WireWrites = [];
  let estimate = 0;
  const flush = (): void => {
    if (part.length === 0) return;
    entries.push(CHANGELOG_PREFIX + Buffer.from(pack({ n: store, s: seq, w: part } satisfies ChangelogBody)).toString('base64'));
    part = [];
    estimate = 0;
  };
  for (const write of writes) {
    // msgpack overhead per pair is at most ~12 bytes; base64 grows bytes by 4/3.
    const cost = Math.ceil(((write[0].length * 3) + (write[1]?.length ?? 1) + 12) * 4 / 3);
    if (estimate + cost > MAX_CHANGELOG_ENTRY_CHARS - 200) flush();
    part.push(write);
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
}

/** Decodes an entry; undefined when it is not a changelog entry of ours (restore counts and skips those). */
export function decodeChangelogEntry(entry: Buffer | string): DecodedChangelogEntry | undefined {
  const text = typeof entry === 'string' ? entry : entry.toString('utf8');
  if (!text.startsWith(CHANGELOG_PREFIX)) return undefined;
  try {
    const body = unpack<ChangelogBody>(Buffer.from(text.slice(CHANGELOG_PREFIX.length), 'base64'));
    if (typeof body?.n !== 'string' || typeof body.s !== 'number' || !Array.isArray(body.w)) return undefined;
    for (const w of body.w) {
      if (!Array.isArray(w) || typeof w[0] !== 'string' || !(w[1] === null || w[1] instanceof Uint8Array)) return undefined;
    }
    return { store: body.n, seq: body.s, writes: body.w };
  } catch {
    return undefined;
  }
}

import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { HEADERS } from '../../codec/headers.js';
import type { JournalLike } from '../pipeline/pipeline-io.js';
import { appendAll } from '../../util/append.js';
import { replaceFile } from '../../util/replace-file.js';
import { keptId } from '../../journal/index.js';

/**
 * Exactly-once state application across a repartition topic
 * (docs/scaling.md, "Repartition topics").
 *
 * Downstream of a repartition, a store's exactly-once rests on the reading
 * instance's own journal seqs (docs/state.md): a record it journaled is
 * applied once, whatever crashes. What that cannot see is the *writer*
 * re-sending a record: the upstream instance wrote a record to the
 * repartition topic, the write was acknowledged, and it crashed before
 * releasing its source entry — its restart processes that entry again and
 * writes the record a second time, which arrives as a new entry.
 *
 * So every record written to a repartition topic carries its origin in the
 * `walrus-origin` header: `<writer> <seq> <low>` — the writing instance
 * (an id made once per journal), the journal seq of the source entry it
 * came from, and the writer's low watermark: the lowest seq it has not
 * durably released. A writer re-sends only records of unreleased entries,
 * so a copy of a record with seq `s` is always written before any record
 * carrying `low > s`. The reader keeps the (origin seq, record id) pairs it
 * admitted per (writer, partition) and drops a record whose pair it admitted before;
 * a partition is read in order, so once a record with `low = L` arrives,
 * ids of seqs below L can be forgotten. The ids are persisted next to the
 * journal before the journal entry that carried them is released (after
 * that, the journal no longer has them), so the memory survives a restart.
 */

/** The header carrying a repartition record's origin. Internal: stripped when the record is read back. */
export const ORIGIN_HEADER = HEADERS.ORIGIN;

const SEEN_FILE = 'repartition-seen.log';
const WRITER_FILE = 'repartition-writer';
const WRITER_ID = /^[0-9a-f]{16}$/;

interface Origin { writer: string; seq: number; low: number }

/**
 * Ids remembered over every (writer, partition) stream, and streams. A
 * writer that stops (an instance removed, a journal wiped) leaves its last
 * ids behind, and any client can write records with origins of writers that
 * never existed: each was remembered, persisted and reloaded for good. Past
 * either bound the stream used longest ago is forgotten whole (a warning the
 * first time, then counted in `forgottenIds`): a copy of one of its records
 * re-sent later would be applied again (at-least-once on that path only).
 */
export const MAX_ADMITTED_IDS = 200_000;
export const MAX_ORIGIN_STREAMS = 4_096;

export function parseOrigin(text: string | undefined): Origin | undefined {
  if (text === undefined) return undefined;
  const parts = text.split(' ');
  if (parts.length !== 3) return undefined;
  const seq = Number(parts[1]);
  const low = Number(parts[2]);
  // A writer is a journal identity (16 hex digits, journalIdentity below); anything else is no origin.
  if (!WRITER_ID.test(parts[0]!) || !Number.isSafeInteger(seq) || !Number.isSafeInteger(low)) return undefined;
  return { writer: parts[0]!, seq, low };
}

/**
 * What one (writer, partition) stream has been admitted: `<origin seq> <record id>` → [origin seq, local journal
 * seq]. The origin seq is part of the key: records of two source entries are never copies of each other, even
 * where their ids are equal (two plain-text lines with the same bytes get the same id); a re-send comes from
 * the same entry, under the same seq.
 */
interface Stream { low: number; ids: Map<string, [number, number]>; swept: number }

const admittedKey = (seq: number, id: string): string => `${seq} ${id}`;

/**
 * Both sides of a repartition for one instance: it stamps the origin on
 * records of sources that feed a repartition (as a writer) and drops
 * re-sent records read from repartition topics (as a reader). Without a
 * journal there are no seqs to speak of: nothing is stamped, and a re-sent
 * record is applied again (at-least-once, like everything without a journal).
 */
export class RepartitionOrigins {
  readonly writer: string | undefined;
  readonly #dir: string | undefined;
  /** Live seqs of this instance's journal, ascending, and those released (popped from the front). */
  readonly #live: number[] = [];
  readonly #released = new Set<number>();
  #next = 1;
  /** In order of last use: the first is the one used longest ago. */
  readonly #streams = new Map<string, Stream>();
  #lastUsed: string | undefined;
  #ids = 0;
  #forgotten = 0;
  #warned = false;
  readonly #logger: Logger | undefined;
  /** Lines to persist before the journal entry (by local seq) is released. */
  readonly #pending = new Map<number, string[]>();
  #fileLines = 0;
  #writing: Promise<void> = Promise.resolve();

  private constructor(writer: string | undefined, dir: string | undefined, logger?: Logger) {
    this.writer = writer;
    this.#dir = dir;
    this.#logger = logger;
  }

  /** Ids remembered now (at most {@link MAX_ADMITTED_IDS}), and ids forgotten to keep within the bounds. */
  get admittedIds(): number {
    return this.#ids;
  }

  get forgottenIds(): number {
    return this.#forgotten;
  }

  /**
   * Opens the origin bookkeeping kept in `journalDir` (its writer id and the
   * ids admitted from repartition topics), or an in-memory one without a journal.
   */
  static async open(journalDir: string | undefined, journal: JournalLike | undefined, logger?: Logger): Promise<RepartitionOrigins> {
    if (journalDir === undefined || journal === undefined) return new RepartitionOrigins(undefined, undefined, logger);
    const origins = new RepartitionOrigins(await journalIdentity(journalDir), journalDir, logger);
    for (const { seq } of journal.unreleased()) origins.#live.push(seq);
    origins.#live.sort((a, b) => a - b);
    await origins.#load();
    return origins;
  }

  /** The header value for a record of source entry `seq` (undefined without a journal seq). */
  stamp(seq: number): string | undefined {
    if (this.writer === undefined || seq < 0) return undefined;
    return `${this.writer} ${seq} ${this.#low()}`;
  }

  /**
   * True when the record `id` read from repartition partition `stream` is a
   * copy of one admitted before (drop it). `local` is the journal seq that
   * carries it here; `recovered`: admitted again from this journal after a
   * restart — the same entry is not its own duplicate.
   */
  duplicate(stream: string, origin: Origin, recordId: string, local: number, recovered: boolean): boolean {
    // Remembered (and persisted) as a digest when long: a record id is any string its producer chose.
    const id = keptId(recordId);
    const key = `${origin.writer} ${stream}`;
    let s = this.#streams.get(key);
    if (s === undefined) {
      this.#streams.set(key, (s = { low: 0, ids: new Map(), swept: 0 }));
      if (this.#streams.size > MAX_ORIGIN_STREAMS) this.#forgetIdlest(key);
    } else if (this.#lastUsed !== key) { this.#streams.delete(key); this.#streams.set(key, s); }
    this.#lastUsed = key;
    const before = s.ids.size;
    if (origin.low > s.low) {
      s.low = origin.low;
      // Ids arrive roughly in seq order: forget from the oldest until one is still needed; a
      // full sweep now and then catches the few that arrived out of order.
      if (s.ids.size > 2 * s.swept + 1_000) {
        for (const [known, [seq]] of s.ids) if (seq < s.low) s.ids.delete(known);
        s.swept = s.ids.size;
      } else {
        for (const [known, [seq]] of s.ids) { if (seq >= s.low) break; s.ids.delete(known); }
      }
    }
    this.#ids -= before - s.ids.size;
    const admitted = admittedKey(origin.seq, id);
    const seen = s.ids.get(admitted);
    if (seen !== undefined) return !(recovered && seen[1] === local);
    s.ids.set(admitted, [origin.seq, local]);
    if (++this.#ids > MAX_ADMITTED_IDS) this.#forgetIdlest(key);
    if (local >= 0 && this.#dir !== undefined) {
      const line = `${JSON.stringify([origin.writer, stream, id, origin.seq, local, s.low])}\n`;
      const lines = this.#pending.get(local);
      if (lines) lines.push(line); else this.#pending.set(local, [line]);
    }
    return false;
  }

  /**
   * The journal as the pipeline uses it: appended seqs count as live (the
   * low watermark), and a release first persists the ids its entries
   * brought (so a re-sent copy is still recognised after a restart).
   */
  wrap(journal: JournalLike): JournalLike {
    return {
      append: async (items) => {
        const seqs = await journal.append(items);
        for (const seq of seqs) this.#addLive(seq);
        return seqs;
      },
      unreleased: () => journal.unreleased(),
      release: async (seqs) => {
        const lines: string[] = [];
        for (const seq of seqs) {
          const own = this.#pending.get(seq);
          if (own) { appendAll(lines, own); this.#pending.delete(seq); }
        }
        if (lines.length > 0) await this.#persist(lines);
        await journal.release(seqs);
        for (const seq of seqs) this.#released.add(seq);
        while (this.#live.length > 0 && this.#released.has(this.#live[0]!)) this.#released.delete(this.#live.shift()!);
      },
    };
  }

  /** Forgets the streams used longest ago (never `current`) until ids and streams are within their bounds. */
  #forgetIdlest(current: string): void {
    for (const [key, s] of this.#streams) {
      if (this.#ids <= MAX_ADMITTED_IDS && this.#streams.size <= MAX_ORIGIN_STREAMS) return;
      if (key === current) continue;
      this.#streams.delete(key);
      this.#ids -= s.ids.size;
      if (!this.#warned) {
        this.#warned = true;
        this.#logger?.warn({ stream: key, ids: s.ids.size, maxIds: MAX_ADMITTED_IDS, maxStreams: MAX_ORIGIN_STREAMS },
          'repartition: forgot the record ids admitted from the writer and partition used longest ago, and will go on doing so past these bounds ' +
          '(writers that stopped, or records with made-up origins); a copy of one of them re-sent later would be applied again');
      }
      this.#forgotten += s.ids.size;
    }
  }

  /** The lowest seq not durably released: every seq below it is done for good. */
  #low(): number {
    return this.#live.length > 0 ? this.#live[0]! : this.#next;
  }

  #addLive(seq: number): void {
    if (seq >= this.#next) this.#next = seq + 1;
    const live = this.#live;
    if (live.length === 0 || live[live.length - 1]! < seq) { live.push(seq); return; }
    let i = live.length;
    while (i > 0 && live[i - 1]! > seq) i -= 1;
    live.splice(i, 0, seq);
  }

  async #persist(lines: string[]): Promise<void> {
    const file = join(this.#dir!, SEEN_FILE);
    const run = this.#writing.then(async () => {
      // Rewrite from memory once the file holds mostly forgotten ids.
      let live = 0;
      for (const s of this.#streams.values()) live += s.ids.size;
      if (this.#fileLines > 10_000 && this.#fileLines > 4 * live) {
        await replaceFile(file, this.#snapshot());
        this.#fileLines = live;
        return;
      }
      const handle = await open(file, 'a');
      try {
        await handle.appendFile(lines.join(''));
        await handle.datasync();
      } finally {
        await handle.close();
      }
      this.#fileLines += lines.length;
    });
    this.#writing = run.catch(() => undefined);
    return run;
  }

  /** Every remembered id as file lines (ids still pending a release are in the journal: rewritten with the rest, harmless). */
  #snapshot(): string {
    const out: string[] = [];
    for (const [key, s] of this.#streams) {
      const at = key.indexOf(' ');
      const writer = key.slice(0, at);
      const stream = key.slice(at + 1);
      for (const [admitted, [seq, local]] of s.ids) out.push(`${JSON.stringify([writer, stream, admitted.slice(admitted.indexOf(' ') + 1), seq, local, s.low])}\n`);
    }
    return out.join('');
  }

  async #load(): Promise<void> {
    const file = join(this.#dir!, SEEN_FILE);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      return;
    }
    for (const line of text.split('\n')) {
      if (line === '') continue;
      let row: unknown;
      try { row = JSON.parse(line); } catch { continue; } // a torn last line: its entry was not released
      if (!Array.isArray(row) || row.length !== 6) continue;
      const [writer, stream, id, seq, local, low] = row as [string, string, string, number, number, number];
      const key = `${writer} ${stream}`;
      let s = this.#streams.get(key);
      if (s === undefined) this.#streams.set(key, (s = { low: 0, ids: new Map(), swept: 0 }));
      if (low > s.low) s.low = low;
      s.ids.set(admittedKey(seq, keptId(id)), [seq, local]);
    }
    for (const s of this.#streams.values()) for (const [admitted, [seq]] of s.ids) if (seq < s.low) s.ids.delete(admitted);
    for (const s of this.#streams.values()) this.#ids += s.ids.size;
    this.#forgetIdlest('');
    const snapshot = this.#snapshot();
    await replaceFile(file, snapshot);
    this.#fileLines = snapshot === '' ? 0 : snapshot.split('\n').length - 1;
  }
}

/**
 * The identity of the journal in `journalDir`, made once and kept beside it:
 * a wiped journal restarts its seqs, so it must be another identity. Records
 * are known by `<journal seq>:...` ids only within one journal: the
 * repartition writer stamps it, and state stores publish it with the ids of
 * the records their commits applied (state/changelog/changelog-codec.ts).
 */
export async function journalIdentity(journalDir: string): Promise<string> {
  await mkdir(journalDir, { recursive: true });
  let id: string;
  try {
    id = (await readFile(join(journalDir, WRITER_FILE), 'utf8')).trim();
  } catch {
    id = '';
  }
  if (!WRITER_ID.test(id)) {
    id = randomBytes(8).toString('hex');
    await replaceFile(join(journalDir, WRITER_FILE), `${id}\n`);
  }
  return id;
}


import pLimit from 'p-limit';
import type { Lease, WalrusClient } from '../../client/index.js';
import { decodeEntry, encodeRecords, isEnvelope } from '../../codec/index.js';
import { partitionOfKey, partitionTopic } from '../../codec/partitioning.js';
import { WalrusError } from '../../errors/index.js';
import { Journal } from '../../journal/index.js';
import { maxPayloadBytes, payloadProblem, topicProblem } from '../../protocol/index.js';
import { parseDeadLetter } from '../../runtime/coordinator/dead-letter.js';
import { entriesWaiting, MAX_HELD_PUT_BACK_BYTES, PUT_BACK_FLUSH_BYTES, PutBacks } from './dlq-put-back.js';

/** Header counting how often a record was replayed from a dead-letter topic. */
export const REPLAY_COUNT_HEADER = 'walrus-replay-count';

export const FILTER_FIELDS = ['key', 'code', 'processor', 'source', 'id'] as const;
export type FilterField = (typeof FILTER_FIELDS)[number];

/** Destination topics written at once during a replay. */
const TOPIC_FANOUT = 4;

export interface ReplayFilter {
  field: FilterField;
  value: string;
}

export interface ReplayOptions {
  client: WalrusClient;
  dlqTopic: string;
  /** Replay here instead of each entry's source topic. */
  to?: string;
  /** All must match (AND). */
  filters: readonly ReplayFilter[];
  /** Replay at most this many. @default Infinity */
  limit?: number;
  /** Restore the original bytes exactly, without the replay-count header. @default false */
  exact?: boolean;
  /**
   * The target topics have this many partitions: each dead letter goes to
   * `<topic>.p<fnv1a32(key) % n>` (a keyless one by its record id). A dead
   * letter of a partitioned source names its logical topic, which nothing
   * reads. A function gives the count per topic (the dashboard's replay
   * takes it from the topology's sources). @default 1
   */
  targetPartitions?: number | ((topic: string) => number);
  /** Journal directory that keeps entries read from the dead-letter topic safe until replayed or put back. */
  stateDir: string;
  /** Entries per read. @default 100 */
  batchSize?: number;
  /**
   * On a node that does not report lag, the run stops reading once the
   * entries waiting to be put back reach this many bytes. @default 64 MiB
   */
  maxHeldPutBackBytes?: number;
  onWarning?: (message: string) => void;
}

export interface ReplaySummary {
  /** Replayed entries per target topic. */
  replayed: Record<string, number>;
  /** Entries put back on the dead-letter topic, and why. */
  kept: { notMatching: number; notDeadLetter: number; overLimit: number };
  /** Entries of an interrupted earlier replay, found in the journal and handled first. */
  recovered: number;
  /** Entries read through leases (consumed on the node only after they were replayed or journalled). */
  leased: number;
  /** Entries read destructively (the node has no leases): each batch had a short window before its journal append. */
  consumedOnRead: number;
}

export type Plan = { kind: 'replay'; topic: string; payload: string } | { kind: 'keep'; reason: 'notMatching' | 'notDeadLetter' };

function matches(filters: readonly ReplayFilter[], dl: ReturnType<typeof parseDeadLetter>): boolean {
  const fields: Record<FilterField, string | undefined> = {
    key: dl.key, code: dl.error?.code, processor: dl.processor, source: dl.sourceTopic, id: dl.recordId,
  };
  return filters.every((f) => fields[f.field] === f.value);
}

/**
 * The entry to write back: the original bytes, plus (for an envelope,
 * unless `exact`) the replay-count header incremented on each record. Ids,
 * keys, timestamps, other headers and value bytes are kept exactly. When the
 * re-encoded entry would not fit one PUT, the original bytes go out as they are.
 */
function replayPayload(original: string, topic: string, exact: boolean, warn: (m: string) => void): string {
  if (exact || !isEnvelope(Buffer.from(original.slice(0, 8), 'utf8'))) return original;
  const records = decodeEntry(original, { topic });
  const contentType = records[0]?.headers['content-type'];
  const sameType = records.every((r) => r.headers['content-type'] === contentType);
  const encoded = records.map((r) => {
    const headers = { ...r.headers };
    if (sameType) delete headers['content-type'];
    const previous = Number.parseInt(headers[REPLAY_COUNT_HEADER] ?? '0', 10);
    headers[REPLAY_COUNT_HEADER] = String((Number.isSafeInteger(previous) && previous > 0 ? previous : 0) + 1);
    return { value: r.value, id: r.id, key: r.key, timestamp: r.timestamp, headers };
  });
  const options = sameType && contentType !== undefined ? { contentType } : {};
  const limit = maxPayloadBytes(topic);
  const plain = encodeRecords(encoded, options);
  if (Buffer.byteLength(plain) <= limit) return plain;
  const packed = encodeRecords(encoded, { ...options, compression: 'gzip', compressionThreshold: 0 });
  if (Buffer.byteLength(packed) <= limit) return packed;
  warn(`record ${records[0]?.id} replayed without the ${REPLAY_COUNT_HEADER} header: with it the entry would not fit one PUT to ${topic}`);
  return original;
}

/** What decides where and how one dead letter is replayed (a subset of {@link ReplayOptions}; `dlqTopic` when known). */
export type PlanOptions = Pick<ReplayOptions, 'to' | 'filters' | 'exact' | 'targetPartitions'> & { dlqTopic?: string };

/** Why a dead letter cannot go to `topic` (its source, or --to), or undefined when it can. */
function targetProblem(topic: unknown, original: unknown, dlqTopic: string | undefined): string | undefined {
  const problem = topicProblem(topic);
  if (problem !== undefined) return `its sourceTopic is not usable (${problem}); replay it with --to <topic>`;
  // Written back to the topic being replayed, the dead letter would be replaced by its bare entry: its error, attempts and source gone.
  if (topic === dlqTopic) return `it names ${String(topic)}, the dead-letter topic being replayed, as its source; replay it with --to <topic>`;
  if (typeof original !== 'string') return 'its entry is not a string';
  const bad = payloadProblem(original);
  return bad === undefined ? undefined : `its entry cannot be written as it is (${bad})`;
}

/** Where one dead-letter entry would go and with which bytes, or why it stays. */
export function planEntry(text: string, options: PlanOptions, warn: (m: string) => void): Plan {
  let dl: ReturnType<typeof parseDeadLetter>;
  try {
    dl = parseDeadLetter(text);
  } catch (error) {
    // A dead letter that cannot be restored (its entry omitted, damaged, of an unknown encoding) says why; it is kept.
    // Entries that are no dead letters at all are kept quietly: the summary counts them.
    if (text.includes('"walrusDeadLetter"')) warn(`kept a dead letter: ${(error as Error).message}`);
    return { kind: 'keep', reason: 'notDeadLetter' };
  }
  if (!matches(options.filters, dl)) return { kind: 'keep', reason: 'notMatching' };
  const logical = options.to ?? dl.sourceTopic;
  const keep = (why: string): Plan => {
    warn(`kept the dead letter of record ${String(dl.recordId)}: ${why}`);
    return { kind: 'keep', reason: 'notDeadLetter' };
  };
  const problem = targetProblem(logical, dl.original, options.dlqTopic);
  if (problem !== undefined) return keep(problem);
  const n = typeof options.targetPartitions === 'function' ? options.targetPartitions(logical) : options.targetPartitions ?? 1;
  const topic = n > 1 ? partitionTopic(logical, partitionOfKey(dl.key ?? String(dl.recordId ?? ''), n), n) : logical;
  const partitioned = topicProblem(topic);
  if (partitioned !== undefined) return keep(`its partition topic is not usable (${partitioned})`);
  // A longer target name (--to, a partition suffix) leaves less room than the source had: one PUT must hold the entry.
  const bytes = Buffer.byteLength(dl.original);
  if (bytes > maxPayloadBytes(topic)) return keep(`its entry is ${bytes} bytes, over the ${maxPayloadBytes(topic)}-byte limit of one entry on ${topic}; replay it with --to a topic whose name is no longer than its source's`);
  try {
    return { kind: 'replay', topic, payload: replayPayload(dl.original, topic, options.exact ?? false, warn) };
  } catch (error) {
    warn(`record ${dl.recordId}: original entry does not decode (${(error as Error).message}); replaying its bytes as they are`);
    return { kind: 'replay', topic, payload: dl.original };
  }
}

/**
 * Sends dead-lettered records back to their source topic (or `to`).
 *
 * Reading a Walrus topic is destructive, so nothing read may exist only in
 * this process's memory:
 * - Where the node has leases (BATCH_LEASE, the embedded node by default),
 *   each batch is leased, replayed, and acknowledged only after every
 *   target topic acknowledged its PUTs; entries that are put back instead
 *   (not matching the filters, over the limit, not dead letters) are first
 *   appended to a local journal. A crash before the ACK makes the node hand
 *   the same batch out again: duplicates in the target topics, never a loss.
 * - Without leases (a stock node) the batch is consumed on read, so it is
 *   appended to the journal before anything else; a crash between the
 *   node's reply and that append (a few milliseconds) loses that one batch
 *   (at most `batchSize` entries). This is the stock protocol's window:
 *   it has no way to read without consuming.
 * A run reads the entries the topic held at its start (STATE's `lag`) and
 * puts entries back as it goes, a few MiB at a time, so memory is bounded
 * however large the topic; on a node that does not report lag, put-backs
 * wait until the end (else they would be read again) and the run stops
 * reading once they reach 64 MiB. If the command dies, the next run
 * replays or puts back what the journal holds first.
 */
export async function replayDeadLetters(options: ReplayOptions): Promise<ReplaySummary> {
  const { client, dlqTopic } = options;
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const warn = options.onWarning ?? (() => {});
  const summary: ReplaySummary = { replayed: {}, kept: { notMatching: 0, notDeadLetter: 0, overLimit: 0 }, recovered: 0, leased: 0, consumedOnRead: 0 };
  const registered = new Set<string>();
  let replayedCount = 0;
  const topicFanout = pLimit(TOPIC_FANOUT);

  /**
   * Replays what matches; returns what is to be put back. `seq` is the
   * journal seq of an entry already in the journal (undefined for a leased
   * entry, which the node still holds).
   */
  const handle = async (batch: Array<{ seq: number | undefined; text: string }>): Promise<Array<{ seq: number | undefined; text: string }>> => {
    const byTopic = new Map<string, { seqs: number[]; payloads: string[] }>();
    const toKeep: Array<{ seq: number | undefined; text: string }> = [];
    for (const { seq, text } of batch) {
      const plan = planEntry(text, options, warn);
      if (plan.kind === 'keep' || replayedCount >= limit) {
        summary.kept[plan.kind === 'keep' ? plan.reason : 'overLimit'] += 1;
        toKeep.push({ seq, text });
        continue;
      }
      replayedCount += 1;
      const group = byTopic.get(plan.topic) ?? { seqs: [], payloads: [] };
      if (seq !== undefined) group.seqs.push(seq);
      group.payloads.push(plan.payload);
      byTopic.set(plan.topic, group);
    }
    // Topics are written in parallel, a few at a time (order matters only
    // within a topic, and each topic gets one putMany per batch).
    await Promise.all([...byTopic].map(([topic, group]) => topicFanout(async () => {
      if (!registered.has(topic)) {
        await client.register(topic);
        registered.add(topic);
      }
      await client.putMany(topic, group.payloads);
      if (group.seqs.length > 0) await journal.release(group.seqs);
      addReplayed(summary.replayed, topic, group.payloads.length);
    })));
    return toKeep;
  };

  const journal = await Journal.open({ dir: options.stateDir, busyHint: 'wait for the other replay to finish, or give this one a --state-dir of its own' });
  try {
    const putBacks = new PutBacks(client, journal, dlqTopic);
    const leftovers = journal.unreleased();
    summary.recovered = leftovers.length;
    for (const k of await handle(leftovers.map((e) => ({ seq: e.seq, text: e.entry.toString('utf8') })))) putBacks.hold(k.seq!, k.text);
    // Measured before anything is put back: what this run reads, so put-backs can go back as it goes (bounded memory).
    const waiting = await entriesWaiting(client, dlqTopic);
    let read = 0;
    const maxHeld = options.maxHeldPutBackBytes ?? MAX_HELD_PUT_BACK_BYTES;
    const batchSize = options.batchSize ?? 100;
    let warnedStock = false;
    let missing = false;
    while (replayedCount < limit && (waiting === undefined || read < waiting)) {
      let lease: Lease;
      try {
        lease = await client.lease(dlqTopic, Math.min(batchSize, limit - replayedCount, (waiting ?? Infinity) - read));
      } catch (error) {
        // No such topic: nothing was dead-lettered to it, so nothing to replay (not a failure, and not created here).
        if (!(error instanceof WalrusError && error.code === 'TOPIC_NOT_FOUND')) throw error;
        warn(`dead-letter topic ${dlqTopic} does not exist on the node: nothing to replay`);
        missing = true;
        break;
      }
      const entries = lease.entries;
      if (entries.length === 0) break;
      read += entries.length;
      if (lease.leased) {
        summary.leased += entries.length;
        const toKeep = await handle(entries.map((entry) => ({ seq: undefined, text: entry.toString('utf8') })));
        if (toKeep.length > 0) {
          const seqs = await journal.append(toKeep.map((k) => ({ source: dlqTopic, entry: Buffer.from(k.text, 'utf8') })));
          toKeep.forEach((k, i) => putBacks.hold(seqs[i]!, k.text));
        }
        // Everything of the batch is now in a target topic or in the journal.
        await lease.ack().catch((error: Error) => {
          warn(`the node will deliver ${entries.length} entries of ${dlqTopic} again (their ACK failed: ${error.message}); they were replayed already, so expect duplicates`);
        });
      } else {
        if (!warnedStock) {
          warnedStock = true;
          warn(`the node has no leases (BATCH_LEASE): ${dlqTopic} is read destructively, so a kill between a read and its journal append can lose that batch (at most ${batchSize} entries)`);
        }
        summary.consumedOnRead += entries.length;
        const seqs = await journal.append(entries.map((entry) => ({ source: dlqTopic, entry })));
        for (const k of await handle(entries.map((entry, i) => ({ seq: seqs[i]!, text: entry.toString('utf8') })))) putBacks.hold(k.seq!, k.text);
      }
      if (waiting !== undefined && putBacks.bytes >= PUT_BACK_FLUSH_BYTES) await putBacks.flush();
      if (waiting === undefined && putBacks.bytes >= maxHeld) {
        warn(`stopped after reading ${read} entries of ${dlqTopic}: the node does not say how many it holds, so entries to put back wait for the end, and they reached ${maxHeld} bytes; ` +
          'run the command again to go on (it reads the rest first, then what was put back)');
        break;
      }
    }
    await putBacks.flush(missing);
  } finally {
    await journal.close();
  }
  return summary;
}

/** The outcome of {@link replayEntries}. */
export interface EntriesReplaySummary {
  /** Replayed entries per target topic. */
  replayed: Record<string, number>;
  /** Per input entry, in order: the topic it went to, or why it was not replayed. */
  results: Array<{ ok: true; topic: string } | { ok: false; reason: string }>;
}

/**
 * Replays dead-letter entries the caller already holds (the dashboard's
 * recent dead letters), with the same plan as `dlq replay`: the original
 * bytes to the source topic (or `to`), the replay-count header added to
 * envelopes unless `exact`. Nothing is read from, or removed from, the
 * dead-letter topic.
 */
export async function replayEntries(client: Pick<WalrusClient, 'register' | 'putMany'>, texts: readonly string[],
  options: Omit<PlanOptions, 'filters'> & { onWarning?: (message: string) => void } = {}): Promise<EntriesReplaySummary> {
  const warn = options.onWarning ?? (() => {});
  const summary: EntriesReplaySummary = { replayed: {}, results: [] };
  const byTopic = new Map<string, string[]>();
  for (const text of texts) {
    const plan = planEntry(text, { ...options, filters: [] }, warn);
    if (plan.kind === 'keep') { summary.results.push({ ok: false, reason: plan.reason === 'notDeadLetter' ? 'not a usable dead-letter entry' : 'filtered out' }); continue; }
    summary.results.push({ ok: true, topic: plan.topic });
    byTopic.set(plan.topic, [...(byTopic.get(plan.topic) ?? []), plan.payload]);
  }
  for (const [topic, payloads] of byTopic) {
    await client.register(topic);
    await client.putMany(topic, payloads);
    addReplayed(summary.replayed, topic, payloads.length);
  }
  return summary;
}

/**
 * Adds `n` to the count of `topic`, an own entry only: a source topic may be
 * named "constructor" or "toString", and `replayed[topic] ?? 0` found
 * Object's (the summary read "function Object() { [native code] }2").
 */
export function addReplayed(replayed: Record<string, number>, topic: string, n: number): void {
  const before = Object.hasOwn(replayed, topic) ? replayed[topic]! : 0;
  Object.defineProperty(replayed, topic, { value: before + n, writable: true, enumerable: true, configurable: true });
}

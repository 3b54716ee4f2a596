import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { partitionTopics } from '../../codec/partitioning.js';
import { diskFullAdvice } from '../../util/disk-full.js';
import { replaceFile } from '../../util/replace-file.js';
import { WalrusError } from '../../errors/index.js';
import { MAX_BATCH_ENTRIES, maxPayloadBytes } from '../../protocol/index.js';
import { scanSeedFile, seedEntries, type SeedScan } from './seed-file.js';
import type { Topology } from '../../topology/types.js';

/** A file to load into a source topic before the pipeline starts (`--seed source=file`). */
export interface SeedSpec { source: string; file: string }

/** What seeding did, per file. */
export interface SeedResult {
  source: string; topic: string; file: string;
  /** Entries this call loaded (after an interrupted load: only the rest). */
  entries: number;
  skipped: boolean;
  /** True when this call finished a load an earlier one began. */
  resumed?: boolean;
}

/**
 * Anything that writes entries (the WalrusClient). `state` (optional) gives a
 * topic's `totalEntries` where the node reports it (the embedded node), which
 * lets an interrupted load resume exactly.
 */
export interface SeedWriter {
  putMany(topic: string, entries: string[]): Promise<void>;
  state?(topic: string): Promise<{ totalEntries?: number }>;
}

/** A load under way, as the marker keeps it: per topic, its entry count before the load and the entries confirmed since. */
interface Loading {
  loading: true; base: Record<string, number | null>; done: Record<string, number>;
  /** The write under way when the marker was saved: its topic and entry count. */
  pending?: { topic: string; entries: number } | undefined;
}

type Marker = Record<string, string | Loading>;

/**
 * Loads each non-empty line of a file as one plain-text entry into a
 * source's topic. A marker in `<stateDir>/<app>/seeded.json` remembers which
 * file contents (sha256) went to which node, so running the example twice does
 * not load the sample twice; `force` loads again anyway.
 *
 * Memory stays bounded whatever the file's size: a first streaming pass
 * checks every line (a bad one is refused naming file:line before anything is
 * written) and takes the digest; a second streaming pass writes, at most
 * {@link MAX_BATCH_ENTRIES} entries or {@link SEED_BATCH_BYTES} per write, one
 * write at a time. A file that cannot be read twice (a pipe: `/dev/stdin`,
 * `<(...)`) is copied during the first pass to a spool file under
 * `<stateDir>/<app>/`, read back by the second and removed.
 *
 * A load that is interrupted (kill -9, a second signal) resumes where it
 * stopped instead of loading the file again: the marker records each topic's
 * entry count before the load and, after every confirmed batch, how many
 * entries went in and how many the next write carries. That one batch, which
 * may have been stored without its confirmation, is settled by the topic's
 * count where the node reports it (the embedded node); on a node that does
 * not (stock Walrus) it is loaded again, so at most one batch is duplicated.
 */
export async function seedSources(topology: Topology, seeds: SeedSpec[], writer: SeedWriter, target: string,
  options: { force?: boolean; cwd?: string } = {}): Promise<SeedResult[]> {
  const markerFile = join(topology.stateDir, topology.app, 'seeded.json');
  const marker = await readMarker(markerFile);
  const results: SeedResult[] = [];
  for (const seed of seeds) {
    // An own entry only: `--seed valueOf=...` found Object.prototype.valueOf and failed with a TypeError.
    const spec = Object.hasOwn(topology.sources, seed.source) ? topology.sources[seed.source] : undefined;
    if (!spec) {
      throw new WalrusError('CONFIG_INVALID', `--seed names source "${seed.source}", which ${topology.file} does not define ` +
        `(sources: ${Object.keys(topology.sources).join(', ') || 'none'})`);
    }
    const file = resolve(options.cwd ?? process.cwd(), seed.file);
    // Seed lines are plain entries without a key: a partitioned source gets them round-robin (docs/scaling.md).
    const topics = partitionTopics(spec.topic, spec.partitions);
    const scan = await scanSeedFile(file, Math.min(...topics.map(maxPayloadBytes)), join(topology.stateDir, topology.app));
    try {
      const markKey = `${target}|${spec.topic}|${scan.digest}`;
      const previous = marker[markKey];
      if (typeof previous === 'string' && !options.force) {
        results.push({ source: seed.source, topic: spec.topic, file, entries: 0, skipped: true });
        continue;
      }
      const resumed = typeof previous === 'object' && !options.force;
      const loading: Loading = resumed ? previous : { loading: true, base: {}, done: {} };
      if (!resumed) for (const topic of topics) loading.base[topic] = await countOf(writer, topic);
      const start: number[] = [];
      for (const [p, topic] of topics.entries()) {
        const total = Math.floor(scan.entries / topics.length) + (p < scan.entries % topics.length ? 1 : 0);
        start.push(resumed ? await resumeAt(writer, topic, loading, total) : 0);
        loading.done[topic] = start[p]!;
      }
      const save = () => writeMarker(markerFile, { ...marker, [markKey]: loading });
      const written = await writeSeed(scan, topics, start, writer, loading, save);
      marker[markKey] = new Date().toISOString();
      await writeMarker(markerFile, marker);
      results.push({ source: seed.source, topic: spec.topic, file, entries: written, skipped: false, ...(resumed ? { resumed: true } : {}) });
    } finally {
      if (scan.spool !== undefined) await rm(scan.spool, { force: true });
    }
  }
  return results;
}

/** Most bytes of entries in one write (the Producer's largest write, too). */
export const SEED_BATCH_BYTES = 4 * 1024 * 1024;
/** Most bytes of entries held at once for the partitions of a source (as `walrus-stream produce` holds unacknowledged). */
export const SEED_BUFFER_BYTES = 32 * 1024 * 1024;
/**
 * What an entry held costs beyond its bytes (the string and its slot), counted
 * against SEED_BUFFER_BYTES: a source of 1,024 partitions with short lines would
 * otherwise hold 2,000 of them per partition, some 2 million strings.
 */
const ENTRY_OVERHEAD_BYTES = 64;

interface Batch { topic: string; entries: string[] }

/**
 * The second pass: writes the file's entries, partition p of n getting every
 * n-th entry from the p-th, skipping the `start[p]` each already holds. One
 * write at a time; the batch after it is read meanwhile, so the marker saved
 * after each confirmation can say how many entries the next write carries.
 * Returns the entries written.
 */
async function writeSeed(scan: SeedScan, topics: string[], start: number[], writer: SeedWriter,
  loading: Loading, save: () => Promise<void>): Promise<number> {
  const batches = seedBatches(seedEntries(scan), topics, start);
  let next = await batches.next();
  let written = 0;
  loading.pending = next.done === true ? undefined : { topic: next.value.topic, entries: next.value.entries.length };
  await save();
  try {
    while (next.done !== true) {
      const batch = next.value;
      // The next batch is read while this one is written.
      const reading = batches.next();
      reading.catch(() => undefined); // awaited below, unless the write fails first
      await writer.putMany(batch.topic, batch.entries);
      written += batch.entries.length;
      loading.done[batch.topic] = (loading.done[batch.topic] ?? 0) + batch.entries.length;
      next = await reading;
      loading.pending = next.done === true ? undefined : { topic: next.value.topic, entries: next.value.entries.length };
      await save();
    }
  } finally {
    await batches.return(undefined).catch(() => undefined);
  }
  return written;
}

/** Groups entries into writes per partition, bounded by entries, by bytes per write and by bytes held across partitions. */
async function* seedBatches(groups: AsyncIterable<string[]>, topics: string[], start: number[]): AsyncGenerator<Batch> {
  const held = topics.map(() => ({ entries: [] as string[], bytes: 0 }));
  let heldBytes = 0;
  let i = 0;
  const take = (p: number): Batch => {
    const batch = { topic: topics[p]!, entries: held[p]!.entries };
    heldBytes -= held[p]!.bytes + held[p]!.entries.length * ENTRY_OVERHEAD_BYTES;
    held[p] = { entries: [], bytes: 0 };
    return batch;
  };
  for await (const group of groups) for (const entry of group) {
    const p = i % topics.length;
    const index = Math.floor(i / topics.length);
    i += 1;
    if (index < start[p]!) continue;
    const bytes = Buffer.byteLength(entry);
    const part = held[p]!;
    if (part.entries.length > 0 && part.bytes + bytes > SEED_BATCH_BYTES) yield take(p);
    held[p]!.entries.push(entry);
    held[p]!.bytes += bytes;
    heldBytes += bytes + ENTRY_OVERHEAD_BYTES;
    if (held[p]!.entries.length >= MAX_BATCH_ENTRIES) yield take(p);
    // Over the bound (many partitions): every partition's batch goes now, each some SEED_BUFFER_BYTES / partitions.
    if (heldBytes > SEED_BUFFER_BYTES) for (const [q, h] of held.entries()) if (h.entries.length > 0) yield take(q);
  }
  for (const [p, part] of held.entries()) if (part.entries.length > 0) yield take(p);
}

/** A topic's entries ever appended, where the node reports it; 0 for a topic not created yet; null when unknown (stock Walrus). */
async function countOf(writer: SeedWriter, topic: string): Promise<number | null> {
  if (writer.state === undefined) return null;
  try {
    return (await writer.state(topic)).totalEntries ?? null;
  } catch (error) {
    if (error instanceof WalrusError && error.code === 'TOPIC_NOT_FOUND') return 0;
    throw error;
  }
}

/**
 * Where an interrupted load of `topic` continues: after the entries it
 * confirmed, and after the unconfirmed batch too when the topic's count says
 * that batch was stored. A count that fits neither (someone else wrote to the
 * topic meanwhile) is not trusted: the unconfirmed batch is loaded again.
 */
async function resumeAt(writer: SeedWriter, topic: string, loading: Loading, total: number): Promise<number> {
  const done = loading.done[topic] ?? 0;
  const base = loading.base[topic];
  const now = base === null || base === undefined ? null : await countOf(writer, topic);
  if (now === null || base === null || base === undefined) return done;
  const stored = now - base;
  // A marker saved before `pending` was kept: batches were MAX_BATCH_ENTRIES long.
  const unconfirmed = loading.pending === undefined ? Math.min(MAX_BATCH_ENTRIES, total - done)
    : loading.pending.topic === topic ? loading.pending.entries : 0;
  return stored === done + unconfirmed ? done + unconfirmed : done;
}

/** Replaces the marker file whole (written aside, flushed, renamed): a crash leaves the old marker or the new one. */
async function writeMarker(file: string, marker: Marker): Promise<void> {
  try {
    await mkdir(dirname(file), { recursive: true });
    await replaceFile(file, `${JSON.stringify(marker, null, 2)}\n`);
  } catch (cause) {
    // A full disk said "ENOSPC: no space left on device, write", naming no file, and left the half-written copy.
    throw new WalrusError('CONFIG_INVALID', `cannot save the seed marker ${file}: ${(cause as Error).message}` +
      `${diskFullAdvice(cause, dirname(file), 'run again with the same --seed')}; ` +
      'the seed stopped there (the marker on disk is the previous one: the next start resumes from it)', { cause, context: { file } });
  }
}

async function readMarker(file: string): Promise<Marker> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Marker;
  } catch {
    return {};
  }
}

/** Parses `source=file`. */
export function parseSeed(value: string): SeedSpec {
  const at = value.indexOf('=');
  if (at <= 0 || at === value.length - 1) {
    throw new WalrusError('CONFIG_INVALID', `--seed expects <source>=<file>, got "${value}"`);
  }
  return { source: value.slice(0, at), file: value.slice(at + 1) };
}

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, open, readFile, realpath, rename } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { partitionTopics } from '../../codec/partitioning.js';
import { WalrusError } from '../../errors/index.js';
import { MAX_BATCH_ENTRIES, maxPayloadBytes, payloadProblem } from '../../protocol/index.js';
import { LineTooLongError, lines } from '../../util/lines.js';
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
interface Loading { loading: true; base: Record<string, number | null>; done: Record<string, number> }

type Marker = Record<string, string | Loading>;

/**
 * Loads each non-empty line of a file as one plain-text entry into a
 * source's topic. A marker in `<stateDir>/<app>/seeded.json` remembers which
 * file contents (sha256) went to which node, so running the example twice does
 * not load the sample twice; `force` loads again anyway.
 *
 * A load that is interrupted (kill -9, a second signal) resumes where it
 * stopped instead of loading the file again: the marker records each topic's
 * entry count before the load and, after every confirmed batch, how many
 * entries went in. The one batch that may have been stored without its
 * confirmation is settled by the topic's count where the node reports it
 * (the embedded node); on a node that does not (stock Walrus) it is loaded
 * again, so at most one batch (2,000 entries) is duplicated.
 */
export async function seedSources(topology: Topology, seeds: SeedSpec[], writer: SeedWriter, target: string,
  options: { force?: boolean; cwd?: string } = {}): Promise<SeedResult[]> {
  const markerFile = join(topology.stateDir, topology.app, 'seeded.json');
  const marker = await readMarker(markerFile);
  const results: SeedResult[] = [];
  for (const seed of seeds) {
    const spec = topology.sources[seed.source];
    if (!spec) {
      throw new WalrusError('CONFIG_INVALID', `--seed names source "${seed.source}", which ${topology.file} does not define ` +
        `(sources: ${Object.keys(topology.sources).join(', ') || 'none'})`);
    }
    const file = resolve(options.cwd ?? process.cwd(), seed.file);
    // Seed lines are plain entries without a key: a partitioned source gets them round-robin (docs/scaling.md).
    const topics = partitionTopics(spec.topic, spec.partitions);
    const { entries, digest } = await readSeedFile(file, Math.min(...topics.map(maxPayloadBytes)));
    const markKey = `${target}|${spec.topic}|${digest}`;
    const previous = marker[markKey];
    if (typeof previous === 'string' && !options.force) {
      results.push({ source: seed.source, topic: spec.topic, file, entries: 0, skipped: true });
      continue;
    }
    const resumed = typeof previous === 'object' && !options.force;
    const loading: Loading = resumed ? previous : { loading: true, base: {}, done: {} };
    if (!resumed) for (const topic of topics) loading.base[topic] = await countOf(writer, topic);
    let written = 0;
    for (const [p, topic] of topics.entries()) {
      const part = topics.length === 1 ? entries : entries.filter((_, i) => i % topics.length === p);
      let at = resumed ? await resumeAt(writer, topic, loading, part.length) : 0;
      loading.done[topic] = at;
      await writeMarker(markerFile, { ...marker, [markKey]: loading });
      while (at < part.length) {
        const batch = part.slice(at, at + MAX_BATCH_ENTRIES);
        await writer.putMany(topic, batch);
        at += batch.length;
        written += batch.length;
        loading.done[topic] = at;
        await writeMarker(markerFile, { ...marker, [markKey]: loading });
      }
    }
    marker[markKey] = new Date().toISOString();
    await writeMarker(markerFile, marker);
    results.push({ source: seed.source, topic: spec.topic, file, entries: written, skipped: false, ...(resumed ? { resumed: true } : {}) });
  }
  return results;
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
  const unconfirmed = Math.min(MAX_BATCH_ENTRIES, total - done);
  return stored === done + unconfirmed ? done + unconfirmed : done;
}

/** Replaces the marker file whole (written aside, flushed, renamed): a crash leaves the old marker or the new one. */
async function writeMarker(file: string, marker: Marker): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const aside = `${file}.tmp`;
  const handle = await open(aside, 'w');
  try {
    await handle.writeFile(`${JSON.stringify(marker, null, 2)}\n`);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  await rename(aside, file);
}

/**
 * A seed file's non-empty lines, trailing whitespace (which the server would
 * trim anyway) removed, and the sha256 of its bytes. Read as a stream: a line
 * longer than one entry (a binary file, /dev/zero) or not UTF-8 is refused
 * with its file:line as soon as it is read, so memory stays bounded by what
 * can actually be loaded, and no byte is silently replaced.
 */
async function readSeedFile(file: string, maxLineBytes: number): Promise<{ entries: string[]; digest: string }> {
  const hash = createHash('sha256');
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const entries: string[] = [];
  let lineNo = 0;
  await assertNotPipe(file);
  async function* hashed(): AsyncGenerator<Buffer> {
    for await (const chunk of createReadStream(file)) {
      hash.update(chunk as Buffer);
      yield chunk as Buffer;
    }
  }
  try {
    for await (const line of lines(hashed(), maxLineBytes)) {
      lineNo += 1;
      let text: string;
      try {
        text = decoder.decode(line);
      } catch {
        throw new WalrusError('INVALID_PAYLOAD', `${file}:${lineNo}: the line is not valid UTF-8 (a binary file?); a seed file is text, one entry per line`);
      }
      const entry = text.trimEnd();
      if (entry === '') continue;
      const problem = payloadProblem(entry);
      if (problem) throw new WalrusError('INVALID_PAYLOAD', `${file}:${lineNo}: ${problem}`);
      entries.push(entry);
    }
  } catch (cause) {
    if (cause instanceof WalrusError) throw cause;
    if (cause instanceof LineTooLongError) {
      throw new WalrusError('INVALID_PAYLOAD', `${file}:${cause.line}: the line is longer than ${maxLineBytes} bytes, more than one entry can hold ` +
        '(stopped reading there); split it, or write it with `walrus-stream produce --compression gzip`');
    }
    throw new WalrusError('CONFIG_INVALID', `cannot read seed file ${file}: ${(cause as Error).message}`, { cause });
  }
  return { entries, digest: hash.digest('hex') };
}

/**
 * A named pipe (a path made by mkfifo) or a socket is refused before it is
 * opened: opening a pipe nobody writes to blocks a thread of Node's pool for
 * ever, and then neither SIGINT nor SIGTERM (nor the second signal's exit)
 * could end the run. `lstat` and `realpath` never block. An anonymous pipe
 * (`/dev/stdin` of a shell pipeline, `<(...)`) already has its writer and is
 * read as before: its link does not resolve to a path.
 */
async function assertNotPipe(file: string): Promise<void> {
  const real = await realpath(file).catch(() => undefined);
  const info = real === undefined ? undefined : await lstat(real).catch(() => undefined);
  if (info === undefined || !(info.isFIFO() || info.isSocket())) return;
  throw new WalrusError('CONFIG_INVALID', `cannot read seed file ${file}: it is a ${info.isFIFO() ? 'named pipe' : 'socket'}, not a file ` +
    '(opening a named pipe waits, unstoppably, until something writes to it): write the data to a file first, ' +
    'or pipe it in (`--seed <source>=/dev/stdin`, or `walrus-stream produce <topic> --plain`)');
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

import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { partitionTopics } from '../../codec/partitioning.js';
import { WalrusError } from '../../errors/index.js';
import { MAX_BATCH_ENTRIES, payloadProblem } from '../../protocol/index.js';
import type { Topology } from '../../topology/types.js';

/** A file to load into a source topic before the pipeline starts (`--seed source=file`). */
export interface SeedSpec { source: string; file: string }

/** What seeding did, per file. */
export interface SeedResult { source: string; topic: string; file: string; entries: number; skipped: boolean }

/** Anything that writes entries (the WalrusClient). */
export interface SeedWriter { putMany(topic: string, entries: string[]): Promise<void> }

/**
 * Loads each non-empty line of a file as one plain-text entry into a
 * source's topic. A marker in `<stateDir>/<app>/seeded.json` remembers which
 * file contents (sha256) went to which node, so running the example twice does
 * not load the sample twice; `force` loads again anyway.
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
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (cause) {
      throw new WalrusError('CONFIG_INVALID', `cannot read seed file ${file}: ${(cause as Error).message}`, { cause });
    }
    const digest = createHash('sha256').update(text).digest('hex');
    const markKey = `${target}|${spec.topic}|${digest}`;
    if (marker[markKey] && !options.force) {
      results.push({ source: seed.source, topic: spec.topic, file, entries: 0, skipped: true });
      continue;
    }
    const entries = linesOf(text, file);
    // Seed lines are plain entries without a key: a partitioned source gets them round-robin (docs/scaling.md).
    const topics = partitionTopics(spec.topic, spec.partitions);
    for (const [p, topic] of topics.entries()) {
      const part = topics.length === 1 ? entries : entries.filter((_, i) => i % topics.length === p);
      for (let i = 0; i < part.length; i += MAX_BATCH_ENTRIES) await writer.putMany(topic, part.slice(i, i + MAX_BATCH_ENTRIES));
    }
    marker[markKey] = new Date().toISOString();
    await mkdir(dirname(markerFile), { recursive: true });
    await writeFile(markerFile, `${JSON.stringify(marker, null, 2)}\n`);
    results.push({ source: seed.source, topic: spec.topic, file, entries: entries.length, skipped: false });
  }
  return results;
}

/** Non-empty lines, trailing whitespace (which the server would trim anyway) removed. */
function linesOf(text: string, file: string): string[] {
  const out: string[] = [];
  text.split('\n').forEach((line, i) => {
    const entry = line.trimEnd();
    if (entry === '') return;
    const problem = payloadProblem(entry);
    if (problem) throw new WalrusError('INVALID_PAYLOAD', `${file}:${i + 1}: ${problem}`);
    out.push(entry);
  });
  return out;
}

async function readMarker(file: string): Promise<Record<string, string>> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Record<string, string>;
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

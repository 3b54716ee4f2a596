import { mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { MAX_PARTITIONS, partitionTopic } from '../../codec/partitioning.js';
import { isRepartition } from '../../topology/repartition.js';
import type { Topology } from '../../topology/types.js';
import { replaceFile } from '../../util/replace-file.js';
import { checkStranded, unusedRepartitions, type TopicProbe, type TopicUse } from './partition-check.js';

/**
 * Repartition topics an earlier run wrote through, remembered in the
 * stateDir (docs/scaling.md, "Removing a re-key").
 *
 * Records in a repartition topic have left their source: the topic is the
 * only place they are. checkPartitionCounts finds the repartition topic of
 * every output of the processors *in* this topology; a processor renamed or
 * removed leaves a topic no name in the topology leads to, and its unread
 * records would never be read again. So every start records the repartition
 * topics it writes through in `<stateDir>/<app>/repartition-topics.json`, and
 * the next start probes each remembered topic the topology no longer uses:
 * unread entries there refuse the start (PARTITION_MISMATCH); a topic that
 * is empty or gone is forgotten; one the node says nothing about (a stock
 * node) is a warning and stays remembered.
 */

/** The file: one per stateDir and app, shared by the instances that use that stateDir. */
export function repartitionMemoryPath(topology: Topology): string {
  return join(topology.stateDir, topology.app, 'repartition-topics.json');
}

/** At most this many topics are remembered (a topology writes through one per re-keying output; the file is not a log). */
export const MAX_REMEMBERED = 1024;
const MAX_MEMORY_BYTES = 1024 * 1024;

/** Checks what the stateDir remembers against the node, then records this topology's repartition topics. Returns warnings. */
export async function checkRememberedRepartitions(topology: Topology, probe: TopicProbe): Promise<string[]> {
  const path = repartitionMemoryPath(topology);
  const warnings: string[] = [];
  const memory = await readMemory(path, topology.app, warnings);
  const current = [...new Set(Object.values(topology.sources).filter(isRepartition).map((s) => s.topic))];
  // checkPartitionCounts probes these already: the topology's own, and those of its processors' unused outputs.
  const covered = new Set([...current, ...unusedRepartitions(topology).map((u) => u.topic)]);
  const why = 'no processor of this topology writes it any more (the processor that re-keyed into it was renamed or removed), so nothing reads them';
  const keep: string[] = [];
  for (const topic of memory.topics) {
    if (covered.has(topic)) continue;
    const use: TopicUse = { label: `repartition topic "${topic}" (remembered from an earlier run in ${path})`, topic, partitions: 1, kind: 'repartition' };
    let unknown = (await checkStranded(probe, use, topic, why, warnings)) === 'unknown';
    for (let k = 0; k < MAX_PARTITIONS; k += 1) {
      const found = await checkStranded(probe, use, partitionTopic(topic, k, MAX_PARTITIONS), why, warnings);
      if (found === 'absent') break;
      if (found === 'unknown') unknown = true;
    }
    if (unknown) keep.push(topic);
  }
  const next = [...new Set([...current, ...keep])].sort().slice(0, MAX_REMEMBERED);
  const same = next.length === memory.topics.length && next.every((t, i) => t === memory.topics[i]);
  if (same && memory.clean) return warnings;
  if (next.length === 0 && !memory.exists) return warnings;
  try {
    await mkdir(dirname(path), { recursive: true });
    await replaceFile(path, `${JSON.stringify({ topics: next }, null, 2)}\n`);
  } catch (error) {
    warnings.push(`could not record the repartition topics this run writes through in ${path} (${(error as Error).message}): a later start that renames or removes a re-keying processor cannot check them for unread records`);
  }
  return warnings;
}

interface Memory { topics: string[]; exists: boolean; clean: boolean }

/** The remembered topics, sorted; a file that is not what this module writes is a warning and counts as empty (it is rewritten). */
async function readMemory(path: string, app: string, warnings: string[]): Promise<Memory> {
  const damaged = (why: string): Memory => {
    warnings.push(`${path} is not a list of repartition topics of app "${app}" (${why}): it is rewritten, and topics it named are not checked for unread records this time`);
    return { topics: [], exists: true, clean: false };
  };
  let text: string;
  try {
    // Sized before it is read: the file is ours, a few KiB; anything much bigger was not written here.
    if ((await stat(path)).size > MAX_MEMORY_BYTES) return damaged(`larger than ${MAX_MEMORY_BYTES} bytes`);
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { topics: [], exists: false, clean: true };
    return damaged(`unreadable: ${(error as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    data = undefined;
  }
  const list = (data as { topics?: unknown } | undefined)?.topics;
  const valid = (t: unknown): t is string => typeof t === 'string' && t.length <= 512 && t.startsWith(`${app}-`) && t.endsWith('-repartition');
  if (!Array.isArray(list) || !list.every(valid)) return damaged('damaged or edited');
  const topics = [...new Set(list)].sort();
  return { topics: topics.slice(0, MAX_REMEMBERED), exists: true, clean: topics.length === list.length && topics.length <= MAX_REMEMBERED };
}

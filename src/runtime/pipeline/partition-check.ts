import { MAX_PARTITIONS, partitionTopic } from '../../codec/partitioning.js';
import { WalrusError } from '../../errors/index.js';
import { repartitionTopic } from '../../topology/repartition.js';
import type { Topology } from '../../topology/types.js';

/** What the check asks the node: a topic's STATE (TOPIC_NOT_FOUND when it does not exist). */
export interface TopicProbe {
  state(topic: string): Promise<{ lag?: number }>;
}

/** A logical topic the topology uses, with its partition count. */
export interface TopicUse {
  label: string;
  topic: string;
  partitions: number;
  kind: 'source' | 'sink' | 'changelog' | 'repartition';
}

/** A topic as the node reports it: absent, or present with its unread entries (undefined: the node does not say, e.g. a stock node). */
type Probe = { exists: false } | { exists: true; unread: number | undefined };

/**
 * Refuses (PARTITION_MISMATCH) a topology whose partition counts disagree
 * with topics already in use (docs/scaling.md, "Changing partition
 * counts"), from what a node tells cheaply — a topic's STATE: whether it
 * exists and, on the embedded node, how many entries wait unread (`lag`):
 *
 * - a partitioned topic whose plain topic `T` holds unread entries (it was
 *   unpartitioned: those entries would never be read, or a changelog's state
 *   would be lost);
 * - an unpartitioned topic whose `T.p0`, `T.p1`, ... hold unread entries, or
 *   a partitioned one whose partitions beyond its count do (it had more);
 * - a changelog with state in `T.p0..` but no `T.p<n-1>`: it had fewer
 *   partitions (every start registers all of a changelog's partitions, so
 *   the last one missing means another count; sources and sinks are
 *   registered lazily by producers, so for them this is not a signal).
 *
 * - the repartition topic of a processor's output that this topology no
 *   longer writes through one (its `rekey: true` removed, or the keyed step
 *   after it gone) holds unread entries: re-keyed records an earlier run
 *   wrote and nothing would read any more.
 *
 * A topic that exists where the node cannot say whether it holds entries (a
 * stock node reports no `lag`) is returned as a warning, not refused.
 * Returns the warnings.
 */
export async function checkPartitionCounts(topology: Topology, probe: TopicProbe): Promise<string[]> {
  const warnings: string[] = [];
  const check = async (use: TopicUse, topic: string, why: string): Promise<boolean> => (await checkStranded(probe, use, topic, why, warnings)) !== 'absent';
  for (const use of topicUses(topology)) {
    const { topic, partitions: n } = use;
    if (n > 1) await check(use, topic, `the topology says "${topic}" has ${n} partitions (${topic}.p0..${topic}.p${n - 1}), so nothing reads the plain topic`);
    // Partitions beyond the count: `.p0` on for an unpartitioned topic, `.p<n>` on for a partitioned one.
    for (let k = n > 1 ? n : 0; k < MAX_PARTITIONS; k += 1) {
      const name = partitionTopic(topic, k, MAX_PARTITIONS);
      const why = n > 1 ? `the topology says "${topic}" has ${n} partitions, so nothing reads partition ${k}` : `the topology says "${topic}" is not partitioned, so nothing reads its partition topics`;
      if (!(await check(use, name, why))) break;
    }
    if (use.kind === 'changelog' && n > 1) await checkGrown(use, probe);
  }
  for (const use of unusedRepartitions(topology)) {
    const why = 'this topology no longer re-keys through it (`rekey: true` removed from the processor, or the keyed step after it), so nothing reads them';
    if (await check(use, use.topic, why)) continue;
    for (let k = 0; k < MAX_PARTITIONS; k += 1) if (!(await check(use, partitionTopic(use.topic, k, MAX_PARTITIONS), why))) break;
  }
  return warnings;
}

/** What {@link checkStranded} found: no such topic, a topic holding nothing unread, or one the node says nothing about (a warning). */
export type Stranded = 'absent' | 'empty' | 'unknown';

/**
 * Refuses (PARTITION_MISMATCH) when `topic`, which nothing in this topology
 * reads (`why` says so), holds unread entries; a topic the node cannot say
 * that of is a warning pushed onto `warnings`.
 */
export async function checkStranded(probe: TopicProbe, use: TopicUse, topic: string, why: string, warnings: string[]): Promise<Stranded> {
  const found = await probeTopic(probe, topic);
  if (!found.exists) return 'absent';
  if (found.unread === undefined) {
    warnings.push(`${use.label}: topic "${topic}" exists and ${why}; the node does not report whether it holds unread entries, so this was not checked (docs/scaling.md, "Changing partition counts")`);
    return 'unknown';
  }
  if (found.unread > 0) {
    throw new WalrusError('PARTITION_MISMATCH', `${use.label}: topic "${topic}" holds ${found.unread} unread entr${found.unread === 1 ? 'y' : 'ies'}, but ${why}. ${fix(use)}`, {
      context: { topic, partitions: use.partitions },
    });
  }
  return 'empty';
}

/** The repartition topic of each processor output that the topology does not write through one now (and that it does not use otherwise). */
export function unusedRepartitions(topology: Topology): TopicUse[] {
  const used = new Set(topicUses(topology).map((u) => u.topic));
  const out: TopicUse[] = [];
  for (const p of Object.values(topology.processors)) {
    for (const output of p.outputs) {
      const topic = repartitionTopic(topology.app, p.name, output);
      const label = output === 'default' ? `processors.${p.name}` : `processors.${p.name} (output ${output})`;
      if (!used.has(topic)) out.push({ label, topic, partitions: 1, kind: 'repartition' });
    }
  }
  return out;
}

/** A changelog with state in its first partitions but without its last one was written with fewer partitions. */
async function checkGrown(use: TopicUse, probe: TopicProbe): Promise<void> {
  const { topic, partitions: n } = use;
  if ((await probeTopic(probe, partitionTopic(topic, n - 1, n))).exists) return;
  for (let k = 0; k < n - 1; k += 1) {
    const found = await probeTopic(probe, partitionTopic(topic, k, n));
    if (!found.exists) return;
    if (found.unread !== undefined && found.unread > 0) {
      throw new WalrusError('PARTITION_MISMATCH', `${use.label}: changelog partition "${partitionTopic(topic, k, n)}" holds state but "${partitionTopic(topic, n - 1, n)}" does not exist: ` +
        `the store was partitioned fewer than ${n} ways before. ${fix(use)}`, { context: { topic, partitions: n } });
    }
  }
}

function fix(use: TopicUse): string {
  if (use.kind === 'repartition') {
    return 'They are records it re-keyed in an earlier run, not yet processed after the re-key. Run the earlier topology once more with --until-idle ' +
      '(every instance, so that each partition is read) to finish them, then start this one (docs/scaling.md, "Repartition topics").';
  }
  if (use.kind === 'changelog') {
    return 'Changing a store\'s partitions moves its keys away from their state: go back to the count it was written with, or give the step a new store (a new name, so a new changelog).';
  }
  return `Changing a topic's partitions re-routes its keys: finish reading it with the old count first (run --until-idle), or use a new topic name.`;
}

async function probeTopic(probe: TopicProbe, topic: string): Promise<Probe> {
  try {
    const state = await probe.state(topic);
    return { exists: true, unread: typeof state.lag === 'number' ? state.lag : undefined };
  } catch (error) {
    if (error instanceof WalrusError && error.code === 'TOPIC_NOT_FOUND') return { exists: false };
    throw error;
  }
}

/** Sources, sinks and the changelogs of the stores processors use, each topic once. */
function topicUses(topology: Topology): TopicUse[] {
  const uses = new Map<string, TopicUse>();
  for (const s of Object.values(topology.sources)) uses.set(s.topic, { label: `sources.${s.name}`, topic: s.topic, partitions: s.partitions, kind: 'source' });
  for (const s of Object.values(topology.sinks)) if (!uses.has(s.topic)) uses.set(s.topic, { label: `sinks.${s.name}`, topic: s.topic, partitions: s.partitions, kind: 'sink' });
  const used = new Set(Object.values(topology.processors).flatMap((p) => p.stores));
  for (const name of used) {
    const spec = topology.stores[name]!;
    uses.set(spec.changelog, { label: `stores.${name} (changelog)`, topic: spec.changelog, partitions: spec.partitions, kind: 'changelog' });
  }
  return [...uses.values()];
}

import { WalrusError } from '../../errors/index.js';
import type { Topology } from '../../topology/types.js';
import type { InstanceAssignment } from '../sources/partitioned-reader.js';
import { withRepartitions } from '../../topology/repartition.js';

export type { InstanceAssignment } from '../sources/partitioned-reader.js';

/**
 * Which instance this process is, from `--instance`/`--instances`, then
 * `WALRUS_INSTANCE`/`WALRUS_INSTANCES`, then (for the index only) a
 * Kubernetes StatefulSet ordinal: a hostname ending in `-<i>`. Undefined when
 * no instance count is given (one instance, or the shared-topic scale-out of
 * unpartitioned sources). Throws CONFIG_INVALID naming what is wrong.
 */
export function resolveAssignment(given: { instance?: string | undefined; instances?: string | undefined; hostname?: string | undefined }): InstanceAssignment | undefined {
  if (given.instances === undefined) return undefined;
  const instances = wholeNumber(given.instances);
  if (instances === undefined || instances < 1) throw invalid(`--instances (or WALRUS_INSTANCES) expects a whole number ≥ 1, got "${given.instances}"`);
  const ordinal = given.hostname === undefined ? undefined : /-(\d+)$/.exec(given.hostname)?.[1];
  const text = given.instance ?? ordinal;
  if (text === undefined) {
    throw invalid(`--instances ${instances} needs this instance's index: pass --instance <0..${instances - 1}> or WALRUS_INSTANCE, or run where the hostname ends in -<index> (a StatefulSet pod)`);
  }
  const instance = wholeNumber(text);
  if (instance === undefined || instance >= instances) {
    throw invalid(`--instance must be a whole number from 0 to ${instances - 1} with --instances ${instances}, got "${text}"`);
  }
  return { instance, instances };
}

/**
 * State is per partition (an instance opens the store partitions it owns,
 * docs/scaling.md), so a stateful topology may run as several instances only
 * when every key a store sees reaches the instance owning the key's store
 * partition: the sources feeding each stateful processor are partitioned, the
 * same number of times as its stores, and nothing re-keys records on the way
 * — except through a repartition topic, which the rewrite
 * (src/topology/repartition.ts) puts behind every partitioned re-key, so the
 * check runs on the rewritten topology. Throws CONFIG_INVALID otherwise.
 */
export function checkAssignment(given: Topology, assignment: InstanceAssignment | undefined): void {
  if (assignment === undefined || assignment.instances <= 1) return;
  const topology = withRepartitions(given);
  for (const p of Object.values(topology.processors)) {
    if (p.stores.length === 0) continue;
    const { sources, rekeyedBy } = upstream(topology, p.name, new Set());
    const where = `processor "${p.name}" keeps state (stores ${p.stores.join(', ')}) and runs as ${assignment.instances} instances`;
    const fix = 'run one instance, or see docs/scaling.md ("Stateful topologies")';
    if (rekeyedBy !== undefined) {
      throw invalid(`${where}, but "${rekeyedBy}" re-keys its records before it (rekey: true) and nothing on the way is partitioned, so no repartition topic can carry the new keys: one key's state would be split across instances; give the stores of "${p.name}" "partitions: n" (n ≥ ${assignment.instances}; the re-keyed records then go through a repartition topic of n partitions), or ${fix}`);
    }
    for (const s of sources) {
      const source = topology.sources[s]!;
      if (source.partitions <= 1) {
        throw invalid(`${where}, but its source "${s}" (topic ${source.topic}) is not partitioned: every instance would read any key; give the source "partitions: n" (n ≥ ${assignment.instances}) and its stores the same, or ${fix}`);
      }
      for (const store of p.stores) {
        const n = topology.stores[store]!.partitions;
        if (n !== source.partitions) {
          throw invalid(`${where}, but store "${store}" has partitions: ${n} while its source "${s}" has ${source.partitions}; a store must be partitioned like the keyed sources it is fed from (set stores.${store}.partitions: ${source.partitions}), or ${fix}`);
        }
      }
    }
  }
}

/** The sources a processor is fed from, and the first upstream processor that declares `rekey: true`. */
function upstream(topology: Topology, name: string, seen: Set<string>): { sources: Set<string>; rekeyedBy: string | undefined } {
  const sources = new Set<string>();
  let rekeyedBy: string | undefined;
  for (const ref of topology.processors[name]!.inputs) {
    if (ref.kind === 'source') { sources.add(ref.name); continue; }
    if (seen.has(ref.name)) continue;
    seen.add(ref.name);
    if (topology.processors[ref.name]!.rekey) rekeyedBy ??= ref.name;
    const up = upstream(topology, ref.name, seen);
    for (const s of up.sources) sources.add(s);
    rekeyedBy ??= up.rekeyedBy;
  }
  return { sources, rekeyedBy };
}

function wholeNumber(text: string): number | undefined {
  return /^\d{1,6}$/.test(text.trim()) ? Number(text.trim()) : undefined;
}

function invalid(message: string): WalrusError {
  return new WalrusError('CONFIG_INVALID', message);
}

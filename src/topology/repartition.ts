import { WalrusError } from '../errors/index.js';
import { partitionTopics } from '../codec/partitioning.js';
import { topicProblem } from '../protocol/index.js';
import type { InputRef, ProcessorSpec, SinkSpec, SourceSpec, Topology } from './types.js';

/**
 * Repartition topics (docs/scaling.md, "Repartition topics").
 *
 * A processor that declares `rekey: true` gives its records new keys; a
 * keyed step after it (`ordering: key`, or a state store) must see every
 * record of a new key in one place, in order. In one process the
 * coordinator's key ordering does that (the stage-group boundary of
 * stage-groups.ts). Across instances the records of a new key are produced
 * by whichever instance owned the *old* key, so the boundary becomes an
 * internal partitioned Walrus topic: the re-keying processor's output is
 * written there, partitioned by the new key with the usual hash, and read
 * back — by the instance owning that partition — through an internal source
 * that feeds the keyed step.
 *
 * The rule: a boundary goes through a repartition topic whenever it is
 * partitioned, i.e. the keyed step's stores or the sources upstream of the
 * re-key have `partitions` > 1 — for one instance as for several, so that a
 * deployment can change its instance count without records stranded in (or
 * skipping) a repartition topic.
 *
 * This is a rewrite of the topology before anything plans or runs it: an
 * internal sink after the re-keying processor, an internal source in place
 * of that input of the keyed step(s). The sink and source machinery (worker
 * packing by partition, leases, journal, acknowledgements) then applies as
 * it does to user topics.
 */

/** Name of the internal source and sink of a repartition: `repartition:<processor>` (`repartition:<processor>.<output>` for a named output). */
export function repartitionName(processor: string, output: string): string {
  return output === 'default' ? `repartition:${processor}` : `repartition:${processor}.${output}`;
}

/** The logical Walrus topic of a repartition: `<app>-<processor>-repartition` (`<app>-<processor>-<output>-repartition` for a named output). */
export function repartitionTopic(app: string, processor: string, output: string): string {
  return output === 'default' ? `${app}-${processor}-repartition` : `${app}-${processor}-${output}-repartition`;
}

/** True for the internal source or sink of a repartition. */
export function isRepartition(spec: SourceSpec | SinkSpec): boolean {
  return spec.internal === 'repartition';
}

/** A repartition the rewrite made: what it connects, its topic and partition count. */
export interface Repartition {
  name: string;
  topic: string;
  partitions: number;
  /** The re-keying side: `processor.output` written to the topic. */
  from: { processor: string; output: string };
  /** The keyed steps that read it. */
  to: string[];
}

/**
 * The topology with every partitioned re-key boundary going through a
 * repartition topic (unchanged when there is none; idempotent). Throws
 * CONFIG_INVALID when a repartition topic's name is taken by a topic of the
 * topology or is not a valid topic.
 */
export function withRepartitions(topology: Topology): Topology {
  const found = planRepartitions(topology);
  if (found.length === 0) return topology;
  checkNames(topology, found);
  const sources: Record<string, SourceSpec> = { ...topology.sources };
  const sinks: Record<string, SinkSpec> = { ...topology.sinks };
  const processors: Record<string, ProcessorSpec> = { ...topology.processors };
  for (const r of found) {
    const poll = upstreamSources(topology, r.from.processor).map((s) => topology.sources[s]!.poll)[0]
      ?? { batchSize: 500, maxBytes: 60 * 1024, minInterval: 1, maxInterval: 100 };
    // msgpack keeps what a value can hold across threads better than JSON (binary, undefined in arrays, dates as such).
    sources[r.name] = {
      name: r.name, topic: r.topic, partitions: r.partitions, format: 'envelope', serializer: 'msgpack', poll: { ...poll },
      rateLimit: 0, dedupe: { window: 0 }, internal: 'repartition',
    };
    sinks[r.name] = {
      name: r.name, topic: r.topic, partitions: r.partitions, input: { ...r.from }, format: 'envelope', serializer: 'msgpack',
      compression: { codec: 'none', threshold: 1024 }, batch: { maxRecords: 2000, maxBytes: 60 * 1024, linger: 1 }, internal: 'repartition',
    };
    for (const name of r.to) {
      const p = processors[name]!;
      const inputs: InputRef[] = p.inputs.map((ref) => ref.kind === 'processor' && ref.name === r.from.processor && ref.output === r.from.output
        ? { kind: 'source', name: r.name, topic: r.topic } : ref);
      const input = inputs.map((ref) => (ref.kind === 'source' ? ref.name : ref.output === 'default' ? ref.name : `${ref.name}.${ref.output}`));
      processors[name] = { ...p, inputs, input };
    }
  }
  return { ...topology, sources, sinks, processors };
}

/** The repartitions {@link withRepartitions} would make. */
export function planRepartitions(topology: Topology): Repartition[] {
  const keyed = (p: ProcessorSpec) => p.ordering === 'key' || p.stores.length > 0;
  const rekeyed = new Map<string, boolean>();
  // Whether the key a processor's outputs carry was set by a declared re-key since the last source (or repartition) they came from.
  const isRekeyed = (name: string, seen: Set<string>): boolean => {
    const known = rekeyed.get(name);
    if (known !== undefined) return known;
    if (seen.has(name)) return false; // a cycle (refused by validation)
    seen.add(name);
    const p = topology.processors[name]!;
    const value = p.rekey || p.inputs.some((ref) => ref.kind === 'processor' && isRekeyed(ref.name, seen) && !(keyed(p) && partitionsFor(topology, p, ref.name) > 1));
    rekeyed.set(name, value);
    return value;
  };
  const byEdge = new Map<string, Repartition>();
  for (const p of Object.values(topology.processors)) {
    if (!keyed(p)) continue;
    for (const ref of p.inputs) {
      if (ref.kind !== 'processor' || !isRekeyed(ref.name, new Set([p.name]))) continue;
      const partitions = partitionsFor(topology, p, ref.name);
      if (partitions <= 1) continue;
      const name = repartitionName(ref.name, ref.output);
      const known = byEdge.get(name);
      if (known) { known.to.push(p.name); known.partitions = Math.max(known.partitions, partitions); continue; }
      byEdge.set(name, { name, topic: repartitionTopic(topology.app, ref.name, ref.output), partitions, from: { processor: ref.name, output: ref.output }, to: [p.name] });
    }
  }
  return [...byEdge.values()];
}

/** The keyed step's input partitions: its stores' `partitions` when > 1, else the most of the sources upstream of the re-key. */
function partitionsFor(topology: Topology, step: ProcessorSpec, from: string): number {
  const stores = Math.max(1, ...step.stores.map((s) => topology.stores[s]?.partitions ?? 1));
  if (stores > 1) return stores;
  return Math.max(1, ...upstreamSources(topology, from).map((s) => topology.sources[s]!.partitions));
}

/** The sources a processor is fed from, nearest first. */
function upstreamSources(topology: Topology, name: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const visit = (n: string) => {
    if (seen.has(n)) return;
    seen.add(n);
    for (const ref of topology.processors[n]?.inputs ?? []) {
      if (ref.kind === 'source') { if (!out.includes(ref.name)) out.push(ref.name); } else visit(ref.name);
    }
  };
  visit(name);
  return out;
}

/** A repartition topic must be a valid topic and no other topic of the topology (nor one of its partitions). */
function checkNames(topology: Topology, found: Repartition[]): void {
  const taken = new Map<string, string>();
  const add = (label: string, topic: string, partitions: number) => { for (const t of partitionTopics(topic, partitions)) taken.set(t, label); };
  for (const s of Object.values(topology.sources)) if (!isRepartition(s)) add(`source "${s.name}"`, s.topic, s.partitions);
  for (const s of Object.values(topology.sinks)) if (!isRepartition(s)) add(`sink "${s.name}"`, s.topic, s.partitions);
  for (const s of Object.values(topology.stores)) add(`the changelog of store "${s.name}"`, s.changelog, s.partitions);
  for (const p of Object.values(topology.processors)) add(`the dead-letter topic of processor "${p.name}"`, p.deadLetter, 1);
  for (const r of found) {
    for (const t of partitionTopics(r.topic, r.partitions)) {
      const problem = topicProblem(t);
      if (problem !== undefined) {
        throw new WalrusError('CONFIG_INVALID', `processor "${r.from.processor}" re-keys records (rekey: true) for "${r.to.join('", "')}", so its output goes through the repartition topic "${r.topic}" (${r.partitions} partitions), but "${t}" is not a valid topic (${problem}); use a shorter app or processor name`);
      }
      const other = taken.get(t);
      if (other !== undefined) {
        throw new WalrusError('CONFIG_INVALID', `processor "${r.from.processor}" re-keys records (rekey: true) for "${r.to.join('", "')}", so its output goes through the internal repartition topic "${r.topic}" (${r.partitions} partitions), but the Walrus topic "${t}" is already ${other}; rename that topic (repartition topics are named <app>-<processor>-repartition, docs/scaling.md)`);
      }
    }
  }
}

/** Sources whose records can reach the internal sink of a repartition (their records carry an origin). */
export function sourcesFeedingRepartitions(topology: Topology): Set<string> {
  const out = new Set<string>();
  for (const sink of Object.values(topology.sinks)) {
    if (isRepartition(sink)) for (const s of upstreamSources(topology, sink.input.processor)) out.add(s);
  }
  return out;
}

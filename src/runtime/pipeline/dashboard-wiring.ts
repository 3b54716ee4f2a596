import { basename } from 'node:path';
import { createDashboard, StatsSampler, type Dashboard, type DashboardInstance, type DashboardOptions, type DashboardPartitioned, type DashboardTopology, type DeadLetterRing, type MetricsHub } from '../../observability/index.js';
import { ownedPartitions } from '../../codec/partitioning.js';
import { inspectStore, storeDir } from '../../state/index.js';
import { describeAggregate } from '../../topology/aggregate.js';
import type { Topology } from '../../topology/types.js';
import type { Coordinator } from '../coordinator/coordinator.js';
import type { InstanceAssignment } from '../sources/partitioned-reader.js';

/** Which instance a run is: `--instance` and the resolved `--instances` assignment. */
export interface DashboardScaling {
  /** The instance id (`--instance`, or the index with `--instances`). */
  instance?: string | undefined;
  assignment?: InstanceAssignment | undefined;
}

/**
 * The topology as the dashboard draws it: sources, processors (with their
 * stage group: `coordinator.groups`), sinks and dead-letter topics; which
 * instance this run is, and which partitions of each partitioned source,
 * sink and store it owns.
 */
export function dashboardTopology(topology: Topology, groups: ReadonlyArray<{ name: string; members: readonly string[] }> = [], scaling: DashboardScaling = {}): DashboardTopology {
  const groupOf = new Map<string, string>();
  for (const g of groups) for (const member of g.members) groupOf.set(member, g.name);
  const nodes: DashboardTopology['nodes'] = [];
  const edges: DashboardTopology['edges'] = [];
  const dlqs = new Set<string>();
  for (const s of Object.values(topology.sources)) nodes.push({ id: `source:${s.name}`, kind: 'source', name: s.name, detail: s.topic, group: null });
  for (const p of Object.values(topology.processors)) {
    nodes.push({
      id: `processor:${p.name}`, kind: 'processor', name: p.name,
      detail: p.aggregate ? describeAggregate(p.aggregate) : basename(p.module),
      // The stage group (processors fused into one worker task), named after its head.
      group: groupOf.get(p.name) ?? null,
    });
    for (const input of p.inputs) {
      edges.push(input.kind === 'source'
        ? { from: `source:${input.name}`, to: `processor:${p.name}`, kind: 'read' }
        : { from: `processor:${input.name}`, to: `processor:${p.name}`, kind: 'output', ...(input.output === 'default' ? {} : { label: input.output }) });
    }
    if (!dlqs.has(p.deadLetter)) {
      dlqs.add(p.deadLetter);
      nodes.push({ id: `dlq:${p.deadLetter}`, kind: 'dlq', name: p.deadLetter, group: null });
    }
    edges.push({ from: `processor:${p.name}`, to: `dlq:${p.deadLetter}`, kind: 'dead-letter' });
  }
  for (const s of Object.values(topology.sinks)) {
    nodes.push({ id: `sink:${s.name}`, kind: 'sink', name: s.name, detail: s.topic, group: null });
    edges.push({ from: `processor:${s.input.processor}`, to: `sink:${s.name}`, kind: 'output', ...(s.input.output === 'default' ? {} : { label: s.input.output }) });
  }
  return { app: topology.app, nodes, edges, stores: Object.keys(topology.stores ?? {}), instance: instanceView(scaling), partitioned: partitionedView(topology, scaling.assignment) };
}

function instanceView({ instance, assignment }: DashboardScaling): DashboardInstance {
  return { id: instance ?? null, index: assignment?.instance ?? null, count: assignment?.instances ?? null };
}

/** The partitioned sources, sinks and stores, with the partitions this instance owns (as the readers pick them: `ownedTopics`). */
function partitionedView(topology: Topology, assignment: InstanceAssignment | undefined): DashboardPartitioned[] {
  const owned = (n: number): number[] => (assignment === undefined ? Array.from({ length: n }, (_, p) => p) : ownedPartitions(n, assignment.instance, assignment.instances));
  const out: DashboardPartitioned[] = [];
  for (const s of Object.values(topology.sources)) if (s.partitions > 1) out.push({ kind: 'source', name: s.name, topic: s.topic, partitions: s.partitions, owned: owned(s.partitions) });
  for (const s of Object.values(topology.sinks)) if (s.partitions > 1) out.push({ kind: 'sink', name: s.name, topic: s.topic, partitions: s.partitions, owned: null });
  for (const [name, s] of Object.entries(topology.stores ?? {})) if (s.partitions > 1) out.push({ kind: 'store', name, topic: s.changelog, partitions: s.partitions, owned: owned(s.partitions) });
  return out;
}

/** What {@link createPipelineDashboard} reads from a started pipeline. */
export interface DashboardParts {
  topology: Topology;
  hub: MetricsHub;
  coordinator: Pick<Coordinator, 'stats' | 'pending' | 'groups'>;
  /** Replays dead-letter entries: the CLI passes `dlq replay`'s `replayEntries`. */
  replay: DashboardOptions['replay'];
  deadLetters: DeadLetterRing;
  /** Which instance this run is. @default a single instance */
  scaling?: DashboardScaling;
}

/**
 * The dashboard of a running pipeline: stats sampled from the hub and the
 * coordinator, the recent dead letters, replay through `dlq replay`'s code,
 * and a browser over the run's state stores (read from their files, like
 * `walrus-stream store`, so nothing is locked).
 */
export function createPipelineDashboard(parts: DashboardParts): Dashboard & { sampler: StatsSampler } {
  const { topology, hub, coordinator } = parts;
  const sampler = new StatsSampler({
    progress: () => hub.progress(),
    processors: () => coordinator.stats.summary.processors,
    pending: () => coordinator.pending(),
    latency: () => hub.processingLatency(),
    partitionLag: () => hub.sourcePartitionLag(),
  });
  sampler.start();
  const dashboard = createDashboard({
    topology: dashboardTopology(topology, coordinator.groups, parts.scaling),
    sampler,
    deadLetters: parts.deadLetters,
    replay: parts.replay,
    browseStore: async (store, { prefix, limit }) => {
      const found = await inspectStore(storeDir(topology.stateDir, topology.app, store), store, { prefix, limit: limit + 1 });
      return { store, keys: found.keys, entries: found.entries.slice(0, limit), truncated: found.entries.length > limit };
    },
  });
  return {
    sampler,
    routes: dashboard.routes,
    get streams() { return dashboard.streams; },
    close() { sampler.stop(); dashboard.close(); },
  };
}

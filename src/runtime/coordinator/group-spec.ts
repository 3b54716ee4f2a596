import type { StageGroup } from '../../topology/stage-groups.js';
import type { Topology } from '../../topology/types.js';
import type { GroupSpecWire, MemberRoute, MemberWire, ProcessorSpecWire, SinkWire } from '../wire/messages.js';
import { buildRoutes, type Routes } from './routes.js';

/** What a worker needs to know about one processor (loading it, running it). */
export function wireSpec(topology: Topology, name: string): ProcessorSpecWire {
  const spec = topology.processors[name];
  return {
    name, module: spec.modulePath, config: spec.config, outputs: spec.outputs, timeoutMs: spec.timeout, maxOutputs: spec.maxOutputs, maxOutputBytes: spec.maxOutputBytes,
    loadTimeoutMs: topology.workerPool.loadTimeout,
    logLevel: topology.observability.logLevel, app: topology.app, redactHeaders: topology.observability.redactHeaders,
  };
}

/**
 * A stage group as a worker runs it: each member with, per output, the
 * members of the group that read it, the processors of other groups that
 * read it (the record goes back to the coordinator for them) and the sinks
 * that write it (the worker serializes and packs those entries).
 */
export function groupSpec(topology: Topology, group: StageGroup, routes: Routes = buildRoutes(topology)): GroupSpecWire {
  const index = new Map(group.members.map((name, i) => [name, i]));
  const members = group.members.map((name): MemberWire => {
    const p = topology.processors[name];
    const memberRoutes: Record<string, MemberRoute> = {};
    for (const output of p.outputs) {
      const targets = routes.byOutput.get(`${name}.${output}`);
      const route: MemberRoute = { members: [], exits: [], sinks: [] };
      for (const reader of targets?.processors ?? []) {
        const i = index.get(reader);
        if (i !== undefined) route.members.push(i);
        else route.exits.push(reader);
      }
      for (const s of targets?.sinks ?? []) route.sinks.push(sinkWire(topology, s));
      memberRoutes[output] = route;
    }
    return { ...wireSpec(topology, name), keyed: p.ordering === 'key' || p.stores.length > 0, routes: memberRoutes };
  });
  const timeouts = members.map((m) => m.timeoutMs);
  return { name: group.name, members, timeoutMs: timeouts.some((t) => t <= 0) ? 0 : timeouts.reduce((a, b) => a + b, 0) };
}

function sinkWire(topology: Topology, name: string): SinkWire {
  const sink = topology.sinks[name];
  return {
    name: sink.name, topic: sink.topic, format: sink.format, serializer: sink.serializer,
    compression: sink.compression.codec, compressionThreshold: sink.compression.threshold, partitions: sink.partitions,
    ...(sink.internal === 'repartition' ? { internal: true as const } : {}),
  };
}

import { describeAggregate } from './aggregate.js';
import { planStageGroups } from './stage-groups.js';
import type { Topology } from './types.js';

/**
 * The topology as a plain graph — topics, processors and sinks as nodes;
 * reads, named outputs, writes and dead letters as edges — which the
 * renderers (`render-graph.ts`) turn into Mermaid, DOT or text.
 */

/** `aggregate`: a built-in aggregation step (a processor without a module); its label says what it computes. */
export type GraphNodeKind = 'topic' | 'dlq' | 'processor' | 'aggregate' | 'sink' | 'dropped';
export type GraphEdgeKind = 'read' | 'output' | 'write' | 'dead-letter';

export interface GraphNode {
  /** Stable, unique, safe in Mermaid and DOT: `n1`, `n2`, ... */
  id: string;
  kind: GraphNodeKind;
  label: string;
  /** Processors: the stage group the processor runs in (its head's name). */
  group?: string;
}

export interface GraphEdge {
  from: string;
  to: string;
  kind: GraphEdgeKind;
  /** Source name on reads, output name on outputs. */
  label?: string;
}

export interface TopologyGraph {
  app: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** Stage groups: processors that run in one worker task (docs/pipeline.md, "Stage groups"). */
  groups: Array<{ name: string; members: string[]; ordering: string; reason: string }>;
}

export function buildGraph(topology: Topology): TopologyGraph {
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  const byKey = new Map<string, GraphNode>();
  const node = (key: string, kind: GraphNodeKind, label: string): string => {
    let found = byKey.get(key);
    if (!found) {
      found = { id: `n${nodes.length + 1}`, kind, label };
      nodes.push(found);
      byKey.set(key, found);
    }
    return found.id;
  };
  // Topics are keyed by name, so a topic written by one part and read by another is one node.
  const topic = (name: string, kind: 'topic' | 'dlq' = 'topic'): string => node(`topic:${name}`, kind, name);

  const groups = planStageGroups(topology);
  const groupOf = new Map(groups.flatMap((g) => g.members.map((m) => [m, g.name] as const)));
  for (const source of Object.values(topology.sources)) topic(source.topic);
  for (const p of Object.values(topology.processors)) {
    if (p.aggregate === undefined) node(`processor:${p.name}`, 'processor', p.name);
    else node(`processor:${p.name}`, 'aggregate', `${p.name}: ${describeAggregate(p.aggregate)}`);
    byKey.get(`processor:${p.name}`)!.group = groupOf.get(p.name);
  }
  for (const s of Object.values(topology.sinks)) node(`sink:${s.name}`, 'sink', s.name);

  const consumed = new Set<string>();
  for (const p of Object.values(topology.processors)) {
    const to = node(`processor:${p.name}`, 'processor', p.name);
    for (const input of p.inputs) {
      if (input.kind === 'source') {
        const source = topology.sources[input.name]!;
        edges.push({ from: topic(source.topic), to, kind: 'read', label: source.name });
      } else {
        consumed.add(`${input.name}.${input.output}`);
        edges.push({ from: node(`processor:${input.name}`, 'processor', input.name), to, kind: 'output', label: input.output });
      }
    }
  }
  for (const s of Object.values(topology.sinks)) {
    const id = node(`sink:${s.name}`, 'sink', s.name);
    consumed.add(`${s.input.processor}.${s.input.output}`);
    edges.push({ from: node(`processor:${s.input.processor}`, 'processor', s.input.processor), to: id, kind: 'output', label: s.input.output });
    edges.push({ from: id, to: topic(s.topic), kind: 'write' });
  }
  for (const p of Object.values(topology.processors)) {
    const from = node(`processor:${p.name}`, 'processor', p.name);
    for (const output of p.outputs) {
      // The implicit `default` output of a terminal processor is not a dead end worth drawing.
      if (consumed.has(`${p.name}.${output}`) || (output === 'default' && p.outputs.length === 1)) continue;
      edges.push({ from, to: node(`dropped:${p.name}.${output}`, 'dropped', '(dropped)'), kind: 'output', label: output });
    }
    edges.push({ from, to: topic(p.deadLetter, 'dlq'), kind: 'dead-letter' });
  }
  return {
    app: topology.app, nodes, edges,
    groups: groups.map((g) => ({ name: g.name, members: g.members, ordering: g.ordering, reason: g.reason })),
  };
}

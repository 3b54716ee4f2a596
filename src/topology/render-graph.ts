import { describeAggregate } from './aggregate.js';
import { buildGraph, type GraphEdge, type GraphNode, type TopologyGraph } from './graph.js';
import { describeStageGroups } from './stage-groups.js';
import { planRepartitions } from './repartition.js';
import type { Topology } from './types.js';

/** Output formats of `walrus-stream graph`. */
export const GRAPH_FORMATS = ['mermaid', 'dot', 'text', 'json'] as const;
export type GraphFormat = (typeof GRAPH_FORMATS)[number];

/** Renders the topology's data flow in `format`. */
export function renderGraph(topology: Topology, format: GraphFormat): string {
  if (format === 'text') return renderText(topology);
  const graph = buildGraph(topology);
  if (format === 'json') return `${JSON.stringify(graph, null, 2)}\n`;
  return format === 'mermaid' ? renderMermaid(graph) : renderDot(graph);
}

// Labels come from validated names and topics (no quotes, no newlines), so
// quoting them is enough for both syntaxes.

const MERMAID_SHAPE: Record<GraphNode['kind'], (label: string) => string> = {
  topic: (l) => `[("${l}")]`,
  dlq: (l) => `[("${l}")]:::dlq`,
  processor: (l) => `["${l}"]`,
  aggregate: (l) => `{{"${l}"}}`,
  sink: (l) => `[/"${l}"/]`,
  dropped: (l) => `(["${l}"]):::dropped`,
};

function mermaidEdge(e: GraphEdge): string {
  if (e.kind === 'dead-letter') return `  ${e.from} -.->|dead letters| ${e.to}`;
  return e.label ? `  ${e.from} -->|"${e.label}"| ${e.to}` : `  ${e.from} --> ${e.to}`;
}

export function renderMermaid(graph: TopologyGraph): string {
  const grouped = (name: string) => graph.nodes.filter((n) => n.group === name);
  return [
    'flowchart LR',
    ...graph.nodes.filter((n) => n.group === undefined).map((n) => `  ${n.id}${MERMAID_SHAPE[n.kind](n.label)}`),
    // Each stage group is a subgraph: its processors run in one worker task.
    ...graph.groups.flatMap((g, i) => [
      `  subgraph g${i + 1}["stage group ${g.name}"]`,
      ...grouped(g.name).map((n) => `    ${n.id}${MERMAID_SHAPE[n.kind](n.label)}`),
      '  end',
    ]),
    ...graph.edges.map(mermaidEdge),
    '  classDef dlq stroke:#c0392b,color:#c0392b',
    '  classDef dropped stroke-dasharray:4 4,color:#888',
    '',
  ].join('\n');
}

const DOT_ATTRS: Record<GraphNode['kind'], string> = {
  topic: 'shape=cylinder',
  dlq: 'shape=cylinder, color="#c0392b", fontcolor="#c0392b"',
  processor: 'shape=box, style=rounded',
  aggregate: 'shape=hexagon',
  sink: 'shape=cds',
  dropped: 'shape=plaintext, fontcolor="#888888"',
};

export function renderDot(graph: TopologyGraph): string {
  const edge = (e: GraphEdge): string => {
    const attrs = [e.label ? `label="${e.label}"` : '', e.kind === 'dead-letter' ? 'style=dashed, color="#c0392b", label="dead letters"' : '']
      .filter(Boolean)
      .join(', ');
    return `  ${e.from} -> ${e.to}${attrs ? ` [${attrs}]` : ''};`;
  };
  const node = (n: GraphNode, indent = '  ') => `${indent}${n.id} [label="${n.label}", ${DOT_ATTRS[n.kind]}];`;
  return [
    `digraph "${graph.app}" {`,
    '  rankdir=LR;',
    ...graph.nodes.filter((n) => n.group === undefined).map((n) => node(n)),
    // Each stage group is a cluster: its processors run in one worker task.
    ...graph.groups.flatMap((g, i) => [
      `  subgraph cluster_${i + 1} {`,
      `    label="stage group ${g.name}"; style=dashed; color="#7f8c8d";`,
      ...graph.nodes.filter((n) => n.group === g.name).map((n) => node(n, '    ')),
      '  }',
    ]),
    ...graph.edges.map(edge),
    '}',
    '',
  ].join('\n');
}

/** A readable outline: what each part reads, where each output goes, where failures go. */
export function renderText(t: Topology): string {
  const readers = new Map<string, string[]>();
  for (const p of Object.values(t.processors)) {
    for (const i of p.inputs) if (i.kind === 'processor') push(readers, `${i.name}.${i.output}`, `processor ${p.name}`);
  }
  for (const s of Object.values(t.sinks)) push(readers, `${s.input.processor}.${s.input.output}`, `sink ${s.name}`);
  const cluster = t.cluster.nodes.length === 0 ? 'embedded node' : t.cluster.nodes.join(', ');
  const lines = [`app ${t.app} — ${cluster}, workers ${t.workers}`, '', 'sources'];
  for (const s of Object.values(t.sources)) lines.push(`  ${s.name}: topic ${s.topic} (${s.format}, ${s.serializer})`);
  lines.push('', 'processors');
  for (const p of Object.values(t.processors)) {
    const what = p.aggregate === undefined ? p.module : `aggregate ${describeAggregate(p.aggregate, { long: true })}`;
    lines.push(`  ${p.name}: ${what} (concurrency ${p.concurrency}, ${p.ordering})`);
    lines.push(`    in:  ${p.input.length > 0 ? p.input.join(', ') : '(nothing: unreachable)'}`);
    p.outputs.forEach((o, i) => {
      const to = readers.get(`${p.name}.${o}`);
      lines.push(`    ${i === 0 ? 'out:' : '    '} ${o} → ${to ? to.join(', ') : '(dropped)'}`);
    });
    lines.push(`    dlq: ${p.deadLetter}`);
  }
  lines.push('', 'stage groups (processors that run in one worker task; a record crosses threads once per group)');
  for (const line of describeStageGroups(t)) lines.push(`  ${line}`);
  const repartitions = planRepartitions(t);
  if (repartitions.length > 0) {
    lines.push('', 'repartition topics (run writes the re-keyed records there and the owner of each partition reads them back)');
    for (const r of repartitions) lines.push(`  ${r.from.output === 'default' ? r.from.processor : `${r.from.processor}.${r.from.output}`} → ${r.topic} (${r.partitions} partitions) → ${r.to.join(', ')}`);
  }
  if (Object.keys(t.sinks).length > 0) {
    lines.push('', 'sinks');
    for (const s of Object.values(t.sinks)) lines.push(`  ${s.name}: ${s.input.processor}.${s.input.output} → topic ${s.topic} (${s.format}, ${s.serializer})`);
  }
  return `${lines.join('\n')}\n`;
}

function push(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key) ?? [];
  list.push(value);
  map.set(key, list);
}

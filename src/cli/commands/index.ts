import type { CliCommand } from '../command.js';

/**
 * Every CLI command, in the order `--help` lists them. Commands are loaded
 * lazily so `walrus-stream validate` does not pay for the broker's imports.
 */
export const COMMANDS: Record<string, { summary: string; load: () => Promise<CliCommand> }> = {
  init: { summary: 'Create a new project: package.json, topology, a processor, sample input, a test', load: () => import('./init.js').then((m) => m.default) },
  validate: { summary: 'Check a topology file and report every problem with file:line:col', load: () => import('./validate.js').then((m) => m.default) },
  test: { summary: 'Run YAML test cases of a topology without a node (*.test.yaml)', load: () => import('./test.js').then((m) => m.default) },
  run: { summary: 'Run a topology (the pipeline)', load: () => import('./run.js').then((m) => m.default) },
  graph: { summary: 'Draw the topology as Mermaid, DOT, text or JSON', load: () => import('./graph.js').then((m) => m.default) },
  schema: { summary: 'Print the JSON Schema of topology.yaml (for editors)', load: () => import('./schema.js').then((m) => m.default) },
  broker: { summary: 'Run the embedded Walrus-compatible node', load: () => import('./broker.js').then((m) => m.default) },
  produce: { summary: 'Write records to a topic from stdin or a file', load: () => import('./produce.js').then((m) => m.default) },
  consume: { summary: 'Print the records of a topic', load: () => import('./consume.js').then((m) => m.default) },
  state: { summary: 'Show the segments, leaders and lag of a topic', load: () => import('./state.js').then((m) => m.default) },
  metrics: { summary: 'Show the METRICS (Raft state, leader) of each node', load: () => import('./metrics.js').then((m) => m.default) },
  store: { summary: "Show a state store's keys and values (running or stopped app)", load: () => import('./store.js').then((m) => m.default) },
  dlq: { summary: 'Replay dead-lettered records to their source topic (dlq replay)', load: () => import('./dlq.js').then((m) => m.default) },
};

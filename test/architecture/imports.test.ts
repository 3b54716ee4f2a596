import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/*
 * The import rules the source layout stands for (docs/architecture.md). Every
 * file under src/ is parsed for its import and re-export specifiers (static,
 * `import type` and dynamic `import('...')` alike); relative ones are
 * resolved to a path under src/ and checked against the rules below.
 */

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

interface Edge { from: string; to: string }

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return /\.(ts|mts)$/.test(name) ? [full] : [];
  });
}

/** Every relative import of every src file, as src-relative paths with `/` separators. */
function importEdges(): Edge[] {
  const edges: Edge[] = [];
  for (const file of sourceFiles(SRC)) {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const ref of info.importedFiles) {
      if (!ref.fileName.startsWith('.')) continue; // a package or node: builtin
      const to = relative(SRC, resolve(dirname(file), ref.fileName)).split(sep).join('/');
      edges.push({ from: relative(SRC, file).split(sep).join('/'), to });
    }
  }
  return edges;
}

const within = (path: string, prefixes: readonly string[]): boolean =>
  prefixes.some((p) => (p.endsWith('/') ? path.startsWith(p) : path === p || path.startsWith(`${p.replace(/\.ts$/, '')}.`)));

interface Rule {
  name: string;
  /** Files the rule applies to. */
  files: (path: string) => boolean;
  /** Allowed targets (prefixes ending in `/`, or files); anything else is a violation. */
  allow?: readonly string[];
  /** Forbidden targets; used when `allow` is absent. */
  deny?: readonly string[];
}

const RULES: readonly Rule[] = [
  {
    // What runs inside a worker thread: the wire messages; the processor SDK
    // and loader it hosts; the worker-side state (StateStoreView, worker-state);
    // codec to decode batches and pack sink entries; protocol for the entry
    // size limits; errors to serialise failures; the log fields (not the pino
    // transport, which is main-thread only); util, which is thread-neutral.
    name: 'worker code imports only the wire layer and what a worker runs',
    files: (p) => p.startsWith('runtime/worker/'),
    allow: ['runtime/worker/', 'runtime/wire/', 'processor/', 'state/', 'codec/', 'protocol/', 'errors/', 'observability/logs/log-fields.ts', 'util/'],
  },
  {
    name: 'the wire layer is shared by both threads, so it imports no other runtime folder',
    files: (p) => p.startsWith('runtime/wire/'),
    allow: ['runtime/wire/', 'errors/', 'codec/', 'protocol/', 'processor/', 'state/', 'util/', 'observability/metrics/worker-snapshot.ts'],
  },
  {
    // src/testing assembles the runtime for tests, as runtime/pipeline does for `run`.
    name: 'only src/runtime, src/testing, src/cli and the package entry import the runtime',
    files: (p) => !p.startsWith('runtime/') && !p.startsWith('cli/') && !p.startsWith('testing/') && p !== 'index.ts',
    deny: ['runtime/'],
  },
  {
    name: 'the processor SDK imports nothing of the runtime or the topology',
    files: (p) => p.startsWith('processor/'),
    deny: ['runtime/', 'topology/', 'cli/'],
  },
  { name: 'errors is the bottom layer', files: (p) => p.startsWith('errors/'), allow: ['errors/'] },
  { name: 'util imports only errors', files: (p) => p.startsWith('util/'), allow: ['util/', 'errors/'] },
  { name: 'protocol imports only errors and util', files: (p) => p.startsWith('protocol/'), allow: ['protocol/', 'errors/', 'util/'] },
  { name: 'codec imports only protocol, errors and util', files: (p) => p.startsWith('codec/'), allow: ['codec/', 'protocol/', 'errors/', 'util/'] },
  {
    name: 'topology does not import observability, the runtime or the CLI',
    files: (p) => p.startsWith('topology/'),
    deny: ['observability/', 'runtime/', 'cli/'],
  },
];

/**
 * Violations inside the folders being rewritten for stage groups, listed so
 * the rest stays enforced meanwhile. Each entry must still exist: remove it
 * when its import goes.
 */
const KNOWN_VIOLATIONS: readonly string[] = [];

/**
 * Imports that load code without depending on it, left out of the layer
 * graph: the processor loader imports the package entry once before it
 * registers TypeScript's loader hooks (so a processor's own
 * `import 'walrus-stream'` finds the package already loaded instead of
 * sending it through the hooks thread module by module); it uses no name
 * from it. Each entry must still exist.
 */
const PRELOADS: readonly string[] = ['processor/loader.ts -> index.js'];

function violations(edges: readonly Edge[]): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const rule of RULES) {
    const bad = edges.filter((e) => rule.files(e.from) && (rule.allow ? !within(e.to, rule.allow) : within(e.to, rule.deny ?? [])));
    found.set(rule.name, bad.map((e) => `${e.from} -> ${e.to}`));
  }
  return found;
}

test('every src file keeps to the import rules of the layout', () => {
  const edges = importEdges();
  assert.ok(edges.length > 300, `parsed only ${edges.length} imports: is the parser still finding them?`);
  const problems: string[] = [];
  const seenKnown = new Set<string>();
  for (const [rule, bad] of violations(edges)) {
    for (const edge of bad) {
      if (KNOWN_VIOLATIONS.includes(edge)) seenKnown.add(edge);
      else problems.push(`${rule}: ${edge}`);
    }
  }
  assert.deepEqual(problems, [], 'imports against the layout (docs/architecture.md)');
  assert.deepEqual(KNOWN_VIOLATIONS.filter((v) => !seenKnown.has(v)), [], 'a known violation is gone: remove it from KNOWN_VIOLATIONS');
});

test('no two top-level layers import each other (directly or through others)', () => {
  const layer = (path: string): string => path.split('/')[0]!.replace(/\.(ts|js)$/, '');
  const graph = new Map<string, Set<string>>();
  const edges = importEdges();
  const isPreload = (e: Edge) => PRELOADS.includes(`${e.from} -> ${e.to}`);
  assert.deepEqual(PRELOADS.filter((p) => !edges.some((e) => `${e.from} -> ${e.to}` === p)), [], 'a preload import is gone: remove it from PRELOADS');
  for (const { from, to } of edges.filter((e) => !isPreload(e))) {
    const a = layer(from);
    const b = layer(to);
    if (a === b) continue;
    if (!graph.has(a)) graph.set(a, new Set());
    graph.get(a)!.add(b);
  }
  // Depth-first search for a back edge; report the cycle's path.
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next].join(' -> '));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  assert.deepEqual(cycles, []);
});

test('the rules catch what they are meant to catch', () => {
  const planted: Edge[] = [
    { from: 'runtime/worker/x.ts', to: 'runtime/coordinator/coordinator.js' },
    { from: 'runtime/worker/x.ts', to: 'observability/logs/logger.js' },
    { from: 'runtime/wire/x.ts', to: 'runtime/pool/worker-pool.js' },
    { from: 'state/x.ts', to: 'runtime/wire/messages.js' },
    { from: 'processor/x.ts', to: 'topology/types.js' },
    { from: 'util/x.ts', to: 'protocol/limits.js' },
    { from: 'codec/x.ts', to: 'client/index.js' },
    { from: 'topology/schema/x.ts', to: 'observability/logs/log-fields.js' },
    // allowed:
    { from: 'runtime/worker/x.ts', to: 'observability/logs/log-fields.js' },
    { from: 'cli/x.ts', to: 'runtime/pipeline/pipeline.js' },
    { from: 'index.ts', to: 'runtime/index.js' },
  ];
  const caught = [...violations(planted).values()].flat();
  assert.deepEqual(caught.sort(), [
    'codec/x.ts -> client/index.js',
    'processor/x.ts -> topology/types.js',
    'runtime/wire/x.ts -> runtime/pool/worker-pool.js',
    'runtime/worker/x.ts -> observability/logs/logger.js',
    'runtime/worker/x.ts -> runtime/coordinator/coordinator.js',
    'state/x.ts -> runtime/wire/messages.js',
    'topology/schema/x.ts -> observability/logs/log-fields.js',
    'util/x.ts -> protocol/limits.js',
  ]);
});

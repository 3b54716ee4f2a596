import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/command.js';
import { WalrusError } from '../../src/errors/index.js';
import { builtinAggregatePath } from '../../src/topology/aggregate.js';
import { buildGraph, loadTopology, loadTopologyText, renderGraph, type Diagnostic } from '../../src/topology/index.js';

// `aggregate:` steps in the topology: what a valid one normalises to, every
// validation error (each with its line and column), and how validate and
// graph show the step.

const FILE = '/virtual/topology.yaml';

/** A topology with one source, two stores and the given processors block (indented under `processors:`). */
const doc = (processors: string, extra = ''): string => `app: shop
sources:
  orders: { topic: orders }
stores:
  revenue: {}
  counts: {}
processors:
${processors}${extra}`;

async function diagnostics(yaml: string): Promise<string[]> {
  const error = await loadTopologyText(yaml, FILE, { env: {} }).then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof WalrusError, 'the topology must be rejected');
  assert.equal(error.code, 'TOPOLOGY_INVALID');
  return (error.context.diagnostics as Diagnostic[]).filter((d) => d.severity === 'error').map((d) => `${d.line}:${d.col}: ${d.message}`);
}

test('a valid aggregate step normalises to the built-in module, key ordering, its store and the spec as config', async () => {
  const { topology, warnings } = await loadTopologyText(doc(`  revenue-per-minute:
    input: orders
    outputs: [default, late]
    concurrency: 4
    aggregate:
      store: revenue
      op: sum
      field: order.totalEur
      window:
        tumbling: 1m
        grace: 30s
        time: { field: createdAt }
      late: late
  per-customer:
    input: orders
    ordering: key
    stores: [counts]
    aggregate: { store: counts, op: count }
  hopping:
    input: orders
    aggregate:
      store: hop
      op: max
      field: n
      window: { hopping: { size: 1h, advance: 15m }, time: { header: x-event-time }, maxAhead: 90s }
      emit: update
      late: drop
sinks:
  revenue: { topic: orders.revenue, input: revenue-per-minute }
  late: { topic: orders.late, input: revenue-per-minute.late }
  counts: { topic: orders.counts, input: per-customer }
  hop: { topic: orders.hop, input: hopping }
`).replace('  counts: {}\n', '  counts: {}\n  hop: {}\n'), FILE, { env: {} });
  assert.deepEqual(warnings, []);
  const p = topology.processors['revenue-per-minute']!;
  const spec = {
    store: 'revenue', op: 'sum', field: 'order.totalEur', emit: 'close', late: { output: 'late' },
    window: { kind: 'tumbling', size: 60_000, advance: 60_000, grace: 30_000, time: { field: 'createdAt' }, maxAhead: null },
  };
  assert.deepEqual(p.aggregate, spec);
  assert.deepEqual(p.config, spec);
  assert.equal(p.module, 'builtin:aggregate');
  assert.equal(p.modulePath, builtinAggregatePath());
  assert.ok(existsSync(p.modulePath), p.modulePath);
  assert.deepEqual([p.ordering, p.stores, p.outputs, p.concurrency, p.deadLetter], ['key', ['revenue'], ['default', 'late'], 4, 'orders.dlq']);
  assert.deepEqual(topology.processors['per-customer']!.aggregate, { store: 'counts', op: 'count', field: null, window: null, emit: 'update', late: 'dlq' });
  assert.deepEqual(topology.processors['per-customer']!.stores, ['counts']);
  assert.deepEqual(topology.processors.hopping!.aggregate, {
    store: 'hop', op: 'max', field: 'n', emit: 'update', late: 'drop',
    window: { kind: 'hopping', size: 3_600_000, advance: 900_000, grace: 0, time: { header: 'x-event-time' }, maxAhead: 90_000 },
  });
});

test('module and aggregate: neither, both', async () => {
  assert.deepEqual(await diagnostics(doc(`  a:
    input: orders
`)), ['8:3: missing required key "module" in processors.a']);
  assert.deepEqual(await diagnostics(doc(`  a:
    module: ./a.ts
    input: orders
    aggregate: { store: revenue, op: count }
`)), [
    '9:13: processors.a.module: file not found: ./a.ts (/virtual/a.ts)',
    '11:5: processors.a: "module" and "aggregate" are mutually exclusive — an aggregate step runs a built-in processor; remove "module", or remove "aggregate" to run the module',
  ]);
});

test('op and field: unknown op, missing field, field given with count, a field that is not a dotted path', async () => {
  assert.deepEqual(await diagnostics(doc(`  a:
    input: orders
    aggregate: { store: revenue, op: summ, field: x }
  b:
    input: orders
    aggregate: { store: counts, op: avg }
`, `  c:
    input: orders
    aggregate: { store: c, op: count, field: amount }
  d:
    input: orders
    aggregate: { store: d, op: first, field: "a..b" }
  e:
    input: orders
    aggregate: { store: e }
stores:
  c: {}
  d: {}
  e: {}
`).replace('stores:\n  revenue: {}\n  counts: {}\n', '')), [
    '7:25: processors.a.aggregate.store: unknown store "revenue"; declared stores: c, d, e (e.g. stores: { revenue: {} })',
    '7:38: processors.a.aggregate.op: expected one of "count", "sum", "min", "max", "avg", "first", "last", got "summ" — did you mean "sum"?',
    '10:25: processors.b.aggregate.store: unknown store "counts"; declared stores: c, d, e (e.g. stores: { counts: {} })',
    '10:37: processors.b.aggregate: op "avg" needs "field", the value field to average — e.g. field: totalEur (a dotted path such as order.totalEur works too)',
    '13:39: processors.c.aggregate.field: op "count" counts records and reads no field; remove field (or use sum, min, max, avg, first or last to read it)',
    '16:46: processors.d.aggregate.field: expected a dotted field path: names of letters, digits, _, $ and - joined by dots (e.g. totalEur or order.total), got "a..b"',
    '19:5: missing required key "op" in processors.e.aggregate',
  ]);
});

test('store: undeclared (with did-you-mean), shared with another processor, and stores/ordering/config that contradict the step', async () => {
  assert.deepEqual(await diagnostics(doc(`  a:
    input: orders
    aggregate: { store: revenu, op: count }
  b:
    input: orders
    aggregate: { store: counts, op: count }
  c:
    module: ./c.ts
    input: orders
    ordering: key
    stores: [counts]
  d:
    input: orders
    ordering: unordered
    stores: [counts]
    config: { x: 1 }
    aggregate: { store: revenue, op: count }
`).replace('stores:\n  revenue: {}\n  counts: {}\n', 'stores: {}\n')), [
    '8:25: processors.a.aggregate.store: unknown store "revenu"; no stores are declared: add a top-level "stores:" section (e.g. stores: { revenu: {} })',
    '11:25: processors.b.aggregate.store: unknown store "counts"; no stores are declared: add a top-level "stores:" section (e.g. stores: { counts: {} })',
    '13:13: processors.c.module: file not found: ./c.ts (/virtual/c.ts)',
    '16:14: processors.c.stores: unknown store "counts"; no stores are declared (add a top-level "stores:" section)',
    '19:15: processors.d.ordering: an aggregate step keeps its state per key and always runs in "ordering: key"; remove ordering (or write key)',
    '20:5: processors.d.stores: an aggregate step uses exactly its aggregate.store ("revenue"); remove stores',
    '20:14: processors.d.stores: unknown store "counts"; no stores are declared (add a top-level "stores:" section)',
    '21:5: processors.d.config: an aggregate step takes no config — its settings are the keys of "aggregate"; remove config',
    '22:25: processors.d.aggregate.store: unknown store "revenue"; no stores are declared: add a top-level "stores:" section (e.g. stores: { revenue: {} })',
  ]);
  assert.deepEqual(await diagnostics(doc(`  a:
    input: orders
    aggregate: { store: revenu, op: count }
  b:
    input: orders
    aggregate: { store: counts, op: count }
  c:
    module: ./c.ts
    input: orders
    ordering: key
    stores: [counts]
`)), [
    '10:25: processors.a.aggregate.store: unknown store "revenu" — did you mean "revenue"?; declared stores: revenue, counts (e.g. stores: { revenu: {} })',
    '13:25: processors.b.aggregate.store: store "counts" is also used by processor "c"; an aggregate step needs a store of its own (its entries have a fixed layout) — declare another store',
    '15:13: processors.c.module: file not found: ./c.ts (/virtual/c.ts)',
  ]);
});

test('window: bad and zero durations, both or neither size, negative grace, hopping advance over size or too small, bad time', async () => {
  const one = (name: string, window: string) => `  ${name}:
    input: orders
    aggregate:
      store: ${name}
      op: count
      window: ${window}
`;
  const yaml = `app: shop
sources:
  orders: { topic: orders }
stores: { a: {}, b: {}, c: {}, d: {}, e: {}, f: {}, g: {}, h: {}, i: {}, j: {} }
processors:
${one('a', '{ tumbling: 1 minute }')}${one('b', '{ tumbling: 0s }')}${one('c', '{ tumbling: 1m, hopping: { size: 1m, advance: 30s } }')}${one('d', '{ grace: 5s }')}${one('e', '{ tumbling: 1m, grace: -5s }')}${one('f', '{ hopping: { size: 1m, advance: 2m } }')}${one('g', '{ hopping: { size: 1h, advance: 1s } }')}${one('h', '{ tumbling: 1m, time: { feild: ts } }')}${one('i', '{ tumblin: 1m, time: wallclock }')}${one('j', '{ tumbling: 1m, maxAhead: 0s }')}`;
  assert.deepEqual(await diagnostics(yaml), [
    '11:27: processors.a.aggregate.window.tumbling: expected a duration greater than 0 (250ms, 5s, 2m, 1h, 1m30s, or a number of milliseconds), got "1 minute"',
    '17:27: processors.b.aggregate.window.tumbling: must be greater than 0, got "0s"; a window needs a length',
    '23:31: processors.c.aggregate.window: give either "tumbling" or "hopping", not both',
    '29:7: processors.d.aggregate.window: the window has no size — add "tumbling: 1m" (back-to-back windows) or "hopping: { size: 1m, advance: 10s }" (overlapping ones)',
    '35:38: processors.e.aggregate.window.grace: must not be negative, got "-5s": grace is how long after a window\'s end its records are still accepted (0 = none)',
    '41:47: processors.f.aggregate.window.hopping.advance: advance (2m) must not exceed size (1m) — records between two windows would be counted in none; use a smaller advance, or a tumbling window',
    '47:47: processors.g.aggregate.window.hopping.advance: with size 1h and advance 1s every record falls in 3600 windows, over the limit of 100; use an advance of at least 36s',
    '53:37: processors.h.aggregate.window.time: unknown key "feild" — did you mean "field"?; expected "record" (the record timestamp), { field: <dotted path> } or { header: <name> }',
    '59:17: unknown key "tumblin" in processors.i.aggregate.window — did you mean "tumbling"?',
    '59:36: processors.i.aggregate.window.time: expected "record" (the record timestamp), { field: <dotted path> } or { header: <name> }, got "wallclock"',
    '65:41: processors.j.aggregate.window.maxAhead: must be greater than 0, got "0s"; a little clock skew is always there (leave maxAhead out for no limit)',
  ]);
});

test('emit and late: close without a window, late without a window, late output not declared, late to default, outputs the step never uses', async () => {
  assert.deepEqual(await diagnostics(doc(`  a:
    input: orders
    aggregate: { store: revenue, op: count, emit: close, late: late }
  b:
    input: orders
    aggregate: { store: counts, op: count, emit: always }
`)), [
    '10:51: processors.a.aggregate.emit: "close" needs a window — results are emitted when windows close; add window: { tumbling: 1m }, or use emit: update (the default without a window)',
    '10:58: processors.a.aggregate.late: only a windowed step has late records; remove late, or add a window',
    '13:50: processors.b.aggregate.emit: expected one of "close", "update", got "always"',
  ]);
  assert.deepEqual(await diagnostics(doc(`  a:
    input: orders
    aggregate: { store: revenue, op: count, window: { tumbling: 1m }, late: lat }
    outputs: [default, late]
  b:
    input: orders
    aggregate: { store: counts, op: count, window: { tumbling: 1m }, late: default }
`, `  c:
    input: orders
    outputs: [results, extra]
    aggregate: { store: c, op: count, window: { tumbling: 1m }, late: extra }
`).replace('  counts: {}\n', '  counts: {}\n  c: {}\n')), [
    '11:77: processors.a.aggregate.late: "lat" is not one of the step\'s outputs — did you mean "late"?; late is dlq, drop or an output name — declare it: outputs: [default, lat]',
    '12:24: processors.a.outputs: an aggregate step emits only to "default" and to its late output (aggregate.late); nothing would ever reach "late" — remove it, or set late: late',
    '15:76: processors.b.aggregate.late: "default" receives the results; send late records to an output of their own (e.g. late: late with outputs: [default, late]), or use dlq or drop',
    '18:14: processors.c.outputs: an aggregate step emits its results to "default"; list it: outputs: [default, extra]',
    '18:15: processors.c.outputs: an aggregate step emits only to "default" and to its late output (aggregate.late); nothing would ever reach "results" — remove it, or set late: results',
  ]);
});

test('the file position of an error inside a block-style aggregate is its own line', async () => {
  const lines = await diagnostics(doc(`  revenue-per-minute:
    input: orders
    aggregate:
      store: revenue
      op: sum
      field: totalEur
      window:
        hopping:
          size: 1m
          advance: 10m
        grace: 30s
        time: { field: createdAt }
      emit: close
`));
  assert.deepEqual(lines, ['17:20: processors.revenue-per-minute.aggregate.window.hopping.advance: advance (10m) must not exceed size (1m) — records between two windows would be counted in none; use a smaller advance, or a tumbling window']);
});

const SHOWN = doc(`  revenue-per-minute:
    input: orders
    outputs: [default, late]
    aggregate:
      store: revenue
      op: sum
      field: totalEur
      window: { tumbling: 1m, grace: 30s, time: { field: createdAt } }
      late: late
  per-customer:
    input: orders
    aggregate: { store: counts, op: count }
sinks:
  revenue: { topic: orders.revenue, input: revenue-per-minute }
  late: { topic: orders.late, input: revenue-per-minute.late }
  counts: { topic: orders.counts, input: per-customer }
`);

test('graph shows an aggregate step as what it computes (json, mermaid, dot, text)', async () => {
  const { topology } = await loadTopologyText(SHOWN, FILE, { env: {} });
  const graph = buildGraph(topology);
  assert.deepEqual(graph.nodes.filter((n) => n.kind === 'aggregate'), [
    { id: 'n2', kind: 'aggregate', label: 'revenue-per-minute: sum(totalEur) by key, tumbling 1m', group: 'revenue-per-minute' },
    { id: 'n3', kind: 'aggregate', label: 'per-customer: count by key, running (no window)', group: 'per-customer' },
  ]);
  // Inside its stage group's subgraph / cluster.
  assert.match(renderGraph(topology, 'mermaid'), /subgraph g1\["stage group revenue-per-minute"\]\n {4}n2\{\{"revenue-per-minute: sum\(totalEur\) by key, tumbling 1m"\}\}\n {2}end/);
  assert.match(renderGraph(topology, 'dot'), /^ {4}n3 \[label="per-customer: count by key, running \(no window\)", shape=hexagon\];$/m);
  const text = renderGraph(topology, 'text');
  assert.ok(text.includes([
    '  revenue-per-minute: aggregate sum(totalEur) by key, tumbling 1m, grace 30s, time field createdAt, emit on close, late → output late, store revenue (concurrency 8, key)',
    '    in:  orders',
    '    out: default → sink revenue',
    '         late → sink late',
    '    dlq: orders.dlq',
    '  per-customer: aggregate count by key, running (no window), emit on update, store counts (concurrency 8, key)',
  ].join('\n')), text);
});

test('walrus-stream validate counts aggregate steps and imports no module for them; graph prints them', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-aggregate-'));
  try {
    await writeFile(join(dir, 'topology.yaml'), SHOWN);
    const chunks: string[] = [];
    const out = new Writable({ write(c, _e, done) { chunks.push(String(c)); done(); } });
    const err = new Writable({ write(c, _e, done) { if (String(c) !== '') chunks.push(`ERR ${String(c)}`); done(); } });
    const io: CliIo = { stdout: out, stderr: err, stdin: process.stdin, env: {}, cwd: dir };
    assert.equal(await main(['validate'], io), 0, chunks.join(''));
    assert.deepEqual(chunks, ['topology.yaml: ok — 1 source, 2 processors (2 aggregate steps), 3 sinks\n',
      'stage groups (2): revenue-per-minute (key ordering; starts: reads a source) | per-customer (key ordering; starts: reads a source)\n']);
    chunks.length = 0;
    assert.equal(await main(['graph', '--format', 'text'], io), 0, chunks.join(''));
    assert.match(chunks.join(''), /per-customer: aggregate count by key/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the example of docs/state.md, "Declarative aggregations in the topology", is a valid topology without warnings', async () => {
  const doc = await readFile(new URL('../../docs/state.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('### Declarative aggregations in the topology'));
  const example = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(example, 'no yaml example in the section');
  const dir = await mkdtemp(join(tmpdir(), 'walrus-aggregate-doc-'));
  try {
    await mkdir(join(dir, 'processors'));
    await writeFile(join(dir, 'processors/by-customer.ts'), '');
    await writeFile(join(dir, 'topology.yaml'), example);
    const { topology, warnings } = await loadTopology(join(dir, 'topology.yaml'), { env: {} });
    assert.deepEqual(warnings, []);
    assert.deepEqual(topology.processors['revenue-per-minute']!.aggregate, {
      store: 'revenue', op: 'sum', field: 'totalEur', emit: 'close', late: { output: 'late' },
      window: { kind: 'tumbling', size: 60_000, advance: 60_000, grace: 30_000, time: { field: 'createdAt' }, maxAhead: 3_600_000 },
    });
    assert.equal(topology.processors['orders-per-customer']!.aggregate!.op, 'count');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

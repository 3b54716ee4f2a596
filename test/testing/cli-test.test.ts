// run-tests: own process: long (20 s or more on 2 cores): started with the first, not last
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/command.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

function collect(): Writable & { text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({ write(chunk, _enc, done) { chunks.push(String(chunk)); done(); } });
  return Object.assign(stream, { text: () => chunks.join('') });
}

/** Runs the CLI in this process with captured output (nothing reaches the test runner's stdout). */
async function cli(args: string[], cwd: string) {
  const stdout = collect();
  const stderr = collect();
  const io: CliIo = { stdout, stderr, stdin: process.stdin, env: {}, cwd };
  const code = await main(args, io);
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

async function inTempDir(files: Record<string, string>, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-stream-cli-test-'));
  try {
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const ORDER = (id: string, customer: string, price: number) =>
  `{ value: { orderId: ${id}, customerId: ${customer}, currency: EUR, items: [{ sku: A, qty: 1, price: ${price} }], createdAt: "2026-06-01T10:00:00Z" } }`;

test('the bundled example\'s test cases pass through the real `walrus-stream test` command', { timeout: 60_000 }, async (t) => {
  const started = performance.now();
  // A child process, as a user runs it; its output is captured, so its summary line never mixes with this runner's.
  const child = spawn(process.execPath, [join(root, 'bin/walrus-stream.js'), 'test'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.diagnostic(`walrus-stream test took ${Math.round(performance.now() - started)} ms including start-up`);
  assert.equal(code, 0, `${stdout}\n${stderr}`);
  assert.match(stdout, /^topology\.test\.yaml$/m);
  const cases = stdout.split('\n').filter((line) => /^ {2}(ok|FAIL)/.test(line));
  assert.ok(cases.length >= 5, stdout);
  assert.ok(cases.every((line) => line.startsWith('  ok')), stdout);
  assert.match(stdout, new RegExp(`^${cases.length} passed, 0 failed \\(`, 'm'));
});

test('wrong expectations fail their case with a diff of expected and actual, and exit 1', { timeout: 30_000 }, async () => {
  await inTempDir({
    'orders.test.yaml': `
topology: ${JSON.stringify(join(root, 'topology.yaml'))}
tests:
  - name: right
    input: { orders: [${ORDER('o-1', 'c-500', 10)}] }
    expect: { sinks: { accepted: [{ value: { orderId: o-1, totalEur: 10 } }] } }
  - name: wrong total
    input: { orders: [${ORDER('o-2', 'c-500', 10)}, ${ORDER('o-3', 'c-500', 20)}] }
    expect: { sinks: { accepted: [{ value: { orderId: o-2 } }, { value: { orderId: o-3, totalEur: 21 } }] } }
  - name: a dead letter nobody expected
    input: { orders: [{ value: "nope" }] }
    expect: { sinks: { accepted: [] } }
  - name: wrong store entry
    input: { orders: [${ORDER('o-4', 'c-600', 5)}] }
    expect: { stores: { revenue: { c-600@0001780308000000: { revenueEur: 6 } } } }
`,
  }, async (dir) => {
    const r = await cli(['test'], dir);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^ {2}ok {3}right \(\d+ ms\)$/m);
    assert.match(r.stdout, /^ {2}FAIL wrong total \(\d+ ms\) {2}orders\.test\.yaml:7$/m);
    assert.match(r.stdout, /sink "accepted": record 2: value\.totalEur: expected 21, got 20/);
    assert.match(r.stdout, /^ {8}- \{"value":\{"orderId":"o-3","totalEur":21\}\}$/m);
    assert.match(r.stdout, /^ {8}\+ \{"value":\{.*"orderId":"o-3".*\}\}$/m);
    assert.match(r.stdout, /dead letters: expected 0 record\(s\), got 1/);
    assert.match(r.stdout, /\+ \{"processor":"parse","code":"NON_RETRIABLE","message":"malformed JSON/);
    assert.match(r.stdout, /store "revenue" key "c-600@0001780308000000": revenueEur: expected 6, got 5/);
    assert.match(r.stdout, /^1 passed, 3 failed \(/m);
  });
});

test('order, subset and count options: any order passes where strict order fails; a subsequence passes with exhaustive: false', { timeout: 30_000 }, async () => {
  const input = `{ orders: [${ORDER('o-1', 'c-1', 1)}, ${ORDER('o-2', 'c-2', 2)}, ${ORDER('o-3', 'c-3', 3)}] }`;
  await inTempDir({
    'order.test.yaml': `
topology: ${JSON.stringify(join(root, 'topology.yaml'))}
tests:
  - { name: any order, input: ${input}, expect: { sinks: { accepted: { order: any, records: [{ value: { orderId: o-3 } }, { value: { orderId: o-1 } }, { value: { orderId: o-2 } }] } } } }
  - { name: strict order, input: ${input}, expect: { sinks: { accepted: [{ value: { orderId: o-3 } }, { value: { orderId: o-1 } }, { value: { orderId: o-2 } }] } } }
  - { name: subsequence, input: ${input}, expect: { sinks: { accepted: { exhaustive: false, records: [{ value: { orderId: o-1 } }, { value: { orderId: o-3 } }] } } } }
  - { name: count, input: ${input}, expect: { sinks: { accepted: { count: 2 } } } }
  - { name: exact, input: ${input}, expect: { sinks: { review: { match: exact, records: [] }, accepted: { match: exact, records: [{ value: { orderId: o-1 } }, {}, {}] } } } }
`,
  }, async (dir) => {
    const r = await cli(['test', 'order.test.yaml'], dir);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^ {2}ok {3}any order/m);
    assert.match(r.stdout, /^ {2}FAIL strict order/m);
    assert.match(r.stdout, /^ {2}ok {3}subsequence/m);
    assert.match(r.stdout, /^ {2}FAIL count/m);
    assert.match(r.stdout, /sink "accepted": expected 2 record\(s\), got 3/);
    assert.match(r.stdout, /^ {2}FAIL exact/m);
    assert.match(r.stdout, /^2 passed, 3 failed/m);
    const filtered = await cli(['test', 'order.test.yaml', '--filter', 'order'], dir);
    assert.match(filtered.stdout, /^1 passed, 1 failed/m);
  });
});

test('a broken test file exits 2 with every problem as file:line:col', { timeout: 30_000 }, async () => {
  await inTempDir({
    'broken.test.yaml': [
      `topology: ${JSON.stringify(join(root, 'topology.yaml'))}`,
      'tests:',
      '  - name: typo',
      '    input: { orders: [{ value: x, colour: red }] }',
      '    expect:',
      '      sinks: { acepted: [] }',
      '      stores: { revenue: {} }',
      '  - name: unknown source',
      '    input: { order: [] }',
      '    advance: soon',
      '    expect: { deadLetters: [{ processor: parser }] }',
      '',
    ].join('\n'),
    'syntax.test.yaml': 'tests:\n  - name: a\n   input: {}\n',
  }, async (dir) => {
    const r = await cli(['test'], dir);
    assert.equal(r.code, 2, r.stdout);
    const lines = r.stderr.trim().split('\n');
    assert.ok(lines.includes('broken.test.yaml:4:35: error: tests[0].input.orders[0].colour: unknown key "colour"'), r.stderr);
    assert.ok(lines.some((l) => l.startsWith('broken.test.yaml:6:16: error: sink "acepted": unknown sink; the topology has: accepted, review, revenue')), r.stderr);
    assert.ok(lines.some((l) => l.startsWith('broken.test.yaml:9:14: error: source "order": unknown source; the topology has: orders')), r.stderr);
    assert.ok(lines.some((l) => l.startsWith('broken.test.yaml:10:14: error: advance: "soon" is not a duration')), r.stderr);
    assert.ok(lines.some((l) => l.startsWith('broken.test.yaml:11:42: error: processor "parser": unknown processor')), r.stderr);
    assert.ok(lines.some((l) => /^syntax\.test\.yaml:3:\d+: error: /.test(l)), r.stderr);
    assert.match(r.stdout, /^0 passed, 0 failed, 2 broken files/m);
  });
});

test('no test files, or a path that does not exist, exits 2', { timeout: 30_000 }, async () => {
  await inTempDir({}, async (dir) => {
    const none = await cli(['test'], dir);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no \*\.test\.yaml files/);
    const missing = await cli(['test', 'nope.test.yaml'], dir);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^nope\.test\.yaml:1:1: error: no such file or directory/m);
  });
});

test('steps: pipe, let virtual time pass, pipe again — windows of a built-in aggregate close, quiet keys included', { timeout: 30_000 }, async () => {
  await inTempDir({
    'topology.yaml': `
app: clicks
sources: { clicks: { topic: clicks } }
stores: { counts: {} }
processors:
  per-minute:
    input: clicks
    aggregate: { store: counts, op: count, window: { tumbling: 1m } }
sinks: { counts: { topic: counts, input: per-minute } }
`,
    'clicks.test.yaml': `
tests:
  - name: minute windows
    startTime: 2026-06-01T00:00:00Z
    steps:
      - input: { clicks: [{ key: u1, value: { page: a } }, { key: u2, value: { page: b } }, { key: u1, value: { page: c } }] }
      - advance: 90s
      - input: { clicks: [{ key: u1, value: { page: d } }] }
    expect:
      sinks:
        counts:
          order: any
          records:
            - { key: u1, value: { count: 2, final: true, window: { start: "2026-06-01T00:00:00.000Z" } } }
            - { key: u2, value: { count: 1, final: true } }
      stores:
        counts: { "u1@0001780272060000": { count: 1 }, "u1@0001780272000000": null }
  - name: input and steps together
    input: { clicks: [] }
    steps: [{ advance: 1s }]
    expect: {}
`,
  }, async (dir) => {
    const r = await cli(['test'], dir);
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.stderr, /^clicks\.test\.yaml:18:5: error: tests\[1\]: give either "input" \(and optionally "advance"\) or "steps", not both$/m);
    await writeFile(join(dir, 'clicks.test.yaml'), (await import('node:fs')).readFileSync(join(dir, 'clicks.test.yaml'), 'utf8').split('  - name: input and steps')[0]!);
    const ok = await cli(['test'], dir);
    assert.equal(ok.code, 0, ok.stdout);
    assert.match(ok.stdout, /^1 passed, 0 failed/m);
  });
});

test('a processor module that does not export a processor makes its test file broken (exit 2), pointing at the topology', { timeout: 30_000 }, async () => {
  await inTempDir({
    'package.json': '{ "type": "module" }',
    'not-a-processor.ts': 'export default 42;\n',
    'topology.yaml': 'app: x\nsources: { a: { topic: a } }\nprocessors: { p: { module: ./not-a-processor.ts, input: a } }\n',
    'x.test.yaml': 'tests:\n  - { name: t, input: { a: [{ value: 1 }] }, expect: {} }\n',
  }, async (dir) => {
    const r = await cli(['test'], dir);
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.stderr, /^topology\.yaml:3:\d+: error: processors\.p\.module: its default export is number/m);
  });
});

test('the real binary: a processor that calls process.exit(0) at import, in init() or in process(), or whose import or init() never settles, fails `test` with exit 2 saying so, not a silent exit 0 (or 13 with Node\'s "unsettled top-level await")', { timeout: 90_000 }, async () => {
  const bin = join(root, 'bin/walrus-stream.js');
  const BRAND = "[Symbol.for('walrus-stream.processor')]: true";
  const bodies = {
    import: 'process.exit(0);\n',
    init: `export default { ${BRAND}, process: (r) => r.value, init() { process.exit(0); } };\n`,
    process: `export default { ${BRAND}, process() { process.exit(0); } };\n`,
    'never-settling import': 'await new Promise(() => {});\nexport default 1;\n',
    'never-settling init': `export default { ${BRAND}, process: (r) => r.value, init: () => new Promise(() => {}) };\n`,
  };
  for (const [where, body] of Object.entries(bodies)) {
    await inTempDir({
      'p.mjs': body,
      'topology.yaml': 'app: quits\nsources:\n  in: { topic: in, format: text, serializer: string }\nprocessors:\n  p: { module: ./p.mjs, input: in }\nsinks:\n  out: { topic: out, input: p }\n',
      'quits.test.yaml': 'tests:\n  - name: never checked\n    input:\n      in:\n        - value: hello\n    expect:\n      sinks:\n        out:\n          - { value: WRONG }\n',
    }, async (dir) => {
      const child = spawn(process.execPath, [bin, 'test', 'quits.test.yaml'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c) => { stderr += String(c); });
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      assert.equal(code, 2, `process.exit in ${where}: ${stderr}`);
      assert.match(stderr, where.startsWith('never')
        ? /walrus-stream test: the cases of quits\.test\.yaml were not checked: nothing was left to run while a processor's top-level await, init\(\) or process\(\) waited on a promise that never settles/
        : /walrus-stream test: the cases of quits\.test\.yaml were not checked: a processor ended the process \(process\.exit\(0\)\) at import, in init\(\) or in process\(\); a processor must not call process\.exit\(\)/);
    });
  }
});

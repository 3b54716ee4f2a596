import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/command.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixtures = join(root, 'test/fixtures/topologies');
const FULL_ENV = { SECOND_NODE: 'walrus-2.internal:9091' };

function sink(): Writable & { text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({ write(chunk, _enc, done) { chunks.push(String(chunk)); done(); } });
  return Object.assign(stream, { text: () => chunks.join('') });
}

async function cli(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const stdout = sink();
  const stderr = sink();
  const io: CliIo = { stdout, stderr, stdin: process.stdin, env: opts.env ?? {}, cwd: opts.cwd ?? root };
  const code = await main(args, io);
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

test('validate: a valid file exits 0 with a one-line summary; the file defaults to ./topology.yaml', async () => {
  const r = await cli(['validate'], { cwd: join(fixtures, 'valid/minimal') });
  assert.deepEqual(r, { code: 0, stdout: 'topology.yaml: ok — 1 source, 1 processor, 0 sinks\nstage groups (1): echo (unordered; starts: reads a source)\n', stderr: '' });
  const full = await cli(['validate', 'test/fixtures/topologies/valid/full/topology.yaml'], { env: FULL_ENV });
  assert.equal(full.code, 0, full.stderr);
  assert.equal(full.stdout, 'test/fixtures/topologies/valid/full/topology.yaml: ok — 2 sources, 3 processors, 2 sinks\n' +
    'stage groups (2): parse → enrich (key ordering; starts: reads several inputs) | audit (unordered; starts: reads several inputs)\n');
});

test('validate: warnings are printed but do not fail', async () => {
  const r = await cli(['validate', 'topology.yaml'], { cwd: join(fixtures, 'valid/warnings') });
  assert.equal(r.code, 0);
  assert.equal(r.stdout, 'topology.yaml: ok — 2 sources, 2 processors, 1 sink (3 warnings)\n' +
    'stage groups (2): route (unordered; starts: reads a source) | orphan (unordered; starts: reads nothing)\n');
  assert.deepEqual(r.stderr.trimEnd().split('\n').map((l) => l.slice(0, 32)), [
    'topology.yaml:6:3: warning: sour',
    'topology.yaml:12:21: warning: pr',
    'topology.yaml:13:3: warning: pro',
  ]);
});

test('validate: an invalid file exits 1 with every error, compiler-style, and a count', async () => {
  const r = await cli(['validate', 'many-errors.yaml'], { cwd: join(fixtures, 'invalid') });
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 7);
  assert.equal(lines[0], 'many-errors.yaml:7:6: error: app: expected a name that starts with a letter or digit and uses only A-Z a-z 0-9 . _ -, got "my shop"');
  assert.equal(lines[6], 'many-errors.yaml: 6 errors');
});

test('validate: the environment of the command is used for ${VAR}', async () => {
  const file = 'test/fixtures/topologies/valid/full/topology.yaml';
  const missing = await cli(['validate', file], { env: {} });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /full\/topology\.yaml:7:27: error: environment variable SECOND_NODE is not set/);
});

test('validate --format json: one object with ok, counts and positioned diagnostics', async () => {
  const bad = await cli(['validate', 'unknown-input.yaml', '--format', 'json'], { cwd: join(fixtures, 'invalid') });
  assert.equal(bad.code, 1);
  assert.deepEqual(JSON.parse(bad.stdout), {
    ok: false,
    file: 'unknown-input.yaml',
    diagnostics: [{ file: 'unknown-input.yaml', line: 9, col: 12, severity: 'error', message: 'processors.parse.input: unknown source or processor "ordrs" — did you mean "orders"?' }],
  });
  const good = await cli(['validate', '--format=json'], { cwd: join(fixtures, 'valid/minimal') });
  assert.deepEqual(JSON.parse(good.stdout), {
    ok: true, file: 'topology.yaml', counts: { sources: 1, processors: 1, sinks: 0 },
    groups: [{ name: 'echo', members: ['echo'], ordering: 'unordered', reason: 'reads a source' }], diagnostics: [],
  });
});

test('validate: module exports are checked unless --no-modules', async () => {
  const cwd = join(fixtures, 'invalid');
  const loaded = await cli(['validate', 'module-not-processor.yaml'], { cwd });
  assert.equal(loaded.code, 1);
  assert.match(loaded.stderr, /module-not-processor\.yaml:11:13: error: processors\.parse\.module: its default export is an object that was not made by defineProcessor/);
  const skipped = await cli(['validate', 'module-not-processor.yaml', '--no-modules'], { cwd });
  assert.equal(skipped.code, 0, skipped.stderr);
});

test('validate: a missing file, a bad flag', async () => {
  const missing = await cli(['validate', 'nope.yaml']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^nope\.yaml:1:1: error: cannot read the topology: file not found \(.*nope\.yaml\)\n/);
  const usage = await cli(['validate', '--format', 'xml']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--format expects text or json, got "xml"/);
});

test('graph: text, mermaid and dot of the full example', async () => {
  const file = 'test/fixtures/topologies/valid/full/topology.yaml';
  const text = await cli(['graph', file], { env: FULL_ENV });
  assert.equal(text.code, 0, text.stderr);
  assert.equal(text.stdout, [
    'app orders — 127.0.0.1:9091, walrus-2.internal:9091, workers 3',
    '',
    'sources',
    '  orders: topic orders (envelope, json)',
    '  legacy: topic legacy.orders (text, string)',
    '',
    'processors',
    '  parse: ./processors/parse.ts (concurrency 16, key)',
    '    in:  orders, legacy',
    '    out: valid → processor enrich',
    '         invalid → processor audit',
    '    dlq: orders.dlq',
    '  enrich: ./processors/enrich.js (concurrency 8, unordered)',
    '    in:  parse.valid',
    '    out: default → processor audit, sink accepted',
    '    dlq: orders.dlq',
    '  audit: ./processors/enrich.js (concurrency 8, unordered)',
    '    in:  parse.invalid, enrich.default',
    '    out: default → sink audit-log',
    '    dlq: audit.failed',
    '',
    'stage groups (processors that run in one worker task; a record crosses threads once per group)',
    '  parse → enrich (key ordering; starts: reads several inputs)',
    '  audit (unordered; starts: reads several inputs)',
    '',
    'sinks',
    '  accepted: enrich.default → topic orders.accepted (envelope, json)',
    '  audit-log: audit.default → topic audit (text, string)',
    '',
  ].join('\n'));
  const mermaid = (await cli(['graph', file, '--format', 'mermaid'], { env: FULL_ENV })).stdout.split('\n');
  assert.equal(mermaid[0], 'flowchart LR');
  for (const line of ['  n1[("orders")]', '    n3["parse"]', '  n6[/"accepted"/]', '  n10[("orders.dlq")]:::dlq', '  n1 -->|"orders"| n3', '  n3 -->|"valid"| n4', '  n6 --> n8', '  n3 -.->|dead letters| n10']) {
    assert.ok(mermaid.includes(line), `missing mermaid line ${line}`);
  }
  const dot = (await cli(['graph', file, '--format', 'dot'], { env: FULL_ENV })).stdout;
  assert.match(dot, /^digraph "orders" \{\n  rankdir=LR;\n/);
  assert.match(dot, /\n  n3 -> n4 \[label="valid"\];\n/);
  assert.match(dot, /\n  n11 \[label="audit\.failed", shape=cylinder, color="#c0392b", fontcolor="#c0392b"\];\n/);
  assert.ok(dot.endsWith('}\n'));
  // Stage groups: a Mermaid subgraph and a DOT cluster each.
  assert.ok(mermaid.includes('  subgraph g1["stage group parse"]'), 'mermaid subgraph of the parse → enrich group');
  assert.match(dot, /subgraph cluster_1 \{\n {4}label="stage group parse"; style=dashed; color="#7f8c8d";\n {4}n3 \[label="parse"[^\n]*\n {4}n4 \[label="enrich"/);
});

test('graph: outputs that lead nowhere are drawn as dropped; invalid files exit 1', async () => {
  const r = await cli(['graph', '--format', 'mermaid'], { cwd: join(fixtures, 'valid/warnings') });
  assert.equal(r.code, 0);
  assert.match(r.stdout, /\n {2}(n\d+) -->\|"dropped"\| (n\d+)\n/);
  assert.match(r.stdout, /\n {2}n\d+\(\["\(dropped\)"\]\):::dropped\n/);
  const bad = await cli(['graph', 'cycle.yaml'], { cwd: join(fixtures, 'invalid') });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^cycle\.yaml:9:21: error: processors\.parse\.input: cycle parse → route → enrich → parse;/);
  assert.equal((await cli(['graph', '--format', 'png'])).code, 2);
});

test('graph --format json -o FILE: the node/edge model, written to a file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-graph-'));
  try {
    const r = await cli(['graph', join(fixtures, 'valid/minimal/topology.yaml'), '--format', 'json', '-o', 'g.json'], { cwd: dir });
    assert.deepEqual(r, { code: 0, stdout: '', stderr: '' });
    assert.deepEqual(JSON.parse(await readFile(join(dir, 'g.json'), 'utf8')), {
      app: 'minimal',
      nodes: [
        { id: 'n1', kind: 'topic', label: 'orders' },
        { id: 'n2', kind: 'processor', label: 'echo', group: 'echo' },
        { id: 'n3', kind: 'dlq', label: 'orders.dlq' },
      ],
      edges: [
        { from: 'n1', to: 'n2', kind: 'read', label: 'orders' },
        { from: 'n2', to: 'n3', kind: 'dead-letter' },
      ],
      groups: [{ name: 'echo', members: ['echo'], ordering: 'unordered', reason: 'reads a source' }],
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('schema: the shipped schema/topology.schema.json is what `walrus-stream schema` prints (regenerate with `walrus-stream schema -o schema/topology.schema.json`)', async () => {
  const shipped = await readFile(join(root, 'schema/topology.schema.json'), 'utf8');
  const printed = await cli(['schema']);
  assert.equal(printed.code, 0);
  assert.equal(printed.stdout, shipped, 'schema/topology.schema.json is stale');
  const dir = await mkdtemp(join(tmpdir(), 'walrus-schema-'));
  try {
    const written = await cli(['schema', '-o', 'out.json'], { cwd: dir });
    assert.equal(written.code, 0);
    assert.equal(await readFile(join(dir, 'out.json'), 'utf8'), shipped);
    const schema = JSON.parse(shipped) as { properties: Record<string, unknown>; required: string[] };
    assert.deepEqual(Object.keys(schema.properties), ['app', 'stateDir', 'workers', 'cluster', 'sources', 'processors', 'sinks', 'stores', 'observability', 'workerPool', 'journal']);
    assert.deepEqual(schema.required, ['app', 'sources', 'processors']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the real binary: exit 0 on a valid file, 1 on an invalid one', () => {
  const bin = join(root, 'bin/walrus-stream.js');
  const ok = spawnSync(process.execPath, [bin, 'validate', join(fixtures, 'valid/minimal/topology.yaml')], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /topology\.yaml: ok — 1 source, 1 processor, 0 sinks\nstage groups \(1\): echo \(unordered; starts: reads a source\)\n$/);
  const bad = spawnSync(process.execPath, [bin, 'validate', 'unknown-key-typo.yaml'], { encoding: 'utf8', cwd: join(fixtures, 'invalid') });
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr, 'unknown-key-typo.yaml:10:5: error: unknown key "concurency" in processors.parse — did you mean "concurrency"?\nunknown-key-typo.yaml: 1 error\n');
});

test('run: --workers and --max-in-flight past their bounds are usage errors naming the bound (100000 threads ran the process out of memory); a topology asking for 1,000 workers does not validate', async () => {
  for (const [flag, value, message] of [
    ['--workers', '100000', /--workers expects a whole number from 1 to 256 or "auto" \(one per core, \d+ here\), got "100000"/],
    ['--workers', '0', /--workers expects a whole number from 1 to 256/],
    ['--max-in-flight', '1e12', /--max-in-flight expects a whole number from 1 to 10,000,000 \(records held in memory at once\), got "1e12"/],
  ] as const) {
    const r = await cli(['run', 'topology.yaml', flag, value], { cwd: join(fixtures, 'valid/minimal') });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
  }
  const dir = await mkdtemp(join(tmpdir(), 'walrus-workers-'));
  try {
    await writeFile(join(dir, 'topology.yaml'), 'app: x\nworkers: 1000\nsources:\n  in: { topic: in }\nprocessors:\n  p: { module: ./p.ts, input: in }\n');
    const r = await cli(['validate', '--no-modules'], { cwd: dir });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /topology\.yaml:2:10: error: workers: must be at most 256, got 1000/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the real binary: millisecond flags past the longest timer Node.js sets are usage errors (a longer one fired after 1 ms: validate reported a good module as hanging, run gave up its shutdown at once)', { timeout: 60_000 }, async () => {
  const bin = join(root, 'bin/walrus-stream.js');
  const dir = await mkdtemp(join(tmpdir(), 'walrus-timers-'));
  try {
    await writeFile(join(dir, 'p.mjs'), "export default { [Symbol.for('walrus-stream.processor')]: true, process: (record) => record.value };\n");
    await writeFile(join(dir, 'topology.yaml'), 'app: timers\nstateDir: ./state\nworkers: 1\nsources:\n  in: { topic: in }\nprocessors:\n  p: { module: ./p.mjs, input: in }\n');
    const run = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: dir, timeout: 30_000 });
    const validate = run(['validate', '--module-timeout', '99999999999']);
    assert.equal(validate.status, 2, validate.stderr);
    assert.match(validate.stderr, /^walrus-stream validate: --module-timeout expects milliseconds from 1 to 2147483647 \(the longest timer Node\.js sets, about 24\.8 days\), got "99999999999"\n/);
    for (const [flag, from] of [['--shutdown-timeout', '1'], ['--progress-interval', '0 \\(off\\)']] as const) {
      const r = run(['run', '--until-idle', '--metrics-address', 'false', flag, '2147483648']);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`^walrus-stream run: ${flag} expects milliseconds from ${from} to 2147483647 \\(the longest timer Node\\.js sets, about 24\\.8 days\\), got "2147483648"\\n`));
    }
    for (const ttl of ['999', '600001', '1.5s', '']) {
      const r = run(['run', '--until-idle', '--metrics-address', 'false', '--lease-ttl', ttl]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`^walrus-stream run: --lease-ttl expects milliseconds from 1000 to 600000 \\(the ownership leases' time to live\\), got "${ttl.replace('.', '\\.')}"\n`));
    }
    const longest = run(['validate', '--module-timeout', '2147483647']);
    assert.equal(longest.status, 0, longest.stderr);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the real binary: a nested ${...} in a default is refused at its line and column with what to write instead', { timeout: 60_000 }, async () => {
  const bin = join(root, 'bin/walrus-stream.js');
  const dir = await mkdtemp(join(tmpdir(), 'walrus-nested-'));
  try {
    await writeFile(join(dir, 'topology.yaml'), 'app: nested\nsources:\n  in: { topic: "${TOPIC:-${OTHER}}" }\nprocessors:\n  p: { module: ./p.ts, input: in, config: { v: "${VALUE}" } }\n');
    const nested = spawnSync(process.execPath, [bin, 'validate', '--no-modules'], { encoding: 'utf8', cwd: dir, env: { ...process.env, TOPIC: 't', VALUE: 'x' } });
    assert.equal(nested.status, 1, nested.stderr);
    assert.match(nested.stderr, /^topology\.yaml:3:\d+: error: nested "\$\{" in the default of "\$\{TOPIC:-…\}" is not supported \(a default is literal text\); write it out: \$\{TOPIC:-value\}\n/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the real binary: run --nodes "" (an unset $WALRUS_NODES) is a usage error, not a run on a fresh embedded node in place of the topology\'s cluster', { timeout: 60_000 }, async () => {
  const bin = join(root, 'bin/walrus-stream.js');
  const dir = await mkdtemp(join(tmpdir(), 'walrus-nodes-'));
  try {
    await writeFile(join(dir, 'p.mjs'), "export default { [Symbol.for('walrus-stream.processor')]: true, process: (record) => record.value };\n");
    await writeFile(join(dir, 'topology.yaml'), 'app: nodes\nstateDir: ./state\nworkers: 1\ncluster:\n  nodes: [127.0.0.1:1]\n  embedded:\n    dataDir: ./embedded\nsources:\n  in: { topic: in }\nprocessors:\n  p: { module: ./p.mjs, input: in }\n');
    for (const value of ['', ' , ']) {
      const r = spawnSync(process.execPath, [bin, 'run', '--until-idle', '--metrics-address', 'false', '--nodes', value], { encoding: 'utf8', cwd: dir, timeout: 30_000 });
      assert.equal(r.status, 2, r.stderr);
      assert.ok(r.stderr.startsWith(`walrus-stream run: --nodes expects host:port[,host:port...], got "${value}"; leave --nodes out to use the topology's cluster.nodes`), r.stderr);
      assert.equal(existsSync(join(dir, 'embedded')), false, 'an embedded node was started');
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the real binary: a bad --metrics-address is a usage error naming the flag, not "observability.http" (a topology key the user did not write)', { timeout: 60_000 }, async () => {
  const bin = join(root, 'bin/walrus-stream.js');
  const dir = await mkdtemp(join(tmpdir(), 'walrus-metrics-flag-'));
  try {
    await writeFile(join(dir, 'p.mjs'), "export default { [Symbol.for('walrus-stream.processor')]: true, process: (record) => record.value };\n");
    await writeFile(join(dir, 'topology.yaml'), 'app: flag\nstateDir: ./state\nworkers: 1\ncluster:\n  embedded:\n    dataDir: ./state/node\nsources:\n  in: { topic: in }\nprocessors:\n  p: { module: ./p.mjs, input: in }\n');
    for (const value of ['', '99999', 'host:']) {
      const r = spawnSync(process.execPath, [bin, 'run', '--until-idle', `--metrics-address=${value}`], { encoding: 'utf8', cwd: dir, timeout: 30_000 });
      assert.equal(r.status, 2, r.stderr);
      assert.ok(r.stderr.includes(`walrus-stream run: --metrics-address expects host:port (e.g. 127.0.0.1:9464), a port or false, got "${value}"\n`), r.stderr);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

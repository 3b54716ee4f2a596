import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DedupeWindow } from '../../src/journal/index.js';
import { diagnosticsOf, loadTopologyText } from '../../src/topology/index.js';
import { ROOT, runBuiltCli, seedProject } from '../helpers/seed-project.js';

/** Topology values at the edges of what the schema accepts, run by the real CLI. */


const BIN = join(ROOT, 'bin', 'walrus-stream.js');
const cli = (dir: string, args: string[]) => runBuiltCli(dir, args, 40_000);

test('a source with a tiny rateLimit (1e-6 records/s) waits quietly: its wait passed the longest timer Node.js sets, so it woke every millisecond and printed hundreds of TimeoutOverflowWarnings a second', { timeout: 60_000 }, async (t) => {
  const dir = await seedProject('slowrate');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'topology.yaml');
  await writeFile(file, (await readFile(file, 'utf8')).replace('serializer: string }', 'serializer: string, rateLimit: 0.000001 }'));
  await writeFile(join(dir, 'lines.txt'), 'one\ntwo\nthree\n');
  const child = spawn(process.execPath, [BIN, 'run', 'topology.yaml', '--seed', 'in=lines.txt', '--json', '--metrics-address', 'false'],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => { stdout += String(c); });
  let running = false;
  child.stderr.on('data', (c) => {
    stderr += String(c);
    // Running (the first progress line): the source reads the seeded lines, then waits out its rate.
    if (!running && /"type":"progress"/.test(stderr)) {
      running = true;
      setTimeout(() => child.kill('SIGINT'), 3_000).unref();
    }
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 40_000);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(killer);
  const warnings = stderr.split('\n').filter((l) => l.includes('TimeoutOverflowWarning')).length;
  assert.equal(warnings, 0, `${warnings} TimeoutOverflowWarning lines in 3 s; stderr begins: ${stderr.slice(0, 600)}`);
  assert.equal(code, 130, stderr);
  const summary = JSON.parse(stdout.trim().split('\n').at(-1)!) as { sources: { in: { records: number } }; processors: { echo: { processed: number } } };
  assert.equal(summary.sources.in.records, 3);
  assert.equal(summary.processors.echo.processed, 3);
});

test('validate refuses a default changelog topic <app>-<store>-changelog longer than the protocol allows, at the store — it said "ok" and run stopped with "INVALID_TOPIC: Invalid topic name: topic is 252 characters long", naming no topic', { timeout: 60_000 }, async (t) => {
  const dir = await seedProject('a'.repeat(240));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'topology.yaml');
  await writeFile(file, `${(await readFile(file, 'utf8')).replace('input: in }', 'input: in, ordering: key, stores: [s] }')}stores:\n  s: {}\n`);
  for (const args of [['validate', '--no-modules'], ['run', 'topology.yaml', '--until-idle', '--metrics-address', 'false']]) {
    const r = await cli(dir, args);
    assert.equal(r.code, 1, `${args[0]}: ${r.stdout}${r.stderr}`);
    assert.match(`${r.stdout}${r.stderr}`, new RegExp(`topology\\.yaml:12:3: error: stores\\.s \\(changelog\\): topic "a{240}-s-changelog" is invalid \\(topic is 252 characters long, the limit is 249\\); it is <app>-<store>-changelog by default: set changelog to a shorter topic or shorten the app or store name`), args[0]);
  }
});

test('validate refuses cluster values the client refuses (pool, retry, breaker, timeouts), at their lines — they validated "ok" and run stopped with "Invalid WalrusClient options: retry.multiplier: Too big", naming no topology key', { timeout: 60_000 }, async (t) => {
  const text = `app: limits
cluster:
  pool: { min: 2000, max: 2000, acquireTimeout: 25h, idleTimeout: 0 }
  retry: { retries: 1000, initialDelay: 25h, maxDelay: 48h, multiplier: 1000 }
  breaker: { failureThreshold: 2000000, openDuration: 0, halfOpenAttempts: 5000 }
  requestTimeout: 0
  connectTimeout: 48h
sources: { src: { topic: in } }
processors: { p: { module: ./echo.js, input: src } }
`;
  const found = await loadTopologyText(text, join(ROOT, 'test/fixtures/processors/limits.yaml'), { env: {} })
    .then(() => [], (e: unknown) => diagnosticsOf(e) ?? assert.fail(e as Error));
  const day = 'over the client\'s limit of 86400000 ms (1 day)';
  assert.deepEqual(found.map((d) => `${d.line}:${d.col} ${d.message}`), [
    '3:16 cluster.pool.min: must be at most 1024, got 2000',
    '3:27 cluster.pool.max: must be at most 1024, got 2000',
    `3:49 cluster.pool.acquireTimeout: "25h" is 90000000 ms, ${day}`,
    '3:67 cluster.pool.idleTimeout: must be at least 1 ms, got 0',
    '4:21 cluster.retry.retries: must be at most 100, got 1000',
    `4:41 cluster.retry.initialDelay: "25h" is 90000000 ms, ${day}`,
    `4:56 cluster.retry.maxDelay: "48h" is 172800000 ms, ${day}`,
    '4:73 cluster.retry.multiplier: must be at most 100, got 1000',
    '5:32 cluster.breaker.failureThreshold: must be at most 1000000, got 2000000',
    '5:55 cluster.breaker.openDuration: must be at least 1 ms, got 0',
    '5:76 cluster.breaker.halfOpenAttempts: must be at most 1000, got 5000',
    '6:19 cluster.requestTimeout: must be at least 1 ms, got 0',
    `7:19 cluster.connectTimeout: "48h" is 172800000 ms, ${day}`,
  ]);

  // run says so too, before it starts anything.
  const dir = await seedProject('limits');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'topology.yaml');
  await writeFile(file, (await readFile(file, 'utf8')).replace('cluster:\n', 'cluster:\n  retry: { multiplier: 1000 }\n'));
  const r = await cli(dir, ['run', 'topology.yaml', '--until-idle', '--metrics-address', 'false']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /topology\.yaml:5:24: error: cluster\.retry\.multiplier: must be at most 100, got 1000/);
  assert.doesNotMatch(r.stderr, /WalrusClient options/);
});

test('validate refuses embedded-node values the node refuses (fsyncInterval, segmentEntries), at their lines — they validated "ok" and run stopped with "Invalid broker option fsync.intervalMs", naming no topology key', { timeout: 60_000 }, async (t) => {
  const load = (embedded: string) => loadTopologyText(`app: node\ncluster:\n  embedded: { ${embedded} }\nsources: { src: { topic: in } }\nprocessors: { p: { module: ./echo.js, input: src } }\n`,
    join(ROOT, 'test/fixtures/processors/limits.yaml'), { env: {} }).then(() => [], (e: unknown) => (diagnosticsOf(e) ?? assert.fail(e as Error)).map((d) => `${d.line}:${d.col} ${d.message}`));
  assert.deepEqual(await load('fsyncInterval: 2h, segmentEntries: 2000000000000'), [
    '3:30 cluster.embedded.fsyncInterval: "2h" is 7200000 ms, over the node\'s limit of 3600000 ms (1 hour)',
    '3:50 cluster.embedded.segmentEntries: must be at most 1099511627776, got 2000000000000',
  ]);
  assert.deepEqual(await load('fsyncInterval: 0'), ['3:30 cluster.embedded.fsyncInterval: must be at least 1 ms, got 0']);

  const dir = await seedProject('nodelimits');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'topology.yaml');
  await writeFile(file, (await readFile(file, 'utf8')).replace('    dataDir: ./state/node', '    dataDir: ./state/node\n    fsyncInterval: 0'));
  const r = await cli(dir, ['run', 'topology.yaml', '--until-idle', '--metrics-address', 'false']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /topology\.yaml:7:20: error: cluster\.embedded\.fsyncInterval: must be at least 1 ms, got 0/);
  assert.doesNotMatch(r.stderr, /broker option/);
});

test('validate refuses a dedupe window past 10,000,000 ids, at its line — window: 1e12 validated "ok" and run crashed at the first record with "RangeError: Invalid array length" and a line of minified source (past 2^24 ids a Set overflows too)', { timeout: 60_000 }, async (t) => {
  const dir = await seedProject('bigwindow');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'topology.yaml');
  await writeFile(file, (await readFile(file, 'utf8')).replace('serializer: string }', 'serializer: string, dedupe: { window: 1000000000000 } }'));
  await writeFile(join(dir, 'lines.txt'), 'one\ntwo\n');
  for (const args of [['validate', '--no-modules'], ['run', 'topology.yaml', '--until-idle', '--seed', 'in=lines.txt', '--metrics-address', 'false']]) {
    const r = await cli(dir, args);
    assert.equal(r.code, 1, `${args[0]}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /topology\.yaml:8:77: error: sources\.in\.dedupe\.window: must be at most 10000000, got 1000000000000/, args[0]);
    assert.doesNotMatch(r.stderr, /RangeError|\n\s+at /, args[0]);
  }
  assert.throws(() => new DedupeWindow({ maxIds: 20_000_000 }), /^WalrusError: DedupeWindow maxIds is 20000000; expected an integer from 1 to 10000000$/);
});

test('validate refuses an app name longer than a file name may be, at its line — app: <300 characters> validated "ok" and run stopped with "cannot create the journal directory …: ENAMETOOLONG"', { timeout: 60_000 }, async (t) => {
  const dir = await seedProject('a'.repeat(300), 'walrus-long-app-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const args of [['validate', '--no-modules'], ['run', 'topology.yaml', '--until-idle', '--metrics-address', 'false']]) {
    const r = await cli(dir, args);
    assert.equal(r.code, 1, `${args[0]}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /topology\.yaml:1:6: error: app: 300 characters long, the limit is 255 \(it names the directory <stateDir>\/<app>\)/, args[0]);
    assert.doesNotMatch(r.stderr, /ENAMETOOLONG/, args[0]);
  }
});

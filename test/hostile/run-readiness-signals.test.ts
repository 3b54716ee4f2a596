import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WalrusClient } from '../../src/client/index.js';
import { encodeRecords } from '../../src/codec/index.js';
import { Journal } from '../../src/journal/index.js';
import { KeyValueStore, storeDir } from '../../src/state/index.js';
import { changelogTopic, encodeChangelogEntries } from '../../src/state/changelog/changelog-codec.js';
import { pack } from '../../src/state/model/codec.js';
import { STORE_FILES } from '../../src/state/store/paths.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

const BIN = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/processors/${name}`, import.meta.url));

interface Probe { status: number; body: { checks?: Record<string, { ok: boolean; detail?: string }>; failing?: string[] } }

/** `walrus-stream run` as a child with its metrics server on a free port; `address` resolves once it printed it. */
function startRun(file: string, node: TestBroker, extra: string[] = []) {
  const child = spawn(process.execPath, [BIN, 'run', file, '--nodes', node.address, '--json', '--progress-interval', '0', '--metrics-address', '127.0.0.1:0', ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let onAddress: (a: string) => void = () => undefined;
  const address = new Promise<string>((resolve) => { onAddress = resolve; });
  child.stderr!.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-8_000);
    const m = /metrics: http:\/\/([^/]+)\/metrics/.exec(stderr);
    if (m) onAddress(m[1]!);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const deadline = setTimeout(() => child.kill('SIGKILL'), 60_000);
  void exited.then(() => clearTimeout(deadline));
  return { child, exited, address, stderr: () => stderr };
}

async function probe(address: string, path: string): Promise<Probe> {
  const res = await fetch(`http://${address}${path}`, { signal: AbortSignal.timeout(3_000) });
  return { status: res.status, body: (await res.json()) as Probe['body'] };
}

/** Polls /readyz until `accept` holds, or fails naming the last answer. */
async function waitReady(address: string, accept: (p: Probe) => boolean, what: string, timeoutMs = 20_000): Promise<Probe> {
  const until = Date.now() + timeoutMs;
  let last: Probe | undefined;
  while (Date.now() < until) {
    last = await probe(address, '/readyz').catch(() => undefined);
    if (last && accept(last)) return last;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`/readyz never showed ${what}; last: ${JSON.stringify(last)}`);
}

async function withNode(t: { after: (fn: () => Promise<void>) => void }) {
  const node = await startTestBroker();
  const client = new WalrusClient({ nodes: [node.address] });
  const dir = await mkdtemp(join(tmpdir(), 'walrus-run-signals-'));
  t.after(async () => { await client.close(); await node.close(); await rm(dir, { recursive: true, force: true }); });
  return { node, client, dir };
}

test('/healthz and /readyz answer during a state restore ("restoring state N%"); SIGTERM then stops between batches with exit 143 and the next start resumes losing nothing', { timeout: 120_000 }, async (t) => {
  const { node, client, dir } = await withNode(t);
  const keys = 4_000;
  const topic = changelogTopic('rs', 'totals');
  await client.register(topic);
  const entries = Array.from({ length: keys }, (_, i) => encodeChangelogEntries('totals', i + 1, [[`k${i}`, pack(i)]])[0]!);
  for (let i = 0; i < entries.length; i += 500) await client.putMany(topic, entries.slice(i, i + 500));
  const stateDir = join(dir, 'state');
  const file = join(dir, 'topology.yaml');
  await writeFile(file, `
app: rs
stateDir: ${JSON.stringify(stateDir)}
sources:
  in: { topic: rs-in }
processors:
  count: { module: ${JSON.stringify(fixture('state-count.ts'))}, input: in, ordering: key, stores: [totals] }
sinks:
  out: { topic: rs-out, input: count }
stores:
  totals: { restoreBatch: 4 }
observability: { logLevel: warn }
`);
  const run = startRun(file, node, ['--until-idle']);
  const address = await Promise.race([run.address, run.exited.then(() => { throw new Error(`run exited before serving: ${run.stderr()}`); })]);
  const during = await waitReady(address, (p) => /restoring state \d+%/.test(p.body.checks?.startup?.detail ?? ''), 'a restore in progress');
  assert.equal(during.status, 503);
  assert.ok(during.body.failing?.some((f) => /^startup: restoring state \d+% \(store totals\)$/.test(f)), JSON.stringify(during.body));
  assert.equal((await probe(address, '/healthz')).status, 200, '/healthz is up during the restore');

  run.child.kill('SIGTERM');
  const { code, signal } = await run.exited;
  assert.equal(signal, null, `run was killed by ${signal} instead of stopping: ${run.stderr()}`);
  assert.equal(code, 143, run.stderr());
  assert.ok(existsSync(join(storeDir(stateDir, 'rs', 'totals'), STORE_FILES.restoreMarker)), 'the restore was interrupted, not finished');

  const again = startRun(file, node, ['--until-idle']);
  assert.equal((await again.exited).code, 0, again.stderr());
  const store = await KeyValueStore.open({ dir: storeDir(stateDir, 'rs', 'totals'), name: 'totals' });
  const restored = new Map(store.range().map((e) => [e.key, e.value]));
  await store.close();
  assert.equal(Array.from({ length: keys }, (_, i) => i).filter((i) => restored.get(`k${i}`) !== i).length, 0, 'every key restored');
});

test('/readyz fails its journal check while a previous run\'s entries are replayed, then passes; SIGINT exits 130', { timeout: 120_000 }, async (t) => {
  const { node, client, dir } = await withNode(t);
  await client.register('jr-in');
  const stateDir = join(dir, 'state');
  // What a killed run leaves: entries in the journal, fetched and not finished (each takes 40 ms to process).
  const journal = await Journal.open({ dir: join(stateDir, 'jr', 'journal') });
  const left = 40;
  await journal.append(Array.from({ length: left }, (_, i) => ({ source: 'in', entry: Buffer.from(encodeRecords([{ value: Buffer.from(JSON.stringify({ ms: 40, i })) }])) })));
  await journal.close();
  const file = join(dir, 'topology.yaml');
  await writeFile(file, `
app: jr
stateDir: ${JSON.stringify(stateDir)}
workers: 1
sources:
  in: { topic: jr-in }
processors:
  slow: { module: ${JSON.stringify(fixture('slow.ts'))}, input: in, concurrency: 1, batchSize: 1 }
sinks:
  out: { topic: jr-out, input: slow }
observability: { logLevel: warn }
`);
  const run = startRun(file, node);
  const address = await Promise.race([run.address, run.exited.then(() => { throw new Error(`run exited before serving: ${run.stderr()}`); })]);
  const replaying = await waitReady(address, (p) => p.body.checks?.journal?.ok === false, 'the journal check failing');
  assert.equal(replaying.status, 503);
  assert.match(replaying.body.checks!.journal!.detail!, /^replaying journal: \d+ of 40 entries left$/);
  const ready = await waitReady(address, (p) => p.status === 200, 'ready once the replay finished');
  assert.deepEqual(ready.body.checks!.journal, { ok: true, detail: 'replayed 40 entries' });

  run.child.kill('SIGINT');
  const { code, signal } = await run.exited;
  assert.equal(signal, null, run.stderr());
  assert.equal(code, 130, run.stderr());
});

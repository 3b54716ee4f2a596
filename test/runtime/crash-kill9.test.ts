import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WalrusClient } from '../../src/client/index.js';
import { decodeEntry, encodeRecords } from '../../src/codec/index.js';
import { spawnBrokerProcess } from '../helpers/broker.js';

const bin = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/processors/${name}`, import.meta.url));

const RECORDS = 50_000;
const PER_ENTRY = 100;
const KILLS = 5;
const MAX_IN_FLIGHT = 4_000;
/** Records fetches can add beyond the in-flight bound: at most 16 batches waiting for the journal, each ≤ poll.batchSize entries. */
const FETCH_SLACK = 16 * 10 * PER_ENTRY;

async function drainAll(client: WalrusClient, topic: string): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const got = await client.getMany(topic, 1_000);
    if (got.length === 0) return out;
    out.push(...got.map((b) => b.toString('utf8')));
  }
}

test(`kill -9 of walrus-stream run ${KILLS} times during a ${RECORDS}-record run: every record reaches the sink or the DLQ, duplicates bounded by the in-flight window`, { timeout: 180_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-crash-'));
  const node = await spawnBrokerProcess(['--data-dir', join(dir, 'node'), '--fsync', 'never']);
  const client = new WalrusClient({ nodes: [node.address] });
  let child: ChildProcess | undefined;
  try {
    await client.register('in');
    // Unique ids: value.n is the record's index; the processor doubles it.
    const entries: string[] = [];
    for (let i = 0; i < RECORDS; i += PER_ENTRY) {
      entries.push(encodeRecords(Array.from({ length: PER_ENTRY }, (_, j) => ({ value: Buffer.from(`{"n":${i + j}}`) }))));
    }
    for (let i = 0; i < entries.length; i += 50) await client.putMany('in', entries.slice(i, i + 50));

    const file = join(dir, 'topology.yaml');
    // The source is rate-limited only so that the run lasts long enough for
    // the kills to land at different points of it (start-up, steady state,
    // recovery of the previous crash's journal). At 6,000 records/s even the
    // longest random kill delays (three of up to 2.5 s) leave work for the
    // fifth kill; at 12,000/s a run could finish before it (seen once in CI).
    await writeFile(file, `
app: crash
stateDir: ${join(dir, 'state')}
workers: 1
sources:
  in: { topic: in, poll: { batchSize: 10, minInterval: 1ms, maxInterval: 20ms }, rateLimit: 6000 }
processors:
  double: { module: ${fixture('double.ts')}, input: in, batchSize: 256, concurrency: 4 }
sinks:
  out: { topic: out, input: double, batch: { maxRecords: 500, linger: 2ms } }
observability: { logLevel: warn }
`);
    const spawnRun = () => spawn(process.execPath, [bin, 'run', file, '--nodes', node.address, '--until-idle', '--json',
      '--max-in-flight', String(MAX_IN_FLIGHT)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const outEntries = async (): Promise<number> => (await client.state('out').catch(() => undefined))?.totalEntries ?? 0;

    let kills = 0;
    const points: number[] = [];
    while (kills < KILLS) {
      child = spawnRun();
      child.stderr!.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-4_000); });
      const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
      let finished = false;
      void exited.then(() => { finished = true; });
      // A random point: after this run made some progress (odd kills) or
      // at a random moment of its start-up and recovery (even kills).
      const before = await outEntries();
      if (kills % 2 === 1) {
        for (let i = 0; i < 600 && !finished && (await outEntries()) <= before; i++) await new Promise((r) => setTimeout(r, 10));
      }
      const delay = Math.floor(Math.random() * (kills % 2 === 1 ? 400 : 2_500));
      await new Promise((r) => setTimeout(r, delay));
      if (finished) break;
      child.kill('SIGKILL');
      await exited;
      kills += 1;
      points.push(delay);
    }
    assert.equal(kills, KILLS, `the run finished after ${kills} kills; stderr: ${stderr}`);

    // The last run goes to the end.
    child = spawnRun();
    let stdout = '';
    child.stdout!.on('data', (c: Buffer) => { stdout += c; });
    child.stderr!.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-4_000); });
    const code = await new Promise<number | null>((resolve) => child!.once('exit', (c) => resolve(c)));
    assert.equal(code, 0, stderr);
    const summary = JSON.parse(stdout) as { recovered: number };

    const seen = new Map<number, number>();
    for (const entry of await drainAll(client, 'out')) {
      for (const record of decodeEntry(entry)) {
        const n = (JSON.parse(Buffer.from(record.value).toString('utf8')) as { n: number }).n / 2;
        seen.set(n, (seen.get(n) ?? 0) + 1);
      }
    }
    const deadLetters = await drainAll(client, 'in.dlq');
    const missing = Array.from({ length: RECORDS }, (_, i) => i).filter((i) => !seen.has(i));
    const outputs = [...seen.values()].reduce((a, b) => a + b, 0);
    const duplicates = outputs - seen.size;
    console.log(`crash test: ${kills} kills (delays ${points.join(', ')} ms), ${outputs} outputs for ${RECORDS} inputs, ` +
      `${duplicates} duplicates, ${missing.length} missing, ${deadLetters.length} dead letters, last run recovered ${summary.recovered}`);
    assert.equal(deadLetters.length, 0, 'a trivial processor dead-letters nothing');
    assert.deepEqual(missing.slice(0, 20), [], `${missing.length} records lost`);
    assert.ok(duplicates <= kills * (MAX_IN_FLIGHT + FETCH_SLACK), `${duplicates} duplicates exceed the in-flight window × kills`);
    assert.equal((await drainAll(client, 'in')).length, 0, 'the source is empty');
  } finally {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await client.close();
    node.child.kill('SIGTERM');
    await new Promise((r) => node.child.once('exit', r));
    await rm(dir, { recursive: true, force: true });
  }
});

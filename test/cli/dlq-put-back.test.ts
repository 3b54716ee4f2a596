import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WalrusClient } from '../../src/client/index.js';
import { replayDeadLetters } from '../../src/cli/commands/dlq-replay.js';
import { buildDeadLetter } from '../../src/runtime/coordinator/dead-letter.js';
import { startTestBroker } from '../helpers/broker.js';

async function setup(t: { after: (fn: () => Promise<void>) => void }, compat: 'default' | 'stock') {
  const node = await startTestBroker({ compat });
  const client = new WalrusClient({ nodes: [node.address] });
  const dir = await mkdtemp(join(tmpdir(), 'walrus-dlq-put-back-'));
  t.after(async () => {
    await client.close();
    await node.close();
    await rm(dir, { recursive: true, force: true });
  });
  await client.register('orders.dlq');
  return { node, client, dir };
}

/** `count` dead letters of key "other", each holding an entry of `bytes` bytes, numbered so each is distinct. */
function deadLetters(count: number, bytes: number): string[] {
  return Array.from({ length: count }, (_, i) => buildDeadLetter({
    entry: `${i}-`.padEnd(bytes, 'x'), error: { name: 'Error', message: 'boom', code: 'PROCESSOR_ERROR', retriable: true }, processor: 'parse',
    attempts: 1, firstFailureAt: 0, lastFailureAt: 0, sourceTopic: 'orders', recordId: `r${i}`, key: 'other',
  }));
}

async function drain(client: WalrusClient, topic: string): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const entries = await client.getMany(topic, 100);
    if (entries.length === 0) return out;
    out.push(...entries.map((e) => e.toString('utf8')));
  }
}

test('a filtered replay of a dead-letter topic larger than the heap puts back as it goes: it finishes, and every entry is back', { timeout: 120_000 }, async (t) => {
  const { node, client, dir } = await setup(t, 'default');
  // 96 MiB of dead letters that do not match, in a CLI process with a 48 MiB heap: before, all of them were held until the end.
  const letters = deadLetters(1_600, 60_000);
  for (let i = 0; i < letters.length; i += 200) await client.putMany('orders.dlq', letters.slice(i, i + 200));
  const bin = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));
  const child = spawn(process.execPath, ['--max-old-space-size=48', bin, 'dlq', 'replay', 'orders.dlq', '--filter', 'key=none', '--json', '--nodes', node.address, '--state-dir', join(dir, 'state')],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
  assert.equal(code, 0, `exit ${code} ${signal}: ${stderr.slice(-2000)}`);
  assert.deepEqual(JSON.parse(stdout).kept, { notMatching: 1_600, notDeadLetter: 0, overLimit: 0 });
  const back = await drain(client, 'orders.dlq');
  assert.equal(back.length, letters.length, 'each entry was read once and put back once');
  assert.deepEqual(back.sort(), [...letters].sort());
});

test('on a node that does not report lag the replay stops once its put-backs reach the bound, says so, and the next run goes on; nothing is lost', async (t) => {
  const { client, dir } = await setup(t, 'stock');
  const letters = deadLetters(30, 1_000);
  await client.putMany('orders.dlq', letters);
  const warnings: string[] = [];
  const options = { client, dlqTopic: 'orders.dlq', filters: [{ field: 'key' as const, value: 'none' }], stateDir: join(dir, 'state'), batchSize: 5, maxHeldPutBackBytes: 10_000, onWarning: (m: string) => warnings.push(m) };
  const first = await replayDeadLetters(options);
  assert.equal(first.kept.notMatching, 10, 'two batches of five reach the 10,000-byte bound');
  assert.ok(warnings.some((w) => /stopped after reading 10 entries of orders\.dlq: .* reached 10000 bytes; run the command again to go on/.test(w)), warnings.join('\n'));
  const second = await replayDeadLetters(options);
  assert.equal(second.kept.notMatching, 10, 'the next run reads the next ten first');
  assert.deepEqual((await drain(client, 'orders.dlq')).sort(), [...letters].sort(), 'every entry is on the dead-letter topic, once');
});

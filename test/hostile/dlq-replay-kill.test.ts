import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WalrusClient } from '../../src/client/index.js';
import { buildDeadLetter } from '../../src/runtime/coordinator/dead-letter.js';
import { startTestBroker } from '../helpers/broker.js';

const BIN = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));
const TOTAL = 6_000;
const KILLS = 6;
const BATCH = 100;

function deadLetter(entry: string, recordId: string): string {
  const now = Date.now();
  return buildDeadLetter({
    entry,
    error: { name: 'Error', message: 'boom', code: 'PROCESSOR_ERROR', retriable: true },
    processor: 'parse', attempts: 3, firstFailureAt: now - 1000, lastFailureAt: now, sourceTopic: 'orders', recordId,
  });
}

async function drain(client: WalrusClient, topic: string): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const entries = await client.getMany(topic, 500);
    if (entries.length === 0) return out;
    out.push(...entries.map((e) => e.toString('utf8')));
  }
}

/**
 * Kills `dlq replay` with SIGKILL `KILLS` times at random points of its
 * progress, then lets a last run finish. Returns what reached the source
 * topic and how many kills landed mid-replay.
 */
async function attack(compat: 'default' | 'stock'): Promise<{ replayed: string[]; originals: string[]; kills: number; left: string[] }> {
  const node = await startTestBroker({ compat });
  const client = new WalrusClient({ nodes: [node.address] });
  const stateDir = await mkdtemp(join(tmpdir(), 'walrus-dlq-kill-'));
  try {
    await client.register('orders');
    await client.register('orders.dlq');
    const originals = Array.from({ length: TOTAL }, (_, i) => `line-${i}`);
    for (let i = 0; i < TOTAL; i += 500) {
      await client.putMany('orders.dlq', originals.slice(i, i + 500).map((line, j) => deadLetter(line, `r${i + j}`)));
    }
    const args = [BIN, 'dlq', 'replay', 'orders.dlq', '--nodes', node.address, '--state-dir', stateDir];
    const replayed: string[] = [];
    let kills = 0;
    for (let round = 0; round < KILLS; round++) {
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)));
      let done = false;
      void exited.then(() => (done = true));
      // Wait until this run is reading (a stock node: its warning about the
      // missing leases; otherwise: it wrote something), then kill it a random moment later.
      const progress = async (): Promise<number> => (compat === 'stock' ? stderr.length : replayed.length + ((await client.state('orders')).totalEntries ?? 0));
      const before = await progress();
      const deadline = Date.now() + 20_000;
      while (!done && Date.now() < deadline && (await progress()) <= before) await new Promise((r) => setTimeout(r, 2));
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 10)));
      const midRun = !done;
      child.kill('SIGKILL');
      if ((await exited) === 'SIGKILL' && midRun) kills += 1;
      replayed.push(...(await drain(client, 'orders')));
    }
    const last = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    last.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
    const code = await new Promise<number | null>((resolve) => last.on('close', (c) => resolve(c)));
    assert.equal(code, 0, stderr);
    replayed.push(...(await drain(client, 'orders')));
    return { replayed, originals, kills, left: await drain(client, 'orders.dlq') };
  } finally {
    await client.close();
    await node.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}

test(`dlq replay through leases, kill -9 ${KILLS} times mid-replay: zero dead letters lost`, { timeout: 120_000 }, async (t) => {
  const { replayed, originals, kills, left } = await attack('default');
  const seen = new Set(replayed);
  const missing = originals.filter((line) => !seen.has(line));
  t.diagnostic(`${kills} kills mid-replay, ${replayed.length - seen.size} duplicate(s), ${missing.length} lost`);
  assert.ok(kills >= 3, `at least 3 kills should land mid-replay (${kills} did)`);
  assert.deepEqual(missing, [], `${missing.length} dead letters lost`);
  assert.deepEqual(left, [], 'the dead-letter topic is empty after the last run');
  // A kill repeats at most the batch it was replaying (not yet acknowledged).
  assert.ok(replayed.length - seen.size <= kills * BATCH, `${replayed.length - seen.size} duplicates for ${kills} kills`);
});

test(`stock node (no leases): the documented window — at most one ${BATCH}-entry batch lost per kill, nothing else`, { timeout: 120_000 }, async (t) => {
  const { replayed, originals, kills, left } = await attack('stock');
  const seen = new Set(replayed);
  const missing = originals.filter((line) => !seen.has(line));
  t.diagnostic(`stock: ${kills} kills, ${replayed.length - seen.size} duplicate(s), ${missing.length} lost in the read-to-journal window`);
  assert.ok(kills >= 3, `at least 3 kills should land mid-replay (${kills} did)`);
  assert.ok(missing.length <= kills * BATCH, `${missing.length} lost for ${kills} kills: more than one batch per kill`);
  assert.deepEqual(left, []);
});

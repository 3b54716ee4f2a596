import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WalrusClient } from '../../src/client/index.js';
import { KeyValueStore, storeDir } from '../../src/state/index.js';
import { changelogTopic, encodeChangelogEntries } from '../../src/state/changelog/changelog-codec.js';
import { pack } from '../../src/state/model/codec.js';
import { STORE_FILES } from '../../src/state/store/paths.js';
import { startTestBroker } from '../helpers/broker.js';

const BIN = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../fixtures/processors/state-count.ts', import.meta.url));
const KEYS = 6_000;
const KILLS = 6;

/** Runs `walrus-stream run` on a topology whose store is empty (so it restores); kills it `killAfterMs` after restore.json appears. */
function runOnce(file: string, address: string, marker: string, killAfterMs?: number, fault?: string): Promise<{ killedMidRestore: boolean; code: number | null; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.WALRUS_STREAM_FAULT;
  if (fault !== undefined) env.WALRUS_STREAM_FAULT = fault;
  const child = spawn(process.execPath, [BIN, 'run', file, '--nodes', address, '--until-idle', '--json', '--progress-interval', '0'], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-4_000); });
  const exited = new Promise<{ code: number | null }>((resolve) => child.on('close', (code) => resolve({ code })));
  const deadline = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return (async () => {
    let killedMidRestore = false;
    if (killAfterMs !== undefined) {
      let done = false;
      void exited.then(() => { done = true; });
      while (!done && !existsSync(marker)) await new Promise((r) => setTimeout(r, 2));
      await new Promise((r) => setTimeout(r, killAfterMs));
      killedMidRestore = !done && existsSync(marker);
      child.kill('SIGKILL');
    }
    const { code } = await exited;
    clearTimeout(deadline);
    // A fault point kills the process itself, right after a batch was read and before it is stored.
    if (stderr.includes('WALRUS_STREAM_FAULT: SIGKILL at state.restore-fetched')) killedMidRestore = true;
    return { killedMidRestore, code, stderr };
  })();
}

test(`kill -9 mid-restore ${KILLS} times, then a full run: the restored store has every key of the changelog`, { timeout: 150_000 }, async (t) => {
  const node = await startTestBroker();
  const client = new WalrusClient({ nodes: [node.address] });
  const dir = await mkdtemp(join(tmpdir(), 'walrus-restore-kill-'));
  t.after(async () => { await client.close(); await node.close(); await rm(dir, { recursive: true, force: true }); });

  const topic = changelogTopic('rk', 'totals');
  await client.register(topic);
  const entries = Array.from({ length: KEYS }, (_, i) => encodeChangelogEntries('totals', i + 1, [[`k${i}`, pack(i)]])[0]!);
  for (let i = 0; i < entries.length; i += 500) await client.putMany(topic, entries.slice(i, i + 500));

  const stateDir = join(dir, 'state');
  const file = join(dir, 'topology.yaml');
  // Small restore batches and a store that fsyncs: the restore lasts long enough for the kills to land inside it.
  await writeFile(file, `
app: rk
stateDir: ${JSON.stringify(stateDir)}
sources:
  in: { topic: rk-in }
processors:
  count: { module: ${JSON.stringify(FIXTURE)}, input: in, ordering: key, stores: [totals] }
sinks:
  out: { topic: rk-out, input: count }
stores:
  totals: { restoreBatch: 20 }
observability: { logLevel: warn }
`);
  const marker = join(storeDir(stateDir, 'rk', 'totals'), STORE_FILES.restoreMarker);
  let kills = 0;
  for (let round = 0; round < KILLS; round++) {
    // Even rounds: kill -9 at a random moment of the restore; odd rounds: exactly
    // between reading a batch from the node and storing it (the window a destructive read loses).
    const run = round % 2 === 0
      ? await runOnce(file, node.address, marker, Math.floor(Math.random() * 150))
      : await runOnce(file, node.address, marker, undefined, `state.restore-fetched:${1 + Math.floor(Math.random() * 20)}`);
    if (run.killedMidRestore) kills++;
  }
  const last = await runOnce(file, node.address, marker);
  assert.equal(last.code, 0, last.stderr);
  assert.ok(kills >= 2, `at least two kills should land mid-restore (${kills} did)`);

  const store = await KeyValueStore.open({ dir: storeDir(stateDir, 'rk', 'totals'), name: 'totals' });
  const restored = new Map(store.range().map((e) => [e.key, e.value]));
  await store.close();
  const missing = Array.from({ length: KEYS }, (_, i) => i).filter((i) => restored.get(`k${i}`) !== i);
  t.diagnostic(`${kills} kills mid-restore; ${restored.size} keys restored, ${missing.length} missing`);
  assert.deepEqual(missing.slice(0, 10), [], `${missing.length} keys lost by the interrupted restores`);
});

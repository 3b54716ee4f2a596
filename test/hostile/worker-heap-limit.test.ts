import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WalrusClient } from '../../src/client/index.js';
import { decodeEntry, encodeRecords } from '../../src/codec/index.js';
import { parseDeadLetter } from '../../src/runtime/coordinator/dead-letter.js';
import { startTestBroker } from '../helpers/broker.js';
import { rssOf } from '../helpers/rss.js';

const BIN = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));
const OOM = fileURLToPath(new URL('../fixtures/processors/oom.ts', import.meta.url));
/** Far above the 512 MiB default heap limit plus the process's own needs; far below what an unbounded worker reaches (several GB). */
const RSS_CEILING = 1_600 * 1024 * 1024;

test('a processor that allocates without bound, with no workerPool settings: its worker dies at the default heap limit, the record is dead-lettered, its neighbours come out, the process stays small', { timeout: 90_000 }, async (t) => {
  const node = await startTestBroker();
  const client = new WalrusClient({ nodes: [node.address] });
  const dir = await mkdtemp(join(tmpdir(), 'walrus-heap-'));
  t.after(async () => { await client.close(); await node.close(); await rm(dir, { recursive: true, force: true }); });
  await client.register('in');
  await client.putMany('in', [encodeRecords(Array.from({ length: 8 }, (_, i) => ({ value: Buffer.from(JSON.stringify(i === 3 ? { n: i, oom: true } : { n: i })) })))]);
  const file = join(dir, 'topology.yaml');
  await writeFile(file, `
app: heap
stateDir: ${JSON.stringify(join(dir, 'state'))}
workers: 1
sources:
  in: { topic: in, poll: { minInterval: 1ms, maxInterval: 20ms } }
processors:
  p: { module: ${JSON.stringify(OOM)}, input: in, retry: { attempts: 2, initialDelay: 1ms, maxDelay: 5ms }, deadLetter: in.dead }
sinks:
  out: { topic: out, input: p }
observability: { logLevel: silent }
`);
  const child = spawn(process.execPath, [BIN, 'run', file, '--nodes', node.address, '--until-idle', '--json', '--progress-interval', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-4_000); });
  let peak = 0;
  let overCeiling = false;
  // The guard of the test itself: an unbounded worker is stopped here before it hurts the machine.
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssOf(child.pid!));
    if (peak > RSS_CEILING && !overCeiling) { overCeiling = true; child.kill('SIGKILL'); }
  }, 25);
  const deadline = setTimeout(() => child.kill('SIGKILL'), 75_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearInterval(sampler);
  clearTimeout(deadline);
  t.diagnostic(`peak RSS ${Math.round(peak / 1024 / 1024)} MiB`);
  assert.equal(overCeiling, false, `the run grew past ${RSS_CEILING / 1024 / 1024} MiB (peak ${Math.round(peak / 1024 / 1024)} MiB): no default worker heap limit`);
  assert.equal(code, 0, stderr);

  const drain = async (topic: string) => {
    const out: string[] = [];
    for (let got = await client.getMany(topic, 100); got.length > 0; got = await client.getMany(topic, 100)) out.push(...got.map((b) => b.toString('utf8')));
    return out;
  };
  const outputs = (await drain('out')).flatMap((e) => decodeEntry(e)).map((r) => (JSON.parse(Buffer.from(r.value).toString('utf8')) as { n: number }).n).sort((a, b) => a - b);
  assert.deepEqual(outputs, [0, 1, 2, 4, 5, 6, 7]);
  const dead = (await drain('in.dead')).map(parseDeadLetter);
  assert.equal(dead.length, 1);
  assert.equal(dead[0]!.error?.code, 'WORKER_CRASHED');
  assert.match(dead[0]!.error!.message, /memory limit/);
});

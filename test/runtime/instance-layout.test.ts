import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixture, harness, type Harness } from './harness.js';
import { cli } from './partitioned-state-helpers.js';

let h: Harness;
before(async () => { h = await harness(); });
after(() => h.close());

const bin = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));

async function topology(name: string, partitions: number, store = 'totals'): Promise<string> {
  const file = join(h.stateDir, `${name}.yaml`);
  await writeFile(file, `
app: ly
stateDir: \${STATE_DIR}
workers: 1
sources:
  in: { topic: ly-in, partitions: ${partitions}, poll: { minInterval: 1ms, maxInterval: 20ms } }
processors:
  count: { module: ${fixture('state-count.ts')}, input: in, ordering: key, stores: [${store}] }
stores:
  ${store}: { partitions: ${partitions} }
observability: { logLevel: warn }
`);
  return file;
}

test('instances of one app with different layouts (partitions, --instances, a renamed store) are refused while another runs; the same layout runs', { timeout: 120_000 }, async () => {
  const four = await topology('four', 4);
  const run = (file: string, instance: number, instances: number, dir: string) =>
    cli(['run', file, '--nodes', h.broker.address, '--instances', String(instances), '--instance', String(instance), '--until-idle', '--progress-interval', '0', '--lease-ttl', '1000'], { env: { STATE_DIR: join(h.stateDir, dir) } });
  const first = spawn(process.execPath, [bin, 'run', four, '--nodes', h.broker.address, '--instances', '2', '--instance', '0', '--progress-interval', '200', '--json', '--lease-ttl', '1000'],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, STATE_DIR: join(h.stateDir, 'a') } });
  let stderr = '';
  first.stderr.on('data', (c: Buffer) => { stderr += c; });
  try {
    const until = Date.now() + 30_000;
    while (!stderr.includes('"type":"progress"')) {
      assert.ok(Date.now() < until && first.exitCode === null, `the first instance runs: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // Each refused instance first waits once for the running one's lease to run out (it could be a killed
    // instance's): 1 s leases here (--lease-ttl), not the default 5 s.
    const refused = /OWNERSHIP_CONFLICT: another instance of this app runs a different layout, or stopped less than its lease's time to live ago \(layout\/[0-9a-f]{16}; this one is layout\/[0-9a-f]{16}\)/;
    const two = await run(await topology('two', 2), 1, 2, 'b');
    assert.equal(two.code, 3, two.stderr);
    assert.match(two.stderr, refused, 'partitions: 2 next to partitions: 4 (partition 3 would be read by nobody)');
    const three = await run(four, 1, 3, 'c');
    assert.equal(three.code, 3, three.stderr);
    assert.match(three.stderr, refused, '--instances 3 next to --instances 2');
    const renamed = await run(await topology('renamed', 4, 'sums'), 1, 2, 'd');
    assert.equal(renamed.code, 3, renamed.stderr);
    assert.match(renamed.stderr, refused, 'a store renamed (another changelog)');
    const same = await run(four, 1, 2, 'e');
    assert.equal(same.code, 0, same.stderr);
    assert.equal(first.exitCode, null, 'the first instance kept running');
  } finally {
    first.kill('SIGTERM');
  }
});

test('a new layout started right after the old one stopped cleanly with a longer --lease-ttl is refused saying the old claim only has to expire, and when', { timeout: 60_000 }, async () => {
  const four = await topology('four-long', 4);
  // The old layout's only instance, with 30 s leases, stops cleanly: nothing of it runs any more.
  const old = await cli(['run', four, '--nodes', h.broker.address, '--instances', '1', '--instance', '0', '--until-idle', '--progress-interval', '0', '--lease-ttl', '30000'],
    { env: { STATE_DIR: join(h.stateDir, 'long-a') } });
  assert.equal(old.code, 0, old.stderr);
  const started = Date.now();
  const next = await cli(['run', four, '--nodes', h.broker.address, '--instances', '3', '--instance', '0', '--until-idle', '--progress-interval', '0', '--lease-ttl', '1000'],
    { env: { STATE_DIR: join(h.stateDir, 'long-b') } });
  assert.equal(next.code, 3, next.stderr);
  // Refused at once, and the process ends with the error: a refusal before the worker threads said hello
  // held the process for the pool's 30 s start-up timeout.
  assert.ok(Date.now() - started < 15_000, `the refused run exited after ${Date.now() - started} ms`);
  // Not only "another live instance": the claim outlives a clean stop by the old lease's time to live.
  assert.match(next.stderr, /OWNERSHIP_CONFLICT: another instance of this app runs a different layout, or stopped less than its lease's time to live ago \(layout\/[0-9a-f]{16}; this one is layout\/[0-9a-f]{16}\): .*the claim expires in (2\d|30)\.\d s if none of them runs any more/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WalrusClient } from '../../src/client/index.js';
import { seedSources, type SeedWriter } from '../../src/runtime/sources/seed.js';
import { loadTopologyText } from '../../src/topology/index.js';
import type { Topology } from '../../src/topology/types.js';
import { startTestBroker, withBroker } from '../helpers/broker.js';

// `--seed` loads a file once. A load cut short (kill -9, a second signal) resumes where it stopped on the
// next start instead of loading the whole file again (which duplicated every entry already loaded).

const echo = fileURLToPath(new URL('../fixtures/processors/echo.js', import.meta.url));
const root = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(root, 'bin', 'walrus-stream.js');

function yaml(nodes: string[]): string {
  return [
    'app: seeded', 'stateDir: ${STATE_DIR}',
    ...(nodes.length > 0 ? ['cluster:', `  nodes: [${nodes.join(', ')}]`] : ['cluster:', '  embedded:', '    dataDir: ${STATE_DIR}/node']),
    'sources:', '  in: { topic: seed-in, format: text, serializer: string }',
    'processors:', `  echo: { module: ${JSON.stringify(echo)}, input: in }`,
    'sinks:', '  out: { topic: seed-out, input: echo }', '',
  ].join('\n');
}

async function topologyFor(dir: string, nodes: string[]): Promise<Topology> {
  return (await loadTopologyText(yaml(nodes), join(dir, 'topology.yaml'), { env: { STATE_DIR: dir } })).topology;
}

const lines = (n: number) => Array.from({ length: n }, (_, i) => `line ${i}`);

/** The client, but the process "dies" at batch `at`: before writing it, or after the node stored it and before the caller hears. */
function dyingAt(client: WalrusClient, at: number, when: 'before' | 'after'): SeedWriter {
  let batch = 0;
  return {
    state: (topic) => client.state(topic),
    async putMany(topic, entries) {
      batch += 1;
      if (batch === at && when === 'before') throw new Error('killed before the batch');
      await client.putMany(topic, entries);
      if (batch === at) throw new Error('killed after the batch');
    },
  };
}

async function readAll(client: WalrusClient, topic: string): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const got = await client.getMany(topic, 2_000);
    if (got.length === 0) return out;
    out.push(...got.map(String));
  }
}

for (const when of ['before', 'after'] as const) {
  test(`an interrupted load (${when} a batch was stored) resumes exactly: every line once, in order`, async () => {
    await withBroker(async (node) => {
      const dir = await mkdtemp(join(tmpdir(), 'walrus-seed-'));
      const client = new WalrusClient({ nodes: [node.address], retry: { retries: 0 } });
      try {
        const topology = await topologyFor(dir, [node.address]);
        const file = join(dir, 'lines.txt');
        const want = lines(7_500); // 4 batches of at most 2,000
        await writeFile(file, `${want.join('\n')}\n`);
        const seeds = [{ source: 'in', file }];
        await client.register('seed-in');
        await assert.rejects(seedSources(topology, seeds, dyingAt(client, 3, when), node.address), /killed/);
        const marker = JSON.parse(await readFile(join(dir, 'seeded', 'seeded.json'), 'utf8')) as Record<string, { loading?: boolean; done?: Record<string, number> }>;
        assert.deepEqual(Object.values(marker).map((m) => [m.loading, m.done]), [[true, { 'seed-in': 4_000 }]]);

        const [again] = await seedSources(topology, seeds, client, node.address);
        assert.equal(again!.resumed, true);
        assert.equal(again!.entries, when === 'after' ? 1_500 : 3_500);
        assert.deepEqual(await readAll(client, 'seed-in'), want);
        // Finished: a third start loads nothing.
        const [third] = await seedSources(topology, seeds, client, node.address);
        assert.equal(third!.skipped, true);
      } finally {
        await client.close();
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
}

test('on a node that does not count entries (stock), the unconfirmed batch is loaded again: at most one batch twice', async () => {
  await withBroker({ compat: 'stock' }, async (node) => {
    const dir = await mkdtemp(join(tmpdir(), 'walrus-seed-'));
    const client = new WalrusClient({ nodes: [node.address], retry: { retries: 0 } });
    try {
      const topology = await topologyFor(dir, [node.address]);
      const file = join(dir, 'lines.txt');
      const want = lines(5_000);
      await writeFile(file, `${want.join('\n')}\n`);
      const seeds = [{ source: 'in', file }];
      await client.register('seed-in');
      await assert.rejects(seedSources(topology, seeds, dyingAt(client, 2, 'after'), node.address), /killed/);
      const [again] = await seedSources(topology, seeds, client, node.address);
      assert.equal(again!.entries, 3_000);
      const got = await readAll(client, 'seed-in');
      assert.deepEqual(got, [...want.slice(0, 4_000), ...want.slice(2_000)]);
    } finally {
      await client.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

test('run --seed killed with SIGKILL mid-load: the next run loads the rest, nothing twice', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-seed-kill-'));
  try {
    await writeFile(join(dir, 'topology.yaml'), yaml([]).replace(JSON.stringify(echo), './echo.mjs'));
    // The CLI runs from dist/: the processor imports the package as a user's would.
    await mkdir(join(dir, 'node_modules'));
    await symlink(root, join(dir, 'node_modules', 'walrus-stream'), 'dir');
    await writeFile(join(dir, 'echo.mjs'), "import { defineProcessor } from 'walrus-stream/processor';\nexport default defineProcessor({ process: (record) => record.value });\n");
    const total = 100_000;
    await writeFile(join(dir, 'lines.txt'), `${lines(total).join('\n')}\n`);
    const marker = join(dir, 'seeded', 'seeded.json');
    const args = [BIN, 'run', 'topology.yaml', '--until-idle', '--seed', 'in=lines.txt', '--json', '--metrics-address', 'false'];
    const env = { ...process.env, STATE_DIR: dir };
    const first = spawn(process.execPath, args, { cwd: dir, env, stdio: 'ignore' });
    const exited = new Promise((resolve) => first.once('exit', resolve));
    // Kill once the marker shows part of the file confirmed (and not all of it).
    let killedAt = -1;
    for (let i = 0; i < 3_000 && killedAt < 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      const text = await readFile(marker, 'utf8').catch(() => '{}');
      const done = Object.values(JSON.parse(text) as Record<string, { done?: Record<string, number> }>)[0]?.done?.['seed-in'] ?? 0;
      if (done >= 4_000 && done < total) { first.kill('SIGKILL'); killedAt = done; }
    }
    await exited;
    assert.ok(killedAt > 0, 'the load was never seen mid-way');

    const second = spawn(process.execPath, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    second.stdout.on('data', (c) => { out += String(c); });
    second.stderr.on('data', (c) => { err += String(c); });
    const code = await new Promise((resolve) => second.once('exit', resolve));
    assert.equal(code, 0, err);
    assert.match(err, /seed: finished the interrupted load of .*lines\.txt into "seed-in"/);

    // Every line of the file is in the topic exactly once.
    const node = await startTestBroker({ dataDir: join(dir, 'node') });
    const client = new WalrusClient({ nodes: [node.address] });
    try {
      assert.equal((await client.state('seed-in')).totalEntries, total);
      // The first run was killed before it read anything (seeding comes first): the second read each line once.
      const summary = JSON.parse(out) as { sources: { in?: { records: number } } };
      assert.equal(summary.sources.in?.records, total);
    } finally {
      await client.close();
      await node.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

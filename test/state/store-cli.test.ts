import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { KeyValueStore, WindowedAggregation, fromField, inspectStore, storeDir, tumbling } from '../../src/state/index.js';
import { tempDir } from './helpers.js';

async function cli(args: string[], cwd: string): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await main(args, { stdout, stderr, stdin: new PassThrough(), env: {}, cwd });
  return { code, out, err };
}

test('walrus-stream store lists stores, shows a key with its windows, reads a store the app holds open', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const stateDir = join(dir, '.walrus-stream');
  // The "running app": a windowed store left open (not closed) while the CLI reads it.
  const store = await KeyValueStore.open({ dir: storeDir(stateDir, 'orders', 'revenue'), name: 'revenue' });
  t.after(() => store.close());
  const agg = new WindowedAggregation<{ ts: number; amount: number }, number>(store, {
    windows: tumbling(60_000), eventTime: fromField('ts'), init: () => 0, aggregate: (s, o) => s + o.amount,
  });
  for (const [key, amount, ts] of [['alice', 10, 1_000], ['bob', 4, 2_000], ['alice', 5, 61_000]] as const) {
    await store.commit(agg.process({ key, value: { ts, amount }, headers: {}, timestamp: 0 }).staged);
  }
  const other = await KeyValueStore.open({ dir: storeDir(stateDir, 'orders', 'counts'), name: 'counts' });
  await other.close();

  const list = await cli(['store', '--app', 'orders', '--state-dir', stateDir], dir);
  assert.equal(list.code, 0);
  assert.equal(list.out, 'counts\nrevenue\n');

  const alice = await cli(['store', 'revenue', 'alice', '--app', 'orders', '--state-dir', stateDir, '--json'], dir);
  assert.equal(alice.code, 0, alice.err);
  const parsed = JSON.parse(alice.out) as { entries: Array<{ key: string; value: number }>; seq: number };
  // Window 0 of alice closed when stream time reached 61 s (grace 0): only the open minute-1 window remains.
  assert.deepEqual(parsed.entries, [{ key: 'alice@0000000000060000', value: 5 }]);
  assert.equal(parsed.seq, 3);

  // The topology supplies app and stateDir when present. Bob's minute-0 window closed too (stream time 61 s).
  await writeFile(join(dir, 'topology.yaml'), 'app: orders\nsources:\n  o: { topic: orders }\nprocessors: {}\n');
  const text = await cli(['store', 'revenue', '--limit', '10'], dir);
  assert.match(text.out, /^store revenue \(app orders\): 2 keys, commit 3\n\(stream time\)\t61000\nalice@0000000000060000\t5\n$/);

  const missing = await cli(['store', 'revenue', 'carol', '--app', 'orders', '--state-dir', stateDir], dir);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /no key "carol" in store revenue/);
  const nostore = await cli(['store', 'nope', '--app', 'orders', '--state-dir', stateDir], dir);
  assert.equal(nostore.code, 3);
  assert.match(nostore.err, /no state store "nope"/);
  const usage = await cli(['store', 'revenue', '--limit', 'x', '--app', 'orders'], dir);
  assert.equal(usage.code, 2);
});

test('inspecting a store while it commits and compacts always sees a consistent commit', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = await KeyValueStore.open({ dir, name: 'busy', fsync: 'never', snapshotEveryBytes: 600 });
  t.after(() => store.close());
  let stop = false;
  const writer = (async () => {
    for (let i = 1; !stop; i++) {
      const cs = store.changeSet();
      cs.put(`k${String(i).padStart(6, '0')}`, i); // a new key per commit: a missing commit shows as a missing key
      await store.commit(cs);
    }
  })();
  let checks = 0;
  const deadline = Date.now() + 1_500;
  while (Date.now() < deadline) {
    const view = await inspectStore(dir, 'busy');
    assert.equal(view.keys, view.seq, `commit ${view.seq} must show ${view.seq} keys`);
    checks++;
  }
  stop = true;
  await writer;
  assert.ok(store.stats().snapshots > 5, `compactions happened (${store.stats().snapshots})`);
  assert.ok(checks > 10);
});

test('walrus-stream store refuses an --app that is a path: nothing outside the state directory is read', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const stateDir = join(dir, 'inside', '.walrus-stream');
  // A real store one level above the state directory: `--app ..` would reach it through <stateDir>/../state/revenue.
  const outside = await KeyValueStore.open({ dir: join(dir, 'inside', 'state', 'revenue'), name: 'revenue' });
  await outside.close();
  for (const args of [['store'], ['store', 'revenue'], ['store', 'revenue', 'k']]) {
    const run = await cli([...args, '--app', '..', '--state-dir', stateDir], dir);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.out}${run.err}`);
    assert.match(run.err, /--app expects an app name \(a letter or digit, then A-Z a-z 0-9 \. _ -, as the topology's app\), got "\.\."/);
    assert.equal(run.out, '', 'nothing of the store outside was listed or shown');
  }
});

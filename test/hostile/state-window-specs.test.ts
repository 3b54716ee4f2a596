import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  KeyValueStore, WindowedAggregation, advanceKeyTo, fromField, hopping, tumbling, windowedAggregate, type WindowSpec,
} from '../../src/state/index.js';
import { WalrusError } from '../../src/errors/index.js';
import { tempDir } from '../state/helpers.js';

// Window specs written by hand (`{ size, advance }` is a plain interface of the public API) or computed from
// configuration. Before: `{ size: 60_000, advance: 0 }`, a NaN size or an advance over the size put every record
// in no window at all — the record was counted nowhere and not reported late either (`step.late` false), so the
// data vanished without a word; a negative advance made `windowsFor` loop until the heap ran out (a crash of the
// coordinator), and `hopping(86_400_000, 1)` built 86 million windows per record (the same).

const BAD: Array<[string, WindowSpec, RegExp]> = [
  ['advance 0', { size: 60_000, advance: 0 }, /window advance must be a positive whole number of milliseconds, got 0/],
  ['size NaN', { size: NaN, advance: 1_000 }, /window size must be a positive whole number of milliseconds, got NaN/],
  ['size Infinity', { size: Infinity, advance: 1_000 }, /window size must be a positive whole number of milliseconds, got Infinity/],
  ['advance over size', { size: 1_000, advance: 3_000 }, /window advance \(3000 ms\) must not exceed its size \(1000 ms\)/],
  ['fractional advance', { size: 1_000, advance: 0.5 }, /window advance must be a positive whole number of milliseconds, got 0\.5/],
  ['negative size', { size: -1_000, advance: -1_000 }, /window size must be a positive whole number of milliseconds, got -1000/],
  ['negative advance', { size: 1_000, advance: -1 }, /window advance must be a positive whole number of milliseconds, got -1/],
  ['86M windows a record', { size: 86_400_000, advance: 1 }, /puts each record in 86400000 windows, more than 10000/],
  ['null', null as unknown as WindowSpec, /windows must be tumbling\(sizeMs\) or hopping\(sizeMs, advanceMs\), got null/],
];

function isConfigError(pattern: RegExp): (e: unknown) => boolean {
  return (e) => e instanceof WalrusError && e.code === 'CONFIG_INVALID' && pattern.test(e.message);
}

test('WindowedAggregation refuses a hand-written window spec that would lose records or loop, naming the store; the store is untouched', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = await KeyValueStore.open({ dir, name: 'win', fsync: 'never' });
  t.after(() => store.close());
  for (const [name, windows, message] of BAD) {
    assert.throws(() => new WindowedAggregation<{ ts: number }, number>(store, {
      windows, eventTime: fromField('ts'), init: () => 0, aggregate: (n) => n + 1,
    }), (e) => isConfigError(message)(e) && /WindowedAggregation on store "win"/.test((e as Error).message), name);
  }
  assert.equal(store.size, 0);
  assert.equal(store.stats().staged, 0);
  // A good literal spec still works, and counts the record.
  const agg = new WindowedAggregation<{ ts: number }, number>(store, {
    windows: { size: 1_000, advance: 500 }, eventTime: fromField('ts'), init: () => 0, aggregate: (n) => n + 1,
  });
  const step = agg.process({ key: 'k', value: { ts: 5_000 }, headers: {}, timestamp: 0 });
  assert.equal(step.late, false);
  await store.commit(step.staged);
  assert.deepEqual(store.range({ prefix: 'k@' }).map((e) => [e.key, e.value]), [['k@0000000000004500', 1], ['k@0000000000005000', 1]]);
});

test('windowedAggregate and advanceKeyTo refuse the same specs before touching the key', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = await KeyValueStore.open({ dir, name: 'keyed', fsync: 'never' });
  t.after(() => store.close());
  for (const [name, windows, message] of BAD) {
    const view = store.changeSet('k');
    assert.throws(() => windowedAggregate(view, { key: 'k', value: { ts: 5_000 }, headers: {}, timestamp: 0 }, {
      windows, eventTime: fromField('ts'), init: () => 0, aggregate: (n: number) => n + 1,
    }), (e) => isConfigError(message)(e) && /windowedAggregate on store "keyed"/.test((e as Error).message), name);
    assert.throws(() => advanceKeyTo(view, 'k', 10_000, { windows }), (e) => isConfigError(message)(e) && /advanceKeyTo on store "keyed"/.test((e as Error).message), name);
    assert.deepEqual(view.toWire(), [], `${name}: nothing written`);
  }
});

test('hopping() refuses more windows a record than the limit; tumbling and ordinary hopping windows are unchanged', () => {
  assert.throws(() => hopping(86_400_000, 1), isConfigError(/hopping window of 86400000 ms every 1 ms puts each record in 86400000 windows/));
  assert.deepEqual(hopping(10_000, 1), { size: 10_000, advance: 1 });
  assert.deepEqual(tumbling(60_000), { size: 60_000, advance: 60_000 });
});

test('a negative advance no longer exhausts the heap: the process ends normally with the error', () => {
  // In a child with a small heap, so the unfixed loop shows as an out-of-memory crash rather than taking this runner down.
  const script = `
    import { windowedAggregate, fromField, KeyValueStore } from ${JSON.stringify(new URL('../../src/state/index.ts', import.meta.url).href)};
    import { mkdtempSync } from 'node:fs'; import { tmpdir } from 'node:os'; import { join } from 'node:path';
    const store = await KeyValueStore.open({ dir: mkdtempSync(join(tmpdir(), 'ws-neg-')), name: 'neg', fsync: 'never' });
    try {
      windowedAggregate(store.changeSet('k'), { key: 'k', value: { ts: 5000 } }, { windows: { size: 1000, advance: -1 }, eventTime: fromField('ts'), init: () => 0, aggregate: (n) => n + 1 });
      console.log('no error');
    } catch (e) { console.log('refused:', e.code); }
    await store.close();`;
  const child = spawnSync(process.execPath, ['--max-old-space-size=64', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(child.status, 0, child.stderr.slice(-2_000));
  assert.equal(child.stdout.trim(), 'refused: CONFIG_INVALID');
});

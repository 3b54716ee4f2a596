import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyValueStore, WorkerStateContext, type RangeOptions } from '../../src/state/index.js';
import { WalrusError } from '../../src/errors/index.js';
import { tempDir } from '../state/helpers.js';

// Range queries with hostile options, through the public store API and a worker's ctx.state(). Before:
// `committedRange({ limit: 2 })` returned every key (the limit was ignored), `range({ limit: -1 })` every key but
// the last (Array#slice), `limit: NaN` nothing, `limit: 1.5` one entry, a change set returned one entry for
// `limit: 0` and for `limit: -1`, and `prefix: 5` failed with "p.endsWith is not a function".

const BAD: Array<[string, unknown, RegExp]> = [
  ['limit -1', { limit: -1 }, /limit is -1, not a whole number >= 0/],
  ['limit NaN', { limit: NaN }, /limit is NaN, not a whole number >= 0/],
  ['limit 1.5', { limit: 1.5 }, /limit is 1\.5, not a whole number >= 0/],
  ['limit "3"', { limit: '3' }, /limit is "3", not a whole number >= 0/],
  ['limit -Infinity', { limit: -Infinity }, /limit is -Infinity, not a whole number >= 0/],
  ['prefix 5', { prefix: 5 }, /prefix is 5, not a string/],
  ['start object', { start: {} }, /start is a object, not a string/],
  ['end null', { end: null }, /end is null, not a string/],
  ['options null', null, /the options are null, not an object/],
  ['options string', 'k', /the options are string, not an object/],
];

function refused(store: string, pattern: RegExp): (e: unknown) => boolean {
  return (e) => e instanceof WalrusError && e.code === 'STATE_STORE_ERROR' && e.retriable === false
    && e.message.startsWith(`store "${store}": range(): `) && pattern.test(e.message);
}

async function tenKeys(t: { after: (fn: () => Promise<void>) => void }): Promise<KeyValueStore> {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = await KeyValueStore.open({ dir, name: 'rng', fsync: 'never' });
  t.after(() => store.close());
  const cs = store.changeSet();
  for (let i = 0; i < 10; i++) cs.put(`k${i}`, i);
  await store.commit(cs);
  return store;
}

const keys = (rows: Array<{ key: string }>): string[] => rows.map((r) => r.key);

test('committedRange honours limit, like range', async (t) => {
  const store = await tenKeys(t);
  assert.deepEqual(keys(store.committedRange({ limit: 2 })), ['k0', 'k1']);
  assert.deepEqual(keys(store.committedRange({ prefix: 'k', start: 'k5', limit: 3 })), ['k5', 'k6', 'k7']);
  assert.deepEqual(keys(store.committedRange({ limit: 0 })), []);
  assert.equal(store.committedRange({ limit: Infinity }).length, 10);
  assert.equal(store.committedRange().length, 10);
});

test('a limit over staged writes counts what the range holds: staged deletes do not use it up, staged puts are in order', async (t) => {
  const store = await tenKeys(t);
  const cs = store.changeSet();
  cs.delete('k0');
  cs.delete('k2');
  cs.put('a', 'first');
  store.stage(cs);
  assert.deepEqual(keys(store.range({ limit: 3 })), ['a', 'k1', 'k3']);
  assert.deepEqual(keys(store.committedRange({ limit: 3 })), ['k0', 'k1', 'k2']);
  assert.deepEqual(keys(store.range({ limit: 0 })), []);
});

test('range, committedRange and a change set refuse bad options with an error naming the store and the option', async (t) => {
  const store = await tenKeys(t);
  for (const [name, opts, message] of BAD) {
    assert.throws(() => store.range(opts as RangeOptions), refused('rng', message), `range ${name}`);
    assert.throws(() => store.committedRange(opts as RangeOptions), refused('rng', message), `committedRange ${name}`);
    assert.throws(() => store.changeSet().range(opts as RangeOptions), refused('rng', message), `changeSet().range ${name}`);
  }
  const cs = store.changeSet();
  cs.put('k1', 'own write');
  assert.deepEqual(keys(cs.range({ limit: 0 })), []);
  assert.deepEqual(keys(cs.range({ limit: 2 })), ['k0', 'k1']);
  assert.deepEqual(keys(store.changeSet().range({ limit: 0 })), []);
});

test('ctx.state(...).range() in a worker refuses bad options the same way, and limit 0 gives nothing', async (t) => {
  const store = await tenKeys(t);
  const cs = store.changeSet('c');
  for (let i = 0; i < 5; i++) cs.put(`c@${i}`, i);
  await store.commit(cs);
  const ctx = new WorkerStateContext('c', [{ store: 'rng', entries: store.preload('c').map(([k, v]) => [k, v] as [string, Uint8Array]) }]);
  const view = ctx.store('rng');
  assert.deepEqual(keys(view.range({ prefix: 'c@', limit: 2 })), ['c@0', 'c@1']);
  assert.deepEqual(keys(view.range({ prefix: 'c@', limit: 0 })), []);
  for (const [name, opts, message] of BAD.filter(([n]) => n.startsWith('limit'))) {
    assert.throws(() => view.range({ prefix: 'c@', ...(opts as object) }), refused('rng', message), name);
  }
  assert.deepEqual(ctx.collect(), []);
});

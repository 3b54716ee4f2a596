import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { encodeBatchGet, encodeBatchPut, parseBatchGet, parseBatchPut } from '../../src/protocol/index.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';

describe('BATCH_PUT / BATCH_GET (default mode)', () => {
  let node: TestBroker;
  let c: RawClient;
  before(async () => {
    node = await startTestBroker();
    c = await RawClient.connect(node.port);
    assert.equal(await c.request('REGISTER b'), 'OK');
  });
  after(async () => {
    c.close();
    await node.close();
  });

  test('a batch is stored exactly as the same PUTs would be, and BATCH_GET returns it', async () => {
    const entries = ['one', 'two words', ' leading', 'ünïcödé ✓', 'x'.repeat(1000), 'inner\nnewline'];
    c.writeRaw(encodeBatchPut('b', entries));
    assert.equal(parseBatchPut(Buffer.from(await c.next())), entries.length);
    assert.equal(await c.request('GET b'), 'OK one');
    c.writeRaw(encodeBatchGet('b', 100));
    const got = parseBatchGet((await c.nextFrame())!).map((e) => e.toString('utf8'));
    assert.deepEqual(got, entries.slice(1));
    c.writeRaw(encodeBatchGet('b', 100));
    assert.equal(await c.next(), 'EMPTY');
  });

  test('BATCH_GET respects max_entries and max_bytes, but always returns one entry', async () => {
    c.writeRaw(encodeBatchPut('b', ['aaaa', 'bbbb', 'cccc', 'dddd', 'eeee']));
    await c.next();
    c.writeRaw(encodeBatchGet('b', 2));
    assert.deepEqual(parseBatchGet((await c.nextFrame())!).map(String), ['aaaa', 'bbbb']);
    c.writeRaw(encodeBatchGet('b', 10, 2));
    assert.deepEqual(parseBatchGet((await c.nextFrame())!).map(String), ['cccc']);
    c.writeRaw(encodeBatchGet('b', 10, 8));
    assert.deepEqual(parseBatchGet((await c.nextFrame())!).map(String), ['dddd', 'eeee']);
  });

  test('BATCH_GET keeps the whole reply within one 65,536-byte frame', async () => {
    const big = 'y'.repeat(25_000);
    c.writeRaw(encodeBatchPut('b', [big, big]));
    assert.equal(await c.next(), 'OK 2');
    c.writeRaw(encodeBatchPut('b', [big]));
    assert.equal(await c.next(), 'OK 1');
    c.writeRaw(encodeBatchGet('b', 10, 1_000_000));
    const first = (await c.nextFrame())!;
    assert.ok(first.length <= 65_536);
    assert.equal(parseBatchGet(first).length, 2);
    c.writeRaw(encodeBatchGet('b', 10, 1_000_000));
    assert.equal(parseBatchGet((await c.nextFrame())!).length, 1);
  });

  test('an entry too large for a BATCH_GET frame is refused with a hint and left for GET', async () => {
    const huge = 'z'.repeat(65_536 - 'PUT b '.length);
    assert.equal(await c.request(`PUT b ${huge}`), 'OK');
    c.writeRaw(encodeBatchGet('b', 10));
    assert.match(await c.next(), /^ERR invalid batch: the next entry \(65530 bytes\) does not fit a BATCH_GET reply frame; read it with GET$/);
    assert.equal(await c.request('GET b'), `OK ${huge}`);
  });

  test('malformed batches are refused whole, with the reason', async () => {
    const cases: Array<[string, RegExp]> = [
      ['BATCH_PUT b', /^ERR BATCH_PUT requires a payload$/],
      ['BATCH_PUT', /^ERR BATCH_PUT requires a topic$/],
      ['BATCH_PUT b 2 3 abc', /^ERR invalid batch: entry 1|^ERR invalid batch: expected a space/],
      ['BATCH_PUT b 1 5 abc', /^ERR invalid batch: entry 0 of 5 bytes does not fit the frame/],
      ['BATCH_PUT b 1 3 abcdef', /^ERR invalid batch: 3 unexpected bytes/],
      ['BATCH_PUT b 0', /^ERR invalid batch: batch count 0 is outside 1\.\.2000/],
      ['BATCH_PUT b 2001 1 a', /^ERR invalid batch: batch count 2001 is outside/],
      ['BATCH_PUT b x 1 a', /^ERR invalid batch: invalid count/],
      ['BATCH_PUT b 1 0 ', /^ERR invalid batch: /],
      ['BATCH_GET b', /^ERR BATCH_GET requires a payload$/],
      ['BATCH_GET b 0 10', /^ERR invalid batch: max_entries must be from 1 to 2000, got 0$/],
      ['BATCH_GET b 2001 10', /^ERR invalid batch: max_entries must be from 1 to 2000, got 2001$/],
      ['BATCH_GET b 10', /^ERR invalid batch: expected "<max_entries> <max_bytes>"$/],
      ['BATCH_GET b 10 0', /^ERR invalid batch: max_bytes must be at least 1$/],
      ['BATCH_GET nope 10 10', /^ERR unknown topic nope$/],
      ['BATCH_PUT nope 1 1 a', /^ERR unknown topic nope$/],
    ];
    for (const [request, expected] of cases) assert.match(await c.request(request), expected, request);
    // Nothing from the refused batches was stored.
    assert.equal(await c.request('GET b'), 'EMPTY');
  });

  test('an entry that cuts a UTF-8 character in two is refused', async () => {
    // "é" is two bytes; length 1 splits it, leaving a lone continuation byte for the next entry.
    assert.match(await c.request('BATCH_PUT b 2 1 é 1 a'), /^ERR invalid batch/);
    assert.equal(await c.request('GET b'), 'EMPTY');
  });

  test('STATE reports total_entries, read_cursor and lag', async () => {
    await c.request('REGISTER lag');
    c.writeRaw(encodeBatchPut('lag', ['1', '2', '3']));
    await c.next();
    await c.request('GET lag');
    const state = JSON.parse(await c.request('STATE lag')) as Record<string, number>;
    assert.equal(state.total_entries, 3);
    assert.equal(state.read_cursor, 1);
    assert.equal(state.lag, 2);
  });
});

describe('extensions in stock mode', () => {
  test('BATCH_PUT and BATCH_GET answer exactly like an unknown command', async () => {
    const node = await startTestBroker({ compat: 'stock' });
    const c = await RawClient.connect(node.port);
    try {
      await c.request('REGISTER b');
      c.writeRaw(encodeBatchPut('b', ['a', 'b']));
      assert.equal(await c.next(), 'ERR unknown command');
      c.writeRaw(encodeBatchGet('b', 10));
      assert.equal(await c.next(), 'ERR unknown command');
      assert.equal(await c.request('BATCH_PUT'), 'ERR unknown command');
      assert.equal(await c.request('GET b'), 'EMPTY');
    } finally {
      c.close();
      await node.close();
    }
  });
});

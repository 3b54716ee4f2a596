import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startBroker } from '../../src/broker/index.js';
import { encodeBatchPut } from '../../src/protocol/index.js';
import { RawClient } from '../helpers/raw-client.js';

test('without a dataDir the node keeps everything in memory, with the same replies', async () => {
  const node = await startBroker({ port: 0, segmentEntries: 2 });
  const c = await RawClient.connect(node.port);
  try {
    assert.equal(await c.request('REGISTER m'), 'OK');
    c.writeRaw(encodeBatchPut('m', ['a', 'b', 'c']));
    assert.equal(await c.next(), 'OK 3');
    assert.equal(await c.request('GET m'), 'OK a');
    assert.equal(
      await c.request('STATE m'),
      '{"current_segment":2,"leader_node":1,"last_sealed_entry_offset":2,"sealed_segments":{"1":2},"segment_leaders":{"1":1,"2":1},"total_entries":3,"read_cursor":1,"lag":2}',
    );
    assert.equal(await c.request('BATCH_GET m 10 100'), 'OK 2 1 b 1 c');
    assert.equal(await c.request('GET m'), 'EMPTY');
    const metrics = JSON.parse(await c.request('METRICS')) as { embedded: { persistent: unknown; data_dir?: unknown } };
    assert.equal(metrics.embedded.persistent, false);
    assert.equal('data_dir' in metrics.embedded, false);
  } finally {
    c.close();
    await node.close();
  }
});

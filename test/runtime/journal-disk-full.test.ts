import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fillDiskUnder } from '../helpers/dev-full.js';
import { harness, fixture } from './harness.js';

// The stateDir's disk fills: the journal's next write fails with ENOSPC. The run used to go on
// fetching for ever with no journal (on a node without leases: no crash protection at all),
// logging one error per batch, and an `--until-idle` run ended "finished" with exit 0.
// The journal's segment descriptor is swapped for /dev/full, so its next write gets ENOSPC from the kernel.

const yaml = (slow: string) => [
  'app: jfull', 'stateDir: ${STATE_DIR}',
  'sources:', '  in: { topic: jfull-in, poll: { batchSize: 10 } }',
  'processors:', `  slow: { module: ${JSON.stringify(slow)}, input: in }`,
  'sinks:', '  out: { topic: jfull-out, input: slow }', '',
].join('\n');

test('a full disk under the journal stops the run with an error naming the journal and what to do; nothing is lost', { timeout: 60_000 }, async () => {
  const h = await harness();
  try {
    const values = Array.from({ length: 200 }, (_, i) => ({ ms: 1, i }));
    await h.produce('jfull-in', values.map((value) => ({ value })));
    const journalDir = join(h.stateDir, 'jfull', 'journal');
    const stopped = await h.run(yaml(fixture('slow.ts')), {
      beforeRun: async () => { fillDiskUnder((path) => path.startsWith(`${journalDir}/`) && path.endsWith('.journal')); },
    }).then(() => undefined, (error: unknown) => error as Error & { code?: string });
    assert.ok(stopped instanceof Error, 'the run must stop with an error, not finish as if its journal worked');
    assert.equal(stopped.code, 'JOURNAL_ERROR');
    assert.match(stopped.message, /ENOSPC/);
    assert.ok(stopped.message.includes(`the disk holding ${journalDir} is full: free space there`), stopped.message);

    // Space is back: the next run takes up what was not fetched; every record reaches the sink.
    await h.run(yaml(fixture('slow.ts')));
    const out = await h.drain('jfull-out');
    const seen = new Set(out.map((r) => (r.value as { i: number }).i));
    assert.equal(seen.size, values.length, 'every record reached the sink');
  } finally {
    await h.close();
  }
});

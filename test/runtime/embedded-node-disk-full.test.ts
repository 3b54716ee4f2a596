import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, symlink, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WalrusClient } from '../../src/client/index.js';
import { startPipeline } from '../../src/runtime/pipeline/pipeline.js';
import { loadTopologyText } from '../../src/topology/index.js';
import { startTestBroker } from '../helpers/broker.js';

// The embedded node's disk fills during a run. The node stops (it may not acknowledge what it
// cannot store); the run used to retry the closed port for ever (circuit breaker warnings, no
// word of the disk) and, once stopped, waited for ever on the dead node thread's close.
// Writes to /dev/full fail with ENOSPC from the kernel: the source topic's cursor file is one,
// so the node's first cursor write (after the pipeline's first acknowledgement) finds a full disk.

const echo = fileURLToPath(new URL('../fixtures/processors/echo.js', import.meta.url));

test('the embedded node out of disk space ends the run with an error naming its data dir and what to do', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-node-full-'));
  const dataDir = join(dir, 'node');
  try {
    const node = await startTestBroker({ dataDir });
    const client = new WalrusClient({ nodes: [node.address] });
    await client.register('full-in');
    await client.putMany('full-in', Array.from({ length: 200 }, (_, i) => `line ${i}`));
    await client.close();
    await node.close();
    const cursor = join(dataDir, 'topics', 'full-in', 'cursor');
    await unlink(cursor);
    await symlink('/dev/full', cursor);

    const yaml = [
      'app: full', 'stateDir: ${STATE_DIR}',
      'cluster:', '  embedded:', '    dataDir: ${STATE_DIR}/node', '    port: 0',
      'sources:', '  in: { topic: full-in, format: text, serializer: string }',
      'processors:', `  echo: { module: ${JSON.stringify(echo)}, input: in }`,
      'sinks:', '  out: { topic: full-out, input: echo }', '',
    ].join('\n');
    const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    const { topology } = await loadTopologyText(yaml, join(dir, 'topology.yaml'), { env: { STATE_DIR: dir } });
    const pipeline = await startPipeline(topology, { untilIdle: true, workers: 1 });
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<'hung'>((resolve) => { timer = setTimeout(() => resolve('hung'), 20_000); });
    const stopped = await Promise.race([pipeline.done.then(() => undefined, (error: unknown) => error as Error), hung]).finally(() => clearTimeout(timer));
    if (stopped === 'hung') pipeline.stop({ abortAfterMs: 0, giveUpAfterMs: 100 });
    assert.notEqual(stopped, 'hung', 'the run must stop within 20 s of its node stopping');
    assert.ok(stopped instanceof Error, 'the run must fail, not finish as if every record was written');
    assert.match(stopped.message, /embedded node stopped/);
    assert.match(stopped.message, new RegExp(`ENOSPC.*writing ${escape(cursor)}`));
    assert.match(stopped.message, new RegExp(`disk holding ${escape(dataDir)} is full: free space there`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

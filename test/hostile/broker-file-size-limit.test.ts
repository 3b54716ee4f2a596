import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { spawnBrokerProcess } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';

// The embedded node when a segment write fails part-way: under `ulimit -f` (SIGXFSZ ignored) a write
// past the limit writes what fits and then fails with EFBIG, as a disk filling up mid-write does. The
// node must not acknowledge what it could not write, must stop (exit 3) naming the file and the cause,
// and after a start without the limit every acknowledged entry is there, once, in order (the torn tail
// of the failed group write is cut by recovery).

const root = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(root, 'bin', 'walrus-stream.js');

for (const fsync of ['never', 'always'] as const) {
  test(`a node (fsync ${fsync}) whose segment reaches the file-size limit: stops with EFBIG naming the segment, no acknowledged entry lost`, { timeout: 30_000 }, async (t) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'walrus-efbig-'));
    t.after(() => rm(dataDir, { recursive: true, force: true }));
    const child = spawn('bash', ['-c', `trap '' XFSZ; ulimit -f 64; exec "${process.execPath}" "${BIN}" broker --port 0 --json --data-dir "${dataDir}" --fsync ${fsync}`],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c) => { stderr += String(c); });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const port = await new Promise<number>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`broker exited with ${code}: ${stderr}`)));
      createInterface({ input: child.stdout }).on('line', (line) => {
        const event = JSON.parse(line) as { event: string; port: number };
        if (event.event === 'listening') resolve(event.port);
      });
    });
    const c = await RawClient.connect(port);
    assert.equal(await c.request('REGISTER t'), 'OK');
    // Pipelined PUTs, 40 at a time: one group write holds many entries, so the failing write tears one of them.
    const acked: string[] = [];
    const payload = (i: number) => `${i}-${'x'.repeat(300)}`;
    let closed = false;
    for (let i = 0; !closed && i < 2_000; i += 40) {
      for (let k = i; k < i + 40; k++) c.send(`PUT t ${payload(k)}`);
      for (let k = i; k < i + 40; k++) {
        const frame = await c.nextFrame();
        if (frame === undefined) { closed = true; break; }
        assert.equal(frame.toString(), 'OK', `entry ${k}`);
        acked.push(payload(k));
      }
    }
    c.close();
    assert.ok(closed, 'the node closed the connection once its write failed');
    assert.equal(await exited, 3, stderr);
    assert.match(stderr, /storage failure in data dir .*: EFBIG: file too large, write \(writing .*\/topics\/t\/00000000000000000001\.seg\)/);
    assert.ok(acked.length > 100, `${acked.length} acknowledged before the limit`);

    const again = await spawnBrokerProcess(['--data-dir', dataDir]);
    try {
      const d = await RawClient.connect(again.port);
      const got: string[] = [];
      for (let r = await d.request('GET t'); r.startsWith('OK '); r = await d.request('GET t')) got.push(r.slice(3));
      d.close();
      assert.deepEqual(got.slice(0, acked.length), acked, 'every acknowledged entry, once, in order');
      // Entries written but not acknowledged may follow (their client was told nothing): never a torn one.
      for (const [i, entry] of got.slice(acked.length).entries()) assert.equal(entry, payload(acked.length + i));
    } finally {
      again.child.kill('SIGTERM');
      await new Promise((resolve) => again.child.once('exit', resolve));
    }
  });
}

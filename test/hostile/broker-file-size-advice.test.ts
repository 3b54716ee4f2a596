import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { RawClient } from '../helpers/raw-client.js';

// A file-size limit (`ulimit -f`, SIGXFSZ ignored) fails writes with EFBIG. It was not treated as
// "disk full": the node stopped naming EFBIG but said nothing of what to do, and a LOCK that could
// not be written left its LOCK.<pid>.<rand>.tmp behind, one more per attempt.

const root = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(root, 'bin', 'walrus-stream.js');
const ADVICE = /reached the largest file this process may write \(the file-size limit, `ulimit -f`\): raise it/;

function limited(blocks: number, dataDir: string) {
  const child = spawn('bash', ['-c', `trap '' XFSZ; ulimit -f ${blocks}; exec "${process.execPath}" "${BIN}" broker --port 0 --json --data-dir "${dataDir}" --fsync never`],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => { stderr += String(c); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, exited, stderr: () => stderr };
}

test('a LOCK that cannot be written (ulimit -f 0): the start fails with EFBIG and what to do, and leaves no LOCK.*.tmp', { timeout: 20_000 }, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'walrus-efbig-lock-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  for (let attempt = 0; attempt < 2; attempt++) {
    const node = limited(0, dataDir);
    assert.notEqual(await node.exited, 0, node.stderr());
    assert.match(node.stderr(), /cannot create the lock file .*LOCK: EFBIG/);
    assert.deepEqual((await readdir(dataDir)).filter((f) => f.startsWith('LOCK')), [], `attempt ${attempt + 1}: no lock file, no temporary left`);
    assert.match(node.stderr(), ADVICE);
  }
});

test('a segment that reaches the file-size limit: the node stops naming EFBIG and what to do', { timeout: 20_000 }, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'walrus-efbig-advice-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const node = limited(16, dataDir);
  const port = await new Promise<number>((resolve, reject) => {
    node.child.once('exit', (code) => reject(new Error(`broker exited with ${code}: ${node.stderr()}`)));
    createInterface({ input: node.child.stdout }).on('line', (line) => {
      const event = JSON.parse(line) as { event: string; port: number };
      if (event.event === 'listening') resolve(event.port);
    });
  });
  const c = await RawClient.connect(port);
  assert.equal(await c.request('REGISTER t'), 'OK');
  let closed = false;
  for (let i = 0; !closed && i < 200; i++) {
    for (let k = 0; k < 20; k++) c.send(`PUT t ${i}-${'x'.repeat(300)}`);
    for (let k = 0; k < 20; k++) if (await c.nextFrame() === undefined) { closed = true; break; }
  }
  c.close();
  assert.ok(closed, 'the node closed the connection once its write failed');
  assert.equal(await node.exited, 3, node.stderr());
  assert.match(node.stderr(), /storage failure in data dir .*: EFBIG: file too large, write \(writing .*\.seg\)/);
  assert.match(node.stderr(), ADVICE);
});

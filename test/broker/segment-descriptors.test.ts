import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { RawClient } from '../helpers/raw-client.js';

// Descriptors are bounded, not one per unread sealed segment: a node limited to 256 open files
// (`ulimit -n 256`) with --segment-entries 1 writes 1,200 entries (1,200 segments, 3 read),
// restarts, and serves every entry in order. Before, each sealed segment kept its descriptor
// until it was read: the 240th-odd rollover failed with EMFILE, and a restart opened every
// segment again and could not even listen.

const root = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(root, 'bin', 'walrus-stream.js');

async function startLimited(dataDir: string, fsync: string): Promise<{ child: ChildProcess; port: number; stderr: () => string }> {
  const child = spawn('bash', ['-c', `ulimit -n 256; exec "${process.execPath}" "${BIN}" broker --port 0 --json --data-dir "${dataDir}" --segment-entries 1 --fsync ${fsync}`],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c) => { stderr += String(c); });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`broker exited with ${code}: ${stderr}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const event = JSON.parse(line) as { event: string; port: number };
      if (event.event === 'listening') resolve(event.port);
    });
  });
  return { child, port, stderr: () => stderr };
}

async function stop(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  return exited;
}

// fsync 5000: more rollovers than the pool holds between two syncs, so descriptors it lets go still owe their fdatasync.
// (Fewer entries there: each of those costs a synchronous fdatasync.)
for (const [fsync, ENTRIES] of [['never', 1_200], ['5000', 400]] as const) test(`a node (fsync ${fsync}) under ulimit -n 256 holds ${ENTRIES} unread one-entry segments, restarts and serves each entry in order`, { timeout: 30_000 }, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'walrus-fds-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));

  const first = await startLimited(dataDir, fsync);
  try {
    const c = await RawClient.connect(first.port);
    assert.equal(await c.request('REGISTER t'), 'OK');
    for (let i = 0; i < ENTRIES; i += 100) {
      for (let k = i; k < i + 100; k++) c.send(`PUT t e${k}`);
      for (let k = i; k < i + 100; k++) assert.equal(await c.next(), 'OK', `PUT of entry ${k}: ${first.stderr()}`);
    }
    // Read a few while the rest stays unread: the read goes through the bounded pool too.
    for (let k = 0; k < 3; k++) assert.equal(await c.request('GET t'), `OK e${k}`);
    c.close();
  } finally {
    assert.equal(await stop(first.child), 0, first.stderr());
  }

  const second = await startLimited(dataDir, fsync);
  try {
    const d = await RawClient.connect(second.port);
    const got: string[] = [];
    for (let r = await d.request('GET t'); r.startsWith('OK '); r = await d.request('GET t')) got.push(r.slice(3));
    // Written after the restart: the newest (full) segment rolls over at this append.
    assert.equal(await d.request('PUT t last'), 'OK');
    assert.equal(await d.request('GET t'), 'OK last');
    d.close();
    assert.deepEqual(got, Array.from({ length: ENTRIES - 3 }, (_, k) => `e${k + 3}`));
  } finally {
    assert.equal(await stop(second.child), 0, second.stderr());
  }
});

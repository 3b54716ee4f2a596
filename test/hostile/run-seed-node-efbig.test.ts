import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seedProject } from '../helpers/seed-project.js';

// `run --seed` loading into the embedded node when the node's segment write fails (ulimit -f,
// SIGXFSZ ignored: EFBIG). The node stops, and the run's last line was the client's
// "CONNECTION_REFUSED: Could not connect to node ..." with a hint to check the address; the real
// cause was only in the fatal log line above it. Now the last line is the node's failure.

const root = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(root, 'bin', 'walrus-stream.js');

test('run --seed into an embedded node whose segment reaches ulimit -f: the last line names the node\'s EFBIG, not CONNECTION_REFUSED', { timeout: 30_000 }, async (t) => {
  const dir = await seedProject('seednode', 'walrus-seed-node-efbig-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'seed.txt'), '{"a":1}\n'.repeat(20_000)); // 160 KB: past the 64 KiB limit in the node's segment
  const child = spawn('bash', ['-c', `trap '' XFSZ; ulimit -f 64; exec "${process.execPath}" "${BIN}" run topology.yaml --until-idle --metrics-address false --seed in=seed.txt`],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => { stderr += String(c); });
  child.stdout.resume();
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  assert.notEqual(code, 0, stderr);
  const last = stderr.trimEnd().split('\n').at(-1) ?? '';
  assert.doesNotMatch(last, /CONNECTION_REFUSED|Check that the node is running/, stderr);
  assert.match(last, /^walrus-stream run: SERVER_ERROR: the embedded node stopped: storage failure in data dir .*\/state\/node: EFBIG: file too large, write \(writing .*\.seg\)/);
});

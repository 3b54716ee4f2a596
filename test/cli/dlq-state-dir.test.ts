import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestBroker } from '../helpers/broker.js';
import { withTempDir } from '../helpers/temp-dir.js';

// dlq replay --state-dir naming a file (or /dev/null) was
// "JOURNAL_ERROR: cannot create the journal directory /dev/null: EEXIST: file
// already exists, mkdir '/dev/null'" with exit 3: a runtime failure, and no
// word of what to do.

const BIN = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));

function cli(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stderr })));
}

test('dlq replay --state-dir <a file> is a usage error saying it must be a directory, not JOURNAL_ERROR (exit 3)', { timeout: 60_000 }, async (t) => {
  const node = await startTestBroker();
  t.after(() => node.close());
  await withTempDir('walrus-dlq-state-dir-', async (dir) => {
    const file = join(dir, 'journal');
    await writeFile(file, 'not a directory\n');
    for (const stateDir of [file, '/dev/null']) {
      const r = await cli(['dlq', 'replay', 'orders.dlq', '--nodes', node.address, '--state-dir', stateDir]);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr, `walrus-stream dlq: --state-dir ${stateDir} is a file, not a directory: give a directory for the replay journal (it is created if missing)\n` +
        'Run `walrus-stream dlq --help` for usage.\n');
    }
  });
});

import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers/cli-in-process.js';

test('walrus-stream broker: a flag value out of range names the flag that was typed, and nothing is started or written', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-cli-bad-'));
  try {
    for (const [args, message] of [
      [['--max-unsent-reply-bytes', '100'], /maxUnsentReplyBytes: expected an integer from 4096 to 1073741824, got 100 \(--max-unsent-reply-bytes of walrus-stream broker\)/],
      [['--port', '70000'], /port: expected an integer from 0 to 65535, got 70000 \(--port of walrus-stream broker\)/],
      [['--segment-entries', '0'], /segmentEntries: expected an integer from 1 to \d+, got 0 \(--segment-entries of walrus-stream broker\)/],
      [['--lease-timeout', '99999999999'], /leaseTimeoutMs: expected an integer from 0 to 2147483647, got 99999999999 \(--lease-timeout of walrus-stream broker\)/],
      [['--idle-timeout', '9999999999ms'], /idleTimeoutMs: expected an integer from 0 to 2147483647, got 9999999999 \(--idle-timeout of walrus-stream broker\)/],
      [['--fsync', '99999999999'], /fsync\.intervalMs: expected an integer from 1 to 3600000, got 99999999999 \(--fsync of walrus-stream broker\)/],
    ] as const) {
      const dataDir = join(dir, 'data');
      // Before: "Invalid broker option maxUnsentReplyBytes: ..." — a name the command line never shows.
      const port = args[0] === '--port' ? [] : ['--port', '0'];
      const { code, stderr } = await runCli(['broker', ...port, '--data-dir', dataDir, ...args]);
      assert.notEqual(code, 0, args.join(' '));
      assert.match(stderr, message);
      assert.deepEqual(await readdir(dir), [], 'nothing written');
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

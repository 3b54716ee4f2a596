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
      [['--max-unsent-reply-bytes', '100'], /^walrus-stream broker: --max-unsent-reply-bytes: expected an integer from 4096 to 1073741824, got "100"$/m],
      [['--port', '70000'], /^walrus-stream broker: --port: expected an integer from 0 to 65535, got "70000"$/m],
      [['--segment-entries', '0'], /^walrus-stream broker: --segment-entries: expected an integer from 1 to \d+, got "0"$/m],
      [['--lease-timeout', '99999999999'], /^walrus-stream broker: --lease-timeout: expected an integer from 0 to 2147483647, got "99999999999"$/m],
      [['--idle-timeout', '9999999999ms'], /^walrus-stream broker: --idle-timeout: expected an integer from 0 to 2147483647, got "9999999999ms"$/m],
      [['--fsync', '99999999999'], /^walrus-stream broker: --fsync: expected an integer from 1 to 3600000, got "99999999999"$/m],
    ] as const) {
      const dataDir = join(dir, 'data');
      // Before: "Invalid broker option maxUnsentReplyBytes: ..." (exit 1) — a name the command line never shows.
      const port = args[0] === '--port' ? [] : ['--port', '0'];
      const { code, stderr } = await runCli(['broker', ...port, '--data-dir', dataDir, ...args]);
      assert.equal(code, 2, `${args.join(' ')}: a usage error`);
      assert.match(stderr, message);
      assert.deepEqual(await readdir(dir), [], 'nothing written');
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

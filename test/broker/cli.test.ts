import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { main } from '../../src/cli/main.js';
import { spawnBrokerProcess, startTestBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';

async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await main(args, { stdout, stderr, stdin: new PassThrough(), env: {}, cwd: process.cwd() });
  return { code, stdout: out, stderr: err };
}

test('walrus-stream broker --help lists every option', async () => {
  const { code, stdout } = await runCli(['broker', '--help']);
  assert.equal(code, 0);
  for (const flag of ['--host', '--port', '--data-dir', '--compat', '--fsync', '--segment-entries', '--max-connections', '--idle-timeout', '--max-unsent-reply-bytes', '--volatile-cursors']) {
    assert.ok(stdout.includes(flag), flag);
  }
});

test('bad flags are usage errors (exit 2) that say what is wrong', async () => {
  for (const [args, message] of [
    [['--fsync', 'sometimes'], /--fsync expects always, never, interval or an interval in milliseconds, got "sometimes"/],
    [['--compat', 'weird'], /--compat expects default or stock/],
    [['--port', 'abc'], /--port expects a non-negative integer, got "abc"/],
    [['--bogus'], /unknown option --bogus/],
    [['--idle-timeout', '5s'], /--idle-timeout expects a non-negative integer, got "5s"/],
    [['--max-unsent-reply-bytes', '1.5'], /--max-unsent-reply-bytes expects a non-negative integer, got "1.5"/],
  ] as const) {
    const { code, stderr } = await runCli(['broker', ...args]);
    assert.equal(code, 2, args.join(' '));
    assert.match(stderr, message);
  }
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal} stops the broker cleanly: replies sent, data flushed, exit 0`, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'walrus-cli-'));
    try {
      const { child, port } = await spawnBrokerProcess(['--data-dir', dataDir, '--fsync', 'never']);
      const lines = createInterface({ input: child.stdout! });
      const c = await RawClient.connect(port);
      assert.equal(await c.request('REGISTER cli'), 'OK');
      for (let i = 0; i < 100; i++) c.send(`PUT cli m${i}`);
      for (let i = 0; i < 100; i++) assert.equal(await c.next(), 'OK');
      const stopped = new Promise<string>((resolve) => lines.once('line', resolve));
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill(signal);
      assert.deepEqual(JSON.parse(await stopped), { event: 'stopped', signal });
      assert.equal(await exited, 0);
      await c.waitClosed();
      c.close();

      const node = await startTestBroker({ dataDir });
      const again = await RawClient.connect(node.port);
      assert.equal(await again.request('GET cli'), 'OK m0');
      const state = JSON.parse(await again.request('STATE cli')) as { total_entries: number };
      assert.equal(state.total_entries, 100);
      again.close();
      await node.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
}

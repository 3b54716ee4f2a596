import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { AbandonedTask, FairLimit } from '../../src/broker/auth/fair-limit.js';
import { WalrusClient } from '../../src/client/index.js';
import { encodeFrame } from '../../src/protocol/frame.js';
import { tempDir, writeTestUsers } from '../helpers/auth.js';
import { startTestBroker } from '../helpers/broker.js';

/**
 * Attack: a host without credentials keeps hundreds of bad logins waiting
 * for the node's password checks. Before the fix, past 256 waiting logins
 * the node answered every new AUTH "ERR authentication failed" without
 * checking it, so a client with the right password was told its
 * credentials were wrong (AUTH_FAILED: never retried; `run` stops on it).
 * Now every login is checked, and waiting logins take turns by address.
 */

test('a flood of bad logins from one address: a client with the right password from another still logs in and is served', { timeout: 60_000 }, async (t) => {
  const { dir, remove } = await tempDir();
  const users = await writeTestUsers(dir, { app: 'correct horse battery' });
  const node = await startTestBroker({ users });
  const attackers: Socket[] = [];
  let stopped = false;
  t.after(async () => {
    stopped = true;
    for (const s of attackers) s.destroy();
    await node.close();
    await remove();
  });
  // 300 connections from 127.0.0.2, each sending its next guess as soon as the last is refused:
  // an unknown user costs a full-cost scrypt (the dummy hash), so the checks back up.
  for (let i = 0; i < 300; i++) {
    const s = connect({ port: node.port, host: '127.0.0.1', localAddress: '127.0.0.2' });
    s.on('error', () => undefined);
    const guess = (): void => { if (!stopped) s.write(encodeFrame(`AUTH nobody guess-${i}`)); };
    s.on('connect', guess);
    s.on('data', guess);
    attackers.push(s);
  }
  // Every attacker connection has sent its first guess once some are refused (those past 256 at once, before the fix).
  while (node.stats().authFailures < 20) await new Promise((r) => setTimeout(r, 20));

  const client = new WalrusClient({ nodes: [node.address], auth: { username: 'app', password: 'correct horse battery' } });
  try {
    await client.register('flooded');
    await client.put('flooded', 'served');
    assert.equal((await client.get('flooded'))?.toString(), 'served');
  } finally {
    await client.close();
  }
  assert.ok(node.stats().authFailures >= 20, 'the flood was running');
  assert.equal(node.stats().logins, 1);
});

test('FairLimit: waiting tasks start round-robin by address; the task of a source that has gone is dropped unrun', async () => {
  const limit = new FairLimit(1);
  const from = (remoteAddress: string) => ({ remoteAddress, gone: false });
  const [a, b, c] = [from('a'), from('b'), from('c')];
  const order: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const task = (name: string, wait?: Promise<void>) => async () => { order.push(name); await wait; return name; };
  const runs = [limit.run(a, task('a0', gate))];
  for (let i = 1; i <= 5; i++) runs.push(limit.run(a, task(`a${i}`)));
  runs.push(limit.run(b, task('b0')), limit.run(b, task('b1')), limit.run(c, task('c0')));
  // A client that closed while its login waited: its check never runs.
  const gone = { remoteAddress: 'b', gone: false };
  const dropped = limit.run(gone, task('gone'));
  gone.gone = true;
  release();
  await assert.rejects(dropped, AbandonedTask);
  assert.deepEqual(await Promise.all(runs), ['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'b0', 'b1', 'c0']);
  assert.deepEqual(order, ['a0', 'a1', 'b0', 'c0', 'a2', 'b1', 'a3', 'a4', 'a5']);
  // A task that throws (synchronously or not) rejects its own run only; the next ones still start.
  await assert.rejects(limit.run(a, () => { throw new Error('boom'); }), /boom/);
  assert.equal(await limit.run(a, async () => 'after'), 'after');
});

import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { WalrusClient } from '../../src/client/index.js';
import { WalrusError } from '../../src/errors/index.js';
import { tempDir, writeTestUsers } from '../helpers/auth.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { FaultProxy } from '../helpers/fault-proxy.js';

const PASSWORD = 'not in any log  at all';

describe('client authentication', () => {
  let dir: { dir: string; remove: () => Promise<void> };
  let node: TestBroker;
  before(async () => {
    dir = await tempDir();
    node = await startTestBroker({ users: await writeTestUsers(dir.dir, { app: PASSWORD }), authFailureDelayMs: 50 });
  });
  after(async () => {
    await node.close();
    await dir.remove();
  });

  test('every new connection logs in before its first command', async () => {
    const client = new WalrusClient({ nodes: [node.address], auth: { username: 'app', password: PASSWORD }, pool: { min: 0, max: 3 } });
    try {
      const before = node.stats().logins;
      await client.register('orders');
      await Promise.all(Array.from({ length: 200 }, (_, i) => client.put('orders', `o${i}`)));
      assert.equal((await client.get('orders'))?.toString(), 'o0');
      // Connections opened in the background may still be logging in: let them finish.
      while (client.stats().nodes[node.address]!.pool.connecting > 0) await new Promise((r) => setTimeout(r, 10));
      const opened = client.stats().nodes[node.address]!.pool.created;
      assert.ok(opened >= 1);
      assert.equal(node.stats().logins - before, opened, 'one AUTH per connection opened');
    } finally {
      await client.close();
    }
  });

  test('a wrong password is AUTH_FAILED, not retried, and does not turn into a login storm', async () => {
    const client = new WalrusClient({ nodes: [node.address], auth: { username: 'app', password: 'Tr0ub4dor-guess' }, pool: { min: 0, max: 4 }, retry: { retries: 5, initialDelayMs: 1 } });
    try {
      const failuresBefore = node.stats().authFailures;
      const started = performance.now();
      for (let i = 0; i < 30; i++) {
        await assert.rejects(client.put('orders', 'x'), (error: WalrusError) => {
          assert.equal(error.code, 'AUTH_FAILED');
          assert.equal(error.retriable, false);
          assert.match(error.message, /refused the login of user "app"/);
          assert.ok(!error.message.includes('Tr0ub4dor'), 'the password is not in the message');
          assert.ok(!JSON.stringify(error).includes('Tr0ub4dor'), 'nor in the serialised error');
          assert.ok(!inspect(error, { depth: 8 }).includes('Tr0ub4dor'), 'nor when printed');
          return true;
        });
      }
      assert.ok(node.stats().authFailures - failuresBefore <= 1, `logins tried: ${node.stats().authFailures - failuresBefore}`);
      assert.ok(performance.now() - started < 2_000, 'later calls fail at once');
      assert.equal(client.stats().nodes[node.address]!.breaker.state, 'closed', 'a refused login says nothing about the node\'s health');
    } finally {
      await client.close();
    }
  });

  test('a client without credentials gets AUTH_FAILED telling it to configure them', async () => {
    const client = new WalrusClient({ nodes: [node.address], retry: { retries: 3, initialDelayMs: 1 } });
    try {
      await assert.rejects(client.register('x'), (error: WalrusError) => {
        assert.equal(error.code, 'AUTH_FAILED');
        assert.equal(error.retriable, false);
        assert.match(error.message, /cluster\.auth/);
        return true;
      });
    } finally {
      await client.close();
    }
  });

  test('after the connection is cut, the next one logs in again', async () => {
    const proxy = await FaultProxy.start({ host: node.host, port: node.port });
    const client = new WalrusClient({ nodes: [proxy.address], auth: { username: 'app', password: PASSWORD }, pool: { min: 1, max: 1 }, retry: { retries: 5, initialDelayMs: 5 } });
    try {
      await client.register('cut');
      await client.put('cut', 'before');
      const logins = node.stats().logins;
      proxy.setMode({ kind: 'drop' });
      proxy.setMode({ kind: 'pass' });
      await client.put('cut', 'after');
      assert.equal(node.stats().logins, logins + 1, 'the new connection authenticated');
      assert.equal(proxy.accepted, 2);
      assert.equal((await client.get('cut'))?.toString(), 'before');
      assert.equal((await client.get('cut'))?.toString(), 'after');
    } finally {
      await client.close();
      await proxy.close();
    }
  });

  test('the password is hidden from client.options and rejected when the node would trim it', () => {
    const client = new WalrusClient({ nodes: [node.address], auth: { username: 'app', password: PASSWORD } });
    try {
      assert.ok(!JSON.stringify(client.options).includes(PASSWORD));
      assert.ok(!inspect(client.options, { depth: 5 }).includes(PASSWORD));
      assert.equal(client.options.auth?.password, PASSWORD);
    } finally {
      void client.close();
    }
    for (const [auth, problem] of [
      [{ username: 'a b', password: 'x' }, /auth\.username: a user name/],
      [{ username: 'a', password: 'secret ' }, /auth\.password: the password ends in whitespace/],
      [{ username: 'a', password: '' }, /auth\.password: the password must be a non-empty/],
    ] as const) {
      assert.throws(() => new WalrusClient({ nodes: [node.address], auth }), (error: WalrusError) => {
        assert.equal(error.code, 'CONFIG_INVALID');
        assert.match(error.message, problem);
        assert.ok(!error.message.includes('secret'));
        return true;
      });
    }
  });
});

test('a node without authentication answers AUTH_FAILED to a client that logs in', async () => {
  const node = await startTestBroker({ compat: 'stock' });
  const client = new WalrusClient({ nodes: [node.address], auth: { username: 'app', password: 'pw' } });
  try {
    await assert.rejects(client.register('x'), (error: WalrusError) => error.code === 'AUTH_FAILED' && /does not support AUTH/.test(error.message));
  } finally {
    await client.close();
    await node.close();
  }
});

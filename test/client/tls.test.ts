import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WalrusClient } from '../../src/client/index.js';
import type { WalrusError } from '../../src/errors/index.js';
import { makeTestPki, tempDir, writeTestUsers, type TestPki } from '../helpers/auth.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';

/** TLS between the client and the embedded node, with a CA made at test time. */
describe('TLS', () => {
  let dir: { dir: string; remove: () => Promise<void> };
  let pki: TestPki;
  let node: TestBroker;
  before(async () => {
    dir = await tempDir();
    pki = await makeTestPki(dir.dir);
    node = await startTestBroker({ tls: { cert: pki.cert, key: pki.key }, users: await writeTestUsers(dir.dir, { app: 'over tls' }), authFailureDelayMs: 0 });
  });
  after(async () => {
    await node.close();
    await dir.remove();
  });

  test('a client trusting the test CA logs in and round-trips records over TLS', async () => {
    const client = new WalrusClient({ nodes: [node.address], tls: { ca: pki.ca }, auth: { username: 'app', password: 'over tls' } });
    try {
      await client.register('secure');
      await client.putMany('secure', ['a', 'b b', 'ünïcødé']);
      assert.deepEqual((await client.getMany('secure', 10)).map(String), ['a', 'b b', 'ünïcødé']);
      assert.equal(node.options.tls, true);
    } finally {
      await client.close();
    }
  });

  test('the server name is checked: localhost matches the certificate, another name does not', async () => {
    const ok = new WalrusClient({ nodes: [`localhost:${node.port}`], tls: { ca: pki.ca }, auth: { username: 'app', password: 'over tls' } });
    const wrong = new WalrusClient({ nodes: [node.address], tls: { ca: pki.ca, serverName: 'walrus.example.com' }, retry: { retries: 0 } });
    try {
      await ok.register('named');
      await assert.rejects(wrong.register('named'), (error: WalrusError) => {
        assert.equal(error.code, 'NETWORK_ERROR');
        assert.equal(error.retriable, false);
        assert.match(error.message, /TLS handshake .* failed/);
        return true;
      });
    } finally {
      await ok.close();
      await wrong.close();
    }
  });

  test('a certificate from an untrusted CA is refused, not retried', async () => {
    const client = new WalrusClient({ nodes: [node.address], tls: { ca: pki.otherCa }, retry: { retries: 3, initialDelayMs: 1 } });
    try {
      await assert.rejects(client.register('x'), (error: WalrusError) => error.code === 'NETWORK_ERROR' && !error.retriable && /cluster\.tls/.test(error.message));
    } finally {
      await client.close();
    }
  });

  test('a plain-TCP client gets no reply and the node keeps serving', async () => {
    const raw = await RawClient.connect(node.port);
    raw.send('METRICS');
    await raw.waitClosed(12_000);
    const client = new WalrusClient({ nodes: [node.address], tls: { ca: pki.ca }, auth: { username: 'app', password: 'over tls' } });
    try {
      await client.register('still-up');
    } finally {
      await client.close();
    }
  });
});

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { startBroker } from '../../src/broker/index.js';
import { checkExposure, isLoopback } from '../../src/util/exposure.js';
import { tempDir, writeTestUsers } from '../helpers/auth.js';
import { RawClient } from '../helpers/raw-client.js';
import { runCli } from '../helpers/cli-in-process.js';

test('loopback addresses are told apart from wide ones', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) assert.equal(isLoopback(host), true, host);
  for (const host of ['0.0.0.0', '::', '192.168.1.10', '10.0.0.1', 'walrus.internal', '::ffff:10.0.0.1', '']) assert.equal(isLoopback(host), false, host);
  assert.equal(checkExposure({ what: 'x', host: '0.0.0.0', authenticated: true, insecure: false, fix: '' }), undefined);
  assert.match(checkExposure({ what: 'x', host: '::', authenticated: false, insecure: true, fix: '' })!, /no authentication \(--insecure\)/);
});

test('a broker on 0.0.0.0 or :: without users refuses to start', async () => {
  for (const host of ['0.0.0.0', '::']) {
    await assert.rejects(startBroker({ host, port: 0 }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'CONFIG_INVALID');
      assert.match(error.message, new RegExp(`Refusing to start the broker on ${host.replace(/[.:]/g, '\\$&')} without authentication.*--users.*--insecure`));
      return true;
    });
  }
});

test('--insecure starts it with a warning; users start it without one', async () => {
  const open = await startBroker({ host: '0.0.0.0', port: 0, insecure: true });
  try {
    assert.equal(open.warnings.length, 1);
    assert.match(open.warnings[0]!, /listens on 0\.0\.0\.0 with no authentication/);
  } finally {
    await open.close();
  }
  const dir = await tempDir();
  const guarded = await startBroker({ host: '0.0.0.0', port: 0, users: await writeTestUsers(dir.dir, { ops: 'pw' }), authFailureDelayMs: 0 });
  try {
    assert.ok(guarded.warnings.every((w) => !/no authentication/.test(w)));
    assert.ok(guarded.warnings.some((w) => /plain TCP/.test(w)), 'passwords over plain TCP are warned about');
    const c = await RawClient.connect(guarded.port);
    assert.equal(await c.request('METRICS'), 'ERR authentication required - use AUTH <username> <password>');
    c.close();
  } finally {
    await guarded.close();
    await dir.remove();
  }
});

test('walrus-stream broker --host 0.0.0.0 exits with the reason; adduser writes hashes from stdin, never argv', async () => {
  const dir = await tempDir();
  try {
    const refused = await runCli(['broker', '--host', '0.0.0.0', '--port', '0', '--data-dir', join(dir.dir, 'data')]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /Refusing to start the broker on 0\.0\.0\.0 without authentication/);

    const users = join(dir.dir, 'users');
    const added = await runCli(['broker', 'adduser', '--users', users, '--password-stdin', 'ops'], { stdin: 'two words here\n' });
    assert.equal(added.code, 0, added.stderr);
    const text = await readFile(users, 'utf8');
    assert.match(text, /^ops:scrypt\$16384\$8\$1\$/m);
    assert.ok(!text.includes('two words'));
    const again = await runCli(['broker', 'adduser', '--users', users, '--password-stdin', 'ops'], { stdin: 'x\n' });
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already in .*--replace/);
    const noPassword = await runCli(['broker', 'adduser', '--users', users, 'dev']);
    assert.equal(noPassword.code, 2);
    assert.match(noPassword.stderr, /no password: pipe it with --password-stdin, set WALRUS_PASSWORD/);
    const fromEnv = await runCli(['broker', 'adduser', '--users', users, 'dev'], { env: { WALRUS_PASSWORD: 'from env' } });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);

    const node = await startBroker({ port: 0, users, authFailureDelayMs: 0 });
    const c = await RawClient.connect(node.port);
    try {
      assert.equal(await c.request('AUTH ops two words here'), 'OK authenticated');
      assert.equal(await c.request('AUTH dev from env'), 'OK authenticated');
    } finally {
      c.close();
      await node.close();
    }
  } finally {
    await dir.remove();
  }
});

import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startBroker, startBrokerInWorker } from '../../src/broker/index.js';
import { readUsersFile } from '../../src/broker/auth/users-file.js';
import { tempDir, writeTestUsers } from '../helpers/auth.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';

/**
 * AUTH / ADDUSER on the wire, with the exact texts of Walrus's
 * authentication design, in both compatibility modes.
 */
const REQUIRED = 'ERR authentication required - use AUTH <username> <password>';
const PASSWORD = 'correct horse  battery';

for (const compat of ['default', 'stock'] as const) {
  describe(`AUTH with users (${compat} mode)`, () => {
    let dir: { dir: string; remove: () => Promise<void> };
    let node: TestBroker;
    before(async () => {
      dir = await tempDir();
      const users = await writeTestUsers(dir.dir, { alice: PASSWORD, 'bob.ops': ' lead' });
      node = await startTestBroker({ compat, users, authFailureDelayMs: 100 });
    });
    after(async () => {
      await node.close();
      await dir.remove();
    });

    test('without AUTH every command is refused, METRICS and unknown commands included', async () => {
      const c = await RawClient.connect(node.port);
      try {
        for (const cmd of ['REGISTER t', 'PUT t x', 'GET t', 'STATE t', 'METRICS', 'NOPE', '   ']) {
          assert.equal(await c.request(cmd), REQUIRED, JSON.stringify(cmd));
        }
        // Decoding comes first, as upstream: invalid UTF-8 is still named as such.
        assert.equal(await c.request(Buffer.from([0xff, 0xfe])), 'ERR invalid utf-8');
      } finally {
        c.close();
      }
    });

    test('a wrong password, an unknown user and malformed AUTH are refused; the refusal waits', async () => {
      const c = await RawClient.connect(node.port);
      try {
        const started = performance.now();
        assert.equal(await c.request('AUTH alice wrong'), 'ERR authentication failed');
        assert.ok(performance.now() - started >= 95, 'a failed login is answered only after the delay');
        assert.equal(await c.request('AUTH mallory x'), 'ERR authentication failed');
        assert.equal(await c.request(`AUTH alice ${PASSWORD.replace('  ', ' ')}`), 'ERR authentication failed');
        assert.equal(await c.request('AUTH'), 'ERR AUTH requires username');
        assert.equal(await c.request('AUTH alice'), 'ERR AUTH requires password');
        assert.equal(await c.request('AUTH alice   '), 'ERR AUTH requires password');
        assert.equal(await c.request('GET t'), REQUIRED);
      } finally {
        c.close();
      }
    });

    test('AUTH after refused commands unlocks the connection; the password is the rest of the line, trailing whitespace trimmed', async () => {
      const c = await RawClient.connect(node.port);
      try {
        assert.equal(await c.request('REGISTER late'), REQUIRED);
        assert.equal(await c.request(`AUTH alice ${PASSWORD} \t `), 'OK authenticated');
        assert.equal(await c.request('REGISTER late'), 'OK');
        assert.equal(await c.request('PUT late hello there'), 'OK');
        assert.equal(await c.request('GET late'), 'OK hello there');
        // A failed AUTH on a logged-in connection leaves it logged in, as upstream.
        assert.equal(await c.request('AUTH alice nope'), 'ERR authentication failed');
        assert.equal(await c.request('GET late'), 'EMPTY');
      } finally {
        c.close();
      }
      // A leading space belongs to the password too.
      const d = await RawClient.connect(node.port);
      try {
        assert.equal(await d.request('AUTH bob.ops lead'), 'ERR authentication failed');
        assert.equal(await d.request('AUTH bob.ops  lead'), 'OK authenticated');
      } finally {
        d.close();
      }
    });

    test('pipelined AUTH, PUT, GET in one write are answered in order', async () => {
      const c = await RawClient.connect(node.port);
      try {
        c.send('PUT pipe before');
        c.send(`AUTH alice ${PASSWORD}`);
        c.send('REGISTER pipe');
        c.send('PUT pipe one');
        c.send('GET pipe');
        assert.deepEqual([await c.next(), await c.next(), await c.next(), await c.next(), await c.next()], [REQUIRED, 'OK authenticated', 'OK', 'OK', 'OK one']);
      } finally {
        c.close();
      }
    });

    test('each connection logs in on its own', async () => {
      const a = await RawClient.connect(node.port);
      const b = await RawClient.connect(node.port);
      try {
        assert.equal(await a.request(`AUTH alice ${PASSWORD}`), 'OK authenticated');
        assert.equal(await b.request('METRICS'), REQUIRED);
      } finally {
        a.close();
        b.close();
      }
    });
  });
}

describe('ADDUSER', () => {
  test('needs a login, adds a user who can log in, persists it to the users file, refuses duplicates', async () => {
    const dir = await tempDir();
    const users = await writeTestUsers(dir.dir, { admin: 'first one' });
    const node = await startTestBroker({ users, authFailureDelayMs: 0 });
    const c = await RawClient.connect(node.port);
    try {
      assert.equal(await c.request('ADDUSER eve pw'), REQUIRED);
      assert.equal(await c.request('AUTH admin first one'), 'OK authenticated');
      assert.equal(await c.request('ADDUSER'), 'ERR ADDUSER requires username');
      assert.equal(await c.request('ADDUSER carol'), 'ERR ADDUSER requires password');
      assert.equal(await c.request('ADDUSER carol two words'), 'OK user added');
      assert.equal(await c.request('ADDUSER carol other'), 'ERR user already exists');
      assert.match(await c.request('ADDUSER a:b pw'), /^ERR invalid user name/);
      const d = await RawClient.connect(node.port);
      assert.equal(await d.request('AUTH carol two words'), 'OK authenticated');
      d.close();
      const saved = await readUsersFile(users);
      assert.deepEqual([...saved.keys()], ['admin', 'carol']);
      assert.ok(!(await readFile(users, 'utf8')).includes('two words'), 'the file holds hashes, not passwords');
      assert.equal(node.stats().users, 2);
    } finally {
      c.close();
      await node.close();
      await dir.remove();
    }
  });
});

describe('a node without users', () => {
  test('default mode serves everyone, refuses every AUTH, and ADDUSER needs a login', async () => {
    const node = await startTestBroker({ authFailureDelayMs: 0 });
    const c = await RawClient.connect(node.port);
    try {
      assert.equal(await c.request('REGISTER open'), 'OK');
      assert.equal(await c.request('AUTH anyone pw'), 'ERR authentication failed');
      assert.equal(await c.request('ADDUSER anyone pw'), 'ERR authentication required');
      assert.equal(await c.request('PUT open x'), 'OK');
    } finally {
      c.close();
      await node.close();
    }
  });

  test('stock mode answers AUTH and ADDUSER like the released stock node', async () => {
    const node = await startTestBroker({ compat: 'stock' });
    const c = await RawClient.connect(node.port);
    try {
      assert.equal(await c.request('AUTH anyone pw'), 'ERR unknown command');
      assert.equal(await c.request('ADDUSER anyone pw'), 'ERR unknown command');
    } finally {
      c.close();
      await node.close();
    }
  });
});

describe('users file', () => {
  test('a malformed file stops the start with file:line, never quoting the line', async () => {
    const dir = await tempDir();
    const file = join(dir.dir, 'users');
    await writeFile(file, '# ok\nalice:scrypt$16384$8$1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==\nbob hunter2\n');
    try {
      await assert.rejects(startBroker({ port: 0, users: file }), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'CONFIG_INVALID');
        assert.match(error.message, /users:3: expected name:scrypt/);
        assert.ok(!error.message.includes('hunter2'));
        return true;
      });
      await assert.rejects(startBroker({ port: 0, users: join(dir.dir, 'missing') }), /Cannot read the users file .*ENOENT/);
    } finally {
      await dir.remove();
    }
  });

  test('METRICS tells clients nothing about the data directory', async () => {
    const node = await startTestBroker();
    const c = await RawClient.connect(node.port);
    try {
      const text = await c.request('METRICS');
      assert.ok(!text.includes(node.dataDir), 'the absolute data directory is not sent');
      assert.equal((JSON.parse(text) as { embedded: { persistent: boolean } }).embedded.persistent, true);
    } finally {
      c.close();
      await node.close();
    }
  });
});

describe('users on a worker-thread node, and file permissions', () => {
  test('a node on its own thread enforces AUTH; a users file others can read is warned about', async () => {
    const dir = await tempDir();
    const users = await writeTestUsers(dir.dir, { app: 'threaded' });
    const node = await startBrokerInWorker({ port: 0, users, authFailureDelayMs: 0 });
    const c = await RawClient.connect(node.port);
    try {
      assert.deepEqual(node.warnings, []);
      assert.equal(await c.request('GET x'), REQUIRED);
      assert.equal(await c.request('AUTH app threaded'), 'OK authenticated');
      assert.equal((await node.stats()).logins, 1);
    } finally {
      c.close();
      await node.close();
    }
    await chmod(users, 0o644);
    const loose = await startBroker({ port: 0, users });
    try {
      assert.ok(loose.warnings.some((w) => /readable by other users .*mode 644.*chmod 600/.test(w)), loose.warnings.join('; '));
    } finally {
      await loose.close();
      await dir.remove();
    }
  });
});

describe('guessing', () => {
  test('pipelined wrong AUTHs are answered one per delay, and other connections are served meanwhile', async () => {
    const dir = await tempDir();
    const node = await startTestBroker({ users: await writeTestUsers(dir.dir, { app: 'right' }), authFailureDelayMs: 150 });
    const attacker = await RawClient.connect(node.port);
    const app = await RawClient.connect(node.port);
    try {
      assert.equal(await app.request('AUTH app right'), 'OK authenticated');
      assert.equal(await app.request('REGISTER busy'), 'OK');
      const started = performance.now();
      for (let i = 0; i < 10; i++) attacker.send(`AUTH app guess${i}`);
      // While the guesses wait out their delays, a logged-in connection gets prompt answers.
      for (let i = 0; i < 20; i++) {
        const t = performance.now();
        assert.equal(await app.request(`PUT busy v${i}`), 'OK');
        assert.ok(performance.now() - t < 100, 'a PUT waited on someone else\'s failed logins');
      }
      assert.equal(await attacker.next(), 'ERR authentication failed');
      for (let i = 1; i < 3; i++) assert.equal(await attacker.next(), 'ERR authentication failed');
      assert.ok(performance.now() - started >= 3 * 150 - 10, 'one guess per delay on a connection');
      assert.ok(node.stats().authFailures <= 4, `guesses checked so far: ${node.stats().authFailures}`);
    } finally {
      attacker.close();
      app.close();
      await node.close();
      await dir.remove();
    }
  });
});

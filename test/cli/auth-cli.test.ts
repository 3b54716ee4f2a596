import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { makeTestPki, tempDir, writeTestUsers } from '../helpers/auth.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { runCli } from '../helpers/cli-in-process.js';

/** --user / WALRUS_USER + WALRUS_PASSWORD and --tls-ca on the commands that connect. */
const PASSWORD = 'cli pass word';
let dir: { dir: string; remove: () => Promise<void> };
let node: TestBroker;
let caFile: string;

before(async () => {
  dir = await tempDir();
  const pki = await makeTestPki(dir.dir);
  caFile = `${dir.dir}/ca.crt`;
  node = await startTestBroker({ users: await writeTestUsers(dir.dir, { ops: PASSWORD }), tls: { cert: pki.cert, key: pki.key }, authFailureDelayMs: 0 });
});
after(async () => {
  await node.close();
  await dir.remove();
});

test('produce, consume and state log in with --user and WALRUS_PASSWORD over TLS', async () => {
  const common = ['--nodes', node.address, '--tls-ca', caFile];
  const env = { WALRUS_PASSWORD: PASSWORD };
  const produced = await runCli(['produce', 'cli-auth', ...common, '--user', 'ops', '--plain'], { stdin: 'one\ntwo\n', env });
  assert.equal(produced.code, 0, produced.stderr);
  const state = await runCli(['state', 'cli-auth', ...common], { env: { ...env, WALRUS_USER: 'ops' } });
  assert.equal(state.code, 0, state.stderr);
  const consumed = await runCli(['consume', 'cli-auth', ...common, '--user', 'ops'], { env });
  assert.equal(consumed.code, 0, consumed.stderr);
  assert.equal(consumed.stdout, 'one\ntwo\n');
});

test('a wrong password exits with AUTH_FAILED and never prints it; no password and no terminal is a usage error', async () => {
  const wrong = await runCli(['state', 'cli-auth', '--nodes', node.address, '--tls-ca', caFile, '--user', 'ops'], { env: { WALRUS_PASSWORD: 'Guess-1234' } });
  assert.equal(wrong.code, 3);
  assert.match(wrong.stderr, /AUTH_FAILED: Node .* refused the login of user "ops"/);
  assert.ok(!(wrong.stderr + wrong.stdout).includes('Guess-1234'));
  const none = await runCli(['state', 'cli-auth', '--nodes', node.address, '--tls-ca', caFile, '--user', 'ops']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no password: .*WALRUS_PASSWORD/);
  const anonymous = await runCli(['state', 'cli-auth', '--nodes', node.address, '--tls-ca', caFile]);
  assert.equal(anonymous.code, 3);
  assert.match(anonymous.stderr, /AUTH_FAILED: .*authentication required.*--user/);
});

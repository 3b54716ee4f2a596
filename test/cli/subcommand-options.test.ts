import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// `broker` and `broker adduser` share one usage text. An option of one form
// given to the other was "unknown option --port — did you mean "--port"?":
// the suggestion was the option just refused.

const BIN = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));
const cli = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 });

test('an option of another form of the command (broker adduser --port, broker --replace) says so, instead of suggesting itself; exit 2', { timeout: 30_000 }, () => {
  const adduser = cli(['broker', 'adduser', '--users', 'users.txt', '--port', '1', 'alice']);
  assert.equal(adduser.status, 2);
  assert.equal(adduser.stderr, 'walrus-stream broker: --port is not an option of `walrus-stream broker adduser`: it belongs to another form of the command ' +
    '(the usage lines of --help say which)\nRun `walrus-stream broker --help` for usage.\n');
  const broker = cli(['broker', '--replace']);
  assert.equal(broker.status, 2);
  assert.equal(broker.stderr, 'walrus-stream broker: --replace is not an option of `walrus-stream broker`: it belongs to another form of the command ' +
    '(the usage lines of --help say which)\nRun `walrus-stream broker --help` for usage.\n');
  // A typo still gets its suggestion.
  assert.match(cli(['broker', 'adduser', '--repalce']).stderr, /^walrus-stream broker: unknown option --repalce — did you mean "--replace"\?\n/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli-in-process.js';
import { withTempDir } from '../helpers/temp-dir.js';

// A bad value of a flag (or of the variable that stands for it) is a usage
// error: exit 2, naming the flag and the value, and what to write instead.

// In this process (main() with its own streams, env and cwd): ~30 commands, each a child process took 11.7 s.
async function cli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCli(args, { stdin: options.input ?? '', env: options.env ?? {}, ...(options.cwd === undefined ? {} : { cwd: options.cwd }) });
}

test('a --nodes (or $WALRUS_NODES) address that is not host:port is a usage error naming it — it was "CONFIG_INVALID: nodes.0: ..." with exit 1, for every command that reaches a node', { timeout: 120_000 }, async () => {
  await withTempDir('walrus-cli-nodes-', async (dir) => {
    await writeFile(join(dir, 'topology.yaml'), 'app: a\nsources:\n  s: { topic: in }\nprocessors:\n  p: { module: ./p.mjs, input: s }\nsinks:\n  o: { topic: out, input: p }\n');
    await writeFile(join(dir, 'p.mjs'), "export default { [Symbol.for('walrus-stream.processor')]: true, process: (r) => r.value };\n");
    const commands = [['state', 't'], ['consume', 't'], ['produce', 't'], ['metrics'], ['dlq', 'replay', 't.dlq'], ['run', '--until-idle']];
    for (const command of commands) {
      const flag = await cli([...command, '--nodes', 'localhost'], { cwd: dir, input: 'x\n' });
      assert.equal(flag.code, 2, `${command.join(' ')}: ${flag.stderr}`);
      assert.equal(flag.stderr.split('\n')[0], `walrus-stream ${command[0]}: --nodes: "localhost" is not a node address: expected "host:port", got "localhost"; ` +
        'write host:port, e.g. 127.0.0.1:9091 ([::1]:9091 for IPv6), several separated by commas');
    }
    for (const command of commands.slice(0, -1)) {
      const env = await cli(command, { cwd: dir, env: { WALRUS_NODES: '127.0.0.1:9091,127.0.0.1:99999' }, input: 'x\n' });
      assert.equal(env.code, 2, `${command.join(' ')}: ${env.stderr}`);
      assert.match(env.stderr, /^walrus-stream [a-z]+: \$WALRUS_NODES: "127\.0\.0\.1:99999" \(address 2 of 2\) is not a node address: port must be an integer from 1 to 65535, got 99999; write host:port/);
    }
  });
});

test('a broker flag value out of the node\'s range is a usage error naming the flag — it was "CONFIG_INVALID: Invalid broker option segmentEntries: ..." with exit 1', { timeout: 60_000 }, async () => {
  await withTempDir('walrus-cli-broker-flags-', async (dir) => {
    const cases: Array<[string, string, string]> = [
      ['--port', '99999', 'an integer from 0 to 65535'],
      ['--segment-entries', '0', 'an integer from 1 to 1099511627776'],
      ['--max-connections', '0', 'an integer from 1 to 1000000'],
      ['--idle-timeout', '99999999999ms', 'an integer from 0 to 2147483647'],
      ['--lease-timeout', '9999999999999', 'an integer from 0 to 2147483647'],
      ['--max-unsent-reply-bytes', '0', 'an integer from 4096 to 1073741824'],
      ['--fsync', '99999999999', 'an integer from 1 to 3600000'],
    ];
    for (const [flag, value, expected] of cases) {
      // A value the node takes would start it and wait for a signal: the timeout fails the test then.
      const r = await cli(['broker', '--data-dir', join(dir, 'data'), flag, value]);
      assert.equal(r.code, 2, `${flag} ${value}: ${r.stderr}`);
      assert.equal(r.stderr, `walrus-stream broker: ${flag}: expected ${expected}, got "${value}"\nRun \`walrus-stream broker --help\` for usage.\n`);
    }
  });
});

test('graph/schema -o "" is a usage error — it wrote to stdout, not the file a script with an unset $OUT meant; metrics --pipeline with port 0 or past 65535 is one too — it was "could not reach the pipeline (ERR_INVALID_URL): is it running?", exit 3', { timeout: 60_000 }, async () => {
  await withTempDir('walrus-cli-empty-output-', async (dir) => {
    await writeFile(join(dir, 'topology.yaml'), 'app: a\nsources:\n  s: { topic: in }\nprocessors:\n  p: { module: ./p.mjs, input: s }\nsinks:\n  o: { topic: out, input: p }\n');
    await writeFile(join(dir, 'p.mjs'), "export default { [Symbol.for('walrus-stream.processor')]: true, process: (r) => r.value };\n");
    for (const args of [['graph', '-o', ''], ['schema', '--output=']]) {
      const r = await cli(args, { cwd: dir });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '', args.join(' '));
      assert.equal(r.stderr, `walrus-stream ${args[0]}: -o/--output expects a file name, got ""; leave it out to write to stdout\nRun \`walrus-stream ${args[0]} --help\` for usage.\n`);
    }
  });
  for (const [target, port] of [['127.0.0.1:99999', 99999], ['http://127.0.0.1:0/metrics', 0]] as const) {
    const r = await cli(['metrics', '--pipeline', target]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr, `walrus-stream metrics: --pipeline: the port must be from 1 to 65535, got ${port} in "${target}"\nRun \`walrus-stream metrics --help\` for usage.\n`);
  }
});

test('store with a <store> that is not a store name ("", "..", "a b") is a usage error — it was STATE_STORE_ERROR with exit 3, a runtime failure', { timeout: 30_000 }, async () => {
  await withTempDir('walrus-cli-store-name-', async (dir) => {
    for (const name of ['', '..', 'a b', '../../etc']) {
      const r = await cli(['store', '--app', 'a', '--state-dir', dir, name]);
      assert.equal(r.code, 2, `${name}: ${r.stderr}`);
      assert.equal(r.stderr, `walrus-stream store: <store> expects a store name (1-100 characters from A-Z a-z 0-9 . _ -, as under the topology's stores:), got ${JSON.stringify(name)}; ` +
        '`walrus-stream store` alone lists them\nRun `walrus-stream store --help` for usage.\n');
    }
  });
});

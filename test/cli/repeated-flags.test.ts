import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT } from '../../src/cli/command.js';
import { runCli } from '../helpers/cli-in-process.js';

// A single-value flag given twice was silently resolved to the last one (`run --workers 2 --workers 4` ran 4
// workers, `--nodes a --nodes b` used b): now it is a usage error naming the flag and both values, before
// anything starts. Flags meant to repeat (--seed, --redact-header, --filter) still repeat.

const CASES: Array<{ args: string[]; flag: string; first: string; second: string }> = [
  { args: ['run', 'topology.yaml', '--workers', '2', '--workers', '4'], flag: 'workers', first: '2', second: '4' },
  { args: ['run', '--nodes', '127.0.0.1:1', '--until-idle', '--nodes=127.0.0.1:2'], flag: 'nodes', first: '127.0.0.1:1', second: '127.0.0.1:2' },
  { args: ['produce', 'events', '--format', 'json', '--format', 'text'], flag: 'format', first: 'json', second: 'text' },
  { args: ['consume', 'events', '-n', '1', '--count', '2'], flag: 'count', first: '1', second: '2' },
  { args: ['state', 'events', '--nodes', 'a:1', '--nodes', 'b:2'], flag: 'nodes', first: 'a:1', second: 'b:2' },
  { args: ['metrics', '--user', 'alice', '--user', 'bob'], flag: 'user', first: 'alice', second: 'bob' },
  { args: ['graph', 'topology.yaml', '--format', 'dot', '--format', 'mermaid'], flag: 'format', first: 'dot', second: 'mermaid' },
  { args: ['validate', 'topology.yaml', '--max-topology-size', '1KiB', '--max-topology-size', '2KiB'], flag: 'max-topology-size', first: '1KiB', second: '2KiB' },
  { args: ['dlq', 'replay', 'orders.dlq', '--to', 'a', '--to', 'b'], flag: 'to', first: 'a', second: 'b' },
  { args: ['broker', '--port', '0', '--port', '9999'], flag: 'port', first: '0', second: '9999' },
  { args: ['broker', 'adduser', '--users', 'u1', '--users', 'u2', 'alice'], flag: 'users', first: 'u1', second: 'u2' },
  { args: ['init', 'x', '--name', 'a', '--name', 'b'], flag: 'name', first: 'a', second: 'b' },
  { args: ['schema', '-o', 'a.json', '--output', 'b.json'], flag: 'output', first: 'a.json', second: 'b.json' },
  { args: ['test', 'cases.yaml', '--filter', 'a', '--filter', 'b'], flag: 'filter', first: 'a', second: 'b' },
];

test('a single-value flag given twice is a usage error (exit 2) naming the flag and both values, for every command', { timeout: 30_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-repeated-flags-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const c of CASES) {
    const r = await runCli(c.args, { cwd: dir });
    assert.equal(r.code, EXIT.USAGE, `${c.args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr, `walrus-stream ${c.args[0]}: --${c.flag} was given twice ("${c.first}", then "${c.second}"); it takes one value: give it once\n` +
      `Run \`walrus-stream ${c.args[0]} --help\` for usage.\n`, c.args.join(' '));
  }
});

test('flags meant to repeat still repeat, and a boolean flag twice is accepted', { timeout: 30_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-repeated-flags-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // Past argument parsing, these fail on the missing topology file, not as usage errors.
  for (const args of [
    ['run', 'missing.yaml', '--seed', 'a=x.txt', '--seed', 'b=y.txt', '--redact-header', 'x-a', '--redact-header', 'x-b', '--json', '--json'],
    ['graph', 'missing.yaml', '-o', 'g.txt'],
  ]) {
    const r = await runCli(args, { cwd: dir });
    assert.notEqual(r.code, EXIT.USAGE, `${args.join(' ')}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /given twice/);
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.js';
import { EXIT } from '../../src/cli/command.js';

// A mistyped command or option says what was meant, and exits 2 (usage).

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

async function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await main(args, { stdout, stderr, stdin: process.stdin, env: {}, cwd: process.cwd() });
  return { code, stderr: stderr.text };
}

test('an unknown command names the closest one', async () => {
  const typo = await cli(['valdate']);
  assert.equal(typo.code, EXIT.USAGE);
  assert.equal(typo.stderr, 'walrus-stream: unknown command "valdate" — did you mean "validate"? Run `walrus-stream --help` for the list.\n');
  const nothing = await cli(['zzzzzzzz']);
  assert.equal(nothing.stderr, 'walrus-stream: unknown command "zzzzzzzz". Run `walrus-stream --help` for the list.\n');
});

test('an unknown option names the closest option of that command, without parseArgs\'s advice about positionals', async () => {
  const typo = await cli(['graph', '--fromat', 'dot']);
  assert.equal(typo.code, EXIT.USAGE);
  assert.equal(typo.stderr, 'walrus-stream graph: unknown option --fromat — did you mean "--format"?\nRun `walrus-stream graph --help` for usage.\n');
  const short = await cli(['validate', '-z']);
  assert.equal(short.code, EXIT.USAGE);
  assert.match(short.stderr, /^walrus-stream validate: unknown option -z\n/);
});

test('a file-system error (graph -o into a missing directory, or onto a directory) is one line naming the path, not a stack trace; exit 3', async () => {
  for (const target of ['/nonexistent-dir-for-walrus-test/graph.mmd', '/tmp']) {
    const result = await cli(['graph', 'topology.yaml', '-o', target]);
    assert.equal(result.code, EXIT.FAILURE, result.stderr);
    assert.match(result.stderr, new RegExp(`^walrus-stream graph: E[A-Z]+: .*'${target.replace(/[/.]/g, '\\$&')}'(; [^\\n]*)?\\n$`));
  }
});

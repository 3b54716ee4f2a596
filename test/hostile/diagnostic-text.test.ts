import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBuiltCli } from '../helpers/seed-project.js';

/**
 * Diagnostics quote what a topology says (names, references). A hostile
 * file must not be able to forge diagnostic lines or drive the terminal
 * through them.
 */


const cli = (dir: string, args: string[]) => runBuiltCli(dir, args, 40_000);

test('validate and run print a name holding a newline, ESC or a bidi override escaped, one diagnostic a line — a name "a\\nfake.yaml:1:1: error: ..." printed a forged diagnostic line, and ESC sequences reached the terminal', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-diag-text-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'echo.mjs'), 'export default { process: (record) => record.value };\n');
  await writeFile(join(dir, 'topology.yaml'), [
    'app: esc',
    'sources:',
    '  src: { topic: in }',
    'processors:',
    '  "a\\nfake.yaml:1:1: error: forged\\e[2J": { module: ./echo.mjs, input: "src\\e[31m" }',
    '  "b\\u202Ec": { module: ./echo.mjs, input: src }', '',
  ].join('\n'));
  for (const args of [['validate', '--no-modules'], ['run', 'topology.yaml', '--until-idle', '--metrics-address', 'false']]) {
    const r = await cli(dir, args);
    assert.equal(r.code, 1, `${args[0]}: ${r.stderr}`);
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(r.stderr, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/, `${args[0]}: a control character reached the output`);
    assert.ok(!r.stderr.includes('\nfake.yaml'), `${args[0]}: a forged line: ${r.stderr}`);
    assert.match(r.stderr, /topology\.yaml:5:3: error: processors: invalid processor name "a\\nfake\.yaml:1:1: error: forged\\u001b\[2J": use letters/);
    assert.match(r.stderr, /topology\.yaml:5:\d+: error: processors\.a\\nfake\.yaml:1:1: error: forged\\u001b\[2J\.input: unknown source or processor "src\\u001b\[31m" — did you mean "src"\?/);
    assert.match(r.stderr, /topology\.yaml:6:3: error: processors: invalid processor name "b\\u202ec"/);
  }
});

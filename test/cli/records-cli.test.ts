import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startTestBroker } from '../helpers/broker.js';

const BIN = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs the real CLI in a child process, feeding `stdin`. */
function cli(args: string[], stdin: string | Buffer = ''): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, WALRUS_NODES: '' } });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err }));
    child.stdin.end(stdin);
  });
}

test('produce → consume round trip through the CLI, text and json formats', async () => {
  const node = await startTestBroker({ compat: 'stock' });
  const nodes = ['--nodes', node.address];
  try {
    // Text: byte-exact lines, trailing whitespace, \r, an empty line, unicode, a last line without newline.
    const lines = ['plain', 'trailing spaces   ', 'tab\t', 'crlf\r', '', 'ünïcödé 💡\u3000', '  leading'];
    const produced = await cli(['produce', 'cli-text', ...nodes], `${lines.join('\n')}\nno newline at end`);
    assert.equal(produced.code, 0, produced.stderr);
    assert.match(produced.stderr, /produced 8 record\(s\) to cli-text/);
    const consumed = await cli(['consume', 'cli-text', ...nodes]);
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.equal(consumed.stdout.toString('utf8'), `${lines.join('\n')}\nno newline at end\n`);

    // JSON lines with a key field, read back as JSON records.
    const orders = [{ id: 1, customer: { id: 'c-7' }, total: 9.5 }, { id: 2, customer: { id: 'c-8' }, total: 0 }];
    const pj = await cli(['produce', 'cli-json', '--format', 'json', '--key-field', 'customer.id', '--compression', 'gzip', ...nodes], orders.map((o) => JSON.stringify(o)).join('\n'));
    assert.equal(pj.code, 0, pj.stderr);
    const cj = await cli(['consume', 'cli-json', '--format', 'json', '-n', '5', ...nodes]);
    assert.equal(cj.code, 0, cj.stderr);
    const records = cj.stdout.toString().trim().split('\n').map((l) => JSON.parse(l) as { key: string; value: unknown; id: string; headers: Record<string, string> });
    assert.deepEqual(records.map((r) => r.value), orders);
    assert.deepEqual(records.map((r) => r.key), ['c-7', 'c-8']);
    assert.equal(records[0]!.headers['content-type'], 'application/json');
    assert.match(records[0]!.id, /^[A-Za-z0-9_-]{22}$/);

    // A bad JSON line stops the run with its line number; the lines before it are written.
    const bad = await cli(['produce', 'cli-bad', '--format', 'json', ...nodes], '{"ok":1}\n{oops\n{"ok":3}\n');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /line 2: not valid JSON/);
    assert.match(bad.stderr, /1 record\(s\) before that line were written/);
    const after = await cli(['consume', 'cli-bad', '--format', 'json', ...nodes]);
    assert.deepEqual(after.stdout.toString().trim().split('\n').map((l) => (JSON.parse(l) as { value: unknown }).value), [{ ok: 1 }]);
  } finally {
    await node.close();
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startTestBroker } from '../helpers/broker.js';
import { FaultProxy } from '../helpers/fault-proxy.js';

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
    // A CLI that stops reading early (an error) closes its stdin: the exit code and stderr tell why.
    child.stdin.on('error', () => undefined);
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

/** Runs the CLI entry point in this process with in-memory streams (fast; same code path as the binary after argv). */
async function inProcess(args: string[], stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  const { main } = await import('../../src/cli/main.js');
  const { Readable, PassThrough } = await import('node:stream');
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c: Buffer) => (stdout += c.toString()));
  err.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await main(args, { stdout: out, stderr: err, stdin: Readable.from([Buffer.from(stdin)]), env: {}, cwd: process.cwd() });
  return { code, stdout, stderr };
}

test('produce --plain writes bare entries; consume -n stops; state and metrics print JSON; bad usage is exit 2', async () => {
  const node = await startTestBroker();
  const nodes = ['--nodes', node.address];
  try {
    const plain = await inProcess(['produce', 'pl', '--plain', ...nodes], 'one\n  two\nthree\n');
    assert.equal(plain.code, 0, plain.stderr);
    const refused = await inProcess(['produce', 'pl', '--plain', ...nodes], 'four\nfive \nsix\n');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /line 2: INVALID_PAYLOAD/);
    const two = await inProcess(['consume', 'pl', '-n', '2', ...nodes]);
    assert.equal(two.code, 0, two.stderr);
    assert.equal(two.stdout, 'one\n  two\n');
    const json = await inProcess(['consume', 'pl', '--format', 'json', ...nodes]);
    const rest = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { value: string; id: string; headers: object });
    assert.deepEqual(rest.map((r) => r.value), ['three', 'four']);
    assert.match(rest[0]!.id, /^t/);

    // -n inside a batch: the rest of the entry is printed too, never dropped.
    await inProcess(['produce', 'batch', ...nodes], 'a\nb\nc\nd\n');
    const one = await inProcess(['consume', 'batch', '-n', '1', ...nodes]);
    assert.equal(one.stdout, 'a\nb\nc\nd\n');
    assert.match(one.stderr, /printed 3 more record\(s\): they arrived in the same batch as the last of -n 1/);

    const state = await inProcess(['state', 'pl', ...nodes]);
    assert.equal(state.code, 0, state.stderr);
    const info = JSON.parse(state.stdout) as { topic: string; currentSegment: number; totalEntries: number; lag: number };
    assert.equal(info.topic, 'pl');
    assert.equal(info.totalEntries, 4);
    assert.equal(info.lag, 0);
    const metrics = await inProcess(['metrics', ...nodes]);
    assert.equal(metrics.code, 0, metrics.stderr);
    assert.ok(['Leader', 'Follower'].includes((JSON.parse(metrics.stdout) as Record<string, { state: string }>)[node.address]!.state));

    assert.equal((await inProcess(['produce', 'x', '--format', 'yaml', ...nodes])).code, 2);
    assert.equal((await inProcess(['produce', 'x', '--key-field', 'id', ...nodes])).code, 2);
    assert.equal((await inProcess(['consume', 'bad topic', ...nodes])).code, 2);
    assert.equal((await inProcess(['consume', 'x', '-n', 'many', ...nodes])).code, 2);
    for (const bad of ['0', 'two', '2000']) {
      const refused = await inProcess(['produce', 'x', '--partitions', bad, ...nodes]);
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, /--partitions expects a whole number from 1 to 1024/);
    }
    assert.equal((await inProcess(['consume', 'x', '--partitions', '-1', ...nodes])).code, 2);

    // A partitioned topic: produce routes by key, consume -n reads across all partitions.
    const keyed = Array.from({ length: 20 }, (_, i) => JSON.stringify({ id: `k${i % 5}`, i })).join('\n');
    const produced = await inProcess(['produce', 'parts', '--partitions', '3', '--format', 'json', '--key-field', 'id', ...nodes], `${keyed}\n`);
    assert.equal(produced.code, 0, produced.stderr);
    const all = await inProcess(['consume', 'parts', '--partitions', '3', '--format', 'json', ...nodes]);
    assert.equal(all.code, 0, all.stderr);
    const got = all.stdout.trim().split('\n').map((l) => JSON.parse(l) as { key: string; value: { i: number } });
    assert.deepEqual(got.map((r) => r.value.i).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i));
    for (let k = 0; k < 5; k += 1) {
      const seq = got.filter((r) => r.key === `k${k}`).map((r) => r.value.i);
      assert.deepEqual(seq, [...seq].sort((a, b) => a - b), `key k${k} in order`);
    }
  } finally {
    await node.close();
  }
});

test('consume --follow prints records as they arrive and exits 130 on SIGINT, keeping what it printed', async () => {
  const node = await startTestBroker();
  const { WalrusClient, Producer } = await import('../../src/client/index.js');
  const client = new WalrusClient({ nodes: [node.address] });
  try {
    const child = spawn(process.execPath, [BIN, 'consume', 'live', '--follow', '--nodes', node.address], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const producer = new Producer<Uint8Array>(client, { topic: 'live', serializer: 'raw' });
    await producer.send(Buffer.from('first '));
    while (!out.includes('first \n')) await new Promise((r) => setTimeout(r, 20));
    await producer.send(Buffer.from('second'));
    while (!out.includes('second\n')) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGINT');
    assert.equal(await exited, 130, 'SIGINT exit code (README: 130)');
    assert.equal(out, 'first \nsecond\n');
  } finally {
    await client.close();
    await node.close();
  }
});

test('produce of more than the producer holds (80 MB of lines into a slow node) waits for its writes instead of being refused PRODUCER_FULL', { timeout: 120_000 }, async () => {
  // The producer refuses sends past its maxBufferedBytes (64 MiB); produce reads stdin far faster than a slow node
  // acknowledges, so it must wait for its writes well before that.
  const node = await startTestBroker({ compat: 'default' });
  const [host, port] = node.address.split(':');
  const proxy = await FaultProxy.start({ host: host!, port: Number(port) });
  proxy.setMode({ kind: 'delay', ms: 10 });
  try {
    const line = 'y'.repeat(40_000);
    const input = `${Array.from({ length: 2000 }, (_, i) => `${i}${line}`).join('\n')}\n`;
    const produced = await cli(['produce', 'cli-big', '--nodes', proxy.address], input);
    assert.equal(produced.code, 0, produced.stderr);
    assert.match(produced.stderr, /produced 2000 record\(s\) to cli-big/);
    const state = await cli(['state', 'cli-big', '--nodes', node.address]);
    assert.match(state.stdout.toString(), /"totalEntries": ?2000/, state.stdout.toString());
  } finally {
    await proxy.close();
    await node.close();
  }
});

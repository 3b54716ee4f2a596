import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WalrusClient } from '../../src/client/index.js';
import { encodeRecords } from '../../src/codec/index.js';
import { startTestBroker } from '../helpers/broker.js';

const BIN = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../observability/fixtures/logs-record.ts', import.meta.url));

test('run logs JSON off a TTY: worker lines carry app, processor, recordId and correlationId, secrets in headers (the defaults and observability.redactHeaders) are redacted', async () => {
  const broker = await startTestBroker();
  const client = new WalrusClient({ nodes: [broker.address] });
  const dir = await mkdtemp(join(tmpdir(), 'walrus-logs-'));
  try {
    await client.register('in');
    await client.putMany('in', [encodeRecords([{
      value: Buffer.from(JSON.stringify({ n: 1 })),
      headers: { 'correlation-id': 'order-42', authorization: 'Bearer s3cret', 'x-tenant-token': 't0ken', plain: 'visible' },
    }])]);
    const file = join(dir, 'topology.yaml');
    await writeFile(file, `
app: logapp
stateDir: ${dir}/state
workers: 1
observability: { redactHeaders: [X-Tenant-Token] }
sources:
  in: { topic: in, poll: { minInterval: 1ms, maxInterval: 20ms } }
processors:
  logger: { module: ${FIXTURE}, input: in }
sinks:
  out: { topic: out, input: logger }
`);
    const child = spawn(process.execPath, [BIN, 'run', file, '--nodes', broker.address, '--until-idle', '--progress-interval', '0'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8'); });
    child.stdout.resume();
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 0, stderr);
    const lines = stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const seen = lines.find((l) => l.msg === 'record seen');
    assert.ok(seen, stderr);
    assert.equal(seen.app, 'logapp');
    assert.equal(seen.processor, 'logger');
    assert.equal(seen.correlationId, 'order-42');
    assert.equal(typeof seen.recordId, 'string');
    const headers = seen.headers as Record<string, string>;
    assert.equal(headers.authorization, '[redacted]', 'a default stays redacted when the topology lists others');
    assert.equal(headers['x-tenant-token'], '[redacted]', 'listed in the topology (any case)');
    assert.equal(headers.plain, 'visible');
    assert.ok(!stderr.includes('s3cret'), 'the secret never reaches the log');
    assert.ok(!stderr.includes('t0ken'), 'the topology-listed secret never reaches the log');
  } finally {
    await client.close();
    await broker.close();
    await rm(dir, { recursive: true, force: true });
  }
});

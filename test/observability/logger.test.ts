import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, processorLogger, recordLogger } from '../../src/observability/logs/logger.js';
import { WalrusError } from '../../src/errors/index.js';

function sink(isTTY = false): Writable & { isTTY: boolean; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { chunks.push(String(chunk)); cb(); } }) as Writable & { isTTY: boolean; text: () => string };
  stream.isTTY = isTTY;
  stream.text = () => chunks.join('');
  return stream;
}

test('JSON lines by default, bound with app, processor, record id and correlation id', () => {
  const out = sink();
  const logger = createLogger({ base: { app: 'orders' }, destination: out });
  const record = { id: 'r-1', headers: { 'correlation-id': 'c-9' } };
  recordLogger(processorLogger(logger, 'parse'), record).info({ attempt: 2 }, 'handled');
  const line = JSON.parse(out.text().trim());
  assert.equal(line.level, 'info');
  assert.equal(line.msg, 'handled');
  assert.equal(line.app, 'orders');
  assert.equal(line.processor, 'parse');
  assert.equal(line.recordId, 'r-1');
  assert.equal(line.correlationId, 'c-9');
  assert.equal(line.attempt, 2);
  assert.match(line.time, /^\d{4}-\d\d-\d\dT/);
});

test('secret headers are redacted, also nested in a record, and the list is extendable', () => {
  const out = sink();
  const logger = createLogger({ destination: out, redact: ['headers["x-tenant-token"]'] });
  logger.warn({ headers: { authorization: 'Bearer s3cret', cookie: 'sid=1', 'x-tenant-token': 't', ok: 'visible' } }, 'a');
  logger.warn({ record: { headers: { authorization: 'Bearer s3cret' } } }, 'b');
  const text = out.text();
  assert.doesNotMatch(text, /s3cret|sid=1|"t"/);
  const [a, b] = text.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(a.headers.authorization, '[redacted]');
  assert.equal(a.headers['x-tenant-token'], '[redacted]');
  assert.equal(a.headers.ok, 'visible');
  assert.equal(b.record.headers.authorization, '[redacted]');
});

test('credentials logged by mistake are redacted (a password or token up to two levels deep)', () => {
  const out = sink();
  const logger = createLogger({ destination: out });
  logger.warn({ password: 'pw-0', auth: { username: 'u', password: 'pw-1' }, cluster: { auth: { password: 'pw-2' } }, httpAuth: { token: 'tk-1' } }, 'oops');
  const text = out.text();
  assert.doesNotMatch(text, /pw-0|pw-1|pw-2|tk-1/);
  assert.match(text, /"username":"u"/);
});

test('pretty on a TTY (or when asked), JSON otherwise; levels filter', () => {
  const tty = sink(true);
  createLogger({ destination: tty, base: { app: 'orders' } }).info('hello pretty');
  assert.match(tty.text(), /INFO/);
  assert.match(tty.text(), /hello pretty/);
  assert.throws(() => JSON.parse(tty.text()));

  const forced = sink(false);
  createLogger({ destination: forced, pretty: true }).info('x');
  assert.throws(() => JSON.parse(forced.text()));

  const quiet = sink();
  const logger = createLogger({ destination: quiet, level: 'warn' });
  logger.info('dropped');
  logger.error('kept');
  assert.deepEqual(quiet.text().trim().split('\n').map((l) => JSON.parse(l).msg), ['kept']);
});

test('an unknown level is a clear configuration error', () => {
  assert.throws(() => createLogger({ level: 'verbose' as never }), (e: unknown) => e instanceof WalrusError && e.code === 'CONFIG_INVALID' && /verbose/.test(e.message));
});

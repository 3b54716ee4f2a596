import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.js';
import { EXIT } from '../../src/cli/command.js';
import { renderDeadLetterFold } from '../../src/observability/progress/progress-format.js';
import { createLogger } from '../../src/observability/index.js';
import { fixture, harness, type Harness } from './harness.js';

let h: Harness;
before(async () => { h = await harness(); });
after(() => h.close());

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

test('the fold lists counts by processor and code, largest first, with the latest reason', () => {
  const lines = renderDeadLetterFold([
    { processor: 'parse', code: 'NON_RETRIABLE', count: 1_200, latest: 'malformed JSON:\n  at line 1' },
    { processor: 'enrich', code: 'PROCESSOR_TIMEOUT', count: 3, latest: 'took too long' },
  ], ['orders.dlq'], 1);
  assert.match(lines[0]!, /dead letters 1,203 \(full records in orders\.dlq;/);
  assert.match(lines[1]!, /parse\s+NON_RETRIABLE\s+1,200\s+latest: malformed JSON: at line 1$/);
  assert.match(lines[2]!, /1 more/);
  assert.deepEqual(renderDeadLetterFold([], ['x']), []);
});

test('the logger leaves out what `omit` says and keeps the rest', () => {
  const out = new Capture();
  const logger = createLogger({ destination: out, pretty: false, level: 'info', omit: (message) => message === 'record dead-lettered' });
  logger.warn({ processor: 'p' }, 'record dead-lettered');
  logger.warn({ processor: 'p' }, 'something else');
  assert.doesNotMatch(out.text, /record dead-lettered/);
  assert.match(out.text, /something else/);
});

async function runFailing(app: string, stderr: Capture & { isTTY?: boolean; columns?: number }, logLevel = 'warn'): Promise<Capture> {
  const n = 30;
  await h.produce(`${app}.in`, Array.from({ length: n }, (_, i) => ({ value: { n: i, fatal: i % 3 === 0 } })));
  const file = join(h.stateDir, `${app}.yaml`);
  await writeFile(file, `
app: ${app}
stateDir: ${h.stateDir}
workers: 1
sources:
  in: { topic: ${app}.in, poll: { minInterval: 1ms, maxInterval: 20ms } }
processors:
  check: { module: ${fixture('flaky.ts')}, input: in, deadLetter: ${app}.dlq }
sinks:
  out: { topic: ${app}.out, input: check }
observability: { logLevel: ${logLevel} }
`);
  const stdout = new Capture();
  const code = await main(['run', file, '--nodes', h.broker.address, '--until-idle', '--progress-interval', '0'], { stdout, stderr, stdin: process.stdin, env: {}, cwd: process.cwd() });
  assert.equal(code, EXIT.OK, stderr.text);
  await h.drain(`${app}.out`);
  assert.equal((await h.drainEntries(`${app}.dlq`)).length, 10, 'every dead letter is on the dead-letter topic');
  return stdout;
}

test('on a TTY, dead letters fold into the live view instead of one log record each', { timeout: 60_000 }, async () => {
  const stderr = Object.assign(new Capture(), { isTTY: true, columns: 160 });
  await runFailing('fold', stderr);
  assert.doesNotMatch(stderr.text, /record dead-lettered/);
  assert.match(stderr.text, /dead letters 10 \(full records in fold\.dlq;/);
  assert.match(stderr.text, /check\s+NON_RETRIABLE\s+10\s+latest: record \d+ is invalid/);
});

test('off a TTY, and on a TTY at log level debug, every dead letter is still logged', { timeout: 60_000 }, async () => {
  const json = new Capture();
  await runFailing('nofold', json);
  assert.equal(json.text.match(/"msg":"record dead-lettered"/g)?.length, 10);
  const debug = Object.assign(new Capture(), { isTTY: true, columns: 160 });
  await runFailing('debugfold', debug, 'debug');
  assert.equal(debug.text.match(/record dead-lettered/g)?.length, 10);
});

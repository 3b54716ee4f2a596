import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { formatSize, parseDuration, parseSize } from '../../src/topology/units.js';
import { loadTopologyText } from '../../src/topology/index.js';
import { closest, editDistance } from '../../src/topology/validate/suggest.js';

test('durations: units, combinations, plain numbers as milliseconds', () => {
  const cases: Array<[string | number, number | undefined]> = [
    ['250ms', 250], ['5s', 5_000], ['2m', 120_000], ['1h', 3_600_000], ['1m30s', 90_000], ['1.5s', 1_500],
    ['0', 0], ['750', 750], [750, 750], [0.4, 0], [' 5s ', 5_000],
    ['5 s', undefined], ['5sec', undefined], ['s', undefined], ['', undefined], ['-1s', undefined], [-1, undefined],
    [Number.NaN, undefined], ['1d', undefined],
  ];
  for (const [input, expected] of cases) assert.equal(parseDuration(input), expected, JSON.stringify(input));
});

test('sizes: binary and decimal units, plain numbers as bytes', () => {
  const cases: Array<[string | number, number | undefined]> = [
    ['64KiB', 65_536], ['1MiB', 1_048_576], ['1KB', 1_000], ['1MB', 1_000_000], ['512B', 512], ['2GiB', 2_147_483_648],
    ['60kib', 61_440], ['1 KiB', 1_024], ['1.5KiB', 1_536], ['100', 100], [100, 100],
    ['64 kilobytes', undefined], ['KiB', undefined], ['-1', undefined], [1.5, undefined], ['1XB', undefined],
  ];
  for (const [input, expected] of cases) assert.equal(parseSize(input), expected, JSON.stringify(input));
  assert.equal(formatSize(65_536), '64KiB');
  assert.equal(formatSize(1_048_576), '1MiB');
  assert.equal(formatSize(1_000), '1000B');
});

test('did you mean: typos, case and separators, but not unrelated words', () => {
  assert.equal(editDistance('concurency', 'concurrency'), 1);
  assert.equal(editDistance('ordreing', 'ordering'), 1, 'a transposition is one edit');
  assert.equal(closest('concurency', ['concurrency', 'ordering']), 'concurrency');
  assert.equal(closest('dead_letter', ['deadLetter', 'retry']), 'deadLetter');
  assert.equal(closest('round_robin', ['round-robin', 'consistent-hash']), 'round-robin');
  assert.equal(closest('keyed', ['key', 'unordered']), 'key');
  assert.equal(closest('pol', ['poll', 'topic']), 'poll');
  assert.equal(closest('banana', ['topic', 'format', 'poll']), undefined);
  assert.equal(closest('x', ['y']), 'y', 'one edit is always close for a one-letter word');
  assert.equal(closest('anything', []), undefined);
});

test('a duration under 1 ms is refused where it would round to 0 (timeout: 0.4ms meant no timeout at all); 0 itself stays allowed', async () => {
  const file = fileURLToPath(new URL('../fixtures/topologies/valid/minimal/topology.yaml', import.meta.url));
  const text = (timeout: string) =>
    `app: shop\nsources:\n  orders:\n    topic: orders\nprocessors:\n  echo:\n    module: ./echo.js\n    input: orders\n    timeout: ${timeout}\n`;
  for (const timeout of ['0.4ms', '0.4', '0.0001s']) {
    const error = await loadTopologyText(text(timeout), file).then(() => undefined, (e: unknown) => e as { context: { diagnostics: Array<{ line: number; message: string }> } });
    assert.ok(error, `timeout: ${timeout} is refused`);
    const messages = error.context.diagnostics.map((d) => `${d.line}: ${d.message}`);
    assert.equal(messages.length, 1, messages.join('\n'));
    assert.match(messages[0]!, /^9: .*is less than 1 ms and would round to 0 ms \(for a timeout, no timeout at all\); durations count whole milliseconds: give 0 or at least 1ms/);
  }
  for (const [timeout, ms] of [['0', 0], ['0ms', 0], ['0.5', 1], ['1ms', 1], ['1.4ms', 1]] as const) {
    const { topology } = await loadTopologyText(text(timeout), file);
    assert.equal(topology.processors.echo!.timeout, ms, `timeout: ${timeout}`);
  }
});

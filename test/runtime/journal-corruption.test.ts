import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Journal } from '../../src/journal/index.js';
import { fixture, harness } from './harness.js';

test('run on a journal with a corrupt record in the middle: the unreleased entries after it are still processed, and the log says (error level) which bytes were skipped', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const stateDir = join(h.stateDir, 'state');
  const journalDir = join(stateDir, 'jc', 'journal');
  // Entries a previous run journaled (taken from the source) and never released: a crash left them for this run.
  const journal = await Journal.open({ dir: journalDir });
  const sizes = [journal.stats().bytes];
  for (const i of [1, 2, 3, 4]) {
    await journal.append([{ source: 'in', entry: Buffer.from(JSON.stringify({ i })) }]);
    sizes.push(journal.stats().bytes);
  }
  await journal.close();
  const segment = join(journalDir, '000000000001.journal');
  const bytes = await readFile(segment);
  bytes[sizes[1]! + 14] ^= 0x20; // inside entry 2's record
  await writeFile(segment, bytes);
  const lines: Array<{ level: number; msg: string; skippedBytes?: number }> = [];
  const logger = pino({ level: 'warn' }, new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done(); } }));
  await h.client.register('jc.in');
  const summary = await h.run(`
app: jc
stateDir: \${STATE_DIR}/state
sources:
  in: { topic: jc.in, format: text }
processors:
  p: { module: ${JSON.stringify(fixture('echo.js'))}, input: in }
sinks:
  out: { topic: jc.out, input: p }
`, { logger });
  assert.equal(summary.recovered, 3);
  assert.deepEqual((await h.drain('jc.out')).map((r) => (r.value as { i: number }).i).sort(), [1, 3, 4]);
  const corrupt = lines.filter((l) => /unreadable and skipped/.test(l.msg));
  assert.equal(corrupt.length, 1, JSON.stringify(lines));
  assert.equal(corrupt[0]!.level, 50, 'logged as an error');
  assert.equal(corrupt[0]!.skippedBytes, sizes[2]! - sizes[1]!);
});

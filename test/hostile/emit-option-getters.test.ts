import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEntry } from '../../src/codec/index.js';
import { parseDeadLetter } from '../../src/runtime/coordinator/dead-letter.js';
import { fixture, harness } from '../runtime/harness.js';

// ctx.emit checked options.key and each header, then read them again to build the output: a getter (or a proxy) that
// answered a string to the check and a number or an object afterwards sent that on. The processor after it (in another
// stage group, in key ordering) was charged with it and dead-lettered the record, blamed as "a value set on
// record.headers in place". Now each is read once and what was checked is what is used.
test('emit options whose getters or proxy traps answer a string once and something else later: the output carries what was checked, and the next processor is charged with nothing', { timeout: 30_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const modes = ['ok', 'key-getter', 'header-getter', 'options-proxy', 'ok'];
  await h.produce('in', modes.map((mode, i) => ({ value: { i, mode } })));
  const summary = await h.run(`
app: t
stateDir: \${STATE_DIR}
workers: 1
sources:
  in: { topic: in }
processors:
  p: { module: ${JSON.stringify(fixture('shifting-emits.ts'))}, input: in, deadLetter: dead }
  next: { module: ${JSON.stringify(fixture('echo.js'))}, input: p, fuse: false, ordering: key, deadLetter: dead }
sinks:
  out: { topic: out, input: next }
observability: { logLevel: silent }
`);
  const dead = (await h.drainEntries('dead')).map(parseDeadLetter);
  const modeOf = (d: { original: Buffer | string }) => (JSON.parse(decodeEntry(d.original)[0]!.value.toString()) as { mode: string }).mode;
  assert.deepEqual(dead.map((d) => [modeOf(d), d.processor, d.error.code, d.error.message]), [], 'nothing dead-lettered');
  const out = await h.drain('out');
  assert.deepEqual(out.map((r) => [(r.value as { i: number }).i, r.key ?? null, r.headers.tier ?? null]).sort(),
    [[0, 'k0', 'plain'], [1, 'k', null], [2, null, 'gold'], [3, 'k', null], [4, 'k4', 'plain']]);
  assert.equal(summary.processors.next!.deadLettered, 0);
  assert.equal(summary.processors.next!.processed, 5);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Journal } from '../../src/journal/index.js';

type Command =
  | { kind: 'append'; sizes: number[] }
  | { kind: 'release'; picks: number[] }
  | { kind: 'reopen' };

const command = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('append' as const), sizes: fc.array(fc.nat(300), { minLength: 1, maxLength: 8 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('release' as const), picks: fc.array(fc.nat(), { minLength: 1, maxLength: 6 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
);

test('random append/release/reopen sequences with tiny segments match a model (rolls, deletions and compactions included)', { timeout: 120_000 }, async () => {
  let compactions = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(command, { minLength: 5, maxLength: 60 }), fc.boolean(), async (commands, concurrent) => {
      const dir = await mkdtemp(join(tmpdir(), 'walrus-journal-model-'));
      const options = { dir, fsync: 'never' as const, segmentBytes: 1024, compaction: { minBytes: 3072, maxSegments: 4 } };
      let journal = await Journal.open(options);
      const model = new Map<number, string>();
      let counter = 0;
      try {
        for (const c of commands) {
          if (c.kind === 'append') {
            const texts = c.sizes.map((size) => `${counter++}:${'v'.repeat(size)}`);
            // Either one call, or one call per item made in the same tick (group commit).
            const seqs = concurrent
              ? (await Promise.all(texts.map((text) => journal.append([{ source: `s${text.length % 3}`, entry: Buffer.from(text) }])))).flat()
              : await journal.append(texts.map((text) => ({ source: `s${text.length % 3}`, entry: Buffer.from(text) })));
            seqs.forEach((seq, i) => {
              assert.ok(!model.has(seq), `seq ${seq} handed out twice`);
              model.set(seq, texts[i]!);
            });
          } else if (c.kind === 'release') {
            const live = [...model.keys()];
            if (live.length === 0) continue;
            const chosen = [...new Set(c.picks.map((p) => live[p % live.length]!))];
            await journal.release(chosen);
            for (const seq of chosen) model.delete(seq);
          } else {
            compactions += journal.stats().compactions;
            await journal.close();
            journal = await Journal.open(options);
          }
          const expected = [...model].sort((a, b) => a[0] - b[0]).map(([seq, text]) => `${seq}:s${text.length % 3}:${text}`);
          assert.deepEqual(journal.unreleased().map((e) => `${e.seq}:${e.source}:${e.entry.toString()}`), expected);
        }
        compactions += journal.stats().compactions;
      } finally {
        await journal.close();
        await rm(dir, { recursive: true, force: true });
      }
    }),
    // One sequence that always compacts (each round leaves the oldest entry
    // live in a segment of dead ones), so the assertion below never rests on
    // what the random runs happened to generate.
    { numRuns: 40, examples: [[compactingRun(), false]] },
  );
  assert.ok(compactions > 0, 'the generated runs should exercise compaction');
});

function compactingRun(): Command[] {
  const four = { kind: 'append' as const, sizes: [300, 300, 300, 300] };
  const run: Command[] = [four, { kind: 'release', picks: [1, 2, 3] }];
  for (let i = 0; i < 11; i++) run.push(four, { kind: 'release', picks: [1, 2, 3, 4] });
  return run;
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTopologyText } from '../../src/topology/load.js';
import type { Diagnostic } from '../../src/topology/types.js';
import { withTempDir } from '../helpers/temp-dir.js';

// The YAML parser is recursive. A value nested a few thousand levels deep
// (`- - - … x`, 10 KB) made it throw: validate died with "RangeError: Maximum
// call stack size exceeded" and its stack trace (exit 3); a shallower one
// (`[[[…]]]`, 800 levels) was reported as "YAML syntax: Maximum call stack
// size exceeded", which says neither what is wrong nor what to do.

const BIN = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));
const TOO_DEEP = /^the YAML nests too deeply to be read \(lists and mappings inside each other, hundreds of levels down\); a topology nests a handful of levels: flatten this value/;

function topology(config: string): string {
  return `app: a\nsources:\n  s: { topic: in }\nprocessors:\n  p:\n    module: ./p.mjs\n    input: s\n    config:\n      k:\n${config}\nsinks:\n  o: { topic: out, input: p }\n`;
}

async function diagnostics(text: string): Promise<Diagnostic[]> {
  try {
    await loadTopologyText(text, 'deep.yaml', { loadModules: false });
  } catch (error) {
    return (error as { context: { diagnostics: Diagnostic[] } }).context.diagnostics;
  }
  assert.fail('the topology loaded');
}

test('a value nested thousands of levels deep is one diagnostic saying so, at the line that nests it — not a RangeError', { timeout: 60_000 }, async () => {
  for (const depth of [5_000, 50_000]) {
    const found = await diagnostics(topology(`        ${'- '.repeat(depth)}x`));
    assert.equal(found.length, 1, JSON.stringify(found));
    assert.equal(found[0]!.line, 10);
    assert.equal(found[0]!.col, 9 + 2 * depth);
    assert.match(found[0]!.message, TOO_DEEP);
  }
  const flow = await diagnostics(topology(`        ${'['.repeat(2_000)}${']'.repeat(2_000)}`));
  assert.equal(flow.length, 1, JSON.stringify(flow));
  assert.equal(flow[0]!.line, 10);
  assert.match(flow[0]!.message, TOO_DEEP);
  // A deep but sane value still loads.
  await loadTopologyText(topology(`        ${'- '.repeat(100)}x`), 'ok.yaml', { loadModules: false, cwd: '/' }).catch((error: { context?: { diagnostics: Diagnostic[] } }) => {
    assert.ok(error.context?.diagnostics.every((d) => !TOO_DEEP.test(d.message)), JSON.stringify(error.context?.diagnostics));
  });
});

test('validate of such a file: exit 1 and the diagnostic, no stack trace', { timeout: 60_000 }, async () => {
  await withTempDir('walrus-deep-', async (dir) => {
    await writeFile(join(dir, 'topology.yaml'), topology(`        ${'- '.repeat(5_000)}x`));
    const r = spawnSync(process.execPath, [BIN, 'validate', '--no-modules'], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^topology\.yaml:10:10009: error: the YAML nests too deeply to be read .*\ntopology\.yaml: 1 error\n$/);
  });
});

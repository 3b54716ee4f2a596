import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CODE_CACHE = fileURLToPath(new URL('../../src/util/code-cache.ts', import.meta.url));

/** Loads `file` with requireWithCodeCache in a fresh process; prints its answer and whether V8 took a cache. */
function load(file: string): { answer: unknown; caches: string[] } {
  const script = `import { requireWithCodeCache } from ${JSON.stringify(CODE_CACHE)};
const m = requireWithCodeCache(${JSON.stringify(file)});
console.log(JSON.stringify(m.answer()));`;
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  const dir = join(file, '..');
  return { answer: JSON.parse(result.stdout.trim()), caches: readdirSync(dir).filter((f) => f.endsWith('.v8cache')).sort() };
}

test('a CommonJS file loads as require would, and its code cache is written next to it at exit', () => {
  const dir = mkdtempSync(join(tmpdir(), 'walrus-code-cache-'));
  try {
    const file = join(dir, 'lib.cjs');
    writeFileSync(file, "const path = require('node:path');\nexports.answer = () => ({ n: 42, here: path.basename(__filename), strict: this === module.exports });\n");
    const first = load(file);
    assert.deepEqual(first.answer, { n: 42, here: 'lib.cjs', strict: true });
    assert.equal(first.caches.length, 1, 'the first load writes one cache file');
    assert.match(first.caches[0]!, new RegExp(`^lib\\.cjs\\.${process.version.replaceAll('.', '\\.')}-${process.arch}-[0-9a-f]{16}\\.v8cache$`));
    // The second load reads it, writes nothing new, and gives the same module.
    const second = load(file);
    assert.deepEqual(second.answer, first.answer);
    assert.deepEqual(second.caches, first.caches);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a changed file never runs the old code from the cache: its cache has another name', () => {
  const dir = mkdtempSync(join(tmpdir(), 'walrus-code-cache-'));
  try {
    const file = join(dir, 'lib.cjs');
    // Same length both times: V8's own check (source length) would not tell them apart.
    writeFileSync(file, 'exports.answer = () => "one";\n');
    assert.equal(load(file).answer, 'one');
    writeFileSync(file, 'exports.answer = () => "two";\n');
    const changed = load(file);
    assert.equal(changed.answer, 'two');
    assert.equal(changed.caches.length, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a cache that cannot be written (here: a directory in its place) is skipped, and the file still loads', () => {
  const dir = mkdtempSync(join(tmpdir(), 'walrus-code-cache-'));
  try {
    const file = join(dir, 'lib.cjs');
    const source = 'exports.answer = () => 7;\n';
    writeFileSync(file, source);
    const digest = createHash('sha1').update(source).digest('hex').slice(0, 16);
    const blocker = `${file}.${process.version}-${process.arch}-${digest}.v8cache`;
    mkdirSync(join(blocker, 'occupied'), { recursive: true });
    assert.equal(load(file).answer, 7);
    assert.ok(statSync(blocker).isDirectory());
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temporary file is left behind');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { compiledProcessorUrl } from '../../src/processor/compiled-cache.js';
import { loadProcessorModule } from '../../src/processor/loader.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));

/** An ES-module project whose node_modules has this package (as an install would). */
async function project(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ws-compiled-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'user-app', type: 'module' }));
  await mkdir(join(dir, 'node_modules'));
  await symlink(repo, join(dir, 'node_modules', 'walrus-stream'), 'dir');
  await mkdir(join(dir, 'processors'));
  return dir;
}

const cacheDir = (dir: string) => join(dir, 'node_modules', '.cache', 'walrus-stream', 'ts');

async function run(definition: unknown, value: unknown): Promise<unknown> {
  return (definition as { process: (r: unknown, ctx: unknown) => unknown }).process({ value, key: 'k', headers: {} }, {});
}

test('a TypeScript processor is compiled once into node_modules/.cache and loads from there, with its helper files bundled', { timeout: 30_000 }, async (t) => {
  const dir = await project(t);
  await writeFile(join(dir, 'processors', 'helper.ts'), 'export const suffix: string = "!";\n');
  await writeFile(join(dir, 'processors', 'shout.ts'), [
    "import { defineProcessor } from 'walrus-stream';",
    "import { suffix } from './helper.js';",
    'export default defineProcessor<string, string>({ process: (r) => r.value.toUpperCase() + suffix });',
  ].join('\n'));
  const path = join(dir, 'processors', 'shout.ts');

  const first = await compiledProcessorUrl(path);
  assert.ok(first?.startsWith('file://'), `compiled: ${first}`);
  assert.ok(fileURLToPath(first!).startsWith(cacheDir(dir)), first);
  const entries = await readdir(cacheDir(dir));
  assert.equal(entries.filter((e) => e.endsWith('.mjs')).length, 1, entries.join(', '));
  assert.equal(entries.filter((e) => e.endsWith('.json')).length, 1, entries.join(', '));
  // Fresh: the same file again, nothing new written.
  assert.equal(await compiledProcessorUrl(path), first);
  assert.equal((await readdir(cacheDir(dir))).length, entries.length);

  const loaded = await loadProcessorModule(path);
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.problem);
  assert.equal(await run(loaded.definition, 'hi'), 'HI!');

  // A changed helper makes the entry stale: a new compiled file, with the new code.
  await new Promise((r) => setTimeout(r, 20));
  await writeFile(join(dir, 'processors', 'helper.ts'), 'export const suffix: string = "?!";\n');
  const second = await compiledProcessorUrl(path);
  assert.notEqual(second, first);
  const reloaded = await loadProcessorModule(path);
  assert.ok(reloaded.ok);
  assert.equal(await run(reloaded.definition, 'hi'), 'HI?!');
});

test('a processor that reads its own location (import.meta) is not compiled elsewhere: tsx loads it in place', { timeout: 30_000 }, async (t) => {
  const dir = await project(t);
  await writeFile(join(dir, 'processors', 'where.ts'), [
    "import { defineProcessor } from 'walrus-stream';",
    'const here: string = import.meta.url;',
    'export default defineProcessor<string, string>({ process: () => here });',
  ].join('\n'));
  const path = join(dir, 'processors', 'where.ts');
  assert.equal(await compiledProcessorUrl(path), undefined);
  const loaded = await loadProcessorModule(path);
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.problem);
  assert.match(String(await run(loaded.definition, 'x')), /processors\/where\.ts$/);
});

test('a syntax error is reported with its file, line and column; a thrown error\'s stack points into the .ts source', { timeout: 30_000 }, async (t) => {
  const dir = await project(t);
  await writeFile(join(dir, 'processors', 'broken.ts'), "import { defineProcessor } from 'walrus-stream';\nexport default defineProcessor({ process: (r) => { return r.value + ; } });\n");
  const broken = await loadProcessorModule(join(dir, 'processors', 'broken.ts'));
  assert.equal(broken.ok, false);
  assert.match(broken.ok ? '' : broken.problem, /^failed to load: .*broken\.ts:2:\d+: /);

  await writeFile(join(dir, 'processors', 'throws.ts'), [
    "import { defineProcessor } from 'walrus-stream';",
    'type In = { n: number };',
    'export default defineProcessor<In, number>({',
    '  process(r) {',
    "    throw new Error('boom ' + r.value.n);",
    '  },',
    '});',
  ].join('\n'));
  const loaded = await loadProcessorModule(join(dir, 'processors', 'throws.ts'));
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.problem);
  const error = await Promise.resolve().then(() => run(loaded.definition, { n: 1 })).then(() => undefined, (e: Error) => e);
  assert.ok(error instanceof Error);
  assert.match(error.stack ?? '', /throws\.ts:5:\d+/, error.stack);
});

test('CommonJS TypeScript is compiled only for itself: a later ES-syntax .js in a "type": "commonjs" package fails in run as in validate', { timeout: 90_000 }, async (t) => {
  const dir = await project(t);
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'user-app', type: 'commonjs' }));
  await writeFile(join(dir, 'processors', 'helper.ts'), "export const bang = (s: string): string => s + '!';\n");
  await writeFile(join(dir, 'processors', 'first.cts'),
    "import { defineProcessor } from 'walrus-stream/processor';\nimport { bang } from './helper';\nexport default defineProcessor<string, string>({ process: (r) => bang(r.value) });\n");
  await writeFile(join(dir, 'processors', 'second.js'), "import { defineProcessor } from 'walrus-stream/processor';\nexport default defineProcessor({ process: (r) => r.value });\n");
  await writeFile(join(dir, 'topology.yaml'), [
    'app: mixed', 'stateDir: ${WALRUS_STATE_DIR}', 'cluster: { embedded: { dataDir: "${WALRUS_STATE_DIR}/node" } }',
    'sources: { in: { topic: in, format: text, serializer: string } }',
    'processors:', '  first: { module: ./processors/first.cts, input: in }', '  second: { module: ./processors/second.js, input: first }',
    'sinks: { out: { topic: out, input: second } }', '',
  ].join('\n'));
  await writeFile(join(dir, 'in.txt'), 'hello\n');
  const cli = (args: string[]) => new Promise<{ code: number | null; stderr: string }>((resolve) => {
    execFile(process.execPath, [join(repo, 'bin', 'walrus-stream.js'), ...args], { cwd: dir, env: { ...process.env, WALRUS_STATE_DIR: join(dir, 'state') }, timeout: 80_000 },
      (error, _stdout, stderr) => resolve({ code: error ? (error as { code?: number }).code ?? 1 : 0, stderr }));
  });
  const validated = await cli(['validate']);
  assert.equal(validated.code, 1, validated.stderr);
  assert.match(validated.stderr, /processors\.second\.module: failed to load: Cannot use import statement outside a module/);
  // run loads first.cts (with its .ts helper) and second.js in the same worker thread: second.js must fail the same way.
  const ran = await cli(['run', '--until-idle', '--seed', 'in=in.txt', '--metrics-address', 'false']);
  assert.equal(ran.code, 3, ran.stderr);
  assert.match(ran.stderr, /PROCESSOR_LOAD_FAILED: processor "second" .*Cannot use import statement outside a module/);
  assert.doesNotMatch(ran.stderr, /processor "first"/);
});

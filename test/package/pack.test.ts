// run-tests: own process: long (20 s or more on 2 cores): started with the first, not last
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installOffline, NPM, run, type Run } from './offline-install.js';
import { projectFiles, type ProjectKind } from './pack-projects.js';

/**
 * Proof by packing: `npm pack`, install the tarball into fresh ES module and
 * CommonJS projects (offline), and use it there as a user would — the
 * library, the CLI with processors of every extension, the types under
 * strict flags, and `init` followed by the scaffold's own `npm test`.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const TSC = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const TYPE_ROOTS = join(root, 'node_modules', '@types');
let base = '';
let tarball = '';
let packedFiles: string[] = [];
const projects = {} as Record<ProjectKind, string>;

function explain(result: Run): string {
  return `exit ${String(result.code)}\n--- stdout\n${result.stdout.slice(-3000)}\n--- stderr\n${result.stderr.slice(-3000)}`;
}

function walrus(project: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  const bin = join(project, 'node_modules', 'walrus-stream', 'bin', 'walrus-stream.js');
  return run(process.execPath, [bin, ...args], { cwd: project, env, timeoutMs: 90_000 });
}

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'walrus-pack-'));
  // `npm test` builds first (scripts/run-tests.mjs); this keeps the file runnable on its own.
  const built = await run(process.execPath, [join(root, 'scripts', 'build.mjs'), '--if-stale'], { cwd: root, timeoutMs: 240_000 });
  assert.equal(built.code, 0, explain(built));
  // A start leaves V8's code cache of the vendored zod in dist/ (src/util/code-cache.ts): it must not be packed.
  const warmed = await run(process.execPath, [join(root, 'bin', 'walrus-stream.js'), 'validate', '--no-modules', 'topology.yaml'], { cwd: root, timeoutMs: 60_000 });
  assert.equal(warmed.code, 0, explain(warmed));
  const packed = await run(NPM, ['pack', '--ignore-scripts', '--json', '--pack-destination', base], { cwd: root, timeoutMs: 120_000 });
  assert.equal(packed.code, 0, explain(packed));
  const [info] = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  assert.ok(info);
  tarball = join(base, info.filename);
  packedFiles = info.files.map((f) => f.path);

  await Promise.all((['esm', 'cjs'] as const).map(async (kind) => {
    const dir = join(base, kind);
    for (const [path, text] of Object.entries(projectFiles(kind, TYPE_ROOTS))) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), text);
    }
    const installed = await installOffline(dir, root, tarball);
    assert.equal(installed.code, 0, `npm ci (${installed.mode}) in the ${kind} project: ${explain(installed)}`);
    projects[kind] = dir;
  }));
});

after(() => rm(base, { recursive: true, force: true }));

test('the tarball holds the build, the CLI and the schema, and no tests, benchmarks, CI files or code caches', () => {
  for (const needed of ['package.json', 'bin/walrus-stream.js', 'dist/esm/index.js', 'dist/esm/index.d.ts', 'dist/cjs/index.js',
    'dist/cjs/index.d.ts', 'dist/esm/processor/sdk.js', 'dist/esm/processor/sdk.d.ts', 'dist/cjs/processor/sdk.js', 'dist/esm/vendor/zod.cjs',
    'dist/esm/runtime/worker/worker-entry.mjs', 'schema/topology.schema.json', 'README.md']) {
    assert.ok(packedFiles.includes(needed), `${needed} is missing from the tarball`);
  }
  const unwanted = packedFiles.filter((f) => /^(test|benchmarks|\.ci|scripts|src|processors|examples)\//.test(f) || f.startsWith('tsconfig') || f.endsWith('.v8cache'));
  assert.deepEqual(unwanted, []);
});

for (const kind of ['esm', 'cjs'] as const) {
  test(`${kind} project: the library imports without a loader flag and round-trips through an embedded node`, { timeout: 60_000 }, async () => {
    const result = await run(process.execPath, [`check.${kind === 'esm' ? 'mjs' : 'cjs'}`], { cwd: projects[kind], timeoutMs: 50_000 });
    assert.equal(result.code, 0, explain(result));
    assert.match(result.stdout, /library ok/);
  });

  test(`${kind} project: validate and run --until-idle load .ts, .js, .${kind === 'esm' ? 'cts and .cjs' : 'mts and .mjs'} processors`, { timeout: 120_000 }, async () => {
    const dir = projects[kind];
    const validated = await walrus(dir, ['validate', 'topology.yaml']);
    assert.equal(validated.code, 0, explain(validated));
    assert.match(validated.stdout, /topology\.yaml: ok/);

    const stateDir = await mkdtemp(join(base, `state-${kind}-`));
    const ran = await walrus(dir, ['run', 'topology.yaml', '--until-idle', '--json', '--seed', 'words=input.txt'], { ...process.env, WALRUS_STATE_DIR: stateDir });
    assert.equal(ran.code, 0, explain(ran));
    const summary = JSON.parse(ran.stdout) as { processors: Record<string, { processed: number }>; sinks: { out: { records: number } }; deadLetters: Record<string, number> };
    for (const name of ['upper', 'tag', 'check', 'pass']) assert.equal(summary.processors[name]?.processed, 5, `${name}: ${ran.stdout}`);
    assert.equal(summary.sinks.out.records, 5);
    assert.deepEqual(Object.values(summary.deadLetters).filter((n) => n > 0), [], `dead letters: ${ran.stdout}\n${ran.stderr}`);
  });

  test(`${kind} project: the types check under strict, noUncheckedIndexedAccess and exactOptionalPropertyTypes`, { timeout: 180_000 }, async () => {
    const checked = await run(process.execPath, [TSC, '-p', 'types'], { cwd: projects[kind], timeoutMs: 170_000 });
    assert.equal(checked.code, 0, explain(checked));
  });
}

test('a project on moduleResolution node (node10) type-checks an import of every public subpath (typesVersions)', { timeout: 60_000 }, async () => {
  const checked = await run(process.execPath, [TSC, '-p', 'types-node10'], { cwd: projects.cjs, timeoutMs: 50_000 });
  assert.equal(checked.code, 0, explain(checked));
});

test('init scaffolds a project whose own npm test passes', { timeout: 400_000 }, async () => {
  const made = await walrus(projects.esm, ['init', 'my-app']);
  assert.equal(made.code, 0, explain(made));
  const app = join(projects.esm, 'my-app');
  const pkg = JSON.parse(await readFile(join(app, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  assert.match(pkg.dependencies['walrus-stream'] ?? '', /^\^\d+\.\d+\.\d+/);
  const installed = await installOffline(app, root, tarball);
  assert.equal(installed.code, 0, `npm ci (${installed.mode}) in the scaffold: ${explain(installed)}`);
  // Without this variable, the scaffold's `node --test` would report to this test runner, not print TAP.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const tested = await run(NPM, ['test'], { cwd: app, env, timeoutMs: 180_000 });
  assert.equal(tested.code, 0, explain(tested));
  assert.match(tested.stdout, /# pass 1/);
});

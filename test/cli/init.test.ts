import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.js';
import { EXIT } from '../../src/cli/command.js';
import { loadTopology } from '../../src/topology/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

async function cli(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await main(args, { stdout, stderr, stdin: process.stdin, env: {}, cwd });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

test('init scaffolds a project whose topology validates, processor loaded through the package', { timeout: 60_000 }, async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'walrus-init-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  const made = await cli(['init', 'My App'], base);
  assert.equal(made.code, EXIT.OK, made.stderr);
  const dir = join(base, 'My App');
  assert.match(made.stdout, /cd My App/);
  assert.match(made.stdout, /^Created app "my-app" in My App\/:$/m);

  const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
  const own = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
  assert.equal(pkg.name as unknown, 'my-app');
  assert.equal(pkg.dependencies?.['walrus-stream'], `^${own.version}`);
  assert.ok(pkg.scripts?.start?.includes('walrus-stream run'));
  assert.ok(pkg.scripts?.test);
  const topology = await readFile(join(dir, 'topology.yaml'), 'utf8');
  assert.match(topology.split('\n')[0] ?? '', /^# yaml-language-server: \$schema=\.\/node_modules\/walrus-stream\/schema\/topology\.schema\.json$/);
  assert.match(await readFile(join(dir, 'processors/enrich.ts'), 'utf8'), /from 'walrus-stream\/processor'/);
  assert.match(await readFile(join(dir, 'test/topology.test.mjs'), 'utf8'), /node:test/);
  // The scaffold's test cases for `walrus-stream test` (docs/testing.md), run first by its `npm test`.
  assert.match(await readFile(join(dir, 'topology.test.yaml'), 'utf8'), /^tests:\n {2}- name: events are tagged big or small by amount/m);
  assert.match(JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')).scripts.test, /^walrus-stream test && /);
  await readFile(join(dir, 'data/events.jsonl'), 'utf8');
  await readFile(join(dir, 'README.md'), 'utf8');
  // The embedded node's data lives under stateDir (gitignored), and WALRUS_STATE_DIR moves both: the
  // scaffold's own test runs against a node in a temp dir, never against the data of `npm start`.
  assert.match(await readFile(join(dir, '.gitignore'), 'utf8'), /^\.walrus-stream\/$/m);
  for (const [env, want] of [[{}, join(dir, '.walrus-stream', 'node')], [{ WALRUS_STATE_DIR: join(base, 'elsewhere') }, join(base, 'elsewhere', 'node')]] as const) {
    const { topology: loaded } = await loadTopology(join(dir, 'topology.yaml'), { env });
    assert.equal(loaded.cluster.embedded.dataDir, want);
  }

  // The processor imports 'walrus-stream': make this checkout the project's dependency.
  await mkdir(join(dir, 'node_modules'));
  await symlink(root, join(dir, 'node_modules', 'walrus-stream'), 'dir');
  const checked = await cli(['validate', 'topology.yaml'], dir);
  assert.equal(checked.code, EXIT.OK, checked.stderr);
  assert.match(checked.stdout, /topology\.yaml: ok/);
});

test('init refuses a directory that is not empty, and --force writes over it', { timeout: 30_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-init-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'notes.txt'), 'mine');
  await writeFile(join(dir, 'README.md'), 'old');

  const refused = await cli(['init'], dir);
  assert.equal(refused.code, EXIT.INVALID);
  assert.match(refused.stderr, /is not empty \(.*notes\.txt.*\).*--force/);
  await assert.rejects(readFile(join(dir, 'topology.yaml')));

  const forced = await cli(['init', '.', '--force', '--name', 'orders'], dir);
  assert.equal(forced.code, EXIT.OK, forced.stderr);
  assert.equal(await readFile(join(dir, 'notes.txt'), 'utf8'), 'mine');
  assert.match(await readFile(join(dir, 'README.md'), 'utf8'), /^# orders/);
  assert.match(await readFile(join(dir, 'topology.yaml'), 'utf8'), /^app: orders$/m);
});

test('init --force merges into an existing package.json: the user\'s values, unknown fields, order and indentation stay; only what init needs is added, and said', { timeout: 30_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-init-pkg-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const mine = {
    name: '@acme/orders',
    version: '3.4.5',
    description: 'our orders service',
    scripts: { start: 'node server.js', build: 'tsc' },
    dependencies: { lodash: '^4.17.21' },
    acme: { owner: 'team-a', tags: ['x', 'y'] },
  };
  await writeFile(join(dir, 'package.json'), `${JSON.stringify(mine, null, 4)}\n`);
  const own = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };

  const forced = await cli(['init', '.', '--force', '--name', 'orders'], dir);
  assert.equal(forced.code, EXIT.OK, forced.stderr);
  const text = await readFile(join(dir, 'package.json'), 'utf8');
  const merged = JSON.parse(text) as Record<string, unknown>;
  assert.deepEqual(merged, {
    ...mine,
    scripts: { ...mine.scripts, validate: 'walrus-stream validate topology.yaml', test: 'walrus-stream test && node --test' },
    dependencies: { lodash: '^4.17.21', 'walrus-stream': `^${own.version}` },
    type: 'module',
  });
  assert.deepEqual(Object.keys(merged), ['name', 'version', 'description', 'scripts', 'dependencies', 'acme', 'type'], 'existing keys keep their order');
  assert.equal(text, `${JSON.stringify(merged, null, 4)}\n`, 'the file keeps its 4-space indentation');
  assert.match(forced.stdout, /^ {2}package\.json \(yours, merged: added type, scripts\.validate, scripts\.test, dependencies\.walrus-stream; kept your scripts\.start\)$/m);
  // The other scaffold files are written as before.
  assert.match(await readFile(join(dir, 'topology.yaml'), 'utf8'), /^app: orders$/m);
});

test('init --force over an `npm init -y` package.json puts its test in place of npm\'s placeholder, which only fails', { timeout: 30_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-init-npm-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const npmInit = {
    name: 'cjs', version: '1.0.0', description: '', main: 'index.js',
    scripts: { test: 'echo "Error: no test specified" && exit 1' },
    keywords: [], author: '', license: 'ISC', type: 'commonjs',
  };
  await writeFile(join(dir, 'package.json'), `${JSON.stringify(npmInit, null, 2)}\n`);

  const forced = await cli(['init', '--force'], dir);
  assert.equal(forced.code, EXIT.OK, forced.stderr);
  const merged = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { scripts: Record<string, string>; type: string };
  assert.equal(merged.scripts.test, 'walrus-stream test && node --test', '`npm test` runs the scaffold\'s test, not npm\'s failing placeholder');
  assert.equal(merged.type, 'commonjs', 'the project\'s module type is kept');
  assert.match(forced.stdout, /package\.json \(yours, merged: added scripts\.test \(in place of npm init's placeholder, which only fails\), scripts\.start, scripts\.validate, dependencies\.walrus-stream; kept your type\)/);
});

test('init --force leaves a package.json that has what init needs byte for byte (tabs, CRLF, walrus-stream as a devDependency)', { timeout: 30_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-init-pkg-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const mine = {
    name: 'x', type: 'module',
    scripts: { start: 'walrus-stream run topology.yaml', validate: 'walrus-stream validate topology.yaml', test: 'node --test' },
    devDependencies: { 'walrus-stream': '*' },
  };
  const original = JSON.stringify(mine, null, '\t').replace(/\n/g, '\r\n');
  await writeFile(join(dir, 'package.json'), original);
  const forced = await cli(['init', '--force'], dir);
  assert.equal(forced.code, EXIT.OK, forced.stderr);
  assert.equal(await readFile(join(dir, 'package.json'), 'utf8'), original);
  assert.match(forced.stdout, /^ {2}package\.json \(yours, unchanged: it has what init needs; kept your scripts\.start, scripts\.test, devDependencies\.walrus-stream\)$/m);

  // Something missing: added with the file's tabs and CRLF line ends, no final newline added.
  const lean = JSON.stringify({ name: 'x', type: 'commonjs', scripts: {} }, null, '\t').replace(/\n/g, '\r\n');
  await writeFile(join(dir, 'package.json'), lean);
  const again = await cli(['init', '--force'], dir);
  assert.equal(again.code, EXIT.OK, again.stderr);
  assert.match(again.stdout, /package\.json \(yours, merged: added scripts\.start, scripts\.validate, scripts\.test, dependencies\.walrus-stream; kept your type\)/);
  const text = await readFile(join(dir, 'package.json'), 'utf8');
  assert.equal(text, JSON.stringify(JSON.parse(text), null, '\t').replace(/\n/g, '\r\n'));
  assert.deepEqual(Object.keys(JSON.parse(text)), ['name', 'type', 'scripts', 'dependencies']);
});

test('init --force over a package.json it cannot read as one stops with an error naming the file, and writes nothing', { timeout: 30_000 }, async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'walrus-init-pkg-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  const cases: Array<[string, RegExp]> = [
    ['{ "name": "orders", }\n', /^walrus-stream init: proj\/package\.json is not valid JSON \(.+\); fix it \(or move it away\) and run init --force again\. It was left as it is, and nothing was written$/m],
    ['["not", "an", "object"]', /proj\/package\.json does not hold a JSON object/],
    ['{ "name": "orders", "scripts": "npm run x" }', /proj\/package\.json: "scripts" is "npm run x", not an object; fix it/],
  ];
  for (const [bad, error] of cases) {
    const dir = join(base, 'proj');
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir);
    await writeFile(join(dir, 'package.json'), bad);
    const result = await cli(['init', 'proj', '--force'], base);
    assert.equal(result.code, EXIT.INVALID, bad);
    assert.match(result.stderr, error);
    assert.equal(await readFile(join(dir, 'package.json'), 'utf8'), bad, 'the file is left as it was');
    await assert.rejects(readFile(join(dir, 'topology.yaml')), /ENOENT/, 'nothing else was written');
  }
});

test('init rejects more than one directory', async () => {
  const result = await cli(['init', 'a', 'b'], tmpdir());
  assert.equal(result.code, EXIT.USAGE);
});

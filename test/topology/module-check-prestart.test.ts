import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DiagnosticList } from '../../src/topology/validate/diagnostics.js';
import { checkModulesIsolated, guessTypeScript, prestartModuleCheck } from '../../src/topology/validate/isolated-modules.js';

/*
 * `validate` starts the thread that imports the first processor before it
 * parses the topology (isolated-modules.ts), with a guess at the TypeScript
 * loader from the topology's text. The guess only saves time: these tests
 * pin what it reads, and that a prestarted thread — with a right or a wrong
 * guess — gives the same verdicts as a fresh one.
 */

const good = fileURLToPath(new URL('../fixtures/processors/double.ts', import.meta.url));
const exits = fileURLToPath(new URL('../hostile/fixtures/validate-exit0.ts', import.meta.url));

async function project(packageJson: object | undefined, topology: string): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-prestart-'));
  if (packageJson) await writeFile(join(dir, 'package.json'), JSON.stringify(packageJson));
  const file = join(dir, 'topology.yaml');
  await writeFile(file, topology);
  return { dir, file };
}

test('the guess reads the first TypeScript module of the text and the package type next to it', { timeout: 10_000 }, async (t) => {
  const cases: Array<[object | undefined, string, ReturnType<typeof guessTypeScript>]> = [
    [{ type: 'module' }, 'processors:\n  a: { module: ./a.ts, input: x }\n', 'module'],
    [{ name: 'cjs' }, 'processors:\n  a:\n    module: "./a.ts"\n', 'commonjs'],
    [{ type: 'module' }, 'processors:\n  a: { module: ./a.cts }\n', 'commonjs'],
    [undefined, 'processors:\n  a: { module: ./a.mts }\n', 'module'],
    [{ type: 'module' }, 'processors:\n  a: { module: ./a.js }\n  b: { module: ./b.mjs }\n', undefined],
    [{ type: 'module' }, 'processors:\n  a: { module: "${DIR}/a.ts" }\n', undefined],
  ];
  for (const [pkg, text, expected] of cases) {
    const { dir, file } = await project(pkg, text);
    t.after(() => rm(dir, { recursive: true, force: true }));
    assert.equal(guessTypeScript(file), expected, text);
  }
  assert.equal(guessTypeScript(join(tmpdir(), 'no-such-dir-walrus', 'topology.yaml')), undefined);
});

for (const hint of ['module', 'commonjs', undefined] as const) {
  test(`a prestarted thread (guess: ${hint ?? 'none'}) accepts a processor and reports one that exits, like a fresh one`, { timeout: 90_000 }, async () => {
    prestartModuleCheck(hint);
    const out = new DiagnosticList('topology.yaml');
    // The first module takes the prestarted thread, the second a fresh one.
    await checkModulesIsolated(new Map([['bad', exits], ['good', good]]), out);
    const messages = out.all.map((d) => d.message);
    assert.equal(messages.length, 1, messages.join('\n'));
    assert.match(messages[0]!, /^processors\.bad\.module: failed to load: the module ended its process/);
  });
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTopologyText } from '../../src/topology/load.js';
import type { Diagnostic } from '../../src/topology/types.js';

// `!!binary`, `!!timestamp`, `!!set`, `!!omap` turned a value into a byte
// buffer, a Date, a Set or a Map, reported as "got a mapping" where a name
// or a number was expected; an unknown tag (`!!js/function`, `!env X`) was
// dropped with a parser warning nobody saw, and its text used as the value.

const tail = 'sources:\n  s: { topic: in }\nprocessors:\n  p: { module: ./p.mjs, input: s }\nsinks:\n  o: { topic: out, input: p }\n';

async function errors(text: string): Promise<Diagnostic[]> {
  try {
    await loadTopologyText(text, 'topology.yaml', { loadModules: false });
  } catch (error) {
    return (error as { context: { diagnostics: Diagnostic[] } }).context.diagnostics.filter((d) => d.severity === 'error');
  }
  return [];
}

test('a YAML tag other than the core ones is an error at its value naming the tag — not "got a mapping", not silently dropped', async () => {
  const cases: Array<[string, string, number]> = [
    ['app: !!binary aGVsbG8=', '!!binary', 15],
    ['app: !!timestamp 2001-12-14', '!!timestamp', 18],
    ['app: !!set { a, b }', '!!set', 12],
    ['app: !!omap [ { a: 1 } ]', '!!omap', 13],
    ['app: !!js/function "function () { return 1 }"', '!!js/function', 20],
    ['app: !env HOME', '!env', 11],
  ];
  for (const [line, tag, col] of cases) {
    const found = await errors(`${line}\n${tail}`);
    assert.deepEqual(found.map((d) => [d.line, d.col, d.message]), [[1, col,
      `YAML tag ${tag} has no meaning in a topology (values are plain text, numbers, true/false, lists and mappings, and nothing in the file is evaluated): ` +
      `remove ${tag} and write the value itself`]], line);
  }
});

test('core tags (!!str, !!int, ...) and merge keys still load', async () => {
  const found = await errors(`app: !!str a\nworkers: !!int "2"\nx-d: &d { input: s }\n${tail.replace('input: s }', '<<: *d }')}`);
  // Only the module file (not written here) is missing.
  assert.deepEqual(found.filter((d) => !/module/.test(d.message)), [], JSON.stringify(found));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTopologyText } from '../../src/topology/load.js';
import type { Diagnostic } from '../../src/topology/types.js';

// `{ topic: ${TOPIC} }`: in a flow mapping or list YAML reads the "{" of an
// unquoted "${" as a nested mapping. The diagnostics were the parser's:
// "Unexpected flow-map-start at node end — is it indented correctly?" and
// then "Unexpected scalar token in YAML stream: "processors" — is it indented
// correctly?" for every line after it, all pointing at indentation.

async function diagnostics(text: string): Promise<Diagnostic[]> {
  try {
    await loadTopologyText(text, 'topology.yaml', { loadModules: false, env: { T: 'in', N: '2', X: 'x' } });
  } catch (error) {
    return (error as { context: { diagnostics: Diagnostic[] } }).context.diagnostics;
  }
  assert.fail('the topology loaded');
}

const tail = 'processors:\n  p: { module: ./p.mjs, input: s }\nsinks:\n  o: { topic: out, input: p }\n';

test('an unquoted ${VAR} in a flow mapping or list is one error at it, saying to quote it and how — not "is it indented correctly?" on every later line', async () => {
  const mapping = await diagnostics(`app: a\nsources:\n  s: { topic: \${T}, partitions: 2 }\n${tail}`);
  assert.deepEqual(mapping.map((d) => [d.line, d.col, d.message]), [[3, 16,
    'YAML syntax: ${T} inside { ... } or [ ... ] must be quoted, or YAML reads the "{" of "${" as the start of a mapping: write "${T}" ' +
    '(the errors the parser found after it follow from this one and are not shown)']]);

  const url = await diagnostics(`app: a\nsources:\n  s: { topic: in }\nprocessors:\n  p: { module: ./p.mjs, input: s, config: { url: http://h/\${X} } }\nsinks:\n  o: { topic: out, input: p }\n`);
  assert.equal(url.length, 1, JSON.stringify(url));
  assert.match(url[0]!.message, /^YAML syntax: http:\/\/h\/\$\{X\} inside .* write "http:\/\/h\/\$\{X\}"/);

  const list = await diagnostics(`app: a\nsources:\n  s: { topic: in }\nprocessors:\n  p: { module: ./p.mjs, input: s, outputs: [a, \${X:-b}] }\nsinks:\n  o: { topic: out, input: p.a }\n`);
  assert.deepEqual(list.map((d) => [d.line, d.message]), [[5,
    'YAML syntax: ${X:-b} inside { ... } or [ ... ] must be quoted, or YAML reads the "{" of "${" as the start of a mapping: write "${X:-b}"']]);
});

test('quoted in a flow mapping, or unquoted in a block mapping, ${VAR} still works', async () => {
  for (const text of [`app: a\nsources:\n  s: { topic: "\${T}", partitions: "\${N}" }\n${tail}`, `app: a\nsources:\n  s:\n    topic: \${T}\n    partitions: \${N}\n${tail}`]) {
    const found = await diagnostics(text);
    // Only the module file (not written here) is missing.
    assert.deepEqual(found.filter((d) => d.severity === 'error' && !/module/.test(d.message)), [], JSON.stringify(found));
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diagnosticsOf, formatReport, loadTopology } from '../../src/topology/index.js';
import { fileURLToPath } from 'node:url';
import { topologyJsonSchema, type JsonSchema } from '../../src/topology/schema/json-schema.js';
import { BEGIN_MARKER, headingText, referenceMarkdown, spliceReference } from '../../src/topology/schema/reference-docs.js';

const docsUrl = new URL('../../docs/topology.md', import.meta.url);

test('docs/topology.md carries the reference generated from the schema (run `npm run docs:topology`)', async () => {
  const doc = await readFile(docsUrl, 'utf8');
  assert.ok(doc.includes(BEGIN_MARKER));
  assert.equal(spliceReference(doc), doc, 'docs/topology.md is stale: run `npm run docs:topology`');
});

test('the reference documents every key at every level, with its default', () => {
  const reference = referenceMarkdown();
  const missing: string[] = [];
  const walk = (node: JsonSchema, path: string): void => {
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      const row = reference.split('\n').find((line) => line.startsWith(`| \`${key}\` |`) && reference.indexOf(line) > reference.indexOf(`### ${headingText(path || 'top level')}\n`));
      if (!row) missing.push(path ? `${path}.${key}` : key);
      else if (child.default !== undefined) assert.ok(row.includes(`\`${typeof child.default === 'string' ? child.default : JSON.stringify(child.default)}\``), `${path}.${key}: default missing`);
      walk(child, path ? `${path}.${key}` : key);
    }
    if (typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${path}.<name>`);
  };
  walk(topologyJsonSchema(), '');
  assert.deepEqual(missing, []);
});

test('the example at the top of docs/topology.md is a valid topology', async () => {
  const doc = await readFile(docsUrl, 'utf8');
  const example = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(example, 'no yaml example found');
  const dir = await mkdtemp(join(tmpdir(), 'walrus-topology-docs-'));
  try {
    await mkdir(join(dir, 'processors'));
    // Only existence is checked here (no loadModules), so empty files will do.
    await writeFile(join(dir, 'processors/parse.ts'), '');
    await writeFile(join(dir, 'processors/enrich.ts'), '');
    await writeFile(join(dir, 'topology.yaml'), example);
    const { topology, warnings } = await loadTopology(join(dir, 'topology.yaml'), { env: {} });
    assert.deepEqual(warnings, []);
    assert.deepEqual(topology.cluster.nodes, ['127.0.0.1:9091', '127.0.0.1:9092']);
    assert.deepEqual(Object.keys(topology.sinks), ['accepted', 'rejected']);
    assert.equal(topology.processors.parse!.deadLetter, 'orders.dlq');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the error listing shown in docs/topology.md is what validation prints for its example', async () => {
  const doc = await readFile(docsUrl, 'utf8');
  const shown = /Every problem is reported at once[\s\S]*?```\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(shown, 'no error listing found');
  const cwd = fileURLToPath(new URL('../fixtures/topologies/docs-example/', import.meta.url));
  const error = await loadTopology('topology.yaml', { cwd, env: {} }).then(() => undefined, (e: unknown) => e);
  const diagnostics = diagnosticsOf(error);
  assert.ok(diagnostics, 'the docs example must be invalid');
  assert.equal(formatReport('topology.yaml', diagnostics), shown);
});

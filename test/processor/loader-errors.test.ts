import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadProcessorModule } from '../../src/processor/loader.js';

// A module that cannot load says where in the user's file, and the fix fits the module's kind.

async function problemOf(files: Record<string, string>, module: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-loader-'));
  try {
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    const result = await loadProcessorModule(join(dir, module));
    assert.equal(result.ok, false);
    return (result.ok ? '' : result.problem).replaceAll(dir, '<dir>');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('a JavaScript syntax error names its file and line (the error itself names neither)', async () => {
  const module = { 'package.json': '{"type":"module"}', 'p.js': 'export default {\n  process(r) {\n    return r.value }}\n}\n' };
  assert.equal(await problemOf(module, 'p.js'), "failed to load: Unexpected token '}' (at <dir>/p.js:4)");
  assert.equal(await problemOf({ 'p.cjs': 'module.exports = {\n  a: 1,,\n};\n' }, 'p.cjs'), "failed to load: Unexpected token ',' (at <dir>/p.cjs:2)");
});

test('an error thrown while importing names the line of the module that threw', async () => {
  const module = { 'package.json': '{"type":"module"}', 'p.mjs': "const settings = '{x';\nexport default JSON.parse(settings);\n" };
  assert.match(await problemOf(module, 'p.mjs'), /^failed to load: Expected property name .* \(at <dir>\/p\.mjs:2:\d+\)$/);
});

test('a CommonJS module without the processor is told to use module.exports, an ES module export default', async () => {
  assert.match(await problemOf({ 'p.cjs': 'exports.process = () => 1;\n' }, 'p.cjs'), /module\.exports = defineProcessor/);
  assert.match(await problemOf({ 'package.json': '{"type":"module"}', 'p.js': 'export const x = 1;\n' }, 'p.js'), /export default defineProcessor/);
});

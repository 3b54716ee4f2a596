import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rssOf } from '../helpers/rss.js';

const BIN = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));
const hostile = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const good = fileURLToPath(new URL('../fixtures/processors/double.ts', import.meta.url));
const processorApi = fileURLToPath(new URL('../../src/processor/index.ts', import.meta.url));

async function validate(yaml: string, extra: string[] = []) {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-validate-'));
  const file = join(dir, 'topology.yaml');
  await writeFile(file, yaml);
  const child = spawn(process.execPath, [BIN, 'validate', file, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => { stdout += c.toString(); });
  child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  let peak = 0;
  const sampler = setInterval(() => { peak = Math.max(peak, rssOf(child.pid!)); }, 20);
  const killer = setTimeout(() => child.kill('SIGKILL'), 75_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearInterval(sampler);
  clearTimeout(killer);
  await rm(dir, { recursive: true, force: true });
  return { code, stdout, stderr, peak };
}

const topology = (modules: Record<string, string>) => `
app: v
sources:
  in: { topic: in }
processors:
${Object.entries(modules).map(([name, module]) => `  ${name}: { module: ${JSON.stringify(module)}, input: in }`).join('\n')}
sinks:
${Object.keys(modules).map((name) => `  ${name}-out: { topic: ${name}-out, input: ${name} }`).join('\n')}
`;

test('validate: a module that calls process.exit(0) at import is reported as broken (exit 1, naming it), not taken for a valid topology', { timeout: 90_000 }, async () => {
  const run = await validate(topology({ ok: good, quits: hostile('validate-exit0.ts') }));
  assert.equal(run.code, 1, `stdout: ${run.stdout} stderr: ${run.stderr}`);
  assert.match(run.stderr, /topology\.yaml:7:\d+: error: processors\.quits\.module: failed to load: the module ended its process \(process\.exit\(0\)\) while being imported/);
  assert.doesNotMatch(run.stdout, /ok/);
});

test('validate: modules that hang at import (top-level await, endless loop) are each reported as broken after --module-timeout', { timeout: 90_000 }, async (t) => {
  const started = Date.now();
  const run = await validate(topology({ waits: hostile('validate-await-forever.ts'), spins: hostile('validate-spin.ts'), ok: good }), ['--module-timeout', '4000']);
  t.diagnostic(`${Date.now() - started} ms`);
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr, /processors\.waits\.module: failed to load: importing it did not finish within 4000 ms/);
  assert.match(run.stderr, /processors\.spins\.module: failed to load: importing it did not finish within 4000 ms/);
  assert.doesNotMatch(run.stderr, /processors\.ok\.module/);
  assert.match(run.stderr, /: 2 errors/);
});

test('validate: a module that allocates without bound at import is stopped at the check thread\'s heap limit and reported as broken', { timeout: 90_000 }, async (t) => {
  // A long import timeout: only the heap limit may stop it, however loaded the machine.
  const run = await validate(topology({ hoards: hostile('validate-alloc.ts'), ok: good }), ['--module-timeout', '60000']);
  t.diagnostic(`peak RSS ${Math.round(run.peak / 1024 / 1024)} MiB`);
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr, /processors\.hoards\.module: failed to load: importing it used more than 256 MB of heap/);
  assert.match(run.stderr, /: 1 error\n/);
  assert.ok(run.peak < 700 * 1024 * 1024, `validate used ${Math.round(run.peak / 1024 / 1024)} MiB`);
});

test('validate: processors sharing one module file import it once (it counts its imports); a broken shared module is reported for each processor using it', { timeout: 90_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-validate-shared-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const counter = join(dir, 'imports.log');
  const shared = join(dir, 'counted.ts');
  // A processor module that appends a line to `counter` each time it is imported.
  await writeFile(shared, `import { appendFileSync } from 'node:fs';\nimport { defineProcessor } from ${JSON.stringify(processorApi)};\n` +
    `appendFileSync(${JSON.stringify(counter)}, 'x\\n');\nexport default defineProcessor({ process: (r) => r.value });\n`);
  const names = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`p${i}`, shared]));
  const run = await validate(topology(names));
  assert.equal(run.code, 0, `stdout: ${run.stdout} stderr: ${run.stderr}`);
  assert.match(run.stdout, /40 processors/);
  assert.equal(readFileSync(counter, 'utf8'), 'x\n', 'one import for 40 processors');
  const broken = await validate(topology({ a: hostile('validate-exit0.ts'), b: good, c: hostile('validate-exit0.ts') }));
  assert.equal(broken.code, 1);
  for (const name of ['a', 'c']) assert.match(broken.stderr, new RegExp(`processors\\.${name}\\.module: failed to load: the module ended its process`));
  assert.doesNotMatch(broken.stderr, /processors\.b\.module/);
});

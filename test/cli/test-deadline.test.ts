import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// `walrus-stream test` ran processors on its own thread: one stuck in a synchronous loop (`for (;;) {}`) in
// process() or init() hung it for ever (a CI job with it never ended). Each case now runs in a worker thread
// with a deadline (--timeout, default 10 s): past it the thread is terminated, the case fails naming the
// processor, the case and the deadline, the next case runs, and the command exits 1 (a case failed).

const BIN = join(fileURLToPath(new URL('../../', import.meta.url)), 'bin', 'walrus-stream.js');
const BRAND = "[Symbol.for('walrus-stream.processor')]: true";
const TOPOLOGY = 'app: spins\nsources:\n  in: { topic: in, format: text, serializer: string }\nprocessors:\n' +
  '  upper: { module: ./upper.mjs, input: in }\n  spin: { module: ./spin.mjs, input: upper }\nsinks:\n  out: { topic: out, input: spin }\n';
const CASES = 'tests:\n' +
  '  - name: loops\n    input: { in: [{ value: loop }] }\n    expect: { sinks: { out: [{ value: LOOP }] } }\n' +
  '  - name: passes after\n    input: { in: [{ value: fine }] }\n    expect: { sinks: { out: [{ value: FINE }] } }\n';

async function runTest(files: Record<string, string>, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-test-deadline-'));
  try {
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    const started = performance.now();
    const child = spawn(process.execPath, [BIN, 'test', ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => { stdout += String(c); });
    child.stderr.on('data', (c) => { stderr += String(c); });
    // Before: it never ended. Killed here so the assertion below says so instead of the test timing out.
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    clearTimeout(killer);
    return { code, stdout, stderr, ms: performance.now() - started };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('test: a processor looping for ever in process() fails its case at the deadline, naming it; the next case still runs; exit 1', { timeout: 30_000 }, async () => {
  const r = await runTest({
    'topology.yaml': TOPOLOGY,
    'upper.mjs': `export default { ${BRAND}, process: (r) => r.value.toUpperCase() };\n`,
    'spin.mjs': `export default { ${BRAND}, process(r) { if (r.value === 'LOOP') for (;;) {} return r.value; } };\n`,
    'spins.test.yaml': CASES,
  }, ['--timeout', '1500']);
  assert.equal(r.code, 1, `ended after ${Math.round(r.ms)} ms (null: killed after 20 s, still running)\n${r.stdout}\n${r.stderr}`);
  assert.ok(r.ms < 1500 + 6000, `took ${Math.round(r.ms)} ms`);
  assert.match(r.stdout, /^ {2}FAIL loops \(\d+ ms\) {2}spins\.test\.yaml:2\n {6}error: processor "spin" in case "loops" did not finish within the case deadline of 1500 ms, and was stopped \(a synchronous endless loop in init\(\) or process\(\)\?\); fix the processor, or give the case longer with --timeout <ms>\n/m);
  assert.match(r.stdout, /^ {2}ok {3}passes after \(\d+ ms\)$/m);
  assert.match(r.stdout, /^1 passed, 1 failed \(/m);
});

test('test: a processor looping for ever in init() fails each case at the deadline, naming it; exit 1', { timeout: 30_000 }, async () => {
  const r = await runTest({
    'topology.yaml': TOPOLOGY,
    'upper.mjs': `export default { ${BRAND}, process: (r) => r.value.toUpperCase() };\n`,
    'spin.mjs': `export default { ${BRAND}, init() { for (;;) {} }, process: (r) => r.value };\n`,
    'spins.test.yaml': CASES.split('  - name: passes after')[0]!,
  }, ['--timeout', '1000']);
  assert.equal(r.code, 1, `ended after ${Math.round(r.ms)} ms (null: killed after 20 s, still running)\n${r.stdout}\n${r.stderr}`);
  assert.ok(r.ms < 1000 + 6000, `took ${Math.round(r.ms)} ms`);
  assert.match(r.stdout, /error: processor "spin" in case "loops" did not finish within the case deadline of 1000 ms/);
  assert.match(r.stdout, /^0 passed, 1 failed \(/m);
});

test('test: a processor module looping for ever at import fails the file at the deadline, naming it; the command ends', { timeout: 30_000 }, async () => {
  const r = await runTest({
    'topology.yaml': TOPOLOGY,
    'upper.mjs': `export default { ${BRAND}, process: (r) => r.value.toUpperCase() };\n`,
    'spin.mjs': `for (;;) {}\nexport default { ${BRAND}, process: (r) => r.value };\n`,
    'spins.test.yaml': CASES,
  }, ['--timeout', '1500']);
  assert.notEqual(r.code, null, `still running after 20 s (killed)\n${r.stdout}\n${r.stderr}`);
  assert.equal(r.code, 3, `${r.stdout}\n${r.stderr}`);
  assert.ok(r.ms < 1500 + 6000, `took ${Math.round(r.ms)} ms`);
  assert.match(`${r.stdout}${r.stderr}`, /spins\.test\.yaml: its topology's processors did not finish loading within 1500 ms \(a synchronous endless loop, or a wait that never ends, at a module's import\?\), and the thread was stopped; fix the module, or give it longer with --timeout <ms>/);
});

test('test: a processor whose timer throws during a case fails that case, naming it and the error; the next case still runs; exit 1', { timeout: 30_000 }, async () => {
  const r = await runTest({
    'topology.yaml': TOPOLOGY,
    'upper.mjs': `export default { ${BRAND}, process: (r) => r.value.toUpperCase() };\n`,
    'spin.mjs': `export default { ${BRAND}, process(r) {\n` +
      `  if (r.value === 'LOOP') setTimeout(() => { throw new Error('late boom'); }, 10);\n` +
      `  return new Promise((resolve) => setTimeout(() => resolve(r.value), 300));\n} };\n`,
    'spins.test.yaml': CASES,
  }, ['--timeout', '5000']);
  assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /^ {2}FAIL loops \(\d+ ms\) {2}spins\.test\.yaml:2\n {6}error: processor "spin" in case "loops" threw where nothing catches it \(in a timer or event callback process\(\) did not await\?\): late boom\n/m);
  assert.match(r.stdout, /^ {2}ok {3}passes after \(\d+ ms\)$/m);
  assert.match(r.stdout, /^1 passed, 1 failed \(/m);
});

test('test --timeout must be whole milliseconds: a usage error (exit 2) otherwise', { timeout: 30_000 }, async () => {
  for (const bad of ['0', '1.5', 'soon']) {
    const r = await runTest({}, ['--timeout', bad]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^walrus-stream test: --timeout expects milliseconds from 1 to \\d+ \\(real time one case may take\\), got "${bad.replace('.', '\\.')}"\\n`));
  }
});

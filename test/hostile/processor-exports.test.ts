import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Processor modules that are hostile to the loader itself, through the real CLI.

const BIN = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));
const VALIDATE = ['validate', 'topology.yaml'];
const RUN = ['run', 'topology.yaml', '--until-idle', '--metrics-address', 'false'];
const BRAND = "[Symbol.for('walrus-stream.processor')]: true";

async function cli(modules: Record<string, string>, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-exports-'));
  try {
    for (const [name, text] of Object.entries(modules)) await writeFile(join(dir, `${name}.mjs`), text);
    await writeFile(join(dir, 'topology.yaml'), [
      'app: exports', 'stateDir: ./state', 'workers: 1', 'cluster:', '  embedded:', '    dataDir: ./state/node',
      'sources:', '  in: { topic: in, format: text, serializer: string }', 'processors:',
      ...Object.keys(modules).map((name) => `  ${name}: { module: ./${name}.mjs, input: in }`), '',
    ].join('\n'));
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => { stdout += String(c); });
    child.stderr.on('data', (c) => { stderr += String(c); });
    const killer = setTimeout(() => child.kill('SIGKILL'), 50_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearTimeout(killer);
    return { code, stdout, stderr };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('a default export whose Proxy trap or getter throws when looked at is "not a processor", with the fix; not a bare "failed to load: <trap message>"', { timeout: 60_000 }, async () => {
  const modules = {
    proxied: "export default new Proxy({}, { get() { throw new Error('trap'); } });",
    getter: `export default { get ${BRAND.split(':')[0]}() { throw new Error('getter boom'); } };`,
  };
  const validate = await cli(modules, VALIDATE);
  assert.equal(validate.code, 1, validate.stderr);
  assert.match(validate.stderr, /topology\.yaml:10:\d+: error: processors\.proxied\.module: reading its default export threw \(trap: a Proxy or a getter\?\); write `export default defineProcessor/);
  assert.match(validate.stderr, /topology\.yaml:11:\d+: error: processors\.getter\.module: reading its default export threw \(getter boom: a Proxy or a getter\?\)/);
  const run = await cli({ proxied: modules.proxied }, RUN);
  assert.equal(run.code, 3, run.stderr);
  assert.match(run.stderr, /processor "proxied" \(.*proxied\.mjs\) failed to load: processor module .*proxied\.mjs must default-export defineProcessor\(\{\.\.\.\}\): reading its default export threw \(trap/);
});

test('run: an init() that throws (an Error, a string, a throwing getter) is named as init() with its file:line, not as the module failing to load', { timeout: 90_000 }, async () => {
  const cases = {
    error: `export default { ${BRAND}, process() {},\n  init() { throw new Error('db unreachable'); } };`,
    text: `export default { ${BRAND}, process() {}, init() { throw 'not an Error'; } };`,
    getter: `export default { ${BRAND}, process() {},\n  get init() { throw new Error('init getter'); } };`,
  };
  const error = await cli({ initerror: cases.error }, RUN);
  assert.equal(error.code, 3, error.stderr);
  assert.match(error.stderr, /processor "initerror" \(.*initerror\.mjs\) failed to load: its init\(\) threw: db unreachable \(at .*initerror\.mjs:2:\d+\); the processor does not start until init\(\) succeeds/);
  const text = await cli({ inittext: cases.text }, RUN);
  assert.match(text.stderr, /processor "inittext" \(.*inittext\.mjs\) failed to load: its init\(\) threw: not an Error; the processor/);
  const getter = await cli({ initgetter: cases.getter }, RUN);
  assert.match(getter.stderr, /processor "initgetter" \(.*initgetter\.mjs\) failed to load: its init\(\) threw: init getter \(at .*initgetter\.mjs:2:\d+\)/);
});

test('run: a module that calls process.exit() at import or in init() is named as ending its worker thread, not "worker exited with code: 0"', { timeout: 90_000 }, async () => {
  const atImport = await cli({ quits: 'process.exit(0);\n' }, RUN);
  assert.equal(atImport.code, 3, atImport.stderr);
  assert.match(atImport.stderr, /processor "quits" \(.*quits\.mjs\) failed to load: its worker thread ended \(process\.exit\(0\)\) while importing the module or running its init\(\); a processor must not call process\.exit\(\): throw an Error to fail/);
  const inInit = await cli({ initquits: `export default { ${BRAND}, process() {}, init() { process.exit(7); } };` }, RUN);
  assert.equal(inInit.code, 3, inInit.stderr);
  assert.match(inInit.stderr, /processor "initquits" \(.*initquits\.mjs\) failed to load: its worker thread ended \(process\.exit\(7\)\)/);
});

test('a module path that is a directory is named as a directory, not "file not found"', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-exports-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'proc.mjs'));
  await writeFile(join(dir, 'topology.yaml'), 'app: d\nsources:\n  in: { topic: in }\nprocessors:\n  p: { module: ./proc.mjs, input: in }\n');
  const child = spawn(process.execPath, [BIN, 'validate', 'topology.yaml'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => { stderr += String(c); });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 1, stderr);
  assert.match(stderr, /topology\.yaml:5:\d+: error: processors\.p\.module: \.\/proc\.mjs \(.*proc\.mjs\) is a directory, not a file; point module at the processor's source file/);
});

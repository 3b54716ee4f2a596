import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../state/run-cli.js';
import { harness } from './harness.js';

// A processor module whose top level, or whose init(), throws something that is not an Error. The start
// failed naming neither what was thrown nor where: a Symbol (which cannot cross from the worker thread as an
// Error's cause) gave `failed to load: [object Object]` without saying init() or import, a plain object gave
// `[object Object]`, an object whose toString throws gave that toString's own message (`no`).

const BRAND = "[Symbol.for('walrus-stream.processor')]: true";
const CASES: Array<{ name: string; module: string; expect: RegExp }> = [
  { name: 'import-symbol', module: "throw Symbol('boom');\nexport default {};\n",
    expect: /cannot load processor module \S+import-symbol\.mjs: Symbol\(boom\) \(thrown instead of an Error\)/ },
  { name: 'import-object', module: 'throw { code: 7 };\nexport default {};\n',
    expect: /cannot load processor module \S+import-object\.mjs: \{"code":7\} \(thrown instead of an Error\)/ },
  { name: 'import-tostring', module: "throw { toString() { throw new Error('tostring threw'); } };\nexport default {};\n",
    expect: /cannot load processor module \S+import-tostring\.mjs: \{\} \[object Object\] \(thrown instead of an Error\)/ },
  { name: 'init-symbol', module: `export default { ${BRAND}, init() { throw Symbol('no init'); }, process(r) { return r.value; } };\n`,
    expect: /its init\(\) threw: Symbol\(no init\) \(thrown instead of an Error\); the processor does not start until init\(\) succeeds/ },
  { name: 'init-object', module: `export default { ${BRAND}, init() { throw { reason: 'no table' }; }, process(r) { return r.value; } };\n`,
    expect: /its init\(\) threw: \{"reason":"no table"\} \(thrown instead of an Error\); the processor/ },
];

test('a module or an init() that throws a Symbol, a plain object or an object whose toString throws fails run at start (exit 3) saying what was thrown and where', { timeout: 180_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  for (const c of CASES) {
    const module = join(h.stateDir, `${c.name}.mjs`);
    await writeFile(module, c.module);
    const file = join(h.stateDir, `${c.name}.yaml`);
    await writeFile(file, `
app: ${c.name}
stateDir: ${JSON.stringify(join(h.stateDir, 'state'))}
workers: 1
sources:
  in: { topic: ${c.name}.in }
processors:
  p: { module: ${JSON.stringify(module)}, input: in }
sinks:
  out: { topic: ${c.name}.out, input: p }
`);
    const run = await runCli(['run', file, '--nodes', h.broker.address, '--until-idle', '--progress-interval', '0']);
    assert.equal(run.code, 3, `${c.name}: ${run.stderr.slice(-2000)}`);
    const line = run.stderr.split('\n').find((l) => l.startsWith('walrus-stream run: PROCESSOR_LOAD_FAILED')) ?? run.stderr;
    assert.match(line, new RegExp(`processor "p" \\(${module.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\) failed to load`), c.name);
    assert.match(line, c.expect, c.name);
  }
});

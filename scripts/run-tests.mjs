#!/usr/bin/env node
// Node 20's test runner does not expand globs, so we list the test files
// ourselves: every `*.test.ts` under test/ (sorted, so runs are repeatable).
// Extra arguments filter by substring: `node scripts/run-tests.mjs broker`.
// `--typecheck` (npm test) also type-checks the project (tsc --noEmit, tests
// and benchmarks included) while the tests run, and fails if either fails:
// the checker's ~20 s of CPU then fits in the suite's idle moments instead
// of running before it.
import { readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const typecheck = process.argv.includes('--typecheck');
const filters = process.argv.slice(2).filter((a) => a !== '--typecheck');

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === 'fixtures' || name === 'node_modules') continue;
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...walk(full));
    else if (name.endsWith('.test.ts')) out.push(relative(root, full));
  }
  return out;
}

const files = walk(join(root, 'test'))
  .sort()
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error(`no test files matched ${filters.join(' ') || '(all)'}`);
  process.exit(1);
}

/** Runs a child to its end: its exit code (1 when a signal ended it), its output when `capture`. */
function run(args, capture) {
  const child = spawn(process.execPath, args, { cwd: root, stdio: capture ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
  let output = '';
  if (capture) for (const stream of [child.stdout, child.stderr]) stream.on('data', (chunk) => { output += chunk; });
  return new Promise((resolve) => {
    child.on('error', (error) => resolve({ code: 1, output: `${output}${error.message}\n` }));
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

// Tests that run the CLI or pack the package use dist/: build it first when a
// source is newer (this is `npm test`'s build step), so that no test rebuilds
// it (removing it) while another one runs it.
const built = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs'), '--if-stale'], { cwd: root, stdio: 'inherit' });
if (built.status !== 0) process.exit(built.status ?? 1);
// The build is now that of these sources: the pool's worker threads run it
// (src/runtime/worker/worker-entry.mjs) instead of each loading the sources
// through tsx. WALRUS_STREAM_TEST_WORKER=source keeps the sources.
process.env.WALRUS_STREAM_TEST_WORKER ??= 'built';

const checking = typecheck ? run([createRequire(import.meta.url).resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.json'), '--noEmit'], true) : undefined;
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const tests = await run(['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files], false);
let code = tests.code;
if (checking) {
  const checked = await checking;
  if (checked.code !== 0) {
    process.stderr.write(`${checked.output}\ntype check failed (tsc -p tsconfig.json --noEmit, exit code ${checked.code}): fix the errors above\n`);
    code = code || checked.code;
  } else process.stdout.write('type check passed (tsc -p tsconfig.json --noEmit)\n');
}
process.exit(code);

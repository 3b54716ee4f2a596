import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT, seedProject } from '../helpers/seed-project.js';

/** Topology values at the edges of what the schema accepts, run by the real CLI. */

const BIN = join(ROOT, 'bin', 'walrus-stream.js');

function cli(dir: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => { stdout += String(c); });
  child.stderr.on('data', (c) => { stderr += String(c); });
  const killer = setTimeout(() => child.kill('SIGKILL'), 40_000);
  return new Promise((resolve) => child.once('close', (code) => { clearTimeout(killer); resolve({ code, stdout, stderr }); }));
}

test('a source with a tiny rateLimit (1e-6 records/s) waits quietly: its wait passed the longest timer Node.js sets, so it woke every millisecond and printed hundreds of TimeoutOverflowWarnings a second', { timeout: 60_000 }, async (t) => {
  const dir = await seedProject('slowrate');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'topology.yaml');
  await writeFile(file, (await readFile(file, 'utf8')).replace('serializer: string }', 'serializer: string, rateLimit: 0.000001 }'));
  await writeFile(join(dir, 'lines.txt'), 'one\ntwo\nthree\n');
  const child = spawn(process.execPath, [BIN, 'run', 'topology.yaml', '--seed', 'in=lines.txt', '--json', '--metrics-address', 'false'],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => { stdout += String(c); });
  let running = false;
  child.stderr.on('data', (c) => {
    stderr += String(c);
    // Running (the first progress line): the source reads the seeded lines, then waits out its rate.
    if (!running && /"type":"progress"/.test(stderr)) {
      running = true;
      setTimeout(() => child.kill('SIGINT'), 3_000).unref();
    }
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 40_000);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(killer);
  const warnings = stderr.split('\n').filter((l) => l.includes('TimeoutOverflowWarning')).length;
  assert.equal(warnings, 0, `${warnings} TimeoutOverflowWarning lines in 3 s; stderr begins: ${stderr.slice(0, 600)}`);
  assert.equal(code, 130, stderr);
  const summary = JSON.parse(stdout.trim().split('\n').at(-1)!) as { sources: { in: { records: number } }; processors: { echo: { processed: number } } };
  assert.equal(summary.sources.in.records, 3);
  assert.equal(summary.processors.echo.processed, 3);
});

test('validate refuses a default changelog topic <app>-<store>-changelog longer than the protocol allows, at the store — it said "ok" and run stopped with "INVALID_TOPIC: Invalid topic name: topic is 252 characters long", naming no topic', { timeout: 60_000 }, async (t) => {
  const dir = await seedProject('a'.repeat(240));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'topology.yaml');
  await writeFile(file, `${(await readFile(file, 'utf8')).replace('input: in }', 'input: in, ordering: key, stores: [s] }')}stores:\n  s: {}\n`);
  for (const args of [['validate', '--no-modules'], ['run', 'topology.yaml', '--until-idle', '--metrics-address', 'false']]) {
    const r = await cli(dir, args);
    assert.equal(r.code, 1, `${args[0]}: ${r.stdout}${r.stderr}`);
    assert.match(`${r.stdout}${r.stderr}`, new RegExp(`topology\\.yaml:12:3: error: stores\\.s \\(changelog\\): topic "a{240}-s-changelog" is invalid \\(topic is 252 characters long, the limit is 249\\); it is <app>-<store>-changelog by default: set changelog to a shorter topic or shorten the app or store name`), args[0]);
  }
});

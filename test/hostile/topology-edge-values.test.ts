import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT, seedProject } from '../helpers/seed-project.js';

/** Topology values at the edges of what the schema accepts, run by the real CLI. */

const BIN = join(ROOT, 'bin', 'walrus-stream.js');

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

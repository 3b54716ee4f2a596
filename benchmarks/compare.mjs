#!/usr/bin/env node
/**
 * Side-by-side benchmark of the working tree against another commit, in
 * interleaved rounds (base, current, base, current, ...) so that the shared
 * machine's drift hits both alike; prints every round and the medians.
 *
 *   npm run bench:compare -- <git ref> [rounds=4] [pipeline|state]
 *
 * `pipeline` runs case (a) of bench:pipeline (BENCH_ONLY=a), `state` the
 * end-to-end stateful rows of bench:state (BENCH_ONLY=workers). The other
 * commit is checked out in a temporary git worktree that borrows this
 * checkout's node_modules and runs this checkout's copy of the benchmark
 * file, so both sides measure the same thing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const [ref, roundsArg = '4', kind = 'pipeline'] = process.argv.slice(2);
if (!ref || !['pipeline', 'state'].includes(kind) || !(Number(roundsArg) > 0)) {
  process.stderr.write('usage: npm run bench:compare -- <git ref> [rounds=4] [pipeline|state]\n');
  process.exit(2);
}
const rounds = Number(roundsArg);
const here = resolve(new URL('..', import.meta.url).pathname);
const files = kind === 'pipeline' ? ['benchmarks/pipeline.bench.ts'] : ['benchmarks/state.bench.ts', 'benchmarks/state-workers.ts'];
const env = { ...process.env, BENCH_ONLY: kind === 'pipeline' ? 'a' : 'workers' };

const base = mkdtempSync(join(tmpdir(), 'walrus-bench-base-'));
execFileSync('git', ['worktree', 'add', '--detach', '-f', base, ref], { cwd: here, stdio: 'ignore' });
try {
  symlinkSync(join(here, 'node_modules'), join(base, 'node_modules'));
  for (const f of files) copyFileSync(join(here, f), join(base, f));
  const rows = [];
  for (let round = 1; round <= rounds; round++) {
    for (const [side, dir] of [['base', base], ['current', here]]) {
      const run = spawnSync(process.execPath, ['--import', 'tsx', files[0]], { cwd: dir, env, encoding: 'utf8' });
      if (run.status !== 0) throw new Error(`${side} run failed:\n${run.stderr}`);
      // Table rows: | label | ... | records/s | CPU µs/record | coordinator CPU µs/record |
      for (const line of run.stdout.split('\n').filter((l) => l.startsWith('| (a)') || l.includes('count by key'))) {
        const cells = line.split('|').map((c) => c.trim()).filter(Boolean);
        const num = (s) => Number(s.replace(/,/g, ''));
        const [rate, cpu, coord] = cells.slice(-3).map(num);
        const row = { round, side, case: kind === 'state' ? `fsync ${cells[1]}` : 'case (a)', 'records/s': rate, 'CPU µs/record': cpu, 'coordinator CPU µs/record': coord };
        rows.push(row);
        process.stdout.write(`${JSON.stringify(row)}\n`);
      }
    }
  }
  const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
  process.stdout.write(`\n${kind}: ${ref} (base) vs the working tree (current), ${rounds} interleaved rounds, medians\n`);
  process.stdout.write('| side | runs | records/s | CPU µs/record | coordinator CPU µs/record |\n|---|---:|---:|---:|---:|\n');
  for (const side of ['base', 'current']) {
    const mine = rows.filter((r) => r.side === side);
    process.stdout.write(`| ${side} | ${mine.length} | ${Math.round(median(mine.map((r) => r['records/s']))).toLocaleString('en-US')} | ${median(mine.map((r) => r['CPU µs/record'])).toFixed(1)} | ${median(mine.map((r) => r['coordinator CPU µs/record'])).toFixed(1)} |\n`);
  }
} finally {
  rmSync(base, { recursive: true, force: true });
  execFileSync('git', ['worktree', 'prune'], { cwd: here, stdio: 'ignore' });
}

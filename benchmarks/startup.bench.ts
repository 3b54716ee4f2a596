/**
 * Start-up of the CLI, as a user meets it: the built package (dist/), a
 * project whose one TypeScript processor imports 'walrus-stream/processor'
 * (what `init` scaffolds and the docs show). Cases, run
 * interleaved round by round so machine load hits them alike, each against a
 * bare `node -e 0` measured in the same run:
 *
 *   --help                  the CLI's cheapest path
 *   validate                topology + importing the processor (compiled, the package)
 *   validate, full entry    the same with the processor importing 'walrus-stream'
 *                           (the whole library) instead
 *   run → first record      spawn until the processor sees its first record
 *                           (one seeded record, embedded node, one worker),
 *                           and the run's peak RSS (Linux: VmHWM)
 *
 *   npm run bench:startup                     # 7 rounds
 *   BENCH_ROUNDS=15 npm run bench:startup     # steadier medians
 *   BENCH_COMPARE=../other-checkout npm run bench:startup
 *       # the same cases for another built checkout (e.g. the commit before
 *       # a change), interleaved with these: before and after side by side
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { printTable } from './lib/table.js';

const root = fileURLToPath(new URL('..', import.meta.url));
/** Another checkout to measure alongside (built; its own node_modules). */
const COMPARE = process.env.BENCH_COMPARE;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);

const PROCESSOR = (entry: string) => `import { writeSync } from 'node:fs';
import { defineProcessor } from '${entry}';

let seen = false;
export default defineProcessor<string, string>({
  process(record) {
    // Synchronous, straight to fd 2: the bench times its arrival.
    if (!seen) { seen = true; writeSync(2, 'first-record\\n'); }
    return record.value;
  },
});
`;

const TOPOLOGY = `app: startup
stateDir: \${WALRUS_STATE_DIR:-.walrus-stream}
workers: 1
sources:
  in: { topic: in, format: text, serializer: string }
processors:
  first: { module: ./processors/first.ts, input: in }
sinks:
  out: { topic: out, input: first }
observability:
  logLevel: warn
`;

interface Sample { ms: number; rssMb?: number }

/** Peak RSS of a live process in MiB (Linux), or undefined. */
function peakRss(pid: number): number | undefined {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Spawns `args`; resolves with the time until `marker` appears on stderr (or
 * until exit without one), and the peak RSS seen while it ran.
 */
function time(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; marker?: string }): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'ignore', 'pipe'] });
    let markedAt: number | undefined;
    let rss: number | undefined;
    let stderr = '';
    const poll = setInterval(() => { rss = peakRss(child.pid!) ?? rss; }, 20);
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      if (options.marker !== undefined && markedAt === undefined && stderr.includes(options.marker)) {
        markedAt = performance.now();
        rss = peakRss(child.pid!) ?? rss;
      }
    });
    child.on('close', (code) => {
      clearInterval(poll);
      const ended = performance.now();
      if (code !== 0) return reject(new Error(`${args.join(' ')} exited ${String(code)}: ${stderr}`));
      if (options.marker !== undefined && markedAt === undefined) return reject(new Error(`no "${options.marker}" from ${args.join(' ')}: ${stderr}`));
      resolve({ ms: (markedAt ?? ended) - started, ...(rss === undefined ? {} : { rssMb: rss }) });
    });
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** A project in `dir` using `checkout` as its walrus-stream, its one processor importing `entry`. */
async function makeProject(dir: string, checkout: string, entry: string): Promise<string> {
  await mkdir(join(dir, 'processors'), { recursive: true });
  await mkdir(join(dir, 'node_modules'));
  await symlink(checkout, join(dir, 'node_modules', 'walrus-stream'), 'dir');
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'startup', private: true, type: 'module' }));
  await writeFile(join(dir, 'processors', 'first.ts'), PROCESSOR(entry));
  await writeFile(join(dir, 'topology.yaml'), TOPOLOGY);
  await writeFile(join(dir, 'input.txt'), 'hello\n');
  return dir;
}

async function main(): Promise<void> {
  const built = await new Promise<number | null>((resolve) => {
    spawn(process.execPath, [join(root, 'scripts', 'build.mjs'), '--if-stale'], { stdio: 'inherit' }).on('close', resolve);
  });
  if (built !== 0) throw new Error('build failed');

  const project = await mkdtemp(join(tmpdir(), 'walrus-startup-'));
  try {
    const cases: Array<{ name: string; target: string; limit?: (base: number, ms: number) => boolean; run: () => Promise<Sample> }> = [
      { name: 'node -e 0', target: '', run: () => time(['-e', '0'], { cwd: project }) },
    ];
    const checkouts: Array<[label: string, dir: string]> = [['walrus-stream', root]];
    if (COMPARE !== undefined) checkouts.unshift([`${COMPARE} (compare)`, resolve(COMPARE)]);
    for (const [index, [label, checkout]] of checkouts.entries()) {
      const bin = join(checkout, 'bin', 'walrus-stream.js');
      const dir = await makeProject(join(project, String(index)), checkout, 'walrus-stream/processor');
      // The same project, its processor importing the package entry.
      const full = await makeProject(join(project, `${index}-full`), checkout, 'walrus-stream');
      cases.push(
        { name: `${label} --help`, target: '<= 3x', limit: (b, ms) => ms <= 3 * b, run: () => time([bin, '--help'], { cwd: dir }) },
        { name: `${label} validate`, target: '<= 3x', limit: (b, ms) => ms <= 3 * b, run: () => time([bin, 'validate'], { cwd: dir }) },
        { name: `${label} validate, processor imports 'walrus-stream'`, target: '', run: () => time([bin, 'validate'], { cwd: full }) },
        {
          name: `${label} run → first record`, target: '<= 600 ms', limit: (_, ms) => ms <= 600,
          run: async () => {
            const stateDir = await mkdtemp(join(tmpdir(), 'walrus-startup-state-'));
            try {
              return await time([bin, 'run', '--until-idle', '--seed', 'in=input.txt'], {
                cwd: dir, env: { ...process.env, WALRUS_STATE_DIR: stateDir }, marker: 'first-record',
              });
            } finally {
              await rm(stateDir, { recursive: true, force: true });
            }
          },
        },
      );
    }

    // One warm-up round (file system cache), then interleaved rounds.
    for (const c of cases) await c.run();
    const samples = new Map<string, Sample[]>(cases.map((c) => [c.name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const c of cases) samples.get(c.name)!.push(await c.run());
    }

    const base = median(samples.get('node -e 0')!.map((s) => s.ms));
    printTable(`start-up (${ROUNDS} rounds, medians; load average ${(await import('node:os')).loadavg()[0]!.toFixed(1)})`, cases.map((c) => {
      const list = samples.get(c.name)!;
      const ms = median(list.map((s) => s.ms));
      const rss = list.flatMap((s) => (s.rssMb === undefined ? [] : [s.rssMb]));
      return {
        case: c.name,
        'median ms': Math.round(ms),
        'min ms': Math.round(Math.min(...list.map((s) => s.ms))),
        'x node -e 0': `${(ms / base).toFixed(1)}x`,
        'peak RSS MiB': rss.length > 0 ? Math.round(median(rss)) : '-',
        target: c.target,
        met: c.limit === undefined ? '' : c.limit(base, ms) ? 'yes' : 'no',
      };
    }));
  } finally {
    await rm(project, { recursive: true, force: true });
  }
}

await main();

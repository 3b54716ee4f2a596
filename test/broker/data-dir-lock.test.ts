import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const RACER = fileURLToPath(new URL('../fixtures/broker/lock-racer.ts', import.meta.url));
const RACERS = 4;

interface Racer {
  child: ChildProcess;
  line: () => Promise<string>;
}

function spawnRacer(dir: string): Racer {
  const child = spawn(process.execPath, ['--import', 'tsx', RACER, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  const queue: string[] = [];
  const waiters: Array<(line: string) => void> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const waiter = waiters.shift();
    if (waiter) waiter(line);
    else queue.push(line);
  });
  return {
    child,
    line: () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((resolve) => waiters.push(resolve))),
  };
}

/** Starts RACERS processes, lets them all try at the same moment, returns their outcomes. */
async function race(dir: string): Promise<string[]> {
  const racers = Array.from({ length: RACERS }, () => spawnRacer(dir));
  try {
    for (const r of racers) assert.equal(await r.line(), 'ready');
    for (const r of racers) r.child.stdin!.write('go\n');
    return await Promise.all(racers.map((r) => r.line()));
  } finally {
    for (const r of racers) {
      r.child.stdin!.end();
      await new Promise((resolve) => (r.child.exitCode !== null ? resolve(undefined) : r.child.once('exit', resolve)));
    }
  }
}

test('brokers racing for one data dir: exactly one wins, the others get an error naming the holder pid and the dir', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-lock-race-'));
  try {
    for (const stale of [false, true]) {
      // Second round: a lock left by a process that no longer exists (kill -9), which every racer wants to take over.
      if (stale) await writeFile(join(dir, 'LOCK'), '2147483646\n');
      const outcomes = await race(dir);
      const won = outcomes.filter((o) => o === 'won');
      assert.equal(won.length, 1, `stale=${stale}: ${outcomes.join(' | ')}`);
      for (const lost of outcomes.filter((o) => o !== 'won')) {
        assert.match(lost, /^lost CONFIG_INVALID broker data directory \(.+\) is in use by process \d+ \(lock file .+LOCK\); another walrus-stream broker runs on it/);
        assert.ok(lost.includes(dir), lost);
      }
      const left = (await readdir(dir)).filter((n) => n.startsWith('LOCK'));
      assert.deepEqual(left, [], `stale=${stale}: the winner's clean close removes its lock and nothing else is left`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a data dir that cannot be created (under /proc) fails fast with a clear error instead of spinning', () => {
  assert.ok(existsSync('/proc/self'), 'this test needs Linux /proc (the only supported platform for CI)');
  const broker = fileURLToPath(new URL('../../src/broker/index.ts', import.meta.url));
  // A child process: the old code looped inside a synchronous mkdirSync, which no in-process timeout can stop.
  const script = `import(${JSON.stringify(broker)}).then((m) => m.startBroker({ port: 0, dataDir: '/proc/1/walrus' })).then(
    () => { console.log('started'); process.exit(0); },
    (e) => { console.log(e.code + ' ' + e.message); process.exit(1); })`;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 15_000 });
  assert.equal(run.signal, null, 'still running after 15 s');
  assert.match(run.stdout, /^CONFIG_INVALID broker data directory \(\/proc\/1\/walrus\): cannot create \/proc\/1\/walrus .*choose a --data-dir on a writable file system/);
});

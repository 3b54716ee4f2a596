import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
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

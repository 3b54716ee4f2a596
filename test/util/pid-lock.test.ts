import assert from 'node:assert/strict';
import { readFile, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { WalrusError } from '../../src/errors/index.js';
import { acquirePidLock, type PidLockOptions } from '../../src/util/pid-lock.js';
import { withTempDir } from '../helpers/temp-dir.js';

const OPTIONS: PidLockOptions = { code: 'JOURNAL_ERROR', subject: 'test dir', hint: 'use another dir', hereHint: 'close it first' };
const DEAD_PID = 2147483646;

const withDir = (fn: (dir: string) => Promise<void>): Promise<void> => withTempDir('walrus-pid-lock-', fn);

test('the lock holds our pid, leaves no temporary files, and is removed on release', async () => {
  await withDir(async (dir) => {
    const lock = acquirePidLock(dir, OPTIONS);
    assert.equal(lock.path, join(dir, 'LOCK'));
    assert.equal(Number.parseInt(await readFile(lock.path, 'utf8'), 10), process.pid);
    assert.deepEqual(await readdir(dir), ['LOCK']);
    assert.throws(() => acquirePidLock(dir, OPTIONS), (e: WalrusError) => e.code === 'JOURNAL_ERROR' && /test dir \(.+\) is already open in this process; close it first/.test(e.message));
    lock.release();
    lock.release();
    assert.deepEqual(await readdir(dir), []);
  });
});

test('a live holder is named with its pid, the dir and the lock file', async () => {
  await withDir(async (dir) => {
    await writeFile(join(dir, 'LOCK'), `${process.ppid}\n`);
    assert.throws(
      () => acquirePidLock(dir, OPTIONS),
      (e: WalrusError) => e.code === 'JOURNAL_ERROR' && e.message === `test dir (${dir}) is in use by process ${process.ppid} (lock file ${join(dir, 'LOCK')}); use another dir` && e.context.pid === process.ppid,
    );
    assert.equal(await readFile(join(dir, 'LOCK'), 'utf8'), `${process.ppid}\n`, 'a live lock is never touched');
  });
});

test('stale locks are taken over: a dead pid, and our own pid left by an earlier life of this pid', async () => {
  await withDir(async (dir) => {
    for (const stale of [DEAD_PID, process.pid]) {
      await writeFile(join(dir, 'LOCK'), `${stale}\n`);
      const lock = acquirePidLock(dir, OPTIONS);
      assert.match(await readFile(lock.path, 'utf8'), new RegExp(`^${process.pid}\\n`));
      lock.release();
    }
  });
});

test('release does not remove a lock that is no longer ours', async () => {
  await withDir(async (dir) => {
    const lock = acquirePidLock(dir, OPTIONS);
    await writeFile(join(dir, 'LOCK'), `${process.ppid}\n`); // someone else's now (cannot happen by our own code)
    lock.release();
    assert.equal(await readFile(join(dir, 'LOCK'), 'utf8'), `${process.ppid}\n`);
  });
});

test('a takeover guard left by a killed opener is cleared once old; a fresh one is respected', async () => {
  await withDir(async (dir) => {
    await writeFile(join(dir, 'LOCK'), `${DEAD_PID}\n`);
    const guard = join(dir, 'LOCK.takeover');
    // A live process is taking the stale lock over right now: wait for it, never both.
    await writeFile(guard, `${process.ppid}\n`);
    assert.throws(() => acquirePidLock(dir, OPTIONS), (e: WalrusError) => e.code === 'JOURNAL_ERROR' && /other processes keep contending/.test(e.message));
    assert.equal(await readFile(join(dir, 'LOCK'), 'utf8'), `${DEAD_PID}\n`);
    await writeFile(guard, `${DEAD_PID}\n`);
    const old = new Date(Date.now() - 60_000);
    await utimes(guard, old, old);
    const lock = acquirePidLock(dir, OPTIONS);
    assert.deepEqual((await readdir(dir)).sort(), ['LOCK']);
    lock.release();
  });
});

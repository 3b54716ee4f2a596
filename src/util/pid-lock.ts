import { randomBytes } from 'node:crypto';
import { linkSync, openSync, readFileSync, statSync, unlinkSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { WalrusError, type ErrorCode, type ErrorContext } from '../errors/index.js';
import { diskFullAdvice } from './disk-full.js';

/**
 * One writer per directory, for every part that owns one (the broker's data
 * dir, the journal, a state store): a `LOCK` file holding the owner's pid.
 *
 * - **Atomic create.** The content is written to a private temporary file
 *   first, which is then hard-linked to `LOCK`; `link` fails if `LOCK`
 *   exists, so exactly one of any number of racing openers wins, and `LOCK`
 *   never exists half-written. (Where hard links are unsupported, `open`
 *   with `O_EXCL` is used: still atomic, the pid follows a moment later.)
 * - **Safe stale takeover.** A lock whose pid is not running (the owner was
 *   `kill -9`ed) is stale. Two openers that both find it stale must not
 *   both delete it — the second would delete the first one's fresh lock —
 *   so removal happens under a short-lived guard file (`LOCK.takeover`,
 *   created the same atomic way) and only if `LOCK` still holds exactly
 *   the stale content that was judged. Everyone then races on the atomic
 *   create again. A guard left by an opener killed inside that tiny
 *   section (no such process, older than 10 s) is cleared.
 * - **Our own pid** in a lock that this process did not take is stale too:
 *   a container restarts a process under the same pid (often 1).
 *   Directories locked by this process are tracked in memory, since the pid
 *   cannot tell two in-process owners apart.
 */
const LOCK_NAME = 'LOCK';
const GUARD_SUFFIX = '.takeover';
const STALE_GUARD_MS = 10_000;
const ATTEMPTS = 200;
const openHere = new Set<string>();

export interface PidLock {
  /** The lock file. */
  readonly path: string;
  /** Removes the lock file (only if it is still ours). Idempotent. */
  release(): void;
}

export interface PidLockOptions {
  /** Error code for "held by someone else" (the owner's domain: journal, state, broker). */
  code: ErrorCode;
  /** What is locked, for messages: `journal`, `store "counts"`, `broker data directory`. */
  subject: string;
  /** What to do when another process holds it, e.g. `stop it or choose another --data-dir`. */
  hint: string;
  /** What to do when this process already holds it. */
  hereHint: string;
  context?: ErrorContext;
}

export function acquirePidLock(dir: string, options: PidLockOptions): PidLock {
  const key = resolve(dir);
  const path = join(key, LOCK_NAME);
  const context = { ...options.context, dir: key };
  if (openHere.has(key)) {
    throw new WalrusError(options.code, `${options.subject} (${key}) is already open in this process; ${options.hereHint}`, { context });
  }
  const content = `${process.pid}\n${randomBytes(8).toString('hex')}\n`;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    let created: boolean;
    try {
      created = createExclusive(path, content);
    } catch (error) {
      throw new WalrusError(options.code, `cannot create the lock file ${path}: ${(error as Error).message}${diskFullAdvice(error, key, 'try again')}`, { cause: error, context });
    }
    if (created) {
      openHere.add(key);
      return lockHandle(key, path, content);
    }
    const held = readIfExists(path);
    if (held === undefined) continue; // released meanwhile: try again
    const pid = parsePid(held);
    if (pid !== undefined && pid !== process.pid && processAlive(pid)) {
      throw new WalrusError(
        options.code,
        `${options.subject} (${key}) is in use by process ${pid} (lock file ${path}); ${options.hint}`,
        { context: { ...context, pid } },
      );
    }
    if (pid === undefined && ageMs(path) < STALE_GUARD_MS) {
      // Unreadable content from an older writer that may still be writing its pid: give it a moment.
      sleep(5);
      continue;
    }
    if (!removeStale(path, held)) sleep(1 + (attempt % 5));
  }
  throw new WalrusError(options.code, `${options.subject} (${key}): could not take the lock file ${path}; other processes keep contending for it. Retry, or check what else uses this directory.`, { context });
}

function lockHandle(key: string, path: string, content: string): PidLock {
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      openHere.delete(key);
      // Only our own lock: never remove one someone else took over after ours went stale.
      if (readIfExists(path) === content) unlinkQuietly(path);
    },
  };
}

/** Creates `path` holding `content` if it does not exist; false when it does. */
function createExclusive(path: string, content: string): boolean {
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(temp, content, { flag: 'wx', mode: 0o644 });
  } catch (error) {
    // A write that fails after the create (a full disk, EFBIG) leaves the file: one LOCK.<pid>.<rand>.tmp stayed per attempt.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') unlinkQuietly(temp);
    throw error;
  }
  try {
    linkSync(temp, path);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error;
  } finally {
    unlinkQuietly(temp);
  }
  // No hard links here (some network and FUSE file systems): O_EXCL create.
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, content);
  } catch (error) {
    closeSync(fd);
    unlinkQuietly(path); // ours, just created: an empty LOCK would hold the directory for 10 s
    throw error;
  }
  closeSync(fd);
  return true;
}

/**
 * Removes `path` if it still holds `stale`, under the takeover guard.
 * False when another opener holds the guard (the caller waits and retries).
 */
function removeStale(path: string, stale: string): boolean {
  const guard = path + GUARD_SUFFIX;
  const mine = `${process.pid}\n${randomBytes(8).toString('hex')}\n`;
  if (!createExclusive(guard, mine)) {
    const holder = readIfExists(guard);
    const pid = holder === undefined ? undefined : parsePid(holder);
    // A guard whose owner died inside the takeover (and long ago): clear it so the directory is not stuck.
    if (holder !== undefined && (pid === undefined || !processAlive(pid)) && ageMs(guard) > STALE_GUARD_MS && readIfExists(guard) === holder) {
      unlinkQuietly(guard);
    }
    return false;
  }
  try {
    // Nobody else can remove LOCK while we hold the guard, and its owner is dead: if it still
    // holds what we judged stale, it is that stale lock, not a fresh one.
    if (readIfExists(path) === stale) unlinkQuietly(path);
  } finally {
    unlinkQuietly(guard);
  }
  return true;
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function parsePid(content: string): number | undefined {
  const pid = Number.parseInt(content, 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}

/** A short synchronous pause (lock acquisition is synchronous so callers need no await between check and create). */
function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

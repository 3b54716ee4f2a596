import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { WalrusError } from '../../errors/index.js';
import { SEGMENT_HEADER_BYTES } from './segment-format.js';
import { segmentFileName } from './topic-dirs.js';

/** The file-store's helpers for its data directory: creating it, reading topic names, naming quarantined files. */

/**
 * `mkdir -p path`, one level at a time. Node's recursive mkdirSync retries
 * forever when a parent keeps answering ENOENT (`/proc/<pid>/x`), so the
 * node spun at 100% CPU; here every failure is a clear CONFIG_INVALID.
 */
export function createDataDir(path: string, dataDir: string): void {
  const fail = (what: string, cause?: unknown): never => {
    throw new WalrusError('CONFIG_INVALID', `broker data directory (${dataDir}): ${what}; choose a --data-dir on a writable file system`, { cause, context: { dataDir } });
  };
  const missing: string[] = [];
  for (let at = resolve(path); ; at = dirname(at)) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(at).isDirectory();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(at) === at) fail(`cannot check ${at} (${(error as Error).message})`, error);
      missing.unshift(at);
      continue;
    }
    if (!isDirectory) fail(`${at} exists and is not a directory`);
    break;
  }
  for (const dir of missing) {
    try {
      mkdirSync(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST' && statSync(dir).isDirectory()) continue;
      fail(`cannot create ${dir} (${(error as Error).message})`, error);
    }
  }
}

/** The exact topic name from `<dir>/topic.json`, or undefined when the file is missing, empty or damaged. */
export function readTopicName(dir: string): string | undefined {
  try {
    const meta = JSON.parse(readFileSync(join(dir, 'topic.json'), 'utf8')) as { name?: unknown };
    return typeof meta.name === 'string' ? meta.name : undefined;
  } catch {
    return undefined;
  }
}

/** Bytes the segment files hold beyond their headers: 0 means no entry was ever written there. */
export function segmentBytes(dir: string, numbers: number[]): number {
  let bytes = 0;
  for (const number of numbers) bytes += Math.max(0, statSync(join(dir, segmentFileName(number))).size - SEGMENT_HEADER_BYTES);
  return bytes;
}

/** `<data-dir>/quarantined/<topic dir>` (or `-2`, ...): outside `topics/`, so it is never opened again and a new REGISTER starts empty. */
export function quarantineDirPath(path: string): string {
  let candidate = path;
  for (let n = 2; existsSync(candidate); n++) candidate = `${path}-${n}`;
  return candidate;
}

/** `<segment file>.quarantined` (or `.quarantined-2`, ...): no longer matches the segment name pattern, so it is never opened again. */
export function quarantinePath(path: string): string {
  let candidate = `${path}.quarantined`;
  for (let n = 2; existsSync(candidate); n++) candidate = `${path}.quarantined-${n}`;
  return candidate;
}

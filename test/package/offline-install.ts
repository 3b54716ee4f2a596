import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Installs a packed walrus-stream into a project with npm, without the
 * network: a lockfile is written from this repository's own (the packed
 * package's dependencies at the versions `npm ci` installed here, whose
 * tarballs are in npm's cache) plus the tarball itself, then `npm ci
 * --offline` runs. Only where the cache lacks a tarball does it fall back to
 * `--prefer-offline` (the registry fills the gap).
 */

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command; never rejects (the caller asserts on the result). Killed after `timeoutMs`. */
export function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString('utf8'); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8'); });
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${options.timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: `${stderr}\n${error.message}` });
    });
  });
}

export const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

interface LockEntry { dev?: boolean; [key: string]: unknown }

/**
 * Writes package-lock.json for `project` (whose package.json must exist):
 * walrus-stream from `tarball` (added as a `file:` dependency unless the
 * project already names a version range), and its dependency tree from
 * `repoRoot`'s lockfile without the dev-only entries.
 */
export async function writeOfflineLock(project: string, repoRoot: string, tarball: string): Promise<void> {
  const repoLock = JSON.parse(await readFile(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const own = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as Record<string, unknown>;
  const pkgFile = join(project, 'package.json');
  const pkg = JSON.parse(await readFile(pkgFile, 'utf8')) as { name: string; version: string; dependencies?: Record<string, string> };
  pkg.dependencies = { 'walrus-stream': `file:${tarball}`, ...pkg.dependencies };
  await writeFile(pkgFile, `${JSON.stringify(pkg, null, 2)}\n`);
  const integrity = `sha512-${createHash('sha512').update(await readFile(tarball)).digest('base64')}`;
  const packages: Record<string, unknown> = {
    '': { name: pkg.name, version: pkg.version, dependencies: pkg.dependencies },
    'node_modules/walrus-stream': {
      version: own.version, resolved: `file:${tarball}`, integrity, license: own.license,
      dependencies: own.dependencies, bin: own.bin, engines: own.engines,
    },
  };
  for (const [path, entry] of Object.entries(repoLock.packages)) {
    if (path !== '' && entry.dev !== true) packages[path] = entry;
  }
  const lock = { name: pkg.name, version: pkg.version, lockfileVersion: 3, requires: true, packages };
  await writeFile(join(project, 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
}

/** `npm ci` from the lock written by {@link writeOfflineLock}; offline unless the cache misses a tarball. */
export async function installOffline(project: string, repoRoot: string, tarball: string): Promise<Run & { mode: string }> {
  await writeOfflineLock(project, repoRoot, tarball);
  const base = ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'];
  const offline = await run(NPM, [...base, '--offline'], { cwd: project, timeoutMs: 180_000 });
  if (offline.code === 0 || !/ENOTCACHED/.test(offline.stderr)) return { ...offline, mode: 'offline' };
  const online = await run(NPM, [...base, '--prefer-offline'], { cwd: project, timeoutMs: 180_000 });
  return { ...online, mode: 'prefer-offline (the npm cache lacked a tarball)' };
}

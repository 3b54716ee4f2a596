import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashPassword, parseHash } from '../../src/broker/auth/password-hash.js';
import { writeUsersFile, type UserEntry } from '../../src/broker/auth/users-file.js';

/** scrypt at a low cost: tests check behaviour, not the hash's strength (production uses DEFAULT_SCRYPT). */
const CHEAP = { N: 1024, r: 8, p: 1 };

/** Writes a users file for `users` (name → password) in `dir` and returns its path. */
export async function writeTestUsers(dir: string, users: Record<string, string>): Promise<string> {
  const entries: UserEntry[] = [];
  for (const [name, password] of Object.entries(users)) {
    const encoded = await hashPassword(password, CHEAP);
    const parsed = parseHash(encoded);
    if ('error' in parsed) throw new Error(parsed.error);
    entries.push({ name, encoded, parsed });
  }
  const file = join(dir, 'users');
  await writeUsersFile(file, entries);
  return file;
}

export async function tempDir(prefix = 'walrus-auth-'): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface TestPki {
  ca: string;
  cert: string;
  key: string;
  /** A second CA that did not sign the node's certificate. */
  otherCa: string;
}

/**
 * A throwaway CA and a node certificate for localhost / 127.0.0.1, made
 * with the openssl CLI at test time (P-256 keys: a few milliseconds each).
 */
export async function makeTestPki(dir: string): Promise<TestPki> {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 });
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run('req', '-x509', ...ecKey, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=walrus-stream test CA');
  run('req', '-x509', ...ecKey, '-keyout', 'other.key', '-out', 'other.crt', '-days', '1', '-subj', '/CN=other test CA');
  run('req', ...ecKey, '-keyout', 'node.key', '-out', 'node.csr', '-subj', '/CN=localhost');
  await writeFile(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  run('x509', '-req', '-in', 'node.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'node.crt', '-days', '1', '-extfile', 'san.ext');
  const text = (name: string) => readFile(join(dir, name), 'utf8');
  return { ca: await text('ca.crt'), cert: await text('node.crt'), key: await text('node.key'), otherCa: await text('other.crt') };
}

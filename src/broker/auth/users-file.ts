import { chmod, open, rename, rm } from 'node:fs/promises';
import { WalrusError } from '../../errors/index.js';
import { userNameProblem } from '../../protocol/auth.js';
import { parseHash, type ParsedHash } from './password-hash.js';
import { readTextBounded } from '../../util/read-bounded.js';

/** Largest users file read: 16 MiB, some 100,000 users. */
const MAX_USERS_FILE_BYTES = 16 * 1024 * 1024;

export { userNameProblem };

/**
 * The users file of `walrus-stream broker --users <file>`: one user per
 * line, `name:scrypt$N$r$p$salt$hash`; blank lines and lines starting with
 * `#` are ignored. It holds no password, only salted hashes, and is written
 * with mode 0600 because the hashes still allow offline guessing.
 */

export interface UserEntry {
  name: string;
  /** The encoded hash, kept as text so the file can be rewritten unchanged. */
  encoded: string;
  parsed: ParsedHash;
}

export function parseUsersFile(text: string, file: string): Map<string, UserEntry> {
  const users = new Map<string, UserEntry>();
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${file}:${i + 1}`;
    const colon = line.indexOf(':');
    const name = colon === -1 ? '' : line.slice(0, colon);
    // The line is never quoted back: a malformed line might hold a password typed by mistake.
    if (colon === -1) return void problems.push(`${where}: expected name:scrypt$N$r$p$salt$hash`);
    const nameProblem = userNameProblem(name);
    if (nameProblem) return void problems.push(`${where}: ${nameProblem}`);
    const parsed = parseHash(line.slice(colon + 1));
    if ('error' in parsed) return void problems.push(`${where}: user "${name}": ${parsed.error}`);
    if (users.has(name)) return void problems.push(`${where}: user "${name}" is listed twice`);
    users.set(name, { name, encoded: line.slice(colon + 1), parsed });
  });
  if (problems.length > 0) {
    throw new WalrusError('CONFIG_INVALID', `Invalid users file: ${problems.join('; ')}. Write it with "walrus-stream broker adduser --users ${file} <name>".`, {
      context: { file, problems },
    });
  }
  return users;
}

/** Reads a users file; a missing file is an empty user list only when `allowMissing`. */
export async function readUsersFile(file: string, allowMissing = false): Promise<Map<string, UserEntry>> {
  let text: string;
  try {
    text = await readTextBounded(file, MAX_USERS_FILE_BYTES, 'a users file');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && allowMissing) return new Map();
    throw new WalrusError('CONFIG_INVALID', `Cannot read the users file ${file}: ${code ?? (error as Error).message}. Create it with "walrus-stream broker adduser --users ${file} <name>".`, {
      cause: error,
      context: { file },
    });
  }
  return parseUsersFile(text, file);
}

export function formatUsersFile(users: Iterable<UserEntry>): string {
  let out = '# walrus-stream users: name:scrypt$N$r$p$salt$hash (written by "walrus-stream broker adduser")\n';
  for (const user of users) out += `${user.name}:${user.encoded}\n`;
  return out;
}

/** Replaces the file atomically (write a sibling, fsync, rename), readable by its owner only. */
export async function writeUsersFile(file: string, users: Iterable<UserEntry>): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  const handle = await open(temp, 'w', 0o600);
  try {
    await handle.writeFile(formatUsersFile(users));
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  await chmod(temp, 0o600);
  await rename(temp, file);
}

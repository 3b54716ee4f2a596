import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import { dummyHash, hashPassword, verifyPassword } from './password-hash.js';
import { userNameProblem, writeUsersFile, type UserEntry } from './users-file.js';
import { parseHash } from './password-hash.js';

export interface UserStoreOptions {
  /** Where `ADDUSER` persists new users; undefined keeps them in memory only. */
  file?: string | undefined;
  /** Wait before answering a failed login. @default 500 */
  failureDelayMs?: number;
  /** Password verifications running at once (each is a scrypt on the libuv pool). @default 2 */
  maxConcurrent?: number;
  /** Logins waiting for a verification slot beyond which new ones fail at once (after the delay). @default 256 */
  maxQueued?: number;
}

export type AddUserResult = 'added' | 'exists' | { error: string };

/**
 * The node's users: login checks and additions. Verification is bounded
 * (`maxConcurrent` at once, `maxQueued` waiting) so a flood of logins cannot
 * take the libuv pool away from the log's file I/O, and every failure is
 * answered only after `failureDelayMs`, which makes online guessing slow.
 */
export class UserStore {
  readonly #users: Map<string, UserEntry>;
  readonly #file: string | undefined;
  readonly #failureDelayMs: number;
  readonly #maxQueued: number;
  readonly #limit: ReturnType<typeof pLimit>;
  /** Additions are written one at a time, each file a superset of the last. */
  #writing: Promise<void> = Promise.resolve();
  logins = 0;
  failures = 0;

  constructor(users: Map<string, UserEntry>, options: UserStoreOptions = {}) {
    this.#users = users;
    this.#file = options.file;
    this.#failureDelayMs = options.failureDelayMs ?? 500;
    this.#maxQueued = options.maxQueued ?? 256;
    this.#limit = pLimit(options.maxConcurrent ?? 2);
  }

  get size(): number {
    return this.#users.size;
  }

  /** True when the password matches the user's hash; false (after the failure delay) otherwise. */
  async authenticate(name: string, password: string): Promise<boolean> {
    let ok = false;
    if (this.#limit.pendingCount < this.#maxQueued) {
      const user = this.#users.get(name);
      // Unknown users are checked against a dummy hash: same cost, so names cannot be probed by timing.
      ok = await this.#limit(() => verifyPassword(password, user?.parsed ?? dummyHash())).catch(() => false);
      ok &&= user !== undefined;
    }
    if (ok) {
      this.logins++;
      return true;
    }
    this.failures++;
    if (this.#failureDelayMs > 0) await sleep(this.#failureDelayMs);
    return false;
  }

  /** Adds a user (hashing on the libuv pool) and rewrites the users file when there is one. */
  async add(name: string, password: string): Promise<AddUserResult> {
    const problem = userNameProblem(name);
    if (problem) return { error: `invalid user name: ${problem}` };
    if (this.#users.has(name)) return 'exists';
    const encoded = await this.#limit(() => hashPassword(password));
    if (this.#users.has(name)) return 'exists';
    const parsed = parseHash(encoded);
    if ('error' in parsed) return { error: parsed.error };
    this.#users.set(name, { name, encoded, parsed });
    if (this.#file !== undefined) {
      const file = this.#file;
      const write = this.#writing.then(() => writeUsersFile(file, this.#users.values()));
      this.#writing = write.catch(() => undefined);
      try {
        await write;
      } catch (error) {
        this.#users.delete(name);
        return { error: `could not write the users file: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` };
      }
    }
    return 'added';
  }
}

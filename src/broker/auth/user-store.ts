import { setTimeout as sleep } from 'node:timers/promises';
import { AbandonedTask, FairLimit, type TaskSource } from './fair-limit.js';
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
}

export type AddUserResult = 'added' | 'exists' | { error: string };

/** A login or addition from code, not from a connection: its own turn, never gone. */
const LOCAL: TaskSource = { remoteAddress: '', gone: false };

/**
 * The node's users: login checks and additions. Verification is bounded
 * (`maxConcurrent` at once) so a flood of logins cannot take the libuv pool
 * away from the log's file I/O, and every failure is answered only after
 * `failureDelayMs`, which makes online guessing slow.
 *
 * Every login is checked, however many wait: a flood of bad logins once made
 * the node answer a correct one "authentication failed" unchecked (more
 * than 256 waiting), which a client must take as wrong credentials and
 * never retry. Waiting logins take turns by client address instead
 * (`FairLimit`), so a flood from one address barely delays another's.
 */
export class UserStore {
  readonly #users: Map<string, UserEntry>;
  readonly #file: string | undefined;
  readonly #failureDelayMs: number;
  readonly #limit: FairLimit;
  /** Additions are written one at a time, each file a superset of the last. */
  #writing: Promise<void> = Promise.resolve();
  logins = 0;
  failures = 0;

  constructor(users: Map<string, UserEntry>, options: UserStoreOptions = {}) {
    this.#users = users;
    this.#file = options.file;
    this.#failureDelayMs = options.failureDelayMs ?? 500;
    this.#limit = new FairLimit(options.maxConcurrent ?? 2);
  }

  get size(): number {
    return this.#users.size;
  }

  /**
   * True when the password matches the user's hash; false (after the failure
   * delay) otherwise. `source` (the connection) decides whose turn it is
   * when logins wait; if it has gone by then, nothing is checked.
   */
  async authenticate(name: string, password: string, source: TaskSource = LOCAL): Promise<boolean> {
    const user = this.#users.get(name);
    let ok: boolean;
    try {
      // Unknown users are checked against a dummy hash: same cost, so names cannot be probed by timing.
      ok = await this.#limit.run(source, () => verifyPassword(password, user?.parsed ?? dummyHash()));
    } catch (error) {
      if (error instanceof AbandonedTask) return false;
      ok = false;
    }
    ok &&= user !== undefined;
    if (ok) {
      this.logins++;
      return true;
    }
    this.failures++;
    if (this.#failureDelayMs > 0) await sleep(this.#failureDelayMs);
    return false;
  }

  /** Adds a user (hashing on the libuv pool) and rewrites the users file when there is one. */
  async add(name: string, password: string, source: TaskSource = LOCAL): Promise<AddUserResult> {
    const problem = userNameProblem(name);
    if (problem) return { error: `invalid user name: ${problem}` };
    if (this.#users.has(name)) return 'exists';
    let encoded: string;
    try {
      encoded = await this.#limit.run(source, () => hashPassword(password));
    } catch (error) {
      if (error instanceof AbandonedTask) return { error: error.message };
      throw error;
    }
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

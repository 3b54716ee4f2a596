import { isUtf8 } from 'node:buffer';
import type { CompatMode } from '../options.js';
import { ERR_UNKNOWN_COMMAND, errFrame, frameOf } from '../replies.js';
import { trimEndLength } from '../trim.js';
import type { TaskSource } from './fair-limit.js';
import type { UserStore } from './user-store.js';

/**
 * Who may run commands on a connection: the `AUTH` / `ADDUSER` behaviour of
 * Walrus's authentication design (nubskr/walrus pull request #19), texts
 * included:
 *
 * - `AUTH <user> <password>` → `OK authenticated`, or `ERR authentication
 *   failed`. The line is split like every command (`splitn(3, ' ')` after
 *   `trim_end()`), so the password is the rest of the line: it may contain
 *   spaces, never trailing whitespace. A failed AUTH leaves the connection
 *   as it was (a connection that had logged in stays logged in).
 * - Once the node has users, every other command of a connection that has
 *   not logged in → `ERR authentication required - use AUTH <username>
 *   <password>` (METRICS included). Invalid UTF-8 is still answered `ERR
 *   invalid utf-8` first, as upstream decodes before dispatching.
 * - `ADDUSER <user> <password>` → `OK user added` for a logged-in
 *   connection; without a login, `ERR authentication required`.
 *
 * A node with no users serves everyone (loopback only, unless `insecure`);
 * in `stock` mode it also answers AUTH/ADDUSER `ERR unknown command`, like
 * the released stock node, and with users it behaves as the design above.
 */

const AUTHENTICATED = frameOf('OK authenticated');
const USER_ADDED = frameOf('OK user added');
const AUTH_FAILED = errFrame('authentication failed');
const AUTH_REQUIRED = errFrame('authentication required - use AUTH <username> <password>');
const ADDUSER_NEEDS_LOGIN = errFrame('authentication required');
const USER_EXISTS = errFrame('user already exists');
const A = 0x41;

export class AuthGate {
  readonly #users: UserStore;
  readonly #compat: CompatMode;
  readonly #authenticated = new WeakSet<object>();

  constructor(users: UserStore, compat: CompatMode) {
    this.#users = users;
    this.#compat = compat;
  }

  get users(): UserStore {
    return this.#users;
  }

  /**
   * Answers AUTH/ADDUSER itself, refuses what a connection may not run yet,
   * and passes everything else to `next`. A Promise comes back only for a
   * password check or an addition (scrypt runs off the event loop).
   */
  handle(body: Buffer, owner: TaskSource, next: (body: Buffer) => Buffer): Buffer | Promise<Buffer> {
    const open = this.#users.size === 0 || this.#authenticated.has(owner);
    // Fast path: a logged-in connection (or a node without users) running anything not starting with "A".
    if (open && body[0] !== A) return next(body);
    if (!isUtf8(body)) return next(body);
    const end = trimEndLength(body);
    const space = body.indexOf(0x20);
    const opEnd = space === -1 || space > end ? end : space;
    // Only the op is decoded here: an ACK or an unknown command is passed on as it came.
    const op = body.toString('latin1', 0, Math.min(opEnd, 8));
    if (opEnd > 7 || (op !== 'AUTH' && op !== 'ADDUSER')) return open ? next(body) : AUTH_REQUIRED;
    if (this.#compat === 'stock' && this.#users.size === 0) return ERR_UNKNOWN_COMMAND;
    if (op === 'ADDUSER' && !this.#authenticated.has(owner)) return open ? ADDUSER_NEEDS_LOGIN : AUTH_REQUIRED;
    const text = body.toString('utf8', 0, end);
    const sp1 = text.indexOf(' ');
    const sp2 = sp1 === -1 ? -1 : text.indexOf(' ', sp1 + 1);
    if (sp1 === -1) return errFrame(`${op} requires username`);
    if (sp2 === -1) return errFrame(`${op} requires password`);
    const name = text.slice(sp1 + 1, sp2);
    const password = text.slice(sp2 + 1);
    return op === 'AUTH' ? this.#login(owner, name, password) : this.#add(name, password, owner);
  }

  async #login(owner: TaskSource, name: string, password: string): Promise<Buffer> {
    if (!(await this.#users.authenticate(name, password, owner))) return AUTH_FAILED;
    this.#authenticated.add(owner);
    return AUTHENTICATED;
  }

  async #add(name: string, password: string, source: TaskSource): Promise<Buffer> {
    const result = await this.#users.add(name, password, source);
    if (result === 'added') return USER_ADDED;
    if (result === 'exists') return USER_EXISTS;
    return errFrame(result.error);
  }
}

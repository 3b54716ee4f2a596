import { WalrusError, type ErrorContext } from '../../errors/index.js';
import { encodeAuth, isAuthenticated, serverError } from '../../protocol/index.js';
import type { Connection } from './connection.js';

/** Credentials for nodes that require `AUTH` (Walrus's authentication design). */
export interface ClientAuth {
  /** User name: no spaces, no `:`. */
  username: string;
  /** Password: the rest of the AUTH line, so it may contain spaces but cannot end in whitespace. Never logged. */
  password: string;
}

export { hidePassword } from '../../util/secret.js';

/**
 * Logs a fresh connection in before anything else is sent on it. On
 * refusal the connection is destroyed and AUTH_FAILED (never retried)
 * is thrown; the message names the node and the user, never the password.
 */
export async function authenticate(connection: Connection, auth: ClientAuth): Promise<void> {
  const node = connection.node;
  const parse = (body: Buffer, context: ErrorContext): true => {
    const reply = body.toString('utf8');
    if (isAuthenticated(reply)) return true;
    throw refusal(node, auth.username, reply, context);
  };
  try {
    await connection.send(encodeAuth(auth.username, auth.password), parse, { command: 'AUTH' });
  } catch (error) {
    connection.destroy(error instanceof WalrusError ? error : undefined);
    throw error;
  }
}

function refusal(node: string, username: string, reply: string, context: ErrorContext): WalrusError {
  const text = reply.startsWith('ERR ') ? reply.slice(4) : reply;
  const ctx = { ...context, node, user: username, serverMessage: text };
  if (text === 'unknown command') {
    return new WalrusError('AUTH_FAILED', `Node ${node} does not support AUTH (it answered "ERR unknown command"): it is a node without authentication. Remove cluster.auth (or --user), or point at a node with users.`, { context: ctx });
  }
  if (text.startsWith('authentication failed')) {
    return new WalrusError('AUTH_FAILED', `Node ${node} refused the login of user "${username}" (ERR authentication failed): wrong user name or password. Check cluster.auth, or --user and WALRUS_PASSWORD.`, { context: ctx });
  }
  if (!reply.startsWith('ERR ')) {
    return new WalrusError('PROTOCOL_ERROR', `Node ${node} answered AUTH with an unexpected reply of ${reply.length} bytes.`, { context: { ...context, node } });
  }
  const mapped = serverError(text, { ...context, node });
  return new WalrusError('AUTH_FAILED', `Node ${node} refused the login of user "${username}": ${mapped.message}`, { context: ctx, cause: mapped });
}

/**
 * Remembers a refused login, so that the pool does not reconnect and log in
 * again for every request: for `holdMs` after a refusal, new connections to
 * that node fail at once with the same AUTH_FAILED. A wrong password costs
 * the node one login per `holdMs`, not one per request.
 */
export class LoginRefusals {
  #error: WalrusError | undefined;
  #at = 0;

  constructor(readonly holdMs: number) {}

  /** Throws the last refusal while it holds. */
  check(now: number): void {
    if (this.#error && now - this.#at < this.holdMs) throw this.#error;
  }

  record(error: unknown, now: number): void {
    if (error instanceof WalrusError && error.code === 'AUTH_FAILED') {
      this.#error = error;
      this.#at = now;
    }
  }

  clear(): void {
    this.#error = undefined;
  }
}

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { WalrusError } from '../../errors/index.js';

/**
 * Who may read /metrics and /readyz: a bearer token, HTTP basic
 * credentials, or both (either is accepted). /healthz stays open: it says
 * only "alive" and liveness probes should not need a secret.
 */
export interface HttpAuthOptions {
  /** Accept `Authorization: Bearer <token>`. At least 16 characters. @default none */
  bearerToken?: string;
  /** Accept `Authorization: Basic base64(username:password)`. @default none */
  basic?: { username: string; password: string };
}

/** A 32-byte digest, so every comparison is over equal lengths and constant-time. */
function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function same(given: string, expected: Buffer): boolean {
  return timingSafeEqual(digest(given), expected);
}

export function checkHttpAuthOptions(auth: HttpAuthOptions | undefined): void {
  if (auth?.bearerToken !== undefined && auth.bearerToken.length < 16) {
    throw new WalrusError('CONFIG_INVALID', 'observability server: the bearer token is shorter than 16 characters; use a long random one (e.g. openssl rand -hex 32).', { context: { field: 'bearerToken' } });
  }
  if (auth?.basic !== undefined && (auth.basic.username === '' || auth.basic.username.includes(':') || auth.basic.password === '')) {
    throw new WalrusError('CONFIG_INVALID', 'observability server: basic auth needs a user name without ":" and a non-empty password.', { context: { field: 'basic' } });
  }
}

/** Returns a request check, or undefined when no authentication is configured. */
export function httpAuthenticator(auth: HttpAuthOptions | undefined): ((req: IncomingMessage) => boolean) | undefined {
  if (auth?.bearerToken === undefined && auth?.basic === undefined) return undefined;
  const token = auth.bearerToken === undefined ? undefined : digest(auth.bearerToken);
  const basic = auth.basic === undefined ? undefined : digest(`${auth.basic.username}:${auth.basic.password}`);
  return (req) => {
    const header = req.headers.authorization ?? '';
    const space = header.indexOf(' ');
    const scheme = header.slice(0, space).toLowerCase();
    const value = header.slice(space + 1).trim();
    if (scheme === 'bearer' && token) return same(value, token);
    if (scheme === 'basic' && basic) return same(Buffer.from(value, 'base64').toString('utf8'), basic);
    return false;
  };
}

/** The `WWW-Authenticate` challenge for a 401. */
export function challenge(auth: HttpAuthOptions): string {
  return auth.basic !== undefined ? 'Basic realm="walrus-stream", charset="UTF-8"' : 'Bearer realm="walrus-stream"';
}

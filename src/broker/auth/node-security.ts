import { stat } from 'node:fs/promises';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { TLSSocket, createSecureContext } from 'node:tls';
import { checkExposure, isLoopback } from '../../util/exposure.js';
import type { BrokerOptions, ResolvedBrokerOptions } from '../options.js';
import { AuthGate } from './auth-gate.js';
import { UserStore } from './user-store.js';
import { readUsersFile } from './users-file.js';

/** What the node needs to admit clients: the AUTH gate, TLS material, and warnings for the operator. */
export interface NodeSecurity {
  gate: AuthGate;
  tls: { cert: string | Uint8Array; key: string | Uint8Array } | undefined;
  /** Printed by `walrus-stream broker` on every start (e.g. an `--insecure` wide bind). */
  warnings: string[];
}

/**
 * Loads the users file and applies the exposure rule before anything
 * listens: a non-loopback bind with no users refuses to start unless
 * `insecure`; users without TLS on a non-loopback bind are allowed but
 * warned about (passwords would cross the network in clear text).
 */
export async function prepareNodeSecurity(resolved: ResolvedBrokerOptions, options: BrokerOptions): Promise<NodeSecurity> {
  const users = resolved.users === undefined ? new Map() : await readUsersFile(resolved.users);
  const store = new UserStore(users, { file: resolved.users, failureDelayMs: resolved.authFailureDelayMs });
  const warnings: string[] = [];
  const open = checkExposure({
    what: 'the broker',
    host: resolved.host,
    authenticated: users.size > 0,
    insecure: resolved.insecure,
    fix: 'Give it users with --users <file> (create one with "walrus-stream broker adduser")',
  });
  if (open) warnings.push(open);
  if (resolved.users !== undefined && process.platform !== 'win32') {
    const mode = (await stat(resolved.users)).mode;
    if ((mode & 0o077) !== 0) warnings.push(`the users file ${resolved.users} is readable by other users of this machine (mode ${(mode & 0o777).toString(8)}): its hashes allow offline guessing; chmod 600 it`);
  }
  if (resolved.users !== undefined && users.size === 0) {
    warnings.push(`the users file ${resolved.users} lists no user: every connection is served without AUTH`);
  }
  if (users.size > 0 && !resolved.tls && !isLoopback(resolved.host)) {
    warnings.push(`the broker on ${resolved.host} takes passwords over plain TCP: use --tls-cert/--tls-key or a TLS terminator in front of it`);
  }
  return { gate: new AuthGate(store, resolved.compat), tls: options.tls, warnings };
}

/** How long a client may take to finish the TLS handshake before its connection is dropped. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * A TCP server; with a certificate, each socket is wrapped in TLS before
 * `onSocket` sees it. Wrapped by hand rather than with tls.createServer:
 * the node needs half-open sockets (answer everything received before the
 * client's FIN), and a TLS server with `allowHalfOpen` leaks the TCP socket
 * of a client that aborts the handshake (e.g. it does not trust the
 * certificate). Here any handshake failure destroys the TCP socket.
 */
export function createListener(security: NodeSecurity, onSocket: (socket: Socket) => void): Server {
  const tls = security.tls;
  if (!tls) return createTcpServer({ allowHalfOpen: true, noDelay: true }, onSocket);
  const secureContext = createSecureContext({ cert: toPem(tls.cert), key: toPem(tls.key), minVersion: 'TLSv1.2' });
  return createTcpServer({ allowHalfOpen: true, noDelay: true }, (raw) => {
    const secure = new TLSSocket(raw, { isServer: true, secureContext });
    const fail = (): void => {
      clearTimeout(timer);
      secure.destroy();
      raw.destroy();
    };
    const timer = setTimeout(fail, HANDSHAKE_TIMEOUT_MS);
    secure.once('error', fail);
    secure.once('end', fail);
    secure.once('close', fail);
    secure.once('secure', () => {
      clearTimeout(timer);
      secure.off('error', fail);
      secure.off('end', fail);
      secure.off('close', fail);
      onSocket(secure);
    });
  });
}

function toPem(value: string | Uint8Array): string | Buffer {
  return typeof value === 'string' ? value : Buffer.from(value);
}

import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
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
  if (resolved.users !== undefined && users.size === 0) {
    warnings.push(`the users file ${resolved.users} lists no user: every connection is served without AUTH`);
  }
  if (users.size > 0 && !resolved.tls && !isLoopback(resolved.host)) {
    warnings.push(`the broker on ${resolved.host} takes passwords over plain TCP: use --tls-cert/--tls-key or a TLS terminator in front of it`);
  }
  return { gate: new AuthGate(store, resolved.compat), tls: options.tls, warnings };
}

/** A plain TCP server, or a TLS one when the node has a certificate; `onSocket` gets each ready connection. */
export function createListener(security: NodeSecurity, onSocket: (socket: Socket) => void): Server {
  if (!security.tls) return createTcpServer({ allowHalfOpen: true, noDelay: true }, onSocket);
  const server = createTlsServer({
    cert: toPem(security.tls.cert),
    key: toPem(security.tls.key),
    allowHalfOpen: true,
    // A client that opens TCP and never finishes the handshake holds a slot for at most this long.
    handshakeTimeout: 10_000,
    minVersion: 'TLSv1.2',
  }, onSocket);
  // A failed handshake (wrong CA, plain TCP client) only ends that connection.
  server.on('tlsClientError', (_error, socket) => socket.destroy());
  return server;
}

function toPem(value: string | Uint8Array): string | Buffer {
  return typeof value === 'string' ? value : Buffer.from(value);
}

import net from 'node:net';
import tls from 'node:tls';
import { resolve } from 'node:path';
import { WalrusError } from '../../errors/index.js';
import type { SocketFactory } from './pending-request.js';
import { MAX_PEM_BYTES, readTextBounded } from '../../util/read-bounded.js';

/** TLS to the nodes (a node started with `--tls-cert`, or a TLS terminator in front of Walrus). */
export interface ClientTls {
  /** PEM CA certificate(s) to trust instead of the system's. @default the system's trust store */
  ca?: string | Uint8Array | ReadonlyArray<string | Uint8Array>;
  /** PEM client certificate, for nodes or terminators that ask for one (mutual TLS). @default none */
  cert?: string | Uint8Array;
  /** PEM private key of `cert`. @default none */
  key?: string | Uint8Array;
  /** Name checked against the node's certificate (and sent as SNI). @default the node's host */
  serverName?: string;
  /** Refuse nodes whose certificate does not verify. Turn off only in tests. @default true */
  rejectUnauthorized?: boolean;
}

/** A socket that is connecting, and the event that says it can carry requests. */
export interface OpenedSocket {
  socket: net.Socket;
  readyEvent: 'connect' | 'secureConnect';
}

function pem(value: string | Uint8Array): string | Buffer {
  return typeof value === 'string' ? value : Buffer.from(value);
}

/**
 * Opens the socket to a node: plain TCP, or TLS over it. A `socketFactory`
 * still provides the TCP socket (proxies, fault injection) and TLS runs on
 * top of it.
 */
export function openSocket(options: { host: string; port: number; socketFactory?: SocketFactory | undefined; tls?: ClientTls | undefined }): OpenedSocket {
  const { host, port, socketFactory } = options;
  const raw = socketFactory ? socketFactory({ host, port }) : undefined;
  if (!options.tls) {
    return { socket: raw ?? net.connect({ host, port, noDelay: true, keepAlive: true, keepAliveInitialDelay: 10_000 }), readyEvent: 'connect' };
  }
  const t = options.tls;
  const ca = t.ca === undefined ? undefined : Array.isArray(t.ca) ? (t.ca as Array<string | Uint8Array>).map(pem) : pem(t.ca as string | Uint8Array);
  const serverName = t.serverName ?? host;
  const socket = tls.connect({
    ...(raw ? { socket: raw } : { host, port }),
    ca,
    cert: t.cert === undefined ? undefined : pem(t.cert),
    key: t.key === undefined ? undefined : pem(t.key),
    // SNI must be a host name, never an IP address.
    servername: net.isIP(serverName) ? undefined : serverName,
    checkServerIdentity: (_host, cert) => tls.checkServerIdentity(serverName, cert),
    rejectUnauthorized: t.rejectUnauthorized ?? true,
    minVersion: 'TLSv1.2',
  });
  return { socket, readyEvent: 'secureConnect' };
}

/** TLS failures that are configuration problems (a certificate that does not verify), not a flaky network. */
const TLS_CONFIG_ERRORS = /^(ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|ERR_SSL_|HOSTNAME_MISMATCH)/;

/** The error for a failed TLS handshake, or undefined when `error` is not one. */
export function tlsHandshakeError(error: unknown, node: string): WalrusError | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== 'string' || !TLS_CONFIG_ERRORS.test(code)) return undefined;
  return new WalrusError('NETWORK_ERROR', `TLS handshake with node ${node} failed: ${(error as Error).message} (${code}). Check cluster.tls (ca, serverName) and the node's certificate.`, {
    cause: error,
    retriable: false,
    context: { node, errno: code },
  });
}

/** Topology form: file paths, read relative to `baseDir`. */
export interface ClientTlsFiles {
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  serverName?: string | undefined;
  rejectUnauthorized?: boolean | undefined;
}

/** Reads the PEM files a topology's `cluster.tls` names. */
export async function readTlsFiles(files: ClientTlsFiles, baseDir: string): Promise<ClientTls> {
  const read = async (field: string, path: string | undefined): Promise<string | undefined> => {
    if (path === undefined) return undefined;
    const full = resolve(baseDir, path);
    try {
      return await readTextBounded(full, MAX_PEM_BYTES, 'a PEM file');
    } catch (error) {
      throw new WalrusError('CONFIG_INVALID', `cluster.tls.${field}: cannot read ${full}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`, { cause: error, context: { field: `cluster.tls.${field}` } });
    }
  };
  const out: ClientTls = {};
  const ca = await read('ca', files.ca);
  const cert = await read('cert', files.cert);
  const key = await read('key', files.key);
  if (ca !== undefined) out.ca = ca;
  if (cert !== undefined) out.cert = cert;
  if (key !== undefined) out.key = key;
  if (files.serverName !== undefined) out.serverName = files.serverName;
  if (files.rejectUnauthorized !== undefined) out.rejectUnauthorized = files.rejectUnauthorized;
  return out;
}

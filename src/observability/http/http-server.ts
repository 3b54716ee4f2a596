import { createServer, maxHeaderSize, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WalrusError } from '../../errors/index.js';
import { ConnectionRegistry } from '../../util/connection-registry.js';
import { checkExposure, isLoopback } from '../../util/exposure.js';
import { challenge, checkHttpAuthOptions, httpAuthenticator, type HttpAuthOptions } from './http-auth.js';
import { AuthLimiter, type AuthLimitOptions } from './auth-limiter.js';
import { crossSiteReason, isLoopbackHost } from '../dashboard/request-guard.js';
import { EventLoopMonitor } from './event-loop-monitor.js';
import type { ReadyReport } from './readiness.js';

/**
 * Connections the server holds at once. It shares its process (and its
 * descriptor limit) with the pipeline, the journal and often the embedded
 * node: without a bound, anyone who can reach the port could hold every
 * descriptor with idle sockets (measured: 400 of them under `ulimit -n 256`
 * left `/healthz` unanswered). When full, or near the descriptor limit, a
 * new connection gets in and the idlest one is closed (as in the node).
 */
export const MAX_HTTP_CONNECTIONS = 256;

/**
 * Bytes of answers the server holds, over all connections, for clients that
 * do not read them. An answer is written whole into its socket's buffer, so
 * a client that asks and never reads keeps it in the run's memory (measured:
 * 200 sockets asking `/api/dead-letters?limit=1000` of a full ring, 8 MB
 * each, took the run from 146 MB to 3.4 GB RSS). Past this, each new request
 * first closes the connections holding the most unread bytes.
 */
export const MAX_UNREAD_RESPONSE_BYTES = 32 * 1024 * 1024;

/** Anything that can render Prometheus text: a `MetricsHub` or a prom-client `Registry`. */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

/** What {@link ObservabilityServerOptions.routes} gets besides the request. */
export interface RouteContext {
  /** The path, without the query. */
  path: string;
  query: URLSearchParams;
  /** True when the server is bound to a loopback address (Host headers are then checked). */
  loopback: boolean;
  /** The `/healthz` answer. */
  health(): { status: number; body: Record<string, unknown> };
  /** The `/readyz` answer. */
  ready(): Promise<{ status: number; body: Record<string, unknown> }>;
}

/** Extra routes: answers and returns true, or returns false (then the server answers 404). */
export type ExtraRoutes = (req: IncomingMessage, res: ServerResponse, context: RouteContext) => Promise<boolean>;

export interface ObservabilityServerOptions {
  /** Interface to bind. Loopback by default: metrics can reveal topology and topic names. @default '127.0.0.1' */
  host?: string;
  /** Port; 0 picks a free one (see `address`). @default 9464 */
  port?: number;
  metrics: MetricsSource;
  /** Builds the `/readyz` answer; see `readinessFromChecks`. @default always ready */
  readiness?: () => ReadyReport | Promise<ReadyReport>;
  /** `/healthz` fails when the event loop was blocked longer than this recently. @default 1000 */
  maxEventLoopDelayMs?: number;
  /** Window over which event-loop delay is judged. @default 5000 */
  eventLoopWindowMs?: number;
  /**
   * Require a bearer token or basic credentials for /metrics and /readyz
   * (/healthz stays open). Needed to bind beyond loopback.
   * @default none
   */
  auth?: HttpAuthOptions;
  /**
   * Lockout of an address after wrong credentials (429 with Retry-After; see `AuthLimiter`).
   * @default 10 failures within 60 s lock out for 60 s, doubling up to 15 min
   */
  authLimits?: AuthLimitOptions;
  /** Bind a non-loopback host without `auth` (warned about in `warnings`). @default false */
  insecure?: boolean;
  /**
   * More routes, tried before the 404 (the dashboard, src/observability/dashboard).
   * With `auth`, they need the same credentials as /metrics.
   * @default none
   */
  routes?: ExtraRoutes;
}

export interface ObservabilityServer {
  /** `host:port` actually bound (IPv6 hosts in brackets). */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** What the operator should be told at start (e.g. an `insecure` wide bind). */
  readonly warnings: readonly string[];
  close(): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: unknown, head: boolean): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(head ? undefined : text);
}

function sendText(res: ServerResponse, status: number, contentType: string, text: string, head: boolean): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(head ? undefined : text);
}

/**
 * Serves `/metrics` (Prometheus text), `/healthz` (process alive, event loop
 * not stalled) and `/readyz` (JSON; 503 with the failing checks explained).
 * Only GET and HEAD are accepted there; other paths go to `routes` (the
 * dashboard), else 404.
 */
export async function startObservabilityServer(options: ObservabilityServerOptions): Promise<ObservabilityServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 9464;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new WalrusError('CONFIG_INVALID', `observability server: port must be an integer 0..65535 (got ${port})`);
  }
  checkHttpAuthOptions(options.auth);
  const authorized = httpAuthenticator(options.auth);
  const limiter = new AuthLimiter(options.authLimits);
  const exposed = checkExposure({
    what: 'the /metrics endpoint',
    host,
    authenticated: authorized !== undefined,
    insecure: options.insecure === true,
    fix: 'Set a bearer token (WALRUS_METRICS_TOKEN or observability.httpAuth.token) or basic credentials',
  });
  const maxDelayMs = options.maxEventLoopDelayMs ?? 1000;
  const monitor = new EventLoopMonitor({ windowMs: options.eventLoopWindowMs ?? 5000 });
  const readiness = options.readiness ?? (() => ({ ready: true, checks: {} }));
  const started = Date.now();
  // The same test as checkExposure's: a bind it lets through without credentials always gets the Host check.
  const loopback = isLoopback(host);

  function healthReport(): { status: number; body: Record<string, unknown> } {
    const delay = Math.round(monitor.maxDelayMs() * 10) / 10;
    const ok = delay <= maxDelayMs;
    return {
      status: ok ? 200 : 503,
      body: {
        status: ok ? 'ok' : 'stalled',
        uptimeSeconds: Math.round((Date.now() - started) / 1000),
        eventLoopDelayMs: delay,
        ...(ok ? {} : { detail: `the event loop was blocked for ${delay} ms (limit ${maxDelayMs} ms): a processor or hook is doing synchronous work on the main thread` }),
      },
    };
  }

  // Requests that arrive while the checks run share that answer: the checks open a connection to every
  // node, and one connection pipelining 5,000 /readyz opened 5,000 at once (peak 5,032 descriptors;
  // 4,637 of the answers said "not ready").
  let readyInFlight: Promise<{ status: number; body: Record<string, unknown> }> | undefined;
  function readyReport(): Promise<{ status: number; body: Record<string, unknown> }> {
    readyInFlight ??= evaluateReadiness().finally(() => { readyInFlight = undefined; });
    return readyInFlight;
  }

  async function evaluateReadiness(): Promise<{ status: number; body: Record<string, unknown> }> {
    const report = await readiness();
    const failing = Object.entries(report.checks).filter(([, r]) => !r.ok).map(([name, r]) => (r.detail ? `${name}: ${r.detail}` : name));
    return { status: report.ready ? 200 : 503, body: { status: report.ready ? 'ready' : 'not ready', ...(failing.length > 0 ? { failing } : {}), checks: report.checks } };
  }

  // Answers 429 (an address locked out for wrong credentials) or 401 and returns true; false when the request may go on.
  function refusedCredentials(req: IncomingMessage, res: ServerResponse, path: string, head: boolean): boolean {
    if (!authorized) return false;
    const address = req.socket.remoteAddress;
    // A locked-out address is answered before its credentials are checked: a right guess must not tell.
    let locked = limiter.lockout(address);
    if (locked === undefined) {
      if (authorized(req)) { limiter.succeeded(address); return false; }
      // A request without credentials guesses nothing (a browser's first request, before it asks for them).
      if (req.headers.authorization === undefined) return challenged(res, path, head);
      locked = limiter.failed(address);
      if (locked === undefined) return challenged(res, path, head);
    }
    res.setHeader('retry-after', String(locked.retryAfterSeconds));
    sendJson(res, 429, { error: `${path}: ${locked.reason}` }, head);
    return true;
  }

  function challenged(res: ServerResponse, path: string, head: boolean): true {
    res.setHeader('www-authenticate', challenge(options.auth!));
    sendJson(res, 401, { error: `${path} needs credentials (Authorization: Bearer <token> or Basic)` }, head);
    return true;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const head = method === 'HEAD';
    const [path = '/', search = ''] = (req.url ?? '/').split('?', 2);
    if (path !== '/metrics' && path !== '/healthz' && path !== '/readyz') {
      if (options.routes) {
        // The dashboard shows record contents and can replay: never more open than /metrics.
        if (refusedCredentials(req, res, path, head)) return;
        const context = { path, query: new URLSearchParams(search), loopback, health: healthReport, ready: readyReport };
        if (await options.routes(req, res, context)) return;
      }
      sendJson(res, 404, { error: `no such endpoint ${path}; try /metrics, /healthz or /readyz` }, head);
      return;
    }
    if (method !== 'GET' && !head) {
      res.setHeader('allow', 'GET, HEAD');
      sendJson(res, 405, { error: `method ${method} not allowed; use GET or HEAD` }, false);
      return;
    }
    // Against DNS rebinding, as for the dashboard: a web page whose name later resolves to 127.0.0.1 could
    // read /metrics and /readyz (topic, processor and node names) as same-origin. On a loopback bind a
    // Host header must therefore name a loopback host. /healthz says nothing but "alive".
    const host = req.headers.host;
    if (loopback && path !== '/healthz' && host !== undefined && !isLoopbackHost(host)) {
      sendJson(res, 403, { error: `${path}: Host "${host}" is not a loopback name; this server binds loopback: ask http://127.0.0.1:<port>${path} (or localhost)` }, head);
      return;
    }
    const crossSite = path === '/healthz' ? undefined : crossSiteReason(req);
    if (crossSite !== undefined) {
      sendJson(res, 403, { error: crossSite }, head);
      return;
    }
    if (path !== '/healthz' && refusedCredentials(req, res, path, head)) return;
    if (path === '/metrics') {
      sendText(res, 200, options.metrics.contentType, await options.metrics.metrics(), head);
    } else {
      const { status, body } = path === '/healthz' ? healthReport() : await readyReport();
      sendJson(res, status, body, head);
    }
  }

  const server = createServer((req, res) => {
    shedUnreadAnswers();
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) { res.destroy(); return; }
      sendJson(res, 500, { error: error instanceof Error ? error.message : String(error) }, req.method === 'HEAD');
    });
  });
  // Requests Node refuses before any route sees them get a JSON reason too (Node's own answers have no body).
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    const answering = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
    if (!socket.writable || answering?.headersSent) { socket.destroy(); return; }
    const [status, reason] = error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, `the request line and headers are over the ${maxHeaderSize}-byte limit; send a shorter URL or fewer, smaller headers`]
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'the request was not received in time (headers within 60 s, the whole request within 300 s); send it at once']
        : [400, `not a valid HTTP/1.1 request (${error.code ?? 'parse error'}: ${error.message})`];
    const text = `${JSON.stringify({ error: reason })}\n`;
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`, () => socket.destroy());
  });
  // Scrapers keep connections alive; close() must not wait for them.
  server.keepAliveTimeout = 5_000;
  const connections = new ConnectionRegistry<Socket>(MAX_HTTP_CONNECTIONS);
  server.on('connection', (socket: Socket) => {
    connections.add(socket);
    connections.watchIdle(socket, socket, 0);
    socket.once('close', () => connections.delete(socket));
  });

  // Closes the connections that hold the most unread answer bytes until the total is within the bound.
  function shedUnreadAnswers(): void {
    let total = 0;
    for (const socket of connections.values()) total += socket.writableLength;
    if (total <= MAX_UNREAD_RESPONSE_BYTES) return;
    const stalled = [...connections.values()].filter((s) => s.writableLength > 0).sort((a, b) => b.writableLength - a.writableLength);
    for (const socket of stalled) {
      if (total <= MAX_UNREAD_RESPONSE_BYTES) break;
      total -= socket.writableLength;
      connections.delete(socket);
      socket.destroy();
    }
  }

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      monitor.stop();
      reject(new WalrusError('CONFIG_INVALID', `observability server could not listen on ${host}:${port}: ${error.code ?? error.message}${error.code === 'EADDRINUSE' ? ' (port in use: pick another with observability.http or --metrics-address)' : ''}`, { cause: error }));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });

  const bound = server.address() as AddressInfo;
  const shownHost = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  let closed: Promise<void> | undefined;
  return {
    address: `${shownHost}:${bound.port}`,
    host: bound.address,
    port: bound.port,
    warnings: exposed ? [exposed] : [],
    close() {
      closed ??= new Promise<void>((resolve) => {
        monitor.stop();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

/**
 * Parses the `observability.http` setting: `host:port`, `[v6]:port`, or a
 * bare port (loopback). Returns undefined for `false` (server disabled).
 */
export function parseHttpAddress(value: string | number | false): { host: string; port: number } | undefined {
  if (value === false) return undefined;
  const text = String(value).trim();
  const match = /^(?:(?:\[([^\]]+)\]|([^:\s[\]]+)):)?(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65_535) {
    throw new WalrusError('CONFIG_INVALID', `observability.http: "${text}" is not an address; use host:port (e.g. 127.0.0.1:9464), a port, or false to disable`);
  }
  return { host: match[1] ?? match[2] ?? '127.0.0.1', port };
}

import type { output } from 'zod';
import { zod } from '../../util/zod.js';
import { WalrusError } from '../../errors/index.js';
import { parseAddress, type NodeAddress, type NodeAddressInput } from '../transport/address.js';
import type { BalancerName } from './balancer.js';
import type { Clock } from '../transport/clock.js';
import type { Sleep } from '../../util/sleep.js';
import type { SocketFactory } from '../transport/connection.js';
import { hidePassword, type ClientAuth } from '../transport/auth.js';
import type { ClientTls } from '../transport/tls.js';
import { passwordProblem, userNameProblem } from '../../protocol/auth.js';
import type { RetryPredicate } from './retry.js';
import { CLIENT_LIMITS as L } from './option-limits.js';

/** Connection pool of each node. Connections are pipelined: a lease is a share of one, not exclusive use. */
export interface PoolOptions {
  /** Connections kept open per node (opened on first use, topped up by upkeep). @default 1 */
  min?: number;
  /** Most connections per node. Must be >= `min`. @default 4 */
  max?: number;
  /** How long a call waits for a connection slot before POOL_TIMEOUT. @default 5000 */
  acquireTimeoutMs?: number;
  /** Idle connections above `min` are closed after this long. @default 30000 */
  idleTimeoutMs?: number;
  /** Idle connections are checked with METRICS this often; a failing one is replaced. @default 30000 */
  healthCheckIntervalMs?: number;
  /** Callers sharing one connection at once (its pipeline depth) before another is opened or callers wait. @default 256 */
  maxPipeline?: number;
}

/** Retry with exponential backoff and jitter; only errors with `retriable: true` are retried. */
export interface RetryOptions {
  /** Retries after the first attempt (0 disables retrying). @default 3 */
  retries?: number;
  /** Wait before the first retry. @default 100 */
  initialDelayMs?: number;
  /** Upper bound of any wait. @default 5000 */
  maxDelayMs?: number;
  /** Growth factor of the wait per retry. @default 2 */
  multiplier?: number;
  /** Fraction of each wait that is random (0 = none, 1 = anywhere from 0 to the full wait). @default 0.5 */
  jitter?: number;
  /** Extra condition on top of `retriable` (it can only narrow what is retried). @default undefined */
  retryIf?: RetryPredicate;
}

/** Circuit breaker per node. */
export interface BreakerOptions {
  /** Consecutive node failures (network, timeout, protocol, server error) that open the breaker. @default 5 */
  failureThreshold?: number;
  /**
   * The longest an open breaker fails fast before letting trial calls
   * through. The first opening lasts 250 ms (or this, if shorter); each
   * reopening after a failed trial lasts twice as long as the last, up to
   * this; closing starts over. @default 30000
   */
  openDurationMs?: number;
  /** Trial calls in half-open state; this many successes close the breaker, one failure reopens it. @default 3 */
  halfOpenAttempts?: number;
}

/** Options of `new WalrusClient(options)`. Everything but `nodes` has a default. */
export interface WalrusClientOptions {
  /** Nodes as `"host:port"` or `{ host, port }`; at least one. */
  nodes: readonly NodeAddressInput[];
  /** @default see PoolOptions */
  pool?: PoolOptions;
  /** @default see RetryOptions */
  retry?: RetryOptions;
  /** @default see BreakerOptions */
  breaker?: BreakerOptions;
  /** How writes pick a node. Reads of a topic always use consistent hashing (each node has its own read cursor). @default 'round-robin' */
  balancer?: BalancerName;
  /** Virtual nodes per node on the hash ring. @default 160 */
  virtualNodes?: number;
  /** Per-request timeout; a request past it retires its connection. Also bounds how long closing a connection waits for the node to close its side. @default 10000 */
  requestTimeoutMs?: number;
  /** TCP connect timeout. @default 5000 */
  connectTimeoutMs?: number;
  /** Timeout of METRICS calls made by `health()`, pool health checks and breaker re-probes. @default 2000 */
  healthCheckTimeoutMs?: number;
  /**
   * Log every new connection in with `AUTH <username> <password>` before its
   * first request (nodes with users). A refused login fails with
   * AUTH_FAILED, is never retried, and further connections to that node
   * fail at once for `breaker.openDurationMs`. The password never appears
   * in errors, logs or `client.options`.
   * @default none (no AUTH sent)
   */
  auth?: ClientAuth;
  /** TLS to every node: `true` for the system's trust store, or CA / client certificate / server name. @default false (plain TCP) */
  tls?: boolean | ClientTls;
  /** Seam: replaces `net.connect` (tests, proxies). @default net.connect */
  socketFactory?: SocketFactory;
  /** Seam: monotonic clock for breakers. @default performance.now */
  clock?: Clock;
  /** Seam: the wait between retries. @default setTimeout-based */
  sleep?: Sleep;
  /** Seam: random source for jitter. @default Math.random */
  random?: () => number;
}

/**
 * The option schema, built on first use: zod is loaded then, not when the
 * package is imported (src/util/zod.ts).
 */
function buildClientSchema() {
  const z = zod();
  const ms = (max: number = L.maxMs) => z.number().int().min(0).max(max);
  const positive = () => z.number().int().min(1);
  const fn = <T>() => z.custom<T>((value) => typeof value === 'function', { message: 'must be a function' });

  const poolSchema = z.strictObject({
    min: z.number().int().min(0).max(L.connections).default(1),
    max: positive().max(L.connections).default(4),
    acquireTimeoutMs: ms().default(5_000),
    idleTimeoutMs: ms().min(1).default(30_000),
    healthCheckIntervalMs: ms().min(1).default(30_000),
    maxPipeline: positive().max(100_000).default(256),
  }).superRefine((pool, ctx) => {
    if (pool.max < pool.min) ctx.addIssue({ code: 'custom', path: ['max'], message: `must be >= pool.min (${pool.min})` });
  });

  const retrySchema = z.strictObject({
    retries: z.number().int().min(0).max(L.retries).default(3),
    initialDelayMs: ms().default(100),
    maxDelayMs: ms().default(5_000),
    multiplier: z.number().min(1).max(L.multiplier).default(2),
    jitter: z.number().min(0).max(1).default(0.5),
    retryIf: fn<RetryPredicate>().optional(),
  }).superRefine((retry, ctx) => {
    if (retry.maxDelayMs < retry.initialDelayMs) ctx.addIssue({ code: 'custom', path: ['maxDelayMs'], message: `must be >= retry.initialDelayMs (${retry.initialDelayMs})` });
  });

  const breakerSchema = z.strictObject({
    failureThreshold: positive().max(L.failureThreshold).default(5),
    openDurationMs: ms().min(1).default(30_000),
    halfOpenAttempts: positive().max(L.halfOpenAttempts).default(3),
  });

  // Messages never quote the value: it may be a password.
  const authSchema = z.strictObject({
    username: z.string().superRefine((v, ctx) => { const p = userNameProblem(v); if (p) ctx.addIssue({ code: 'custom', message: p }); }),
    password: z.string().superRefine((v, ctx) => { const p = passwordProblem(v); if (p) ctx.addIssue({ code: 'custom', message: p }); }),
  });

  const pemSchema = z.union([z.string().min(1), z.instanceof(Uint8Array)]);
  const tlsSchema = z.union([z.boolean(), z.strictObject({
    ca: z.union([pemSchema, z.array(pemSchema)]).optional(),
    cert: pemSchema.optional(),
    key: pemSchema.optional(),
    serverName: z.string().min(1).optional(),
    rejectUnauthorized: z.boolean().optional(),
  }).superRefine((t, ctx) => {
    if ((t.cert === undefined) !== (t.key === undefined)) ctx.addIssue({ code: 'custom', path: [t.cert === undefined ? 'cert' : 'key'], message: 'cert and key go together' });
  })]);

  const addressSchema = z.union([z.string(), z.strictObject({ host: z.string().min(1), port: z.number().int().min(1).max(65_535) })]);

  return z.strictObject({
    nodes: z.array(addressSchema).min(1, 'must list at least one node'),
    pool: poolSchema.prefault({}),
    retry: retrySchema.prefault({}),
    breaker: breakerSchema.prefault({}),
    balancer: z.enum(['round-robin', 'least-outstanding', 'consistent-hash']).default('round-robin'),
    virtualNodes: positive().max(10_000).default(160),
    requestTimeoutMs: ms().min(1).default(10_000),
    connectTimeoutMs: ms().min(1).default(5_000),
    healthCheckTimeoutMs: ms().min(1).default(2_000),
    auth: authSchema.optional(),
    tls: tlsSchema.default(false),
    socketFactory: fn<SocketFactory>().optional(),
    clock: z.custom<Clock>((value) => typeof (value as Clock | undefined)?.now === 'function', { message: 'must be an object with a now() method' }).optional(),
    sleep: fn<Sleep>().optional(),
    random: fn<() => number>().optional(),
  });
}

let clientSchema: ReturnType<typeof buildClientSchema> | undefined;

/** Options after validation, with every default applied and nodes parsed. */
export type ResolvedClientOptions = Omit<output<ReturnType<typeof buildClientSchema>>, 'nodes' | 'auth' | 'tls'> & { nodes: NodeAddress[]; auth: ClientAuth | undefined; tls: ClientTls | undefined };

/**
 * Validates and defaults client options. Throws CONFIG_INVALID listing
 * every problem by field path, e.g. `pool.max: must be >= pool.min (4)`.
 */
export function resolveClientOptions(input: WalrusClientOptions): ResolvedClientOptions {
  clientSchema ??= buildClientSchema();
  const result = clientSchema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.map(String).join('.') || 'options'}: ${issue.message}`);
    throw new WalrusError('CONFIG_INVALID', `Invalid WalrusClient options: ${problems.join('; ')}.`, { context: { problems } });
  }
  const nodes = result.data.nodes.map((node, i) => parseAddress(node, `nodes.${i}`));
  const seen = new Set<string>();
  nodes.forEach((node, i) => {
    const key = `${node.host}:${node.port}`;
    if (seen.has(key)) throw new WalrusError('CONFIG_INVALID', `Invalid WalrusClient options: nodes.${i}: ${key} is listed twice.`, { context: { field: `nodes.${i}` } });
    seen.add(key);
  });
  const { auth, tls, ...rest } = result.data;
  return {
    ...rest,
    nodes,
    auth: auth === undefined ? undefined : hidePassword(auth),
    tls: tls === false ? undefined : tls === true ? {} : (tls as ClientTls),
  };
}

import { zod } from '../../util/zod.js';
import { passwordProblem, userNameProblem } from '../../protocol/auth.js';
import { CLIENT_LIMITS as L } from '../../client/cluster/option-limits.js';
import { BROKER_DEFAULTS, BROKER_LIMITS } from '../../broker/options.js';
import { address, count, duration, ordered } from './schema-fields.js';

const z = zod();

/**
 * `cluster:` — where the Walrus nodes are and how the client talks to them
 * (the client's pool / retry / breaker / balancer options, docs/client.md).
 */

// The client's own bounds (run refused values past them as 'Invalid WalrusClient options', naming no line).
const DAY = { ms: L.maxMs, why: `the client's limit of ${L.maxMs} ms (1 day)` };
/** A client delay or timeout: at most a day; `min` 1 where 0 would mean at once. */
const clientDuration = (defaultValue: string, min?: number) => duration(defaultValue, { max: DAY, ...(min === undefined ? {} : { min }) });

const embedded = z
  .strictObject({
    dataDir: z.string().min(1).default('.walrus').describe('Data directory of the embedded node, relative to the topology file.'),
    host: z.string().min(1).default('127.0.0.1').describe('Address the embedded node binds (loopback by default).'),
    port: z.number().int().min(0).max(65_535).default(0).describe('TCP port of the embedded node; 0 picks a free port.'),
    fsync: z.enum(['always', 'never', 'interval']).default('interval').describe('When the embedded node\'s log reaches the disk: `always`: a write is acknowledged after fdatasync (writes arriving together share one, group commit); `interval`: acknowledged after the write, fdatasync every `fsyncInterval`; `never`: acknowledged after the write, synced by the OS.'),
    fsyncInterval: duration('100ms', { min: 1, max: { ms: BROKER_LIMITS.fsyncIntervalMs, why: `the node's limit of ${BROKER_LIMITS.fsyncIntervalMs} ms (1 hour)` } })
      .describe('Fsync period when `fsync` is `interval`.'),
    compat: z.enum(['default', 'stock']).default('default').describe('`stock` turns off the batch extensions, behaving exactly like a stock Walrus node.'),
    segmentEntries: count(1_000_000, 1, BROKER_LIMITS.segmentEntries).describe('Entries per log segment before it rolls over.'),
    segmentBytes: count(BROKER_DEFAULTS.segmentBytes, 0, BROKER_LIMITS.segmentBytes).describe('Bytes per log segment file before it rolls over, even short of `segmentEntries`; consumed segments are deleted whole, so this bounds what a consumed topic keeps on disk. 0 = entries only.'),
    persistCursors: z.boolean().default(true).describe('Keep read cursors across restarts of the embedded node.'),
    users: z.string().min(1).optional().describe('Users file of the embedded node (`walrus-stream broker adduser`), relative to the topology file: connections must `AUTH`, and the pipeline logs in with `cluster.auth`. Required for a `host` beyond loopback, unless `insecure`.'),
    insecure: z.boolean().default(false).describe('Let the embedded node bind a non-loopback `host` without users (warned on every start).'),
  })
  .describe('The embedded node, started when `nodes` is empty.');

const pool = z
  .strictObject({
    min: count(1, 0, L.connections).describe('Connections kept open per node.'),
    max: count(4, 1, L.connections).describe('Most connections per node.'),
    acquireTimeout: clientDuration('5s').describe('How long a request waits for a free connection.'),
    idleTimeout: clientDuration('30s', 1).describe('Idle connections above `min` close after this.'),
  })
  .superRefine(ordered('min', 'max'))
  .describe('Connection pool per node.');

const retry = z
  .strictObject({
    retries: count(3, 0, L.retries).describe('Retries of a failed request (0 = none).'),
    initialDelay: clientDuration('100ms').describe('Delay before the first retry.'),
    maxDelay: clientDuration('5s').describe('Largest delay between retries.'),
    multiplier: z.number().min(1).max(L.multiplier).default(2).describe('Each delay is the previous one times this.'),
  })
  .superRefine(ordered('initialDelay', 'maxDelay', 'ms'))
  .describe('Retry policy of client requests (retriable errors only).');

const breaker = z
  .strictObject({
    failureThreshold: count(5, 1, L.failureThreshold).describe('Consecutive failures that open the breaker of a node.'),
    openDuration: clientDuration('30s', 1).describe('Longest time an open breaker refuses calls: the first opening lasts 250 ms (or this, if shorter), each reopening after a failed trial call twice as long as the last, up to this; closing starts over.'),
    halfOpenAttempts: count(3, 1, L.halfOpenAttempts).describe('Trial calls let through while half-open.'),
  })
  .describe('Circuit breaker per node.');

// Messages never quote a password (issues.ts also hides the value of any `password` key).
const auth = z
  .strictObject({
    username: z
      .string()
      .superRefine((v, ctx) => { const p = userNameProblem(v); if (p) ctx.addIssue({ code: 'custom', message: p }); })
      .describe('User name sent with `AUTH` (no spaces).'),
    password: z
      .string()
      .superRefine((v, ctx) => { const p = passwordProblem(v); if (p) ctx.addIssue({ code: 'custom', message: p }); })
      .describe('Password sent with `AUTH`: write `${WALRUS_PASSWORD}` rather than the password itself. Never logged or printed. May contain spaces; cannot end in whitespace.'),
  })
  .describe('Log in to nodes that require it (`AUTH <username> <password>` on every new connection). A refused login stops with AUTH_FAILED; it is not retried.');

const tls = z
  .strictObject({
    ca: z.string().min(1).optional().describe('PEM file of the CA(s) to trust, relative to the topology file (default: the system trust store).'),
    cert: z.string().min(1).optional().describe('PEM file of a client certificate, for mutual TLS.'),
    key: z.string().min(1).optional().describe('PEM file of the client certificate\'s private key.'),
    serverName: z.string().min(1).optional().describe('Name the nodes\' certificates must carry (default: the host of each node).'),
  })
  .superRefine((t, ctx) => {
    if ((t.cert === undefined) !== (t.key === undefined)) ctx.addIssue({ code: 'custom', path: [t.cert === undefined ? 'cert' : 'key'], message: '`cert` and `key` go together' });
  })
  .describe('Speak TLS to the nodes (a node started with `--tls-cert`, or a TLS terminator in front of Walrus). `tls: {}` trusts the system CAs.');

export const clusterSchema = z
  .strictObject({
    nodes: z
      .array(address())
      .superRefine((nodes, ctx) => {
        nodes.forEach((node, i) => {
          if (nodes.indexOf(node) !== i) ctx.addIssue({ code: 'custom', path: [i], input: node, message: `"${node}" is listed twice` });
        });
      })
      .default([])
      .describe('Walrus nodes as `host:port`. Leave empty to run the embedded node.'),
    embedded: embedded.prefault({}),
    pool: pool.prefault({}),
    retry: retry.prefault({}),
    breaker: breaker.prefault({}),
    balancer: z
      .enum(['round-robin', 'least-outstanding', 'consistent-hash'])
      .default('round-robin')
      .describe('How writes spread over nodes; reads of a topic always stay on one node.'),
    auth: auth.optional(),
    tls: tls.optional(),
    requestTimeout: clientDuration('10s', 1).describe('Per-request timeout.'),
    connectTimeout: clientDuration('5s', 1).describe('TCP connect timeout.'),
  })
  .describe('The Walrus cluster, or the embedded node when no `nodes` are given.');

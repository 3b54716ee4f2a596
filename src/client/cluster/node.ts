import { WalrusError } from '../../errors/index.js';
import {
  encodeMetrics,
  parseMetrics,
  type NodeMetrics,
} from '../../protocol/index.js';
import type { NodeAddress } from '../transport/address.js';
import { formatAddress } from '../transport/address.js';
import { CircuitBreaker, type BreakerSettings, type BreakerState } from './breaker.js';
import { PROBE_FRAMES, parseProbe, type NodeCapabilities } from '../transport/capabilities.js';
import type { Clock } from '../transport/clock.js';
import { Connection, type ReplyParser, type ReplySample, type RequestMeta, type SocketFactory } from '../transport/connection.js';
import { waitForCall, type CallBounds } from '../transport/call-wait.js';
import { LoginRefusals, type ClientAuth } from '../transport/auth.js';
import type { ClientTls } from '../transport/tls.js';
import { channels } from './events.js';
import { entriesMayBeLost, isNodeFailure, requestMayHaveRun } from '../transport/network-errors.js';
import { ConnectionPool, type PoolSettings, type PoolStats } from '../transport/pool.js';
import { CommandCounters, type CommandStats, type RetryCounters } from './stats.js';

export interface NodeSettings {
  address: NodeAddress;
  pool: PoolSettings;
  breaker: BreakerSettings;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  healthCheckTimeoutMs: number;
  socketFactory?: SocketFactory | undefined;
  auth?: ClientAuth | undefined;
  tls?: ClientTls | undefined;
  clock: Clock;
  /** Client-wide counters this node adds to (possible losses, discarded entries). */
  counters: RetryCounters;
}

export interface NodeStats {
  outstanding: number;
  /**
   * How long requests sent to the node have waited without it saying
   * anything (0 when none waits): a node that accepted the connection but
   * stopped answering shows here long before `requestTimeoutMs` passes.
   */
  silentMs: number;
  requests: Record<string, CommandStats>;
  pool: PoolStats;
  breaker: ReturnType<CircuitBreaker['snapshot']>;
  capabilities: NodeCapabilities;
}

/** Errors that are answers from a healthy node (it parsed the request and replied). */
const ANSWERED = new Set(['TOPIC_NOT_FOUND', 'TOPIC_ALREADY_EXISTS', 'INVALID_COMMAND', 'UNKNOWN_COMMAND', 'INVALID_FRAME']);

/**
 * One node of the cluster: its pool, circuit breaker, capabilities and
 * counters. Every request goes through `request`/`withConnection`, which
 * admit it through the breaker, lease a pipelined connection, and report
 * the outcome to the breaker.
 */
export class WalrusNode {
  readonly id: string;
  readonly address: NodeAddress;
  readonly #settings: NodeSettings;
  readonly #pool: ConnectionPool;
  readonly #breaker: CircuitBreaker;
  readonly #commands = new Map<string, CommandCounters>();
  #outstanding = 0;
  #capabilities: NodeCapabilities = { batchPut: false, batchGet: false, batchLease: false, claims: false, probed: false };
  #probing: Promise<NodeCapabilities> | undefined;
  #reprobe: NodeJS.Timeout | undefined;
  #closed = false;
  /** Aborted by close(): cuts connections still connecting or logging in. */
  readonly #stop = new AbortController();
  /** Connections up but still logging in (not in the pool yet): a silent node shows there first. */
  readonly #loggingIn = new Set<Connection>();
  readonly #counted = new WeakSet<object>();
  readonly #refusals: LoginRefusals;

  constructor(settings: NodeSettings) {
    this.#settings = settings;
    this.address = settings.address;
    this.id = formatAddress(settings.address);
    this.#refusals = new LoginRefusals(settings.breaker.openDurationMs);
    const onReply = (sample: ReplySample): void => this.#record(sample);
    this.#pool = new ConnectionPool(
      this.id,
      () => this.#connect(onReply),
      settings.pool,
      (connection) => connection.send(encodeMetrics(), parseMetrics, { command: 'METRICS', timeoutMs: settings.healthCheckTimeoutMs }).then(() => undefined),
    );
    this.#breaker = new CircuitBreaker(this.id, settings.breaker, settings.clock, (state) => this.#onBreaker(state));
  }

  get outstanding(): number {
    return this.#outstanding;
  }

  /** False while the breaker would refuse a call. */
  get available(): boolean {
    return this.#breaker.available;
  }

  get breakerState(): BreakerState {
    return this.#breaker.state;
  }

  get capabilities(): NodeCapabilities {
    return { ...this.#capabilities };
  }

  /** Sends one request on a leased connection, through the breaker. */
  request<T>(frame: Buffer, parse: ReplyParser<T>, meta: RequestMeta): Promise<T> {
    return this.withConnection((connection) => connection.send(frame, parse, meta), meta, meta.command, meta.topic);
  }

  /**
   * Runs `work` with one leased connection (so a batch of pipelined requests
   * stays in order on one socket); counts as one call for the breaker.
   * The call's signal and timeoutMs also bound the wait for the connection.
   */
  async withConnection<T>(work: (connection: Connection) => Promise<T>, call: CallBounds = {}, command = 'request', topic?: string): Promise<T> {
    if (this.#closed) throw new WalrusError('POOL_CLOSED', `The client is closed; node ${this.id} takes no more requests.`, { context: { node: this.id } });
    this.#breaker.admit();
    this.#outstanding++;
    let connection: Connection | undefined;
    try {
      connection = await this.#acquire(call, command, topic);
      const value = await work(connection);
      this.#breaker.success();
      return value;
    } catch (error) {
      this.#judge(error, command);
      throw error;
    } finally {
      if (connection) this.#pool.release(connection);
      this.#outstanding--;
    }
  }

  /**
   * Like `withConnection`, but when `work` succeeds the connection stays
   * pinned in the pool — neither evicted as idle nor health-checked — until
   * `release()` is called. A BATCH_LEASE lease lives on exactly this
   * connection. The pin takes no pipeline slot, so held leases never starve
   * other calls. `call` only bounds the wait for a connection.
   */
  async holdConnection<T>(work: (connection: Connection) => Promise<T>, command: string, call: CallBounds = {}, topic?: string): Promise<{ value: T; connection: Connection; release: () => void }> {
    if (this.#closed) throw new WalrusError('POOL_CLOSED', `The client is closed; node ${this.id} takes no more requests.`, { context: { node: this.id } });
    this.#breaker.admit();
    this.#outstanding++;
    let connection: Connection | undefined;
    try {
      connection = await this.#acquire(call, command, topic);
      const value = await work(connection);
      this.#breaker.success();
      const held = connection;
      let released = false;
      this.#pool.pin(held);
      return {
        value,
        connection: held,
        release: () => {
          if (released) return;
          released = true;
          this.#pool.unpin(held);
        },
      };
    } catch (error) {
      this.#judge(error, command);
      throw error;
    } finally {
      if (connection) this.#pool.release(connection);
      this.#outstanding--;
    }
  }

  /** Detects BATCH_PUT / BATCH_GET / BATCH_LEASE / CLAIM once (four harmless probe frames on one connection). */
  probeCapabilities(): Promise<NodeCapabilities> {
    if (this.#capabilities.probed) return Promise.resolve(this.capabilities);
    this.#probing ??= this.withConnection(async (connection) => {
      const [batchPut, batchGet, batchLease, claims] = await Promise.all([
        connection.send(PROBE_FRAMES.batchPut, parseProbe, { command: 'PROBE' }),
        connection.send(PROBE_FRAMES.batchGet, parseProbe, { command: 'PROBE' }),
        connection.send(PROBE_FRAMES.batchLease, parseProbe, { command: 'PROBE' }),
        connection.send(PROBE_FRAMES.claims, parseProbe, { command: 'PROBE' }),
      ]);
      this.#capabilities = { batchPut, batchGet, batchLease, claims, probed: true };
      channels.capabilities.publish({ node: this.id, batchPut, batchGet, batchLease });
      return this.capabilities;
    }, {}, 'PROBE').finally(() => {
      this.#probing = undefined;
    });
    return this.#probing;
  }

  /**
   * The capabilities, waiting for the probe (shared by every caller, so
   * never cancelled by one) only as long as `call`'s signal and timeoutMs allow.
   */
  capabilitiesFor(call: CallBounds, command: string, topic?: string): Promise<NodeCapabilities> {
    const known = this.capabilities;
    if (known.probed) return Promise.resolve(known);
    return waitForCall(this.probeCapabilities(), call, { node: this.id, command, topic, what: 'the capability probe' });
  }

  /** Records that the node answered `ERR unknown command` to an extension it was thought to have (e.g. it was replaced by a stock node). */
  markUnsupported(which: 'batchPut' | 'batchGet' | 'batchLease' | 'claims'): void {
    this.#capabilities = { ...this.#capabilities, [which]: false, probed: true };
    const { batchPut, batchGet, batchLease } = this.#capabilities;
    channels.capabilities.publish({ node: this.id, batchPut, batchGet, batchLease });
  }

  /** Counts GETs that failed after reaching the node, in a call that still succeeded overall. */
  notePossibleLosses(count: number): void {
    this.#settings.counters.possibleLosses += count;
  }

  /** METRICS, straight to this node. */
  metrics(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<NodeMetrics> {
    return this.request(encodeMetrics(), parseMetrics, { command: 'METRICS', ...options });
  }

  stats(): NodeStats {
    const requests: Record<string, CommandStats> = {};
    for (const [command, counters] of this.#commands) requests[command] = counters.snapshot();
    let silentMs = this.#pool.silentMs();
    for (const connection of this.#loggingIn) silentMs = Math.max(silentMs, connection.silentMs());
    return { outstanding: this.#outstanding, silentMs: Math.round(silentMs), requests, pool: this.#pool.stats(), breaker: this.#breaker.snapshot(), capabilities: this.capabilities };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#stop.abort();
    if (this.#reprobe) clearTimeout(this.#reprobe);
    await this.#pool.close();
  }

  /**
   * A pool lease, waited for (a connection opening and logging in, or a
   * free pipeline slot) only as long as the call allows; one that comes
   * after the caller gave up is handed back at once.
   */
  #acquire(call: CallBounds, command: string, topic: string | undefined): Promise<Connection> {
    return waitForCall(this.#pool.acquire(call.signal), call, { node: this.id, command, topic, what: 'a connection' }, (late) => this.#pool.release(late), (error) => {
      // Nobody waits for this failure any more; it still counts against the node (once per cause).
      if (!isNodeFailure(error) || this.#counted.has(error as object)) return;
      this.#counted.add(error as object);
      this.#breaker.failure();
    });
  }

  async #connect(onReply: (sample: ReplySample) => void): Promise<Connection> {
    const { address, connectTimeoutMs, requestTimeoutMs, socketFactory, auth, tls, clock } = this.#settings;
    // A refused login is not retried by reconnecting for every request (docs/security.md).
    this.#refusals.check(clock.now());
    let loggingIn: Connection | undefined;
    try {
      const connection = await Connection.connect({ host: address.host, port: address.port, connectTimeoutMs, requestTimeoutMs, socketFactory, auth, tls, onReply, signal: this.#stop.signal }, (up) => {
        if (auth) this.#loggingIn.add((loggingIn = up));
      });
      channels.connection.publish({ node: this.id, event: 'open' });
      connection.onClose((reason) => channels.connection.publish({ node: this.id, event: 'close', errorCode: reason.code }));
      return connection;
    } catch (error) {
      this.#refusals.record(error, clock.now());
      channels.connection.publish({ node: this.id, event: 'failed', errorCode: (error as WalrusError).code });
      throw error;
    } finally {
      if (loggingIn) this.#loggingIn.delete(loggingIn);
    }
  }

  #record(sample: ReplySample): void {
    let counters = this.#commands.get(sample.command);
    if (!counters) this.#commands.set(sample.command, (counters = new CommandCounters()));
    counters.record(sample);
    if (sample.discardedEntries > 0) this.#settings.counters.discardedEntries += sample.discardedEntries;
    if (channels.request.hasSubscribers) {
      channels.request.publish({
        node: this.id,
        command: sample.command,
        outcome: sample.outcome,
        errorCode: sample.error?.code,
        durationMs: sample.durationMs,
        bytesOut: sample.bytesOut,
        bytesIn: sample.bytesIn,
      });
    }
  }

  #judge(error: unknown, command: string): void {
    if (isNodeFailure(error) && !this.#impatient(error)) {
      // Every request in flight on a connection that died fails with the
      // same cause; that is one failure of the node, not one per request.
      const cause = (error as WalrusError).cause;
      const key = requestMayHaveRun(error) && cause instanceof WalrusError ? cause : (error as WalrusError);
      if (!this.#counted.has(key)) {
        this.#counted.add(key);
        this.#breaker.failure();
      } else {
        this.#breaker.neutral();
      }
      if ((command === 'GET' || command === 'BATCH_GET') && entriesMayBeLost(error)) this.#settings.counters.possibleLosses++;
    } else if (error instanceof WalrusError && ANSWERED.has(error.code)) {
      this.#breaker.success();
    } else {
      this.#breaker.neutral();
    }
  }

  /**
   * A call given up by its own timeoutMs before healthCheckTimeoutMs passed
   * says more about the caller's patience than about the node (a node
   * silent that long is unhealthy, whoever asked): neutral, like an abort,
   * so one impatient caller cannot open the breaker for every other.
   */
  #impatient(error: unknown): boolean {
    const { givenUp, timeoutMs, requestSent } = (error as WalrusError).context;
    if (givenUp !== true) return false;
    // Given up before its request was sent (waiting for a busy pool slot, a
    // connection or the probe): that wait says nothing about the node, as
    // POOL_TIMEOUT does not. A connection that then fails to open still counts (#acquire).
    if (requestSent === false) return true;
    return typeof timeoutMs === 'number' && timeoutMs < this.#settings.healthCheckTimeoutMs;
  }

  /**
   * When the breaker opens, come back once the opening is over and probe
   * with METRICS (the half-open trial calls), so a healed node returns to
   * service even when no user request would have tried it.
   */
  #onBreaker(state: BreakerState): void {
    channels.breaker.publish({ node: this.id, state });
    if (state !== 'open' || this.#closed) return;
    if (this.#reprobe) clearTimeout(this.#reprobe);
    this.#reprobe = setTimeout(() => void this.#probeHealth(), this.#breaker.retryAfterMs + 1);
    this.#reprobe.unref();
  }

  async #probeHealth(): Promise<void> {
    this.#reprobe = undefined;
    for (let i = 0; i < this.#settings.breaker.halfOpenAttempts && !this.#closed; i++) {
      if (this.#breaker.state !== 'half-open') return;
      try {
        await this.metrics({ timeoutMs: this.#settings.healthCheckTimeoutMs });
      } catch {
        return; // the failure reopened the breaker, which schedules the next probe
      }
    }
  }
}

import { WalrusError } from '../../errors/index.js';
import {
  CLAIM_OWNER_RULE,
  MAX_BATCH_ENTRIES,
  MAX_CLAIM_TTL_MS,
  MAX_FRAME_BYTES,
  MIN_CLAIM_TTL_MS,
  assertTopic,
  encodeFrame,
  encodeGet,
  encodePut,
  encodeRegister,
  encodeState,
  isClaimOwner,
  isClaimTtl,
  parseGet,
  parseOk,
  parseState,
  type NodeMetrics,
} from '../../protocol/index.js';
import { formatAddress, parseAddress, type NodeAddressInput } from '../transport/address.js';
import { assertCallOptions, invalidArgument, type CallOptions } from '../transport/call-options.js';
import type { BalancerName } from './balancer.js';
import { getManyOnNode, planBatches, putManyOnNode, type PutManyProgress } from './batch-ops.js';
import type { NodeCapabilities } from '../transport/capabilities.js';
import { systemClock } from '../transport/clock.js';
import { checkNodeHealth, type ClusterHealth } from './health.js';
import { leaseOnNode, releaseOnNode, unleased, type Lease } from './lease.js';
import { requestMayHaveRun } from '../transport/network-errors.js';
import { WalrusNode, type NodeStats } from './node.js';
import { resolveClientOptions, type ResolvedClientOptions, type WalrusClientOptions } from './options.js';
import { RetryPolicy } from './retry.js';
import { Router, type Route } from './router.js';
import { registerOnAll } from './register.js';
import { emptyRetryCounters, type RetryCounters } from './stats.js';
import { toTopicStateInfo, type TopicStateInfo } from './topic-state.js';

export type { CallOptions } from '../transport/call-options.js';

/** `client.stats()`: a snapshot of every counter. */
export interface ClientStats extends RetryCounters {
  balancer: BalancerName;
  nodes: Record<string, NodeStats>;
}

/**
 * The Walrus client: one or more nodes, each with a pool of pipelined
 * connections, a circuit breaker and detected capabilities; retries with
 * backoff; failover between nodes.
 *
 * Routing. Writes go where the `balancer` says. Reads of a topic always go
 * to the topic's owner on a consistent-hash ring, whatever the balancer:
 * each Walrus node keeps its own in-memory read cursor per topic, so reading
 * one topic through two nodes would deliver entries twice. Only when the
 * owner's breaker is open do reads move to the next node on the ring, and
 * they return when it heals.
 *
 * @example
 * const client = new WalrusClient({ nodes: ['127.0.0.1:9091'] });
 * await client.register('orders');
 * await client.put('orders', '{"id":1}');
 * const entry = await client.get('orders'); // Buffer | undefined
 * await client.close();
 */
export class WalrusClient {
  readonly options: Readonly<ResolvedClientOptions>;
  readonly #nodes: WalrusNode[];
  readonly #router: Router;
  readonly #counters: RetryCounters = emptyRetryCounters();
  #closed: Promise<void> | undefined;
  /** Aborted by close(): ends the waits of calls between retries. */
  readonly #stop = new AbortController();

  constructor(options: WalrusClientOptions) {
    this.options = resolveClientOptions(options);
    const o = this.options;
    this.#nodes = o.nodes.map((address) => new WalrusNode({
      address,
      pool: o.pool,
      breaker: o.breaker,
      connectTimeoutMs: o.connectTimeoutMs,
      requestTimeoutMs: o.requestTimeoutMs,
      healthCheckTimeoutMs: o.healthCheckTimeoutMs,
      socketFactory: o.socketFactory,
      auth: o.auth,
      tls: o.tls,
      clock: o.clock ?? systemClock,
      counters: this.#counters,
    }));
    this.#router = new Router(this.#nodes, o.balancer, o.virtualNodes, new RetryPolicy(o.retry, { sleep: o.sleep, random: o.random, stop: this.#stop.signal }), this.#counters);
  }

  /**
   * Creates `topic` on every reachable node (idempotent). Resolves when at
   * least one node confirmed and the others answered or had
   * `healthCheckTimeoutMs` more to (see cluster/register.ts).
   */
  async register(topic: string, options: CallOptions = {}): Promise<void> {
    // The frame first: it checks the topic, which the call's label below needs as text.
    const frame = encodeRegister(topic);
    assertCallOptions(options, `register(${topic})`, topic);
    await registerOnAll(this.#nodes.map((node) =>
      this.#router.onNode('REGISTER', topic, options.signal, () => node.request(frame, parseOk, { command: 'REGISTER', topic, ...options })),
    ), this.options.healthCheckTimeoutMs);
    this.#router.registered.add(topic);
  }

  /** Appends one entry. `payload` must be non-empty, valid UTF-8, without trailing whitespace, and fit one frame. */
  async put(topic: string, payload: string, options: CallOptions = {}): Promise<void> {
    const frame = encodePut(topic, payload);
    assertCallOptions(options, `put(${topic})`, topic);
    await this.#run('PUT', topic, 'write', options, (node) => node.request(frame, parseOk, { command: 'PUT', topic, ...options }), (error) => {
      if (requestMayHaveRun(error)) this.#counters.possibleDuplicates++;
    });
  }

  /** Takes the next entry (raw UTF-8 bytes), or undefined when the topic is drained. GET is destructive: see docs/client.md. */
  async get(topic: string, options: CallOptions = {}): Promise<Buffer | undefined> {
    const frame = encodeGet(topic);
    assertCallOptions(options, `get(${topic})`, topic);
    return this.#run('GET', topic, 'read', options, (node) => node.request(frame, parseGet, { command: 'GET', topic, ...options }));
  }

  /**
   * Appends many entries, in order. Uses BATCH_PUT (split to fit frames and
   * the 2,000-entry limit) where the node has it, pipelined PUTs otherwise.
   * Every payload is checked before anything is sent. After a failure only
   * the entries not known to be stored are retried.
   */
  async putMany(topic: string, payloads: readonly string[], options: CallOptions = {}): Promise<void> {
    assertTopic(topic);
    assertCallOptions(options, `putMany(${topic})`, topic);
    if (!Array.isArray(payloads)) throw new WalrusError('INVALID_ARGUMENT', `putMany(${topic}): payloads must be an array of strings.`, { context: { topic } });
    let chunks = planBatches(topic, payloads);
    if (chunks.length === 0) return;
    let uncertain = 0;
    await this.#run('PUT_MANY', topic, 'write', options, async (node) => {
      for (;;) {
        const caps = await this.#capabilitiesOf(node, options, 'PUT_MANY', topic);
        if (!caps.batchPut) this.#counters.fallbacks++;
        try {
          await putManyOnNode(node, topic, chunks, caps.batchPut, options);
          return;
        } catch (error) {
          const progress = (error as WalrusError).context?.progress as PutManyProgress | undefined;
          if (progress) {
            chunks = planBatches(topic, progress.remaining);
            uncertain = progress.uncertain;
          }
          if (caps.batchPut && (error as WalrusError).code === 'UNKNOWN_COMMAND') {
            node.markUnsupported('batchPut');
            continue; // nothing was stored by the refused BATCH_PUT: resend as PUTs at once
          }
          throw error;
        }
      }
    }, () => {
      this.#counters.possibleDuplicates += uncertain;
      uncertain = 0;
    });
  }

  /**
   * Takes up to `maxEntries` entries (at most 2,000 per call) whose bytes add
   * up to about `maxBytes`; [] when the topic is drained. BATCH_GET where the
   * node has it, pipelined GETs otherwise (then `maxBytes` may be passed by
   * one wave of GETs, since entries read are never dropped).
   */
  async getMany(topic: string, maxEntries: number, maxBytes: number = MAX_FRAME_BYTES, options: CallOptions = {}): Promise<Buffer[]> {
    assertTopic(topic);
    assertCallOptions(options, `getMany(${topic})`, topic);
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new WalrusError('INVALID_ARGUMENT', `getMany(${topic}): maxEntries must be a positive integer, got ${String(maxEntries)}.`, { context: { topic } });
    if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new WalrusError('INVALID_ARGUMENT', `getMany(${topic}): maxBytes must be a positive integer, got ${String(maxBytes)}.`, { context: { topic } });
    const entries = Math.min(maxEntries, MAX_BATCH_ENTRIES);
    return this.#run('GET_MANY', topic, 'read', options, (node) => this.#getManyOn(node, topic, entries, maxBytes, options));
  }

  /**
   * Reads up to `maxEntries` entries (at most 2,000) of about `maxBytes`
   * that the node only hides from other readers until `ack()`: a crash
   * before the ACK (of this process, or of its connection) makes the node
   * deliver them again, before newer entries. Make them durable, then ack.
   *
   * Uses BATCH_LEASE where the node has it (the embedded node in default
   * mode). Elsewhere it falls back to `getMany` and returns `leased: false`
   * with a no-op `ack()`: those entries are consumed on read, so the window
   * between the read and making them durable stays open (docs/client.md).
   * The lease keeps its connection (ACKs must travel on it), so hold few
   * leases at once and acknowledge promptly.
   *
   * @example
   * const lease = await client.lease('orders', 500);
   * await journal.append(lease.entries);
   * await lease.ack();
   */
  async lease(topic: string, maxEntries: number, maxBytes: number = MAX_FRAME_BYTES, options: CallOptions = {}): Promise<Lease> {
    assertTopic(topic);
    assertCallOptions(options, `lease(${topic})`, topic);
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new WalrusError('INVALID_ARGUMENT', `lease(${topic}): maxEntries must be a positive integer, got ${String(maxEntries)}.`, { context: { topic } });
    if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new WalrusError('INVALID_ARGUMENT', `lease(${topic}): maxBytes must be a positive integer, got ${String(maxBytes)}.`, { context: { topic } });
    const entries = Math.min(maxEntries, MAX_BATCH_ENTRIES);
    return this.#run('LEASE', topic, 'read', options, async (node) => {
      const caps = await this.#capabilitiesOf(node, options, 'LEASE', topic);
      if (caps.batchLease) {
        try {
          return await leaseOnNode(node, topic, entries, maxBytes, this.#counters, options);
        } catch (error) {
          const { code, context } = error as WalrusError;
          // UNKNOWN_COMMAND: the node lost the extension. The next entry too
          // big for a list reply: only GET can read it (unprotected, as documented).
          const tooBig = code === 'INVALID_COMMAND' && / does not fit /.test(String(context?.serverMessage));
          if (code !== 'UNKNOWN_COMMAND' && !tooBig) throw error;
          if (code === 'UNKNOWN_COMMAND') node.markUnsupported('batchLease');
        }
      }
      this.#counters.fallbacks++;
      return unleased(await this.#getManyOn(node, topic, entries, maxBytes, options), node.id, false);
    });
  }

  /**
   * Releases every open lease on `topic`, whoever holds it, for redelivery
   * (RELEASE, docs/broker.md "Leases"): how many entries, or undefined on a
   * node without leases. Only for the topic's sole owner: the new owner of
   * a state partition calls it before restoring, so what a former owner
   * frozen mid-restore still holds (its connection stays open) is restored.
   */
  async releaseLeases(topic: string, options: CallOptions = {}): Promise<number | undefined> {
    assertCallOptions(options, `releaseLeases(${topic})`, topic);
    return this.#run('RELEASE', topic, 'read', options, async (node) => ((await this.#capabilitiesOf(node, options, 'RELEASE', topic)).batchLease ? releaseOnNode(node, topic, options) : undefined));
  }

  /**
   * Takes or renews the ownership lease `name` (a partition topic) for
   * `owner` during `ttlMs`, on the node that serves reads of `name`
   * (CLAIM, docs/broker.md "Ownership leases"). Resolves true when held,
   * false when the node has no such extension (a stock node: nothing is
   * checked); rejects with OWNERSHIP_CONFLICT while another live owner holds it.
   */
  async claim(name: string, owner: string, ttlMs: number, options: CallOptions = {}): Promise<boolean> {
    return this.#claim('claim', name, owner, ttlMs, options);
  }

  /**
   * Like {@link claim}, but renews only a lease that stayed `owner`'s: when
   * another owner took `name` meanwhile (even one that has released it
   * since) it rejects with OWNERSHIP_CONFLICT (`context.lost` true). A
   * holder that was frozen past its TTL calls this to learn whether its
   * partitions may have been processed elsewhere.
   */
  async renewClaim(name: string, owner: string, ttlMs: number, options: CallOptions = {}): Promise<boolean> {
    return this.#claim('renewClaim', name, owner, ttlMs, options);
  }

  async #claim(method: 'claim' | 'renewClaim', name: string, owner: string, ttlMs: number, options: CallOptions): Promise<boolean> {
    assertTopic(name);
    assertClaimOwner(`${method}(${name})`, name, owner);
    if (!isClaimTtl(ttlMs)) throw invalidArgument(`${method}(${name})`, 'ttlMs', `an integer number of milliseconds from ${MIN_CLAIM_TTL_MS} to ${MAX_CLAIM_TTL_MS}`, ttlMs, name);
    assertCallOptions(options, `${method}(${name})`, name);
    const frame = encodeFrame(`CLAIM ${name} ${owner} ${ttlMs}${method === 'renewClaim' ? ' renew' : ''}`);
    return this.#run('CLAIM', name, 'read', options, async (node) => {
      if (!(await this.#capabilitiesOf(node, options, 'CLAIM', name)).claims) return false;
      try {
        await node.request(frame, parseOk, { command: 'CLAIM', topic: name, ...options });
        return true;
      } catch (error) {
        if ((error as WalrusError).code !== 'UNKNOWN_COMMAND') throw error;
        node.markUnsupported('claims');
        return false;
      }
    });
  }

  /** Gives up the ownership lease `name` held by `owner` (UNCLAIM); a no-op on a node without the extension. */
  async unclaim(name: string, owner: string, options: CallOptions = {}): Promise<void> {
    assertTopic(name);
    assertClaimOwner(`unclaim(${name})`, name, owner);
    assertCallOptions(options, `unclaim(${name})`, name);
    const frame = encodeFrame(`UNCLAIM ${name} ${owner}`);
    await this.#run('UNCLAIM', name, 'read', options, async (node) => {
      if (!(await this.#capabilitiesOf(node, options, 'UNCLAIM', name)).claims) return;
      await node.request(frame, parseOk, { command: 'UNCLAIM', topic: name, ...options });
    });
  }

  /** STATE of `topic` from the node that serves its reads (so `lag` matches what this client reads). */
  async state(topic: string, options: CallOptions = {}): Promise<TopicStateInfo> {
    const frame = encodeState(topic);
    assertCallOptions(options, `state(${topic})`, topic);
    return this.#run('STATE', topic, 'read', options, async (node) => toTopicStateInfo(topic, node.id, await node.request(frame, parseState, { command: 'STATE', topic, ...options })));
  }

  /** METRICS of one node (`"host:port"` or `{host, port}`), or of the first available node. */
  async metrics(node?: NodeAddressInput, options: CallOptions = {}): Promise<NodeMetrics> {
    assertCallOptions(options, 'metrics()');
    if (node !== undefined) {
      const target = this.#node(node, 'metrics()');
      return this.#router.onNode('METRICS', undefined, options.signal, () => target.metrics(options));
    }
    return this.#run('METRICS', undefined, 'write', options, (target) => target.metrics(options));
  }

  /** Asks every node for METRICS (no retries) and reports each one healthy or not, with the reason. */
  async health(): Promise<ClusterHealth> {
    const nodes = await Promise.all(this.#nodes.map((node) => checkNodeHealth(node, this.options.healthCheckTimeoutMs)));
    return { healthy: nodes.every((n) => n.healthy), available: nodes.some((n) => n.healthy), nodes };
  }

  /**
   * What one node (or, without `node`, every node) is known to support.
   * Both flags are false with `probed: false` until the node was asked;
   * `probeCapabilities()` asks now, batch calls ask on first use.
   */
  capabilities(node?: NodeAddressInput): NodeCapabilities {
    if (node !== undefined) return this.#node(node, 'capabilities()').capabilities;
    const all = this.#nodes.map((n) => n.capabilities);
    return { batchPut: all.every((c) => c.batchPut), batchGet: all.every((c) => c.batchGet), batchLease: all.every((c) => c.batchLease), claims: all.every((c) => c.claims), probed: all.every((c) => c.probed) };
  }

  /** Detects BATCH_PUT/BATCH_GET/BATCH_LEASE on every reachable node; returns them by node. */
  async probeCapabilities(): Promise<Record<string, NodeCapabilities>> {
    await Promise.allSettled(this.#nodes.map((node) => node.probeCapabilities()));
    return Object.fromEntries(this.#nodes.map((node) => [node.id, node.capabilities]));
  }

  stats(): ClientStats {
    return { ...this.#counters, balancer: this.options.balancer, nodes: Object.fromEntries(this.#nodes.map((node) => [node.id, node.stats()])) };
  }

  /** Node ids (`host:port`) in configuration order. */
  get nodes(): string[] {
    return this.#nodes.map((node) => node.id);
  }

  /** Which node reads of `topic` go to right now (the ring owner, or its successor while the owner's breaker is open). */
  readNodeFor(topic: string): string {
    return this.#router.readNodeFor(topic).id;
  }

  /**
   * Lets in-flight requests finish, closes every connection; calls waiting
   * to retry and later calls fail with POOL_CLOSED. Idempotent. Resolves even when a node stopped answering:
   * a connection the node does not close within `requestTimeoutMs` is destroyed.
   */
  close(): Promise<void> {
    this.#stop.abort();
    this.#closed ??= Promise.all(this.#nodes.map((node) => node.close())).then(() => undefined);
    return this.#closed;
  }

  #node(input: NodeAddressInput, call: string): WalrusNode {
    let id: string;
    try {
      id = formatAddress(parseAddress(input, 'node'));
    } catch (error) {
      throw new WalrusError('INVALID_ARGUMENT', `${call}: node must be "host:port" or { host, port }, one of this client's nodes (${this.nodes.join(', ')}); ${(error as Error).message} Nothing was sent.`, { cause: error, context: { argument: 'node' } });
    }
    const node = this.#nodes.find((n) => n.id === id);
    if (!node) throw new WalrusError('INVALID_ARGUMENT', `Node ${id} is not one of this client's nodes (${this.nodes.join(', ')}).`, { context: { node: id } });
    return node;
  }

  /** One getMany attempt on `node`: BATCH_GET where it has it, pipelined GETs otherwise. */
  async #getManyOn(node: WalrusNode, topic: string, entries: number, maxBytes: number, options: CallOptions): Promise<Buffer[]> {
    const caps = await this.#capabilitiesOf(node, options, 'GET_MANY', topic);
    if (!caps.batchGet) {
      this.#counters.fallbacks++;
      return getManyOnNode(node, topic, entries, maxBytes, false, options);
    }
    try {
      return await getManyOnNode(node, topic, entries, maxBytes, true, options);
    } catch (error) {
      const code = (error as WalrusError).code;
      if (code !== 'UNKNOWN_COMMAND' && code !== 'INVALID_COMMAND') throw error;
      // UNKNOWN_COMMAND: the node lost the extension. INVALID_COMMAND: the
      // next entry is too big for a BATCH_GET reply; GET can still read it.
      if (code === 'UNKNOWN_COMMAND') node.markUnsupported('batchGet');
      this.#counters.fallbacks++;
      return getManyOnNode(node, topic, entries, maxBytes, false, options);
    }
  }

  /** Waits for the probe only as long as the call's signal and timeoutMs allow. */
  #capabilitiesOf(node: WalrusNode, options: CallOptions, command: string, topic: string): Promise<NodeCapabilities> {
    return node.capabilitiesFor(options, command, topic);
  }

  #run<T>(operation: string, topic: string | undefined, route: Route, options: CallOptions, attempt: (node: WalrusNode) => Promise<T>, beforeRetry?: (error: unknown) => void): Promise<T> {
    if (this.#closed) return Promise.reject(new WalrusError('POOL_CLOSED', `The client is closed; ${operation} was not sent.`, { context: { topic } }));
    return this.#router.run(operation, topic, route, options.signal, attempt, beforeRetry);
  }
}

function assertClaimOwner(call: string, name: string, owner: unknown): void {
  if (!isClaimOwner(owner)) throw invalidArgument(call, 'owner', `a string of ${CLAIM_OWNER_RULE}`, owner, name);
}

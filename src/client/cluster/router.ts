import { WalrusError } from '../../errors/index.js';
import { encodeRegister, parseOk } from '../../protocol/index.js';
import { ConsistentHashBalancer, createBalancer, type Balancer, type BalancerName } from './balancer.js';
import { channels } from './events.js';
import { isNodeFailure, requestMayHaveRun } from '../transport/network-errors.js';
import type { WalrusNode } from './node.js';
import type { RetryPolicy } from './retry.js';
import type { RetryCounters } from './stats.js';

/** Reads follow the topic's owner on the hash ring; writes follow the configured balancer. */
export type Route = 'read' | 'write';

/**
 * Where a call goes and what happens when it fails: node order per route,
 * failover within an attempt, retries between attempts, the accounting of
 * both, and re-registering a topic on a node that missed it.
 */
export class Router {
  /** Topics this client registered (for the `unknown topic` self-heal). */
  readonly registered = new Set<string>();
  readonly #nodes: readonly WalrusNode[];
  readonly #writes: Balancer<WalrusNode>;
  readonly #reads: Balancer<WalrusNode>;
  readonly #retry: RetryPolicy;
  readonly #counters: RetryCounters;

  constructor(nodes: readonly WalrusNode[], balancer: BalancerName, virtualNodes: number, retry: RetryPolicy, counters: RetryCounters) {
    this.#nodes = nodes;
    this.#writes = createBalancer(balancer, nodes, virtualNodes);
    // Reads are pinned by consistent hash whatever balances the writes:
    // each node keeps its own read cursor per topic (docs/client.md).
    this.#reads = balancer === 'consistent-hash' ? this.#writes : new ConsistentHashBalancer(nodes, virtualNodes);
    this.#retry = retry;
    this.#counters = counters;
  }

  /** The node reads of `topic` go to now. */
  readNodeFor(topic: string): WalrusNode {
    return this.#reads.order(topic)[0]!;
  }

  /** Runs `call` on one given node, with retries (no failover). */
  onNode<T>(operation: string, topic: string | undefined, signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> {
    return this.#retry.execute(call, { signal, name: operation, onRetry: (event) => this.#onRetry(operation, topic, event) });
  }

  /**
   * One client call: retried per the retry policy; within each attempt the
   * nodes are tried in the balancer's order, moving on (failover) only when
   * a node refused without running the request (open breaker, connection
   * refused). `beforeRetry` runs before each retry to account for what the
   * failed attempt may have done.
   */
  run<T>(operation: string, topic: string | undefined, route: Route, signal: AbortSignal | undefined, attempt: (node: WalrusNode) => Promise<T>, beforeRetry?: (error: unknown) => void): Promise<T> {
    const balancer = route === 'read' ? this.#reads : this.#writes;
    return this.#retry.execute(async () => {
      const order = this.#nodes.length === 1 ? this.#nodes : balancer.order(topic ?? '');
      const refusals: WalrusError[] = [];
      for (let i = 0; i < order.length; i++) {
        const node = order[i]!;
        if (i > 0) this.#counters.failovers++;
        try {
          return await this.#healing(node, topic, () => attempt(node));
        } catch (error) {
          if (!canFailOver(error)) throw error;
          refusals.push(error as WalrusError);
        }
      }
      throw noNode(operation, refusals);
    }, {
      signal,
      name: operation,
      onRetry: (event) => {
        beforeRetry?.(event.error);
        this.#onRetry(operation, topic, event);
      },
    });
  }

  /**
   * A node that answers `unknown topic` for a topic this client registered
   * (it was down during `register`, or lost its data) gets the topic
   * registered and the call repeated once.
   */
  async #healing<T>(node: WalrusNode, topic: string | undefined, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (topic === undefined || (error as WalrusError).code !== 'TOPIC_NOT_FOUND' || !this.registered.has(topic)) throw error;
      await node.request(encodeRegister(topic), parseOk, { command: 'REGISTER', topic });
      return call();
    }
  }

  #onRetry(operation: string, topic: string | undefined, event: { attempt: number; delayMs: number; error: unknown }): void {
    this.#counters.retries++;
    if (channels.retry.hasSubscribers) {
      channels.retry.publish({ operation, topic, attempt: event.attempt, delayMs: event.delayMs, errorCode: (event.error as WalrusError).code });
    }
  }
}

/** Safe to try the next node at once: this node did not run the request. */
function canFailOver(error: unknown): boolean {
  if (!(error instanceof WalrusError)) return false;
  if (error.code === 'CIRCUIT_OPEN') return true;
  return isNodeFailure(error) && !requestMayHaveRun(error);
}

function noNode(operation: string, refusals: WalrusError[]): WalrusError {
  if (refusals.length === 1) return refusals[0]!;
  const waits = refusals.map((e) => e.context.retryAfterMs).filter((v): v is number => typeof v === 'number');
  const retryAfterMs = waits.length === refusals.length ? Math.min(...waits) : undefined;
  const nodes = refusals.map((e) => `${String(e.context.node)} (${e.code})`).join(', ');
  return new WalrusError('NO_NODE_AVAILABLE', `No node could take ${operation}: ${nodes}.${retryAfterMs !== undefined ? ` Try again in ${retryAfterMs} ms.` : ''}`, {
    cause: refusals[refusals.length - 1],
    context: retryAfterMs !== undefined ? { retryAfterMs } : {},
  });
}

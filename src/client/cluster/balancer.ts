import { HashRing } from './hash-ring.js';

export type BalancerName = 'round-robin' | 'least-outstanding' | 'consistent-hash';

/** What a balancer needs to know about a node. */
export interface BalancedNode {
  readonly id: string;
  /** Requests sent to the node and not yet settled. */
  readonly outstanding: number;
  /** False while the node's circuit breaker would refuse a call. */
  readonly available: boolean;
}

/** Picks nodes for a request, best first; the caller tries them in that order (failover). */
export interface Balancer<N extends BalancedNode> {
  readonly name: BalancerName;
  order(topic: string): N[];
}

/**
 * Rotates through the nodes. Unavailable nodes go to the back of the order
 * rather than out of it, so a request still has somewhere to go when all
 * breakers are open (it will fail fast with CIRCUIT_OPEN).
 */
export class RoundRobinBalancer<N extends BalancedNode> implements Balancer<N> {
  readonly name = 'round-robin' as const;
  #next = 0;
  constructor(readonly nodes: readonly N[]) {}

  order(): N[] {
    const start = this.#next++ % this.nodes.length;
    if (this.#next >= 1 << 30) this.#next = 0;
    const rotated = [...this.nodes.slice(start), ...this.nodes.slice(0, start)];
    return availableFirst(rotated);
  }
}

/** Fewest requests in flight first; ties rotate so equal nodes share load. */
export class LeastOutstandingBalancer<N extends BalancedNode> implements Balancer<N> {
  readonly name = 'least-outstanding' as const;
  #tie = 0;
  constructor(readonly nodes: readonly N[]) {}

  order(): N[] {
    const start = this.#tie++ % this.nodes.length;
    const rotated = [...this.nodes.slice(start), ...this.nodes.slice(0, start)];
    // Stable sort keeps the rotation among equals.
    return availableFirst(rotated.sort((a, b) => a.outstanding - b.outstanding));
  }
}

/** The topic's owner on the hash ring first, then its ring successors. */
export class ConsistentHashBalancer<N extends BalancedNode> implements Balancer<N> {
  readonly name = 'consistent-hash' as const;
  readonly #ring: HashRing<N>;
  constructor(nodes: readonly N[], virtualNodes = 160) {
    this.#ring = new HashRing(nodes.map((node) => ({ id: node.id, node })), virtualNodes);
  }

  order(topic: string): N[] {
    return availableFirst(this.#ring.preference(topic));
  }
}

export function createBalancer<N extends BalancedNode>(name: BalancerName, nodes: readonly N[], virtualNodes?: number): Balancer<N> {
  switch (name) {
    case 'round-robin':
      return new RoundRobinBalancer(nodes);
    case 'least-outstanding':
      return new LeastOutstandingBalancer(nodes);
    case 'consistent-hash':
      return new ConsistentHashBalancer(nodes, virtualNodes);
  }
}

function availableFirst<N extends BalancedNode>(nodes: N[]): N[] {
  if (nodes.every((n) => n.available)) return nodes;
  return [...nodes.filter((n) => n.available), ...nodes.filter((n) => !n.available)];
}

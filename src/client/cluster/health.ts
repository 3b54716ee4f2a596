import { WalrusError } from '../../errors/index.js';
import type { BreakerState } from './breaker.js';
import type { NodeCapabilities } from '../transport/capabilities.js';
import type { WalrusNode } from './node.js';

/** Health of one node, from its METRICS reply and its breaker. */
export interface NodeHealth {
  node: string;
  healthy: boolean;
  /** Why the node is unhealthy (absent when healthy). */
  reason?: string;
  /** Raft node id, state (`Leader`, `Follower`, ...) and current leader, when METRICS answered. */
  id?: number;
  state?: string;
  leader?: number | null;
  /** Round trip of the METRICS call. */
  latencyMs?: number;
  breaker: BreakerState;
  capabilities: NodeCapabilities;
}

/** `client.health()`: every node, plus roll-ups. */
export interface ClusterHealth {
  /** Every node is healthy. */
  healthy: boolean;
  /** At least one node is healthy (the client can serve requests). */
  available: boolean;
  nodes: NodeHealth[];
}

const SERVING_STATES = new Set(['Leader', 'Follower']);

/**
 * Asks one node for METRICS and judges it. Healthy means: the breaker is
 * not open, METRICS answered within the timeout, the node is a Leader or
 * Follower (a Candidate is mid-election, a Learner does not vote, Shutdown
 * is going away) and it knows a leader (writes are forwarded to it).
 */
export async function checkNodeHealth(node: WalrusNode, timeoutMs: number): Promise<NodeHealth> {
  const base = { node: node.id, breaker: node.breakerState, capabilities: node.capabilities };
  if (base.breaker === 'open') {
    return { ...base, healthy: false, reason: `circuit breaker is open (retry in ${node.stats().breaker.retryAfterMs} ms)` };
  }
  const started = performance.now();
  try {
    const metrics = await node.metrics({ timeoutMs });
    const latencyMs = performance.now() - started;
    const facts = { id: metrics.id, state: metrics.state, leader: metrics.current_leader, latencyMs };
    if (!SERVING_STATES.has(metrics.state)) return { ...base, ...facts, healthy: false, reason: `Raft state is ${metrics.state}` };
    if (metrics.current_leader === null || metrics.current_leader === undefined) return { ...base, ...facts, healthy: false, reason: 'the node knows no leader' };
    return { ...base, ...facts, breaker: node.breakerState, capabilities: node.capabilities, healthy: true };
  } catch (error) {
    const reason = error instanceof WalrusError ? `${error.code}: ${error.message}` : String(error);
    return { ...base, breaker: node.breakerState, healthy: false, reason, latencyMs: performance.now() - started };
  }
}

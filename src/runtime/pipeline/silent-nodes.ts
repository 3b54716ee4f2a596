import type { NodeStats } from '../../client/index.js';

/** How often the nodes are looked at: a silence is reported at most this long after it passes the threshold. */
const CHECK_EVERY_MS = 500;

export interface SilentNodeWatch {
  /** A node whose requests have waited this long without a word from it is reported (the client's `healthCheckTimeoutMs`). */
  afterMs: number;
  /** `cluster.requestTimeout`, for the message: how long each request still waits. */
  requestTimeoutMs: number;
  warn(message: string, data: Record<string, unknown>): void;
  info(message: string, data: Record<string, unknown>): void;
}

/**
 * Reports a node that accepted the connection but does not answer, within
 * seconds: otherwise nothing is said until a request times out
 * (`cluster.requestTimeout`, 10 s) and, at start-up, until every retry has
 * (~40 s). Once per silence: it ends when the node answers a request, which
 * is reported too. Reads `client.stats()` every half second; returns `stop`.
 */
export function watchSilentNodes(client: { stats(): { nodes: Record<string, NodeStats> } }, o: SilentNodeWatch): () => void {
  const reported = new Map<string, { since: number; answered: number }>();
  const timer = setInterval(() => {
    const now = performance.now();
    for (const [node, stats] of Object.entries(client.stats().nodes)) {
      const answered = Object.values(stats.requests).reduce((sum, r) => sum + r.ok, 0);
      const silence = reported.get(node);
      if (silence && answered > silence.answered) {
        reported.delete(node);
        o.info(`node ${node} answers again (after ${seconds(now - silence.since)} s without a reply)`, { node, silentMs: Math.round(now - silence.since) });
      }
      if (reported.has(node) || stats.silentMs < o.afterMs) continue;
      reported.set(node, { since: now - stats.silentMs, answered });
      o.warn(`node ${node} accepted the connection but has not answered for ${seconds(stats.silentMs)} s (${stats.outstanding} call(s) waiting); ` +
        `each request waits up to cluster.requestTimeout (${seconds(o.requestTimeoutMs)} s), then is retried. Check that a Walrus node listens at ${node} ` +
        'and is not stopped, hung or overloaded (the address comes from --nodes or cluster.nodes)', { node, silentMs: stats.silentMs, waiting: stats.outstanding });
    }
  }, CHECK_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}

function seconds(ms: number): string {
  return (ms / 1_000).toFixed(1);
}

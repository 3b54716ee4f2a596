import diagnostics from 'node:diagnostics_channel';
import { CLIENT_CHANNELS, type BreakerEvent, type ConnectionEvent, type RequestEvent, type RetryEventData } from '../../client/cluster/events.js';
import type { ClientStats } from '../../client/cluster/walrus-client.js';
import type { MetricsHub } from './metrics-hub.js';

/** What {@link attachClientMetrics} needs of a client: its stats, for pool gauges. */
export interface ClientStatsSource {
  stats(): ClientStats;
}

/**
 * Feeds the client's `diagnostics_channel` events into the hub: requests by
 * command, node and outcome (`ok`, `abandoned` or the error code), request
 * latency, bytes in/out, retries, breaker state and connection failures.
 * With `client`, pool gauges (idle, busy, pending per node) and breaker
 * states are also copied from `client.stats()` at every scrape.
 *
 * The channels are process-wide: one attachment counts every WalrusClient
 * in the process, so attach once per hub. Returns a detach function.
 */
export function attachClientMetrics(hub: MetricsHub, client?: ClientStatsSource): () => void {
  const onRequest = (message: unknown): void => {
    const e = message as RequestEvent;
    hub.recordClientRequest({
      command: e.command,
      node: e.node,
      outcome: e.outcome === 'error' ? (e.errorCode ?? 'error') : e.outcome,
      durationMs: e.durationMs,
      sentBytes: e.bytesOut,
      receivedBytes: e.bytesIn,
    });
  };
  const onRetry = (message: unknown): void => hub.recordClientRetry((message as RetryEventData).operation);
  const onBreaker = (message: unknown): void => {
    const e = message as BreakerEvent;
    hub.setBreakerState(e.node, e.state);
  };
  const onConnection = (message: unknown): void => {
    const e = message as ConnectionEvent;
    if (e.event === 'failed') hub.recordConnectionFailure(e.node);
  };
  const subscriptions: Array<[string, (message: unknown) => void]> = [
    [CLIENT_CHANNELS.request, onRequest],
    [CLIENT_CHANNELS.retry, onRetry],
    [CLIENT_CHANNELS.breaker, onBreaker],
    [CLIENT_CHANNELS.connection, onConnection],
  ];
  for (const [name, fn] of subscriptions) diagnostics.subscribe(name, fn);

  const removeCollector = client === undefined ? undefined : hub.addCollector(() => {
    for (const [node, stats] of Object.entries(client.stats().nodes)) {
      hub.setPoolConnections(node, { idle: stats.pool.idle, busy: stats.pool.active, pending: stats.pool.pending });
      hub.setBreakerState(node, stats.breaker.state);
    }
  });

  return () => {
    for (const [name, fn] of subscriptions) diagnostics.unsubscribe(name, fn);
    removeCollector?.();
  };
}

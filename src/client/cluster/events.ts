import diagnostics from 'node:diagnostics_channel';
import type { BreakerState } from './breaker.js';

/**
 * Every name the client publishes, in one place. Subscribe with
 * `diagnostics_channel.subscribe(CLIENT_CHANNELS.request, (event) => ...)`;
 * publishing costs nothing while nobody subscribes. The same numbers are
 * kept as counters in `client.stats()` (field names below in STAT_NAMES).
 */
export const CLIENT_CHANNELS = {
  /** One event per request that settled (reply, error, or reply to an abandoned request). */
  request: 'walrus-stream:client:request',
  /** Before each retry wait. */
  retry: 'walrus-stream:client:retry',
  /** A node's circuit breaker changed state. */
  breaker: 'walrus-stream:client:breaker',
  /** A connection opened, failed to open, or closed. */
  connection: 'walrus-stream:client:connection',
  /** A node's capabilities were detected. */
  capabilities: 'walrus-stream:client:capabilities',
} as const;

/** Names of the counters in `client.stats()`, for exporters (the observability layer maps them to Prometheus names). */
export const STAT_NAMES = {
  requests: 'requests (by node, command, outcome)',
  latency: 'request latency in ms (histogram per node and command)',
  bytesOut: 'request frame bytes written',
  bytesIn: 'reply frame bytes read',
  retries: 'retries performed',
  possibleDuplicates: 'entries re-sent after a write whose outcome was unknown (may be stored twice)',
  possibleLosses: 'GET / BATCH_GET requests whose reply was lost after they reached the node (entries may be consumed and gone)',
  discardedEntries: 'entries that arrived for an aborted read and were dropped',
  failovers: 'requests sent to a node other than the first choice',
  fallbacks: 'batch calls served by single commands because the node lacks BATCH_PUT/BATCH_GET/BATCH_LEASE',
  leaseRedeliveries: 'leased entries whose ACK did not reach the node (delivered again: possible duplicates, not losses)',
} as const;

export interface RequestEvent {
  node: string;
  command: string;
  outcome: 'ok' | 'error' | 'abandoned';
  errorCode?: string;
  durationMs: number;
  bytesOut: number;
  bytesIn: number;
}

export interface RetryEventData {
  operation: string;
  topic?: string;
  attempt: number;
  delayMs: number;
  errorCode?: string;
}

export interface BreakerEvent {
  node: string;
  state: BreakerState;
}

export interface ConnectionEvent {
  node: string;
  event: 'open' | 'close' | 'failed';
  errorCode?: string;
}

export interface CapabilitiesEvent {
  node: string;
  batchPut: boolean;
  batchGet: boolean;
  batchLease: boolean;
}

export const channels = {
  request: diagnostics.channel(CLIENT_CHANNELS.request),
  retry: diagnostics.channel(CLIENT_CHANNELS.retry),
  breaker: diagnostics.channel(CLIENT_CHANNELS.breaker),
  connection: diagnostics.channel(CLIENT_CHANNELS.connection),
  capabilities: diagnostics.channel(CLIENT_CHANNELS.capabilities),
};
